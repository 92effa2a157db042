/* Host interrupts and exceptions. */
#ifndef MICA_ARCH_X86_TRAP_H
#define MICA_ARCH_X86_TRAP_H

#include <stdint.h>
#include "kernel/arch.h"

#define VEC_IOMMU    ARCH_VEC_IOMMU /* an IOMMU recorded a fault */
#define VEC_SERIAL   0xee /* the host serial port received something */
#define VEC_TIMER    0xef /* this CPU's LAPIC timer: a guest timer is due */
#define VEC_KICK     0xf0 /* IPI: look at your state (stop, restart, work) */
#define VEC_SPURIOUS 0xff

/* As isr.S pushes it: registers, then vector and error code, then the CPU's frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void trap_handler(struct trap_frame *f);

/* Loads the shared IDT on this CPU (built on the first call). */
void idt_load(void);

/* Builds CPU n's GDT and TSS (with IST stacks for #DF, NMI, #MC) and loads them. */
void gdt_load(unsigned cpu);

#endif
