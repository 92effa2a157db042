/* Decoder for the instructions guests use on MMIO. Encodings: SDM vol2 chapter 2 (prefixes,
 * REX, ModRM/SIB tables 2-1 to 2-3) and the opcode pages for MOV, MOVZX, MOVSX/MOVSXD,
 * TEST, CMP, OR and AND; APM vol3 1.2-1.5 agrees. Every byte read goes through next(),
 * which stops at the caller's limit and at 15 bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/emul/decode.h"

#define REX_W 0x8
#define REX_R 0x4

#define RFLAGS_CF (1ULL << 0)
#define RFLAGS_PF (1ULL << 2)
#define RFLAGS_AF (1ULL << 4)
#define RFLAGS_ZF (1ULL << 6)
#define RFLAGS_SF (1ULL << 7)
#define RFLAGS_OF (1ULL << 11)

struct cursor {
	const uint8_t *p;
	unsigned avail, pos;
	char *err;
	size_t errlen;
};

/* Up to 15 bytes of the instruction as "66 0f 0b", so the stop message shows them. */
static void dump(const struct cursor *c, char *out, size_t n)
{
	unsigned len = c->avail < MMIO_INSN_MAX ? c->avail : MMIO_INSN_MAX;
	size_t at = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < len && at + 4 < n; i++)
		at += (size_t)snprintf(out + at, n - at, i ? " %02x" : "%02x", c->p[i]);
}

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cursor *c, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		char bytes[3 * MMIO_INSN_MAX + 1];
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
		dump(c, bytes, sizeof(bytes));
		if (n >= 0 && (size_t)n < c->errlen)
			snprintf(c->err + n, c->errlen - (size_t)n, " (instruction bytes: %s)",
				 c->avail ? bytes : "none");
	}
	return MICA_EINVAL;
}

static int next(struct cursor *c, uint8_t *b)
{
	*b = 0;
	if (c->pos >= MMIO_INSN_MAX)
		return fail(c, "instruction longer than %u bytes", MMIO_INSN_MAX);
	if (c->pos >= c->avail)
		return fail(c, "instruction truncated: %u bytes available", c->avail);
	*b = c->p[c->pos++];
	return 0;
}

static int skip(struct cursor *c, unsigned n)
{
	uint8_t b;
	for (unsigned i = 0; i < n; i++)
		if (next(c, &b))
			return MICA_EINVAL;
	return 0;
}

/* Little-endian immediate of n bytes, sign-extended to 64 bits. */
static int imm(struct cursor *c, unsigned n, uint64_t *v)
{
	uint64_t x = 0;
	uint8_t b;
	for (unsigned i = 0; i < n; i++) {
		if (next(c, &b))
			return MICA_EINVAL;
		x |= (uint64_t)b << (8 * i);
	}
	if (n < 8 && (x >> (8 * n - 1)) & 1)
		x |= ~0ULL << (8 * n);
	*v = x;
	return 0;
}

static uint64_t mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

struct prefixes {
	unsigned opsize, adsize; /* bytes, after 66/67/REX.W */
	uint8_t rex;
	int lock;
};

/* ModRM plus SIB and displacement: only the length matters, the address is the fault's.
 * Returns the reg field (REX.R applied) in *reg and the /digit in *digit. */
static int modrm(struct cursor *c, const struct prefixes *px, uint8_t op, unsigned *reg,
		 unsigned *digit)
{
	uint8_t m, sib;
	unsigned mod, rm, disp;

	if (next(c, &m))
		return MICA_EINVAL;
	mod = m >> 6;
	rm = m & 7;
	*digit = (m >> 3) & 7;
	*reg = *digit | ((px->rex & REX_R) ? 8 : 0);
	if (mod == 3)
		return fail(c, "opcode %02x with a register operand does not access memory", op);
	if (px->adsize == 2) { /* table 2-1 */
		disp = mod == 1 ? 1 : mod == 2 ? 2 : rm == 6 ? 2 : 0;
	} else { /* table 2-2; mod 00 rm 101 is RIP-relative in 64-bit mode, disp32 either way */
		disp = mod == 1 ? 1 : mod == 2 ? 4 : rm == 5 ? 4 : 0;
		if (rm == 4) {
			if (next(c, &sib))
				return MICA_EINVAL;
			if (mod == 0 && (sib & 7) == 5)
				disp = 4;
		}
	}
	return skip(c, disp);
}

/* A byte register named by a ModRM reg field: without any REX, 4-7 are AH CH DH BH. */
static void byte_reg(struct mmio_insn *out, const struct prefixes *px, unsigned reg)
{
	if (!px->rex && reg >= 4 && reg <= 7) {
		out->reg = (uint8_t)(reg - 4);
		out->high8 = 1;
	} else {
		out->reg = (uint8_t)reg;
	}
}

