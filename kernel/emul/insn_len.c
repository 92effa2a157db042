/* Prefixes: SDM vol. 2 2.1.1 (groups 1-4), 2.2.1 (REX: 64-bit mode only, 40-4F). */
#include <string.h>
#include "kernel/emul/insn_len.h"

static const struct {
	uint8_t len;
	uint8_t op[3];
} opcodes[INSN_KINDS] = {
	[INSN_CPUID] = { 2, { 0x0f, 0xa2 } },
	[INSN_VMMCALL] = { 3, { 0x0f, 0x01, 0xd9 } },
	[INSN_VMCALL] = { 3, { 0x0f, 0x01, 0xc1 } },
	[INSN_RDMSR] = { 2, { 0x0f, 0x32 } },
	[INSN_WRMSR] = { 2, { 0x0f, 0x30 } },
	[INSN_HLT] = { 1, { 0xf4 } },
	[INSN_INVD] = { 2, { 0x0f, 0x08 } },
};

int insn_is_prefix(uint8_t b, unsigned bits)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: /* segments */
	case 0x66: case 0x67: /* operand and address size */
	case 0xf0: case 0xf2: case 0xf3: /* LOCK, REPNE, REP */
		return 1;
	default:
		return bits == 64 && (b & 0xf0) == 0x40;
	}
}

unsigned insn_len(const uint8_t *insn, unsigned avail, unsigned bits, enum insn_kind kind)
{
	unsigned n = 0;

	if ((unsigned)kind >= INSN_KINDS)
		return 0;
	if (avail > INSN_MAX)
		avail = INSN_MAX;
	while (n < avail && insn_is_prefix(insn[n], bits))
		n++;
	unsigned len = n + opcodes[kind].len;
	if (len > avail || memcmp(insn + n, opcodes[kind].op, opcodes[kind].len))
		return 0;
	return len;
}
