/* The instruction at a vCPU's RIP, read through the guest's own page tables: for MMIO
 * emulation (kernel/mmio.c) and for the length of an exiting instruction when the CPU does
 * not report it (kernel/insn_len.h). */
#ifndef MICA_FETCH_H
#define MICA_FETCH_H

#include <stdint.h>
#include "kernel/insn_len.h"

struct vcpu;
struct gwalk_regs;

/* The guest's paging state for a walk at its current privilege (virt->get_paging, CPL). */
void vcpu_walk_regs(struct vcpu *v, struct gwalk_regs *r, unsigned *code_bits);

/* Reads up to INSN_MAX bytes at RIP into buf (*n: how many; the second page only if
 * mapped). Returns 0, or gwalk()'s code with a sentence in err. */
int vcpu_fetch(struct vcpu *v, const struct gwalk_regs *r, uint8_t *buf, unsigned *n,
	       char *err, unsigned errlen);

/* The length of the instruction of kind at RIP, prefixes included. Returns 0 when RIP no
 * longer holds such an instruction (the guest changed it since the exit: let it execute
 * again), and fallback (its shortest form's length) when the bytes cannot be read. */
unsigned vcpu_insn_len(struct vcpu *v, enum insn_kind kind, unsigned fallback);

#endif
