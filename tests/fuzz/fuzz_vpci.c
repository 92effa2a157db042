/* kernel/vpci/: a guest's accesses to its PCI bus are anything: ECAM, mechanism #1 and BAR
 * accesses of any size, offset and value, on a bus with a virtio function, an edu-like
 * passed-through function (MSI with 4 vectors) and an NVMe-like one (MSI-X with more
 * vectors than shown). Read-only registers stay as built (IDs, class, header type, the
 * capability pointer), absent functions read all ones, a passed-through BAR only ever
 * holds a base aligned to its size, and every message the bus sends is one of the
 * messages the guest programmed into a function it enabled. The owners' regions get only
 * passed-through or virtio regions, never the MSI-X table or PBA. */
#include "tests/fuzz/fuzz.h"
#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"

#define ECAM_BASE 0xB0000000ull
#define VIRTIO 1
#define EDU    8
#define NVME   9

static struct vpci bus;
static uint32_t ids[VPCI_SLOTS][4]; /* dwords 0x00, 0x08, 0x0c (header byte), 0x34 */

static int programmed(uint64_t addr, uint32_t data)
{
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		const struct vpci_fn *f = &bus.fn[s];
		if (!f->present)
			continue;
		for (unsigned v = 0; v < f->nvec; v++)
			if (((uint64_t)f->msix[v][1] << 32 | f->msix[v][0]) == addr &&
			    f->msix[v][2] == data)
				return 1;
		if (f->msi_cap) {
			uint64_t a = (uint64_t)vpci_cfg_dword(&bus, s, f->msi_cap + 8) << 32 |
				     vpci_cfg_dword(&bus, s, f->msi_cap + 4);
			uint32_t d = vpci_cfg_dword(&bus, s, f->msi_cap + 12) & 0xffff;
			if (a == addr && (d & ~31u) == (data & ~31u) && data <= 0xffff)
				return 1;
		}
	}
	return 0;
}

static void sink(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx;
	FUZZ_CHECK(programmed(addr, data), "sent 0x%llx/0x%x, which no function holds",
		   (unsigned long long)addr, data);
}

static uint64_t region(void *dev, enum vpci_region r, uint64_t off, unsigned size,
		       uint64_t val, int write)
{
	(void)dev; (void)off; (void)val; (void)write;
	FUZZ_CHECK(r != VPCI_REGION_MSIX_TABLE && r != VPCI_REGION_MSIX_PBA &&
		   r != VPCI_REGION_NONE, "an owner got region %d", r);
	FUZZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8, "size %u", size);
	return 0x5a5a5a5a5a5a5a5aull;
}

static const struct vpci_ops ops = { region, NULL };
static const struct vpci_host host = {
	.ecam_base = ECAM_BASE, .mem_base = 0xC0000000ull, .mem_size = 0x10000000ull,
	.io_base = 0xC000, .io_size = 0x1000, .msi = sink,
};

