/* kernel/emul/decode.c and insn_len.c: any bytes, in any mode. A decoded MMIO instruction
 * is at most 15 bytes and no longer than what was readable, accesses 1, 2, 4 or 8 bytes
 * and names a register that exists; insn_len never claims more than 15 bytes or more than
 * it was given, and what it accepts is prefixes followed by the opcode it was asked for. */
#include "tests/fuzz/fuzz.h"
#include "kernel/emul/decode.h"
#include "kernel/emul/insn_len.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const int modes[] = { MMIO_MODE_16, MMIO_MODE_32, MMIO_MODE_64 };
	static const unsigned bits[] = { 16, 32, 64 };
	unsigned m = data[0] % 3;
	const uint8_t *insn = data + 1;
	unsigned avail = (unsigned)(size - 1 > 20 ? 20 : size - 1);
	struct mmio_insn d;
	char err[200];
	err[0] = 0;
	if (decode_mmio(insn, avail, modes[m], &d, err, sizeof(err)) == 0) {
		FUZZ_CHECK(d.len >= 1 && d.len <= 15 && d.len <= avail, "length %u of %u", d.len,
			   avail);
		FUZZ_CHECK(d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8, "size %u",
			   d.size);
		FUZZ_CHECK(d.has_imm || d.reg < 16, "register %u", d.reg);
		FUZZ_CHECK(!d.high8 || d.reg < 4, "high-byte register %u", d.reg);
		FUZZ_CHECK(!d.has_imm || d.size == 8 || !(d.imm >> (8 * d.size)),
			   "immediate 0x%llx wider than %u bytes", (unsigned long long)d.imm, d.size);
	} else {
		fuzz_check_msg(err, sizeof(err));
	}
	/* Opcode bytes of each kind (insn_len.h): CPUID, VMMCALL, VMCALL, RDMSR, WRMSR, HLT,
	 * INVD. */
	static const uint8_t ops[INSN_KINDS][4] = {
		{ 2, 0x0F, 0xA2 }, { 3, 0x0F, 0x01, 0xD9 }, { 3, 0x0F, 0x01, 0xC1 },
		{ 2, 0x0F, 0x32 }, { 2, 0x0F, 0x30 }, { 1, 0xF4 }, { 2, 0x0F, 0x08 },
	};
	for (int k = 0; k < INSN_KINDS; k++) {
		unsigned n = insn_len(insn, avail, bits[m], (enum insn_kind)k);
		FUZZ_CHECK(n <= 15 && n <= avail, "insn_len %u of %u (kind %d)", n, avail, k);
		if (!n)
			continue;
		unsigned op = ops[k][0];
		FUZZ_CHECK(n >= op && !memcmp(insn + n - op, &ops[k][1], op),
			   "kind %d: %u bytes that do not end in its opcode", k, n);
		for (unsigned i = 0; i + op < n; i++)
			FUZZ_CHECK(insn_is_prefix(insn[i], bits[m]), "kind %d: byte %u (0x%02x) is no "
				   "prefix", k, i, insn[i]);
	}
	return 0;
}
