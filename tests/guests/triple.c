/* triple: a guest that triple-faults on purpose (no IDT, then ud2). */
#include "lib/guest.h"

int main(unsigned vcpu)
{
	printf("triple: faulting now\n");
	__asm__ volatile("ud2");
	printf("FAIL: triple: still running after ud2 without an IDT\n");
	return 1;
}
