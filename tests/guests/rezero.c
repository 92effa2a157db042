/* rezero: a partition's RAM is zero at every start, whatever it held (kernel/ram.h: RAM
 * zeroed on first touch, 2 MiB at a time; a restart takes it all out again). Both vCPUs
 * read all RAM beside the image and the stacks at once, vCPU 0 from the bottom up and
 * vCPU 1 from the top down, so they meet on pieces the other is faulting in. In the first
 * life vCPU 0 then fills that RAM with 0xa5 and asks for a reboot; in the second it must
 * find it all zero again, and powers off with code 0. */
#include "lib/guest.h"

#define STACK (64u << 10) /* per vCPU, below the top of RAM (docs/guests.md) */

static volatile unsigned done; /* .bss: vCPUs that finished reading */

/* The first non-zero word in [from, to), read upwards or downwards; 0 when all zero. */
static uint64_t first_dirty(uint64_t from, uint64_t to, int down)
{
	const volatile uint64_t *lo = (const uint64_t *)(uintptr_t)from;
	const volatile uint64_t *hi = (const uint64_t *)(uintptr_t)to;
	if (down) {
		for (const volatile uint64_t *p = hi; p-- > lo;)
			if (*p)
				return (uint64_t)(uintptr_t)p;
	} else {
		for (const volatile uint64_t *p = lo; p < hi; p++)
			if (*p)
				return (uint64_t)(uintptr_t)p;
	}
	return 0;
}

int main(unsigned vcpu)
{
	struct mica_self_info info;
	extern char __bss_end[];

	if (self_info(&info) != (long)sizeof(info)) {
		printf("FAIL: rezero: SELF_INFO failed\n");
		return 1;
	}
	uint64_t from = ((uint64_t)(uintptr_t)__bss_end + 4095) & ~4095ULL;
	uint64_t to = info.mem_bytes - (uint64_t)info.vcpu_count * STACK;
	uint64_t at = first_dirty(from, to, vcpu == 1);
	if (at) {
		printf("FAIL: rezero: life %u, vCPU %u: RAM at 0x%lx holds 0x%lx, expected zero\n",
		       info.restarts, vcpu, (unsigned long)at,
		       (unsigned long)*(volatile uint64_t *)(uintptr_t)at);
		return 1;
	}
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
	if (vcpu)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < info.vcpu_count)
		cpu_relax();
	printf("rezero: life %u: RAM from 0x%lx to 0x%lx is all zero (%u vCPUs read it)\n",
	       info.restarts, (unsigned long)from, (unsigned long)to, info.vcpu_count);
	if (info.restarts)
		return 0;
	for (volatile uint64_t *p = (uint64_t *)(uintptr_t)from; (uint64_t)(uintptr_t)p < to; p++)
		*p = 0xa5a5a5a5a5a5a5a5ULL;
	printf("rezero: filled it with 0xa5; rebooting\n");
	hcall(MICA_HC_SHUTDOWN, MICA_SHUTDOWN_REBOOT, 0);
	return 1;
}
