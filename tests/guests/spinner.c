/* spinner: stopping and restarting a partition whose other vCPU never exits. vCPU 1 says
 * it is ready, makes one last exit (CPUID) and then spins with interrupts off (the ELF
 * boot state), never leaving the guest by itself; vCPU 0 waits for it to be ready and
 * triple-faults at once, on each of its first RUNS runs (on_crash = restart). So the stop
 * comes while vCPU 1 is on its way back from that last exit, and must get it out of the
 * guest by a kick: a lost kick hangs the partition for good. */
#include "lib/guest.h"

#define RUNS 20

static volatile int ready; /* .bss: cleared by vCPU 0 before either main runs */

int main(unsigned vcpu)
{
	struct mica_self_info info;

	if (vcpu) {
		uint32_t r[4];
		ready = 1;
		cpuid(0, 0, r);
		for (;;)
			__asm__ volatile("" ::: "memory");
	}
	if (self_info(&info) != (long)sizeof(info)) {
		printf("FAIL: SELF_INFO failed\n");
		return 1;
	}
	if (info.vcpu_count < 2) {
		printf("FAIL: spinner needs 2 vCPUs, has %u\n", info.vcpu_count);
		return 1;
	}
	if (info.restarts < RUNS) {
		while (!ready)
			cpu_relax();
		triple_fault();
	}
	printf("PASS: spinner restarted %u times past a vCPU that never exits\n", info.restarts);
	return 0;
}
