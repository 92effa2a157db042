/* attack_virt: virtualization instructions inside a guest (issue #17's hostile-guest
 * suite). Mica's guests have neither SVM nor VMX: every SVM, VMX, SMX and SGX instruction
 * must raise #UD in the guest, whichever CPU is underneath, and leave everything else as it
 * was. The hypercall instruction of this backend (VMMCALL on SVM, VMCALL on VT-x) is the one
 * exception; the other vendor's must be #UD too. Operands point at a page of the guest's own
 * RAM filled with garbage, so an instruction the CPU did run would have nothing sane to use. */
#include <string.h>
#include "lib/guest.h"

#define VEC_UD 6

static int failures;
static uint8_t junk[4096] __attribute__((aligned(4096)));

struct insn {
	const char *name;
	uint8_t bytes[6];
	uint8_t len;
	int8_t hcall; /* 1: VMMCALL, 0: VMCALL (the hypercall on one vendor), -1: neither */
};

static const struct insn insns[] = {
	{ "VMRUN",    { 0x0f, 0x01, 0xd8 }, 3, -1 },
	{ "VMMCALL",  { 0x0f, 0x01, 0xd9 }, 3, 1 },
	{ "VMLOAD",   { 0x0f, 0x01, 0xda }, 3, -1 },
	{ "VMSAVE",   { 0x0f, 0x01, 0xdb }, 3, -1 },
	{ "STGI",     { 0x0f, 0x01, 0xdc }, 3, -1 },
	{ "CLGI",     { 0x0f, 0x01, 0xdd }, 3, -1 },
	{ "SKINIT",   { 0x0f, 0x01, 0xde }, 3, -1 },
	{ "INVLPGA",  { 0x0f, 0x01, 0xdf }, 3, -1 },
	{ "VMCALL",   { 0x0f, 0x01, 0xc1 }, 3, 0 },
	{ "VMLAUNCH", { 0x0f, 0x01, 0xc2 }, 3, -1 },
	{ "VMRESUME", { 0x0f, 0x01, 0xc3 }, 3, -1 },
	{ "VMXOFF",   { 0x0f, 0x01, 0xc4 }, 3, -1 },
	{ "VMFUNC",   { 0x0f, 0x01, 0xd4 }, 3, -1 },
	{ "VMXON",    { 0xf3, 0x0f, 0xc7, 0x30 }, 4, -1 },       /* vmxon (%rax) */
	{ "VMPTRLD",  { 0x0f, 0xc7, 0x30 }, 3, -1 },             /* vmptrld (%rax) */
	{ "VMPTRST",  { 0x0f, 0xc7, 0x38 }, 3, -1 },             /* vmptrst (%rax) */
	{ "VMCLEAR",  { 0x66, 0x0f, 0xc7, 0x30 }, 4, -1 },       /* vmclear (%rax) */
	{ "VMREAD",   { 0x0f, 0x78, 0xc1 }, 3, -1 },             /* vmread %rax, %rcx */
	{ "VMWRITE",  { 0x0f, 0x79, 0xc1 }, 3, -1 },             /* vmwrite %rcx, %rax */
	{ "INVEPT",   { 0x66, 0x0f, 0x38, 0x80, 0x08 }, 5, -1 }, /* invept (%rax), %rcx */
	{ "INVVPID",  { 0x66, 0x0f, 0x38, 0x81, 0x08 }, 5, -1 }, /* invvpid (%rax), %rcx */
	{ "GETSEC",   { 0x0f, 0x37 }, 2, -1 },
	{ "ENCLS",    { 0x0f, 0x01, 0xcf }, 3, -1 },
	{ "ENCLU",    { 0x0f, 0x01, 0xd7 }, 3, -1 },
	{ "ENCLV",    { 0x0f, 0x01, 0xc0 }, 3, -1 },
};

/* Runs one instruction from a page of its own: bytes, then a RET. RAX = &junk, RCX = 1,
 * RBX, RDX, RSI, RDI = junk too, so every operand is the guest's own garbage. */
static uint8_t stub[64] __attribute__((aligned(64)));

static void run(const struct insn *in, int *vec, uint64_t *rbp_after)
{
	memset(stub, 0x90, sizeof(stub));
	memcpy(stub, in->bytes, in->len);
	stub[in->len] = 0xc3;
	uint64_t rbp = 0x0123456789abcdefULL;
	trap_expect(in->len);
	__asm__ volatile("push %%rbp\n\tmov %1, %%rbp\n\tcall *%2\n\tmov %%rbp, %0\n\tpop %%rbp"
			 : "=r"(*rbp_after)
			 : "r"(rbp), "r"(stub), "a"(junk), "c"(1ULL), "b"(junk), "d"(junk),
			   "S"(junk), "D"(junk)
			 : "memory", "r8", "r9", "r10", "r11");
	*vec = trap_taken();
}

int main(unsigned vcpu)
{
	char line[120];
	trap_install();
	hcall(MICA_HC_VERSION, 0, 0); /* sets hcall_vmmcall */
	memset(junk, 0xa5, sizeof(junk));
	printf("attack_virt: start, hypercall is %s\n", hcall_vmmcall ? "VMMCALL" : "VMCALL");
	for (unsigned i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
		const struct insn *in = &insns[i];
		if (in->hcall == (hcall_vmmcall ? 1 : 0))
			continue; /* this backend's hypercall */
		int vec;
		uint64_t rbp;
		run(in, &vec, &rbp);
		int ok = vec == VEC_UD && rbp == 0x0123456789abcdefULL;
		snprintf(line, sizeof(line), "%s gets #UD%s", in->name,
			 ok ? "" : vec < 0 ? " (it ran)" : " (another vector)");
		printf("%s: %s\n", ok ? "PASS" : "FAIL", line);
		if (!ok) {
			printf("attack_virt: %s raised vector %d\n", in->name, vec);
			failures++;
		}
	}
	/* The junk page is untouched: no instruction wrote through its operand. */
	int clean = 1;
	for (unsigned i = 0; i < sizeof(junk); i++)
		clean &= junk[i] == 0xa5;
	printf("%s: no instruction wrote its memory operand\n", clean ? "PASS" : "FAIL");
	failures += !clean;
	if (failures)
		printf("FAIL: attack_virt, %d checks failed\n", failures);
	else
		printf("PASS: attack_virt\n");
	return failures ? 1 : 0;
}
