/* cpuid: checks the CPUID policy a partition sees: hypervisor present, no nested
 * virtualization offered, and Mica's own leaves. */
#include <string.h>
#include "lib/guest.h"

int main(unsigned vcpu)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	check(r[2] & (1u << 31), "CPUID.1:ECX.hypervisor[bit 31] = 1");
	check(!(r[2] & (1u << 5)), "CPUID.1:ECX.VMX[bit 5] = 0");

	cpuid(0x80000000u, 0, r);
	if (r[0] >= 0x80000001u) {
		cpuid(0x80000001u, 0, r);
		check(!(r[2] & (1u << 2)), "CPUID.80000001h:ECX.SVM[bit 2] = 0");
	} else {
		printf("cpuid: no leaf 0x80000001 (max 0x%x), SVM cannot be offered\n", r[0]);
	}

	cpuid(MICA_CPUID_SIGNATURE, 0, r);
	char sig[13];
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = '\0';
	for (int i = 0; i < 12; i++)
		if (sig[i] < 0x20 || sig[i] > 0x7e)
			sig[i] = '?';
	printf("cpuid: leaf 0x40000000: max 0x%x, signature \"%s\"\n", r[0], sig);
	check(memcmp(sig, "MicaMicaMica", 12) == 0, "leaf 0x40000000 signature is MicaMicaMica");
	check(r[0] >= MICA_CPUID_FEATURES, "leaf 0x40000000 EAX >= 0x40000001");

	cpuid(MICA_CPUID_FEATURES, 0, r);
	printf("cpuid: leaf 0x40000001: ABI 0x%x, hypercall insn %u\n", r[0], r[1]);
	check(r[0] == MICA_ABI_VERSION, "leaf 0x40000001 EAX = MICA_ABI_VERSION");

	if (check_failures) {
		printf("FAIL: cpuid policy (%d checks failed)\n", check_failures);
		return 1;
	}
	printf("PASS: cpuid policy\n");
	return 0;
}
