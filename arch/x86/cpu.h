/* Thin wrappers around x86 instructions and the register/MSR numbers the core names once. */
#ifndef MICA_ARCH_X86_CPU_H
#define MICA_ARCH_X86_CPU_H

#include <stdint.h>
#include "lib/portio.h"

#define MSR_APIC_BASE      0x0000001b
#define MSR_FEATURE_CONTROL 0x0000003a
#define MSR_PAT            0x00000277
#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_SFMASK         0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_SYSENTER_CS    0x00000174
#define MSR_SYSENTER_ESP   0x00000175
#define MSR_SYSENTER_EIP   0x00000176
#define MSR_X2APIC_BASE    0x00000800

#define EFER_SCE  (1ULL << 0)
#define EFER_LME  (1ULL << 8)
#define EFER_LMA  (1ULL << 10)
#define EFER_NXE  (1ULL << 11)
#define EFER_SVME (1ULL << 12)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_PGE (1ULL << 7)

#define RFLAGS_IF (1ULL << 9)

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}


static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* RDRAND (CPUID.1:ECX bit 30, the caller checks): 1 with 64 random bits in *v, 0 when the
 * generator had none this time (retry a few times). */
static inline int rdrand64(uint64_t *v)
{
	uint8_t ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) :: "cc");
	return ok;
}

#define DEFINE_CR(n) \
	static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
/* Call with interrupts off after checking for work: sti takes effect only after hlt has
 * begun, so an interrupt that arrives after the check still wakes us. Returns with them off. */
static inline void cpu_idle(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline uint64_t read_rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}

/* Starts fn(arg) afresh on the stack whose top is stack_top: whatever the CPU was doing
 * is dropped (a vCPU whose partition was destroyed, kernel/lifecycle.c). */
static inline __attribute__((noreturn)) void cpu_start_over(uint64_t stack_top,
							   void (*fn)(void *), void *arg)
{
	__asm__ volatile("mov %0, %%rsp; xor %%ebp, %%ebp; call *%1; ud2"
			 : : "r"(stack_top), "r"(fn), "D"(arg) : "memory");
	__builtin_unreachable();
}

static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

#endif
