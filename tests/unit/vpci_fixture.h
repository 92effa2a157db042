/* What the test files of kernel/vpci/bus.c share (test_vpci.c: config space, BARs, MSI-X;
 * test_vpci_host.c: the ways in; test_vpci_pt.c: passed-through functions): the bus under test, config-space access by slot,
 * and an owner for every function that records what reached it. */
#ifndef MICA_TEST_VPCI_FIXTURE_H
#define MICA_TEST_VPCI_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include "kernel/vpci/bus.h"

static struct vpci bus;
static char err[160];

#define ECAM(b, d, f, r) ((uint64_t)(b) << 20 | (uint64_t)(d) << 15 | (uint64_t)(f) << 12 | (r))

/* The test bus: console at slot 1, block at 2, net at 5. */
#define CON 1
#define BLK 2
#define NET 5

/* An MSI sink that records the first 8 messages a bus sends (n counts them all): a
 * struct vpci_host's msi callback with ctx = &sent. */
static struct {
	unsigned n;
	uint64_t addr[8];
	uint32_t data[8];
} sent __attribute__((unused));

static inline void msi_sink(void *ctx, uint64_t addr, uint32_t data)
{
	cr_assert_eq(ctx, &sent);
	if (sent.n < 8) {
		sent.addr[sent.n] = addr;
		sent.data[sent.n] = data;
	}
	sent.n++;
}

static inline uint32_t rd(unsigned dev, unsigned reg, unsigned size)
{
	return vpci_cfg_read(&bus, ECAM(0, dev, 0, reg), size);
}

static inline void wr(unsigned dev, unsigned reg, unsigned size, uint32_t val)
{
	vpci_cfg_write(&bus, ECAM(0, dev, 0, reg), size, val);
}

static inline unsigned msix_cap(unsigned s)
{
	for (unsigned pos = rd(s, 0x34, 1); pos; pos = rd(s, pos + 1, 1))
		if (rd(s, pos, 1) == 0x11)
			return pos;
	cr_assert_fail("no MSI-X capability");
	return 0;
}

static struct {
	unsigned calls, slot, off, size, write;
	enum vpci_region r;
	uint32_t val;
} seen;

/* The owner of every function in these tests: dev is &owners[slot]. */
static unsigned owners[VPCI_SLOTS];

static inline uint64_t region_fn(void *dev, enum vpci_region r, uint64_t off, unsigned size,
			  uint64_t val, int write)
{
	unsigned *slot = dev;
	cr_assert(slot >= owners && slot < owners + VPCI_SLOTS);
	seen.calls++;
	seen.slot = *slot;
	seen.r = r;
	seen.off = (unsigned)off;
	seen.size = size;
	seen.write = write;
	if (write)
		seen.val = (uint32_t)val;
	return 0xCAFEF00D;
}

static const struct vpci_ops owner_ops = { .region = region_fn };

static inline void attach_all(void)
{
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		owners[s] = s;
		vpci_attach(&bus, s, &owner_ops, &owners[s]);
	}
}

#endif