static int prefixes(struct cursor *c, int mode, struct prefixes *px, uint8_t *op)
{
	int p66 = 0, p67 = 0;
	uint8_t b;

	memset(px, 0, sizeof(*px));
	for (;;) {
		if (next(c, &b))
			return MICA_EINVAL;
		switch (b) {
		case 0x66: p66 = 1; px->rex = 0; continue;
		case 0x67: p67 = 1; px->rex = 0; continue;
		case 0xf0: px->lock = 1; px->rex = 0; continue;
		/* REP/REPNE (and XACQUIRE/XRELEASE hints) change nothing for these opcodes. */
		case 0xf2: case 0xf3:
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
			px->rex = 0; /* a REX followed by a legacy prefix is ignored */
			continue;
		default:
			break;
		}
		if (mode == MMIO_MODE_64 && (b & 0xf0) == 0x40) {
			px->rex = b; /* only the last REX before the opcode counts */
			continue;
		}
		break;
	}
	*op = b;
	if (mode == MMIO_MODE_64) {
		px->opsize = (px->rex & REX_W) ? 8 : p66 ? 2 : 4;
		px->adsize = p67 ? 4 : 8;
	} else if (mode == MMIO_MODE_32) {
		px->opsize = p66 ? 2 : 4;
		px->adsize = p67 ? 2 : 4;
	} else {
		px->opsize = p66 ? 4 : 2;
		px->adsize = p67 ? 4 : 2;
	}
	return 0;
}

static int decode_0f(struct cursor *c, const struct prefixes *px, struct mmio_insn *out)
{
	unsigned reg, digit;
	uint8_t op;

	if (next(c, &op))
		return MICA_EINVAL;
	switch (op) {
	case 0xb6: case 0xb7: case 0xbe: case 0xbf: /* MOVZX, MOVSX r, r/m8 or r/m16 */
		if (modrm(c, px, op, &reg, &digit))
			return MICA_EINVAL;
		out->dir = MMIO_DIR_READ;
		out->size = (op & 1) ? 2 : 1;
		out->reg = (uint8_t)reg;
		out->reg_size = (uint8_t)px->opsize;
		out->ext = op >= 0xbe ? MMIO_EXT_SIGN : MMIO_EXT_ZERO;
		return 0;
	default:
		return fail(c, "cannot emulate MMIO access by opcode 0f %02x", op);
	}
}

/* 80, 81, 83: group 1 with an immediate; only /1 OR, /4 AND, /7 CMP. */
static int decode_group1(struct cursor *c, const struct prefixes *px, uint8_t op,
			 struct mmio_insn *out)
{
	unsigned reg, digit, isize;
	uint64_t v;

	if (modrm(c, px, op, &reg, &digit))
		return MICA_EINVAL;
	out->size = op == 0x80 ? 1 : (uint8_t)px->opsize;
	switch (digit) {
	case 1: out->op = MMIO_OP_OR; out->dir = MMIO_DIR_RMW; break;
	case 4: out->op = MMIO_OP_AND; out->dir = MMIO_DIR_RMW; break;
	case 7: out->op = MMIO_OP_CMP; out->dir = MMIO_DIR_READ; break;
	default: return fail(c, "cannot emulate MMIO access by opcode %02x /%u", op, digit);
	}
	isize = op == 0x81 ? (out->size == 2 ? 2 : 4) : 1;
	if (imm(c, isize, &v))
		return MICA_EINVAL;
	out->has_imm = 1;
	out->imm = v & mask(out->size);
	return 0;
}