static void build(void)
{
	char err[200];
	vpci_init(&bus, &host);
	if (vpci_add_virtio(&bus, VIRTIO, VPCI_VIRTIO_NET, 3, 12, 0xff, err, sizeof(err)))
		abort();
	struct vpci_pt_desc e = { .vendor = 0x1234, .device = 0x11e8, .class = 0x00ff00,
				  .msi = 4 };
	e.bar_size[0] = 1u << 20;
	struct vpci_pt_desc n = { .vendor = 0x1b36, .device = 0x0010, .class = 0x010802,
				  .msix_nvec = 65, .msix_bir = 0, .msix_off = 0x2000, .pba_bir = 0,
				  .pba_off = 0x3000, .has_pcie = 1 };
	n.bar_size[0] = 16u << 10;
	n.bar_flags[0] = VPCI_BAR_64;
	n.pcie[0] = 0x10;
	if (vpci_add_passthrough(&bus, EDU, &e, err, sizeof(err)) ||
	    vpci_add_passthrough(&bus, NVME, &n, err, sizeof(err)))
		abort();
	vpci_attach(&bus, VIRTIO, &ops, NULL);
	vpci_attach(&bus, EDU, &ops, NULL);
	vpci_attach(&bus, NVME, &ops, NULL);
	vpci_assign_bar(&bus, VIRTIO, 0xC0000000ull);
	vpci_assign_io_bar(&bus, VIRTIO, 0xC010);
	vpci_pt_assign_bar(&bus, EDU, 0, 0xC8000000ull);
	vpci_pt_assign_bar(&bus, NVME, 0, 0xC8100000ull);
	for (unsigned s = 0; s < VPCI_SLOTS; s++) {
		ids[s][0] = vpci_cfg_dword(&bus, s, 0x00);
		ids[s][1] = vpci_cfg_dword(&bus, s, 0x08);
		ids[s][2] = vpci_cfg_dword(&bus, s, 0x0c) & 0x00ff0000u;
		ids[s][3] = vpci_cfg_dword(&bus, s, 0x34) & 0xff;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	build();
	while (in.n >= 3) {
		unsigned kind = (unsigned)fuzz_take(&in, 1);
		unsigned sz = sizes[(kind >> 4) & 3];
		int write = (kind >> 6) & 1;
		uint64_t val = fuzz_take(&in, sz);
		uint32_t result = 0;
		switch (kind & 3) {
		case 0: { /* ECAM: slots 0-15, any register */
			uint64_t off = fuzz_take(&in, 3) & 0x7ffff;
			uint64_t r = vpci_mmio(&bus, ECAM_BASE + off, sz, val, write);
			unsigned slot = (unsigned)(off >> 15) & 31;
			if (!write && ((off >> 12) & 7) == 0 && (slot >= VPCI_SLOTS || !bus.fn[slot].present) &&
			    sz <= 4)
				FUZZ_CHECK(r == (sz == 4 ? 0xffffffffull : (1ull << (8 * sz)) - 1),
					   "absent function %u read 0x%llx", slot, (unsigned long long)r);
			break;
		}
		case 1: /* a BAR (or around them) */
			vpci_mmio(&bus, 0xC0000000ull + (fuzz_take(&in, 4) & 0x0fffffff), sz, val, write);
			break;
		case 2: { /* mechanism #1, or the I/O window and around it */
			uint64_t sel = fuzz_take(&in, 2);
			uint16_t port = sel & 0x8000 ? (uint16_t)(0xBFF0 + (sel & 0x103f))
						     : (uint16_t)(0xcf8 + (sel & 7));
			unsigned n = sz > 4 ? 4 : sz;
			int took = vpci_pio(&bus, port, n, !write, (uint32_t)val, &result);
			int window = port >= 0xC000 && port < 0xD000;
			if (window)
				FUZZ_CHECK(took, "port 0x%x in the I/O window not taken", port);
			else if (port < 0xcf8 || port > 0xcff)
				FUZZ_CHECK(!took, "port 0x%x outside the bus's ports taken", port);
			uint32_t bar = vpci_cfg_dword(&bus, VIRTIO, 0x18) & ~3u;
			int io_on = vpci_cfg_dword(&bus, VIRTIO, 0x04) & 1;
			if (window && !write && (!io_on || !bar || port + n <= bar || port >= bar + 16))
				FUZZ_CHECK(result == (n == 4 ? 0xffffffffu : (1u << (8 * n)) - 1),
					   "port 0x%x: no BAR there, read 0x%x", port, result);
			break;
		}
		default: /* the devices signal */
			vpci_signal(&bus, (unsigned)fuzz_take(&in, 1) % VPCI_SLOTS,
				    (unsigned)fuzz_take(&in, 1) % 80);
			break;
		}
	}
	for (unsigned s = 0; s < VPCI_SLOTS; s++) {
		FUZZ_CHECK(vpci_cfg_dword(&bus, s, 0x00) == ids[s][0], "slot %u: IDs changed", s);
		FUZZ_CHECK(vpci_cfg_dword(&bus, s, 0x08) == ids[s][1], "slot %u: class changed", s);
		FUZZ_CHECK((vpci_cfg_dword(&bus, s, 0x0c) & 0x00ff0000u) == ids[s][2],
			   "slot %u: header type changed", s);
		FUZZ_CHECK((vpci_cfg_dword(&bus, s, 0x34) & 0xff) == ids[s][3],
			   "slot %u: capability pointer changed", s);
	}
	const struct vpci_fn *f = &bus.fn[EDU];
	FUZZ_CHECK(!(vpci_pt_bar_base(f, 0) & ((1u << 20) - 1)), "edu's BAR unaligned");
	f = &bus.fn[NVME];
	FUZZ_CHECK(!(vpci_pt_bar_base(f, 0) & ((16u << 10) - 1)), "NVMe's BAR unaligned");
	return 0;
}
