/* Instructions Mica executes with an operand a guest chose (WRMSR of a guest's MSR value,
 * XSETBV of its XCR0, RDMSR of an MSR the CPU may lack) are checked against every architectural rule Mica knows first; a CPU
 * may still know one more. Each such instruction is listed in the exception table (section
 * .extable: the instruction's and its fixup's offsets from the entry itself, so the table
 * needs no relocation), and an exception raised there resumes at the fixup, which makes
 * the wrapper return -1 instead of reaching the panic path (arch/x86/trap.c).
 * The caller turns that into #GP for the guest, as the CPU would have done. */
#ifndef MICA_ARCH_X86_EXTABLE_H
#define MICA_ARCH_X86_EXTABLE_H

#include <stdint.h>

struct extable_entry {
	int32_t insn;  /* the instruction, relative to this field */
	int32_t fixup; /* where to resume, relative to this field */
};

/* The fixup for an exception at rip, or 0 when rip is not a listed instruction. */
uint64_t extable_fixup(uint64_t rip);

/* "1:" is the listed instruction; "3:" (in .text.fixup) sets err to -1 and resumes at "2:". */
#define EXTABLE_INSN(insn)                                                        \
	"1: " insn "\n"                                                           \
	"2:\n"                                                                    \
	".pushsection .text.fixup, \"ax\"\n"                                     \
	"3: movl $-1, %[err]\n"                                                   \
	"   jmp 2b\n"                                                             \
	".popsection\n"                                                           \
	".pushsection .extable, \"a\"\n"                                          \
	".balign 4\n"                                                             \
	".long 1b - ., 3b - .\n"                                                  \
	".popsection\n"

/* WRMSR that returns -1 instead of faulting (a value the CPU refuses). */
static inline int wrmsr_safe(uint32_t msr, uint64_t v)
{
	int err = 0;
	__asm__ volatile(EXTABLE_INSN("wrmsr")
			 : [err] "+r"(err)
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
	return err;
}

/* RDMSR that returns -1 instead of faulting (an MSR this CPU does not have). */
static inline int rdmsr_safe(uint32_t msr, uint64_t *v)
{
	int err = 0;
	uint32_t lo = 0, hi = 0;
	__asm__ volatile(EXTABLE_INSN("rdmsr")
			 : [err] "+r"(err), "+a"(lo), "+d"(hi)
			 : "c"(msr)
			 : "memory");
	*v = ((uint64_t)hi << 32) | lo;
	return err;
}

/* XSETBV that returns -1 instead of faulting. */
static inline int xsetbv_safe(uint32_t xcr, uint64_t v)
{
	int err = 0;
	__asm__ volatile(EXTABLE_INSN("xsetbv")
			 : [err] "+r"(err)
			 : "c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
	return err;
}

#endif
