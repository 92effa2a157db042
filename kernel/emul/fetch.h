/* The instruction at a vCPU's RIP, read through the guest's own page tables: for MMIO
 * emulation (kernel/emul/mmio.c) and for the length of an exiting instruction when the CPU does
 * not report it (kernel/emul/insn_len.h). */
#ifndef MICA_EMUL_FETCH_H
#define MICA_EMUL_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/emul/insn_len.h"

struct vcpu;
struct gwalk_regs;

/* A gwalk_read_fn over partition ctx's RAM (MICA_EFAULT outside it). */
int guest_read_gpa(void *ctx, uint64_t gpa, void *buf, size_t len);

/* The guest's paging state for a walk at its current privilege (virt->get_paging, CPL). */
void vcpu_walk_regs(struct vcpu *v, struct gwalk_regs *r, unsigned *code_bits);

/* The linear address of the instruction at RIP: CS base + RIP outside 64-bit code (cut
 * to 32 bits), RIP itself in 64-bit code. */
uint64_t vcpu_rip_linear(struct vcpu *v, unsigned code_bits);

/* Reads up to INSN_MAX bytes at RIP into buf (*n: how many; the second page only if
 * mapped). Returns 0, or gwalk()'s code with a sentence in err. */
int vcpu_fetch(struct vcpu *v, const struct gwalk_regs *r, unsigned code_bits, uint8_t *buf,
	       unsigned *n, char *err, unsigned errlen);

/* The length of the instruction of kind at RIP, prefixes included; fallback (its
 * shortest form's length) when the bytes cannot be read or are not that instruction
 * (the guest changed its code since the exit). */
unsigned vcpu_insn_len(struct vcpu *v, enum insn_kind kind, unsigned fallback);

#endif
