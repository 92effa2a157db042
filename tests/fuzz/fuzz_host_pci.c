/* kernel/host/pci.c: the machine's configuration space is anything (IDs, header types,
 * bridges' bus numbers, BARs, capability lists), over buses 0-3. The scan ends, keeps at
 * most HPCI_MAX_DEVS functions, lists each address once, links every function to a bridge
 * listed before it, and leaves configuration space as it found it (BAR sizing restores
 * what it changed). */
#include "tests/fuzz/fuzz.h"
#include "kernel/host/pci.h"

#define BUSES 4
#define SPACE 256 /* bytes of each function kept; the rest reads as zero */

static uint8_t cfg[BUSES][32][8][SPACE], before[BUSES][32][8][SPACE];
static uint8_t present[BUSES][32][8];
static struct hpci_list list;
/* Each memory BAR's size mask, so that sizing reads back what a device would. */
static uint32_t mask[BUSES][32][8][6];

static uint32_t rd(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg)
{
	(void)ctx;
	if (seg || bus >= BUSES || dev >= 32 || fn >= 8 || !present[bus][dev][fn])
		return 0xffffffffu;
	if (reg + 4 > SPACE)
		return 0;
	uint32_t v;
	memcpy(&v, &cfg[bus][dev][fn][reg & ~3u], 4);
	return v;
}

static void wr(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg,
	       uint32_t val)
{
	(void)ctx;
	if (seg || bus >= BUSES || dev >= 32 || fn >= 8 || !present[bus][dev][fn] ||
	    reg + 4 > SPACE)
		return;
	unsigned type = cfg[bus][dev][fn][0x0e] & 0x7f;
	uint32_t old;
	memcpy(&old, &cfg[bus][dev][fn][reg & ~3u], 4);
	if (reg >= 0x10 && reg < (type == 0 ? 0x28u : type == 1 ? 0x18u : 0x10u))
		val &= mask[bus][dev][fn][(reg - 0x10) / 4] | 0xf;
	/* Status (and a bridge's secondary status) is write-1-to-clear: a write of zeros
	 * keeps it. */
	if ((reg & ~3u) == 0x04 || (type == 1 && (reg & ~3u) == 0x1c))
		val = (val & 0xffff) | ((old >> 16) & ~(val >> 16)) << 16;
	memcpy(&cfg[bus][dev][fn][reg & ~3u], &val, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	memset(present, 0, sizeof(present));
	memset(cfg, 0, sizeof(cfg));
	/* Functions as (bus, dev, fn, 64 header bytes, BAR masks) records. */
	while (in.n >= 4) {
		unsigned bus = (unsigned)fuzz_take(&in, 1) % BUSES, dev = (unsigned)fuzz_take(&in, 1) % 32,
			 fn = (unsigned)fuzz_take(&in, 1) % 8, ncap = (unsigned)fuzz_take(&in, 1) % 4;
		uint8_t *c = cfg[bus][dev][fn];
		present[bus][dev][fn] = 1;
		for (unsigned i = 0; i < 64 && in.n; i++)
			c[i] = (uint8_t)fuzz_take(&in, 1);
		for (unsigned i = 0; i < 6; i++)
			mask[bus][dev][fn][i] = ~0u << ((unsigned)fuzz_take(&in, 1) % 32);
		for (unsigned k = 0; k < ncap * 16 && in.n; k++) /* capabilities at 0x40.. */
			c[0x40 + k] = (uint8_t)fuzz_take(&in, 1);
		/* A device's BARs hold only the bits it implements: what the scan sizes
		 * (6 BARs, a bridge's 2) starts out as the device could hold it. */
		unsigned nbars = (c[0x0e] & 0x7f) == 0 ? 6 : (c[0x0e] & 0x7f) == 1 ? 2 : 0;
		for (unsigned i = 0; i < nbars; i++) {
			uint32_t v;
			memcpy(&v, c + 0x10 + 4 * i, 4);
			v &= mask[bus][dev][fn][i] | 0xf;
			memcpy(c + 0x10 + 4 * i, &v, 4);
		}
	}
	memcpy(before, cfg, sizeof(cfg));
	const struct hpci_cfg ops = { rd, wr, NULL };
	memset(&list, 0, sizeof(list));
	hpci_scan(&ops, 0, 0, &list);

	FUZZ_CHECK(list.n <= HPCI_MAX_DEVS, "%u functions", list.n);
	for (unsigned i = 0; i < list.n; i++) {
		const struct hpci_dev *d = &list.dev[i];
		FUZZ_CHECK(d->bus < BUSES && d->dev < 32 && d->fn < 8 && present[d->bus][d->dev][d->fn],
			   "%02x:%02x.%x listed but absent", d->bus, d->dev, d->fn);
		FUZZ_CHECK(d->upstream < (int)i, "function %u's bridge %d comes after it", i,
			   d->upstream);
		FUZZ_CHECK(d->upstream < 0 || list.dev[d->upstream].header == HPCI_HDR_BRIDGE,
			   "function %u's upstream is no bridge", i);
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(list.dev[j].bus != d->bus || list.dev[j].dev != d->dev ||
				   list.dev[j].fn != d->fn, "%02x:%02x.%x listed twice", d->bus,
				   d->dev, d->fn);
		for (unsigned b = 0; b < HPCI_BARS; b++)
			FUZZ_CHECK(!d->bar[b].size || !(d->bar[b].size & (d->bar[b].size - 1)),
				   "BAR %u size 0x%llx", b, (unsigned long long)d->bar[b].size);
		int r = hpci_reset_bridge(&list, i);
		FUZZ_CHECK(r == -1 || r == d->upstream, "reset bridge %d", r);
	}
	if (!memcmp(before, cfg, sizeof(cfg)))
		return 0;
	for (unsigned b = 0; b < BUSES; b++)
		for (unsigned d = 0; d < 32; d++)
			for (unsigned f = 0; f < 8; f++)
				for (unsigned r = 0; r < SPACE; r++)
					FUZZ_CHECK(before[b][d][f][r] == cfg[b][d][f][r],
						   "the scan changed %02x:%02x.%x register 0x%x: 0x%02x -> "
						   "0x%02x", b, d, f, r, before[b][d][f][r], cfg[b][d][f][r]);
	return 0;
}
