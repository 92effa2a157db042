/* The small runtime every test guest links with: hypercalls, console output, CPU helpers.
 * A guest defines main(vcpu); its return value becomes the power-off code. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/portio.h"
#include <stdio.h>
#include <mica/hypercall.h>

int main(unsigned vcpu);

/* --- hypercalls (hcall.S) --- */

/* Nonzero: the hypervisor wants VMMCALL; zero: VMCALL. Set once by hcall_init(). */
extern uint8_t hcall_vmmcall;

long hcall6(long nr, long a0, long a1, long a2, long a3, long a4);

static inline long hcall(long nr, long a0, long a1)
{
	return hcall6(nr, a0, a1, 0, 0, 0);
}

/* Every general register but RSP, in the order hcall_regs() loads and stores them. */
struct hc_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
#define HC_NREGS 15
void hcall_regs(struct hc_regs *r);

/* Reads SELF_INFO; returns the hypercall's result. */
long self_info(struct mica_self_info *info);

/* SHUTDOWN hypercall; if it returns, the guest triple-faults instead. */
__attribute__((noreturn)) void guest_exit(int code);
__attribute__((noreturn)) void triple_fault(void);

/* --- console --- */

/* Whole lines through the CONSOLE_WRITE hypercall. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same through the 16550 UART at 0x3F8. */
int uart_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uart_write(const char *s, size_t len);
long console_write(const char *s, size_t len);

/* --- checks --- */

/* Prints "PASS: what" or "FAIL: what"; check_failures counts the FAILs. */
void check(int ok, const char *what);
extern int check_failures;

/* --- CPU --- */

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Busy-waits about ms milliseconds by the TSC (guest_tsc_mhz: CPUID 0x16, else a guess). */
void delay_ms(unsigned ms);
/* TSC ticks per microsecond and per millisecond: Mica's CPUID 0x40000001 ECX (kHz) when it
 * says, else CPUID 0x16, else a guess of 2 GHz. */
extern uint32_t guest_tsc_mhz, guest_tsc_khz;

/* --- interrupt descriptor tables --- */

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

/* A present 64-bit interrupt gate to handler in the current code segment. */
static inline struct idt_gate idt_gate(const void *handler)
{
	uint16_t cs;
	uint64_t a = (uint64_t)handler;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return (struct idt_gate){ .off_lo = (uint16_t)a, .sel = cs, .type = 0x8e,
				  .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
}

/* LIDT of bytes bytes at idt (0: limit 0, so every vector is past the limit). */
static inline void idt_load(const void *idt, uint16_t bytes)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { (uint16_t)(bytes ? bytes - 1 : 0), (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* --- provoked exceptions (lib/trap.c; only guests that list it in guests.mk) --- */

/* Loads an IDT that catches vectors 0-31. */
void trap_install(void);
/* Arms one catch: the next exception resumes skip bytes after the faulting instruction. */
void trap_expect(uint64_t skip);
/* The vector caught since trap_expect(), or -1; disarms. trap_error: its error code. */
int trap_taken(void);
extern volatile uint64_t trap_error;

#endif