static int decode_one(struct cursor *c, int mode, struct mmio_insn *out)
{
	struct prefixes px;
	unsigned reg, digit;
	uint8_t op;
	uint64_t v;

	if (prefixes(c, mode, &px, &op))
		return MICA_EINVAL;
	out->dir = MMIO_DIR_READ;
	out->op = MMIO_OP_MOV;
	switch (op) {
	case 0x88: case 0x89: case 0x8a: case 0x8b: /* MOV r/m, r and MOV r, r/m */
	case 0x84: case 0x85:                       /* TEST r/m, r */
	case 0x38: case 0x39: case 0x3a: case 0x3b: /* CMP */
		if (modrm(c, &px, op, &reg, &digit))
			return MICA_EINVAL;
		out->size = (op & 1) ? (uint8_t)px.opsize : 1;
		if (out->size == 1)
			byte_reg(out, &px, reg);
		else
			out->reg = (uint8_t)reg;
		if (op >= 0x88) {
			out->dir = (op & 2) ? MMIO_DIR_READ : MMIO_DIR_WRITE;
			out->reg_size = (op & 2) ? out->size : 0;
		} else {
			out->op = op == 0x84 || op == 0x85 ? MMIO_OP_TEST : MMIO_OP_CMP;
			out->reg_first = op == 0x3a || op == 0x3b;
		}
		break;
	case 0xc6: case 0xc7: /* MOV r/m, imm */
		if (modrm(c, &px, op, &reg, &digit))
			return MICA_EINVAL;
		if (digit != 0)
			return fail(c, "cannot emulate MMIO access by opcode %02x /%u", op, digit);
		out->dir = MMIO_DIR_WRITE;
		out->size = op == 0xc6 ? 1 : (uint8_t)px.opsize;
		if (imm(c, out->size == 8 ? 4 : out->size, &v))
			return MICA_EINVAL;
		out->has_imm = 1;
		out->imm = v & mask(out->size);
		break;
	case 0x80: case 0x81: case 0x83:
		if (decode_group1(c, &px, op, out))
			return MICA_EINVAL;
		break;
	case 0x0f:
		if (decode_0f(c, &px, out))
			return MICA_EINVAL;
		break;
	case 0x63:
		if (mode != MMIO_MODE_64)
			return fail(c, "cannot emulate MMIO access by opcode 63 (ARPL outside "
				    "64-bit mode)");
		if (modrm(c, &px, op, &reg, &digit))
			return MICA_EINVAL;
		/* Without REX.W it is a plain 32-bit MOV; the 16-bit form reads 2 bytes on
		 * Intel but is described differently by AMD, so it is refused. */
		if (px.opsize == 2)
			return fail(c, "MOVSXD with a 16-bit operand size is not emulated");
		out->size = 4;
		out->reg = (uint8_t)reg;
		out->reg_size = (uint8_t)px.opsize;
		out->ext = px.opsize == 8 ? MMIO_EXT_SIGN : MMIO_EXT_NONE;
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3: /* MOV AL/eAX <-> moffs */
		if (skip(c, px.adsize))
			return MICA_EINVAL;
		out->size = (op & 1) ? (uint8_t)px.opsize : 1;
		out->reg = 0;
		out->dir = op <= 0xa1 ? MMIO_DIR_READ : MMIO_DIR_WRITE;
		out->reg_size = op <= 0xa1 ? out->size : 0;
		break;
	default:
		if (mode != MMIO_MODE_64 && (op & 0xf0) == 0x40)
			return fail(c, "cannot emulate MMIO access by opcode %02x (INC/DEC outside "
				    "64-bit mode)", op);
		return fail(c, "cannot emulate MMIO access by opcode %02x", op);
	}
	/* LOCK is only legal on a read-modify-write of memory (SDM vol2 LOCK: else #UD). */
	if (px.lock && out->dir != MMIO_DIR_RMW)
		return fail(c, "LOCK prefix on opcode %02x, which the CPU refuses with #UD", op);
	out->len = (uint8_t)c->pos;
	return 0;
}

int decode_mmio(const uint8_t *insn, unsigned avail, int mode, struct mmio_insn *out,
		char *err, size_t errlen)
{
	struct cursor c = { insn, insn ? avail : 0, 0, err, errlen };
	struct mmio_insn m;

	if (err && errlen)
		err[0] = '\0';
	if (mode != MMIO_MODE_16 && mode != MMIO_MODE_32 && mode != MMIO_MODE_64)
		return fail(&c, "code mode %d is none of 16, 32, 64", mode);
	memset(&m, 0, sizeof(m));
	if (decode_one(&c, mode, &m))
		return MICA_EINVAL;
	*out = m;
	return 0;
}

uint64_t mmio_operand(const struct mmio_insn *m, uint64_t reg)
{
	if (m->has_imm)
		return m->imm & mask(m->size);
	if (m->high8)
		return (reg >> 8) & 0xff;
	return reg & mask(m->size);
}

uint64_t mmio_load_result(const struct mmio_insn *m, uint64_t old, uint64_t data)
{
	uint64_t v = data & mask(m->size);

	if (m->ext == MMIO_EXT_SIGN && m->size < 8 && ((v >> (8 * m->size - 1)) & 1))
		v |= ~mask(m->size);
	switch (m->reg_size) {
	case 1:
		v &= 0xff;
		return m->high8 ? (old & ~0xff00ULL) | (v << 8) : (old & ~0xffULL) | v;
	case 2:
		return (old & ~0xffffULL) | (v & 0xffff);
	case 4: /* a 32-bit destination zero-extends (SDM vol1 3.4.1.1) */
		return v & 0xffffffffULL;
	default:
		return v;
	}
}

static int parity_even(uint64_t x)
{
	x &= 0xff;
	x ^= x >> 4;
	x ^= x >> 2;
	x ^= x >> 1;
	return !(x & 1);
}

uint64_t mmio_alu(const struct mmio_insn *m, uint64_t data, uint64_t operand,
		  uint64_t *rflags)
{
	uint64_t mk = mask(m->size), a = data & mk, b = operand & mk, r, f = 0;
	unsigned sign = 8 * m->size - 1;

	switch (m->op) {
	case MMIO_OP_CMP:
		if (m->reg_first) {
			uint64_t t = a;
			a = b;
			b = t;
		}
		r = (a - b) & mk;
		if (a < b)
			f |= RFLAGS_CF;
		if ((((a ^ b) & (a ^ r)) >> sign) & 1)
			f |= RFLAGS_OF;
		if ((a ^ b ^ r) & 0x10)
			f |= RFLAGS_AF;
		break;
	case MMIO_OP_OR:
		r = a | b;
		break;
	default: /* TEST, AND */
		r = a & b;
		break;
	}
	if (!r)
		f |= RFLAGS_ZF;
	if ((r >> sign) & 1)
		f |= RFLAGS_SF;
	if (parity_even(r))
		f |= RFLAGS_PF;
	*rflags = (*rflags & ~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF |
			       RFLAGS_OF)) | f;
	return r;
}
