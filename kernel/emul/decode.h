/* Decodes the one x86 instruction that touched an emulated MMIO page, so the exit handler
 * knows the access size, its direction, the register or immediate involved and how far
 * to advance RIP. A stage-2 fault gives only the guest-physical address; everything else
 * comes from here. Pure logic over bytes the guest controls: never reads past what it is
 * given and rejects, with the bytes in the sentence, whatever it does not know. */
#ifndef MICA_EMUL_DECODE_H
#define MICA_EMUL_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* Code segment kind (CS.L, CS.D): the default operand and address sizes. */
#define MMIO_MODE_16 16
#define MMIO_MODE_32 32
#define MMIO_MODE_64 64

#define MMIO_INSN_MAX 15 /* longest x86 instruction (SDM vol2 2.3.11) */

enum mmio_dir {
	MMIO_DIR_READ,  /* memory is read: loads, TEST, CMP */
	MMIO_DIR_WRITE, /* memory is written: stores */
	MMIO_DIR_RMW,   /* memory is read, then the result written back (OR, AND) */
};

enum mmio_op {
	MMIO_OP_MOV,  /* load (READ) or store (WRITE) */
	MMIO_OP_TEST, /* flags from memory AND operand; nothing written */
	MMIO_OP_CMP,  /* flags from a subtraction (order: reg_first); nothing written */
	MMIO_OP_OR,   /* memory = memory OR operand, flags */
	MMIO_OP_AND,  /* memory = memory AND operand, flags */
};

/* For loads: how the size bytes read become the reg_size bytes written to the register. */
enum mmio_ext {
	MMIO_EXT_NONE, /* plain MOV: size == reg_size */
	MMIO_EXT_ZERO, /* MOVZX */
	MMIO_EXT_SIGN, /* MOVSX, MOVSXD */
};

struct mmio_insn {
	uint8_t len;      /* instruction bytes, prefixes included: add to RIP when done */
	uint8_t size;     /* bytes of memory accessed: 1, 2, 4 or 8 */
	uint8_t dir;      /* enum mmio_dir */
	uint8_t op;       /* enum mmio_op */
	uint8_t has_imm;  /* the other operand is imm, not a register */
	uint8_t reg;      /* else the GPR, x86 numbering 0-15 (RAX, RCX, RDX, RBX, RSP, ...) */
	uint8_t high8;    /* reg is 0-3 and the operand is its bits 15:8 (AH, CH, DH, BH) */
	uint8_t reg_size; /* MOV loads: bytes written to reg: 1 or 2 merge into the low bytes
			   * (bits 15:8 if high8) and keep the rest; 4 clears bits 63:32;
			   * 8 replaces the register. See mmio_load_result(). */
	uint8_t ext;      /* MOV loads: enum mmio_ext */
	uint8_t reg_first; /* CMP: computes reg - memory (3A, 3B) rather than memory - operand */
	uint64_t imm;     /* has_imm: the value used, sign-extended as encoded, cut to size bytes */
};

/* Decodes the instruction at insn (avail bytes readable, may be fewer than it needs) for
 * code of kind mode (MMIO_MODE_*). Known: MOV 88 89 8A 8B C6/0 C7/0 A0-A3 (moffs), MOVZX
 * 0F B6/B7, MOVSX 0F BE/BF, MOVSXD 63 (64-bit mode), TEST 84 85, CMP 38-3B and 80/81/83 /7,
 * OR and AND 80/81/83 /1 and /4 (LOCK allowed); legacy prefixes, REX, ModRM, SIB and
 * displacements (RIP-relative too) are decoded for the length only: the address comes
 * from the fault. Returns 0 and fills *out, or MICA_EINVAL with a sentence naming the
 * bytes (unknown opcode, register operand, truncated, LOCK where it would #UD, > 15). */
int decode_mmio(const uint8_t *insn, unsigned avail, int mode, struct mmio_insn *out,
		char *err, size_t errlen);

/* The size-byte value a store or an ALU operation uses, given the register's value (ignored
 * when has_imm). */
uint64_t mmio_operand(const struct mmio_insn *m, uint64_t reg);

/* The register's new value after a MOV load read data (low size bytes) into it; old is its
 * value before. Applies ext, high8 and the 8/16/32/64-bit write rules. */
uint64_t mmio_load_result(const struct mmio_insn *m, uint64_t old, uint64_t data);

/* TEST, CMP, OR, AND: the result (what OR/AND write back) from data read from memory and
 * the operand (mmio_operand()); updates CF PF AF ZF SF OF in *rflags as the CPU would
 * (AF, undefined after logic ops, is cleared). */
uint64_t mmio_alu(const struct mmio_insn *m, uint64_t data, uint64_t operand,
		  uint64_t *rflags);

#endif
