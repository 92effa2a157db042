/* kernel/emul/insn_len.c: lengths of intercepted instructions, prefixes included. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "kernel/emul/insn_len.h"

static unsigned len_of(const char *hex, unsigned bits, enum insn_kind k)
{
	uint8_t b[32];
	unsigned n = 0;
	for (const char *p = hex; p[0] && p[1]; p += 2) {
		while (*p == ' ')
			p++;
		unsigned v;
		sscanf(p, "%2x", &v);
		b[n++] = (uint8_t)v;
	}
	return insn_len(b, n, bits, k);
}

Test(insn_len, plain_forms)
{
	cr_expect_eq(len_of("0fa2", 64, INSN_CPUID), 2);
	cr_expect_eq(len_of("0f01d9", 64, INSN_VMMCALL), 3);
	cr_expect_eq(len_of("0f01c1", 32, INSN_VMCALL), 3);
	cr_expect_eq(len_of("0f32", 64, INSN_RDMSR), 2);
	cr_expect_eq(len_of("0f30", 16, INSN_WRMSR), 2);
	cr_expect_eq(len_of("f4", 64, INSN_HLT), 1);
	cr_expect_eq(len_of("0f08", 64, INSN_INVD), 2);
}

Test(insn_len, the_reviews_prefixed_forms)
{
	cr_expect_eq(len_of("2e0fa2", 64, INSN_CPUID), 3);
	cr_expect_eq(len_of("2e0f01d9", 64, INSN_VMMCALL), 4);
	cr_expect_eq(len_of("f30f01d9", 64, INSN_VMMCALL), 4);
	cr_expect_eq(len_of("2e0f32", 64, INSN_RDMSR), 3);
	cr_expect_eq(len_of("3e2ef4", 32, INSN_HLT), 3);
}

Test(insn_len, rex_only_in_64_bit_code)
{
	cr_expect_eq(len_of("480fa2", 64, INSN_CPUID), 3);
	cr_expect_eq(len_of("66480f30", 64, INSN_WRMSR), 4);
	cr_expect_eq(len_of("480fa2", 32, INSN_CPUID), 0, "0x48 is DEC EAX in 32-bit code");
}

Test(insn_len, at_most_15_bytes)
{
	/* 13 prefixes + 0F A2 = 15: legal; one more and the CPU raises #GP instead. */
	cr_expect_eq(len_of("2e2e2e2e2e2e2e2e2e2e2e2e2e0fa2", 64, INSN_CPUID), 15);
	cr_expect_eq(len_of("2e2e2e2e2e2e2e2e2e2e2e2e2e2e0fa2", 64, INSN_CPUID), 0);
	cr_expect_eq(len_of("2e2e2e2e2e2e2e2e2e2e2e2e2e2e2ef4", 64, INSN_HLT), 0);
}

Test(insn_len, other_bytes_are_not_the_instruction)
{
	cr_expect_eq(len_of("0fa3", 64, INSN_CPUID), 0, "BT, not CPUID");
	cr_expect_eq(len_of("0f01d8", 64, INSN_VMMCALL), 0, "VMRUN, not VMMCALL");
	cr_expect_eq(len_of("2e", 64, INSN_CPUID), 0, "truncated after a prefix");
	cr_expect_eq(len_of("0f", 64, INSN_CPUID), 0, "truncated opcode");
	cr_expect_eq(insn_len((const uint8_t *)"\x0f\xa2", 2, 64, INSN_KINDS), 0, "unknown kind");
}

Test(insn_len, prefixes_by_mode)
{
	static const uint8_t legacy[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3 };
	for (unsigned i = 0; i < sizeof(legacy); i++) {
		cr_expect(insn_is_prefix(legacy[i], 16), "%#x in 16-bit code", legacy[i]);
		cr_expect(insn_is_prefix(legacy[i], 64), "%#x in 64-bit code", legacy[i]);
	}
	cr_expect(insn_is_prefix(0x48, 64), "REX.W in 64-bit code");
	cr_expect(!insn_is_prefix(0x48, 32), "DEC EAX in 32-bit code");
	cr_expect(!insn_is_prefix(0x6e, 64), "OUTSB is an opcode");
	cr_expect(!insn_is_prefix(0x0f, 64), "the two-byte escape is an opcode");
}
