/* The length of an intercepted instruction whose exit does not say it (AMD SVM without the
 * NRIPS feature, as under QEMU's TCG): its legacy prefixes (and REX in 64-bit code) are
 * counted and its opcode checked. Every prefixed form a CPU executes must resume after the
 * whole instruction: `2e 0f a2` is a CPUID of 3 bytes. Pure logic over guest bytes. */
#ifndef MICA_EMUL_INSN_LEN_H
#define MICA_EMUL_INSN_LEN_H

#include <stdint.h>

#define INSN_MAX 15 /* longest x86 instruction (SDM vol. 2 2.3.11) */

enum insn_kind {
	INSN_CPUID,   /* 0F A2 */
	INSN_VMMCALL, /* 0F 01 D9 */
	INSN_VMCALL,  /* 0F 01 C1 */
	INSN_RDMSR,   /* 0F 32 */
	INSN_WRMSR,   /* 0F 30 */
	INSN_HLT,     /* F4 */
	INSN_INVD,    /* 0F 08 */
	INSN_KINDS
};

/* Is b a prefix (legacy, or REX in 64-bit code) for code of mode bits? */
int insn_is_prefix(uint8_t b, unsigned bits);

/* Length of the instruction at insn (avail bytes readable) in code of mode bits (16, 32,
 * 64) if it is one of kind: prefixes plus opcode, at most 15. 0 when it is not (other
 * bytes, too long, or avail too short): the guest changed its code since the exit. */
unsigned insn_len(const uint8_t *insn, unsigned avail, unsigned bits, enum insn_kind kind);

#endif
