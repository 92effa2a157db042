/* Zeroing the partitions' RAM at boot on every CPU (kernel/zero.h). */
#include "kernel/arch.h"
#include "kernel/config.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/zero.h"
#include "arch/x86/cpu.h"

#define PIECE (2ULL << 20)

/* Filled by the boot CPU before `open`; the counters are taken atomically by every CPU. */
static struct { uint64_t pa, pieces; } block[CFG_MAX_PARTS];
static unsigned nblocks;
static uint64_t total;           /* pieces in all blocks */
static volatile int open;
static uint64_t next, done;      /* the next piece to take; pieces finished */
static unsigned helpers;         /* CPUs that took at least one piece (counted before
				  * the piece is done, so the boot CPU sees every one) */

void zero_add(uint64_t pa, uint64_t size)
{
	if (nblocks == CFG_MAX_PARTS || !size)
		return;
	block[nblocks].pa = pa;
	block[nblocks++].pieces = (size + PIECE - 1) / PIECE;
	total += (size + PIECE - 1) / PIECE;
}

/* 64 bytes per loop in 8-byte stores. Not memset's rep stosq: on real CPUs both run at
 * memory speed, but emulators (QEMU's TCG, Bochs) run a rep string instruction one
 * element per step, and this loop several times faster. Every line is written, not first
 * read to skip the zero ones: under QEMU a read maps the host's zero page in 4 KiB pieces,
 * and the guest's later writes then fault 4 KiB at a time instead of taking 2 MiB pages
 * (the Linux boot measured 1.27 against 1.17 that way). */
void zero_bytes(void *at, uint64_t n)
{
	uint64_t *p = at, *end = p + n / 8;

	for (; p < end; p += 8)
		__asm__ volatile("movq %1, 0(%0); movq %1, 8(%0); movq %1, 16(%0); movq %1, 24(%0);"
				 "movq %1, 32(%0); movq %1, 40(%0); movq %1, 48(%0); movq %1, 56(%0)"
				 : : "r"(p), "r"(0ULL) : "memory");
}

/* Takes and zeroes pieces until none is left. */
static void work(void)
{
	for (int first = 1;; first = 0) {
		uint64_t k = __atomic_fetch_add(&next, 1, __ATOMIC_ACQ_REL);
		if (k >= total)
			return;
		if (first)
			__atomic_add_fetch(&helpers, 1, __ATOMIC_RELAXED);
		unsigned b = 0;
		while (k >= block[b].pieces)
			k -= block[b++].pieces;
		zero_bytes(phys_to_virt(block[b].pa + k * PIECE), PIECE);
		__atomic_add_fetch(&done, 1, __ATOMIC_RELEASE);
	}
}

void zero_help(void)
{
	if (__atomic_load_n(&open, __ATOMIC_ACQUIRE))
		work();
}

void zero_run(void)
{
	uint64_t t0 = rdtsc(), hz = arch_tsc_hz();

	if (!total)
		return;
	__atomic_store_n(&open, 1, __ATOMIC_RELEASE);
	work();
	while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < total)
		cpu_relax();
	__atomic_store_n(&open, 0, __ATOMIC_RELEASE);
	uint64_t us = hz ? (rdtsc() - t0) * 1000000 / hz : 0;
	log_info("zeroed %lu MiB of partition RAM on %u CPU%s in %lu.%03lu s", total * 2,
		 helpers, helpers == 1 ? "" : "s", us / 1000000, us / 1000 % 1000);
}
