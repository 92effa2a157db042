/* probe: memory isolation. Uses its own RAM, then writes just past it; the hypervisor must
 * stop the partition at that write. */
#include "lib/guest.h"

#define STACKS (64u << 10) /* one 64 KiB stack per vCPU below the top of RAM */

static int check_ram(volatile uint64_t *p, size_t words)
{
	for (size_t i = 0; i < words; i++)
		p[i] = 0x5a5a000000000000ull ^ ((uintptr_t)&p[i] * 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < words; i++)
		if (p[i] != (0x5a5a000000000000ull ^ ((uintptr_t)&p[i] * 0x9e3779b97f4a7c15ull)))
			return 0;
	return 1;
}

static void poke(uint64_t gpa)
{
	printf("probe: writing guest-physical 0x%lx (outside RAM)\n", (unsigned long)gpa);
	*(volatile uint32_t *)(uintptr_t)gpa = 0xdeadbeef;
	printf("FAIL: write outside RAM was not stopped (guest-physical 0x%lx)\n",
	       (unsigned long)gpa);
}

int main(unsigned vcpu)
{
	struct mica_self_info info;

	if (self_info(&info) != (long)sizeof(info)) {
		printf("FAIL: SELF_INFO failed\n");
		return 1;
	}
	uint64_t mem = info.mem_bytes;
	/* 64 KiB just below the stacks, at the top of RAM, and 64 KiB in the middle. */
	uint64_t top = mem - (uint64_t)info.vcpu_count * STACKS - (64u << 10);
	if (!check_ram((volatile uint64_t *)(uintptr_t)top, (64u << 10) / 8) ||
	    !check_ram((volatile uint64_t *)(uintptr_t)(mem / 2), (64u << 10) / 8)) {
		printf("FAIL: probe own RAM read/write\n");
		return 1;
	}
	printf("PASS: probe own RAM read/write (0x%lx and 0x%lx)\n", (unsigned long)top,
	       (unsigned long)(mem / 2));

	poke(mem);
	poke(mem + (1u << 20));
	poke(3ull << 30);
	return 1;
}
