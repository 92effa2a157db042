/* snapmem: a partition that checks its own state every tick, for snapshots (docs/
 * snapshots.md). Each tick (about 0.3 s) it first checks that RAM and an SSE register
 * hold exactly what the previous tick left there: one word in every 4 KiB page of 6 MiB
 * (three 2 MiB pieces), and tick number in XMM5. Then it writes the next tick's values
 * and prints "tick N". A restore takes it back to an earlier tick, whose RAM, registers
 * and FPU must all come back together: any mismatch prints "snapmem: FAIL". It also
 * prints when its VM generation (struct mica_self_info) changes: after every restore, and
 * in a clone (docs/management.md, "Clones"), which then mixes its own partition number
 * into every word it writes, so that a write of its that reached its origin's RAM, or
 * one of the origin's that reached the clone's, is caught by the next check. */
#include "lib/guest.h"

#define AREA  (6u << 20)
#define PAGES (AREA / 4096)
#define WORDS_PER_PAGE (4096 / 8)

static volatile uint64_t area[AREA / 8] __attribute__((aligned(4096)));

static uint64_t salt; /* the partition number it runs as, from the first clone on */

static uint64_t value(uint64_t tick, unsigned page)
{
	return (tick * 0x9e3779b97f4a7c15ull ^ ((uint64_t)page << 32 | page)) + salt;
}

static void sse_on(void)
{
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 9) | (1u << 10))); /* OSFXSR, OSXMMEXCPT */
}

static void xmm5_set(uint64_t v)
{
	__asm__ volatile("movq %0, %%xmm5" : : "r"(v));
}

static uint64_t xmm5_get(void)
{
	uint64_t v;
	__asm__ volatile("movq %%xmm5, %0" : "=r"(v));
	return v;
}

int main(unsigned vcpu)
{
	uint64_t tick = 0;

	sse_on();
	for (unsigned p = 0; p < PAGES; p++)
		area[p * WORDS_PER_PAGE] = value(0, p);
	xmm5_set(0);
	struct mica_self_info info;
	uint32_t gen = self_info(&info) == (long)sizeof(info) ? info.vm_generation : 0;
	uint32_t id = info.partition_id;
	uart_printf("snapmem: start (%u KiB checked every tick, VM generation %u)\n",
		    AREA >> 10, gen);
	for (;;) {
		delay_ms(300);
		unsigned bad = 0, first = 0;
		for (unsigned p = 0; p < PAGES; p++)
			if (area[p * WORDS_PER_PAGE] != value(tick, p) && !bad++)
				first = p;
		uint64_t x = xmm5_get();
		if (bad || x != tick)
			uart_printf("snapmem: FAIL at tick %lu: %u pages differ (first %u), xmm5 %lu\n",
				    tick, bad, first, x);
		tick++;
		for (unsigned p = 0; p < PAGES; p++)
			area[p * WORDS_PER_PAGE] = value(tick, p);
		xmm5_set(tick);
		/* A restore takes gen back with the rest of RAM; Mica's counter goes on. */
		if (self_info(&info) == (long)sizeof(info) && info.vm_generation != gen) {
			if (info.partition_id != id) {
				uart_printf("snapmem: VM generation %u -> %u: cloned as '%s' "
					    "(partition %u; reseed, new identity)\n", gen,
					    info.vm_generation, info.name, info.partition_id);
				id = info.partition_id;
				salt = (uint64_t)id << 48;
				for (unsigned p = 0; p < PAGES; p++)
					area[p * WORDS_PER_PAGE] = value(tick, p);
			} else {
				uart_printf("snapmem: VM generation %u -> %u: restored (reseed)\n",
					    gen, info.vm_generation);
			}
			gen = info.vm_generation;
		}
		uart_printf("tick %lu\n", tick);
	}
}
