/* kernel/vpci/bus.c, passed-through functions: the configuration space built from a
 * struct vpci_pt_desc (what the guest may see of a host function, never read through), the
 * BARs' decoding with the MSI-X table and PBA kept virtual, and the owner's config_written
 * hook (their interrupts: test_vpci_pt_irq.c). The two functions are modelled on QEMU's
 * edu (MSI) and nvme (MSI-X with more vectors than the bus shows, a PCI Express
 * capability): vpci_pt_fixture.h. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/vpci_pt_fixture.h"

static void put(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* What the guest must read at first, and the bits its writes may change. */
static void common_space(uint8_t *w, uint8_t *m, const struct vpci_pt_desc *d)
{
	memset(w, 0, 256);
	memset(m, 0, 256);
	put(w + 0x00, 2, d->vendor);
	put(w + 0x02, 2, d->device);
	put(w + 0x06, 2, 0x0010);                /* status: capabilities list */
	w[0x08] = d->revision;
	put(w + 0x09, 3, d->class);
	put(w + 0x2C, 2, d->subvendor);
	put(w + 0x2E, 2, d->subsystem);
	w[0x34] = 0x40;
	put(m + 0x04, 2, 0x0546);                /* memory, master, parity, SERR, INTx disable */
	m[0x0C] = 0xFF;                          /* cache line size */
	m[0x3C] = 0xFF;                          /* interrupt line; pin 0 and read-only */
}

static void msi_space(uint8_t *w, uint8_t *m, unsigned pos, unsigned next)
{
	w[pos] = 0x05;
	w[pos + 1] = (uint8_t)next;
	put(w + pos + 2, 2, 0x0180);             /* per-vector masking, 64-bit, MMC 0, off */
	m[pos + 2] = 0x71;                       /* MSI Enable, Multiple Message Enable */
	put(m + pos + 4, 4, 0xFFFFFFFC);
	put(m + pos + 8, 4, 0xFFFFFFFF);
	put(m + pos + 12, 2, 0xFFFF);
	m[pos + 16] = 0x01;                      /* one mask bit; pending bits read-only */
}

static void edu_space(uint8_t *w, uint8_t *m)
{
	struct vpci_pt_desc d = edu_desc();
	common_space(w, m, &d);
	put(m + 0x10, 4, 0xFFF00000);            /* 1 MiB, 32-bit, non-prefetchable */
	msi_space(w, m, EDU_MSI, 0);
}

static void nvme_space(uint8_t *w, uint8_t *m)
{
	struct vpci_pt_desc d = nvme_desc();
	common_space(w, m, &d);
	w[0x10] = 0x04;                          /* 64-bit memory BAR */
	put(m + 0x10, 4, 0xFFFFC000);            /* 16 KiB */
	put(m + 0x14, 4, 0xFFFFFFFF);
	w[NVME_MSIX] = 0x11;
	w[NVME_MSIX + 1] = NVME_MSI;
	put(w + NVME_MSIX + 2, 2, 63);           /* 64 of the 65 vectors shown */
	put(m + NVME_MSIX + 2, 2, 0xC000);       /* enable, function mask */
	put(w + NVME_MSIX + 4, 4, 0x2000 | 0);
	put(w + NVME_MSIX + 8, 4, 0x3000 | 0);
	msi_space(w, m, NVME_MSI, NVME_PCIE);
	memcpy(w + NVME_PCIE, pcie_blob, sizeof(pcie_blob));
	w[NVME_PCIE + 1] = 0;
}

static void snapshot(unsigned slot, uint8_t *out)
{
	for (unsigned r = 0; r < 256; r += 4)
		put(out + r, 4, vpci_cfg_dword(&bus, slot, r));
}

/* Every register at every width the ECAM carries (1, 2, 4 bytes inside one dword). */
#define EACH_ACCESS(reg, size)                                             \
	for (unsigned reg = 0; reg < 256; reg++)                           \
		for (unsigned size = 1; size <= 4; size *= 2)              \
			if ((reg & 3) + size <= 4)

static uint32_t le(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void expect_reads(unsigned slot, const uint8_t *w)
{
	EACH_ACCESS(reg, size)
		cr_expect_eq(rd(slot, reg, size), le(w + reg, size),
			     "slot %u reg 0x%02x size %u: 0x%x, expected 0x%x", slot, reg, size,
			     rd(slot, reg, size), le(w + reg, size));
}

/* Writes all ones then all zeros at every register and width: exactly the bits of m in
 * the bytes written change, then the old value is written back. */
static void expect_write_filter(unsigned slot, const uint8_t *m)
{
	uint8_t before[256], after[256];

	EACH_ACCESS(reg, size) {
		snapshot(slot, before);
		for (int ones = 1; ones >= 0; ones--) {
			wr(slot, reg, size, ones ? 0xFFFFFFFFu : 0);
			snapshot(slot, after);
			for (unsigned b = 0; b < 256; b++) {
				uint8_t want = before[b];
				if (b >= reg && b < reg + size)
					want = ones ? (uint8_t)(want | m[b]) : (uint8_t)(want & ~m[b]);
				cr_expect_eq(after[b], want,
					     "slot %u: writing %s to 0x%02x/%u left byte 0x%02x at "
					     "0x%02x, expected 0x%02x", slot, ones ? "ones" : "zeros",
					     reg, size, b, after[b], want);
			}
		}
		wr(slot, reg, size, le(before + reg, size));
		snapshot(slot, after);
		cr_expect_arr_eq(after, before, 256, "0x%02x/%u not restored", reg, size);
	}
}

Test(vpci_pt, edu_config_space_reads)
{
	uint8_t w[256], m[256];

	setup_bus();
	edu_space(w, m);
	expect_reads(EDU, w);
	cr_expect_eq(rd(EDU, 0x00, 4), 0x11e81234u);
	cr_expect_eq(rd(EDU, 0x08, 4), 0x00ff0010u, "class 00 ff 00, revision 0x10");
	cr_expect_eq(rd(EDU, 0x3D, 1), 0, "no INTx");
	cr_expect_eq(rd(EDU, 0x30, 4), 0, "no expansion ROM");
	cr_expect_eq(vpci_cfg_dword(&bus, EDU, 0x2C), 0x11001af4u);
}

Test(vpci_pt, nvme_config_space_reads)
{
	uint8_t w[256], m[256];

	setup_bus();
	nvme_space(w, m);
	expect_reads(NVME, w);
	cr_expect_eq(rd(NVME, 0x08, 4), 0x01080202u, "NVMe class 01 08 02, revision 2");
	cr_expect_eq(rd(NVME, 0x10, 4), 0x4, "64-bit, unassigned");
	cr_expect_eq(rd(NVME, NVME_MSIX + 2, 2), VPCI_MSIX_MAX - 1, "table size 64, not 65");
	cr_expect_eq(rd(NVME, NVME_MSIX + 4, 4), 0x2000, "table at BAR0 + 0x2000");
	cr_expect_eq(rd(NVME, NVME_MSIX + 8, 4), 0x3000, "PBA at BAR0 + 0x3000");
}

Test(vpci_pt, write_filter_register_by_register)
{
	uint8_t w[256], m[256];

	setup_bus();
	edu_space(w, m);
	expect_write_filter(EDU, m);
	expect_reads(EDU, w);
	nvme_space(w, m);
	expect_write_filter(NVME, m);
	expect_reads(NVME, w);
}

Test(vpci_pt, command_and_status)
{
	setup_bus();
	wr(EDU, 0x04, 2, 0xFFFF);
	cr_expect_eq(rd(EDU, 0x04, 2), 0x0546, "I/O space (bit 0) stays 0");
	cr_expect_eq(rd(EDU, 0x06, 2), 0x0010);
	wr(EDU, 0x04, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(EDU, 0x04, 4), 0x00100546u, "status bits are not set by writes");
	wr(EDU, 0x05, 1, 0);
	cr_expect_eq(rd(EDU, 0x04, 2), 0x0046);
	wr(EDU, 0x04, 1, 0x01);
	cr_expect_eq(rd(EDU, 0x04, 2), 0x0000);
	cr_expect_eq(rd(NVME, 0x04, 2), 0, "the other function is untouched");
}

Test(vpci_pt, bar_sizing)
{
	setup_bus();
	wr(EDU, 0x10, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(EDU, 0x10, 4), 0xFFF00000u, "1 MiB");
	wr(EDU, 0x10, 4, 0xFEA00000);
	cr_expect_eq(rd(EDU, 0x10, 4), 0xFEA00000u);
	wr(EDU, 0x12, 1, 0xFF);
	cr_expect_eq(rd(EDU, 0x10, 4), 0xFEF00000u, "byte 2: only its top nibble");
	for (unsigned r = 0x14; r < 0x28; r += 4) {
		wr(EDU, r, 4, 0xFFFFFFFF);
		cr_expect_eq(rd(EDU, r, 4), 0, "no BAR at 0x%x", r);
	}
	wr(EDU, 0x30, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(EDU, 0x30, 4), 0, "no expansion ROM");

	wr(NVME, 0x10, 4, 0xFFFFFFFF);
	wr(NVME, 0x14, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(NVME, 0x10, 4), 0xFFFFC004u, "16 KiB, type 64-bit kept");
	cr_expect_eq(rd(NVME, 0x14, 4), 0xFFFFFFFFu, "upper half");
	wr(NVME, 0x10, 4, 0);
	wr(NVME, 0x14, 2, 0x0008);
	cr_expect_eq(rd(NVME, 0x10, 4), 0x4);
	cr_expect_eq(rd(NVME, 0x14, 4), 0xFFFF0008u, "a word write changes its two bytes only");
}

/* BAR sizes as large as the host has them: an 8 GiB prefetchable 64-bit BAR, a 4 KiB one
 * holding the MSI-X structures, and a 32-bit BAR after them. */
static struct vpci_pt_desc gpu_desc(void)
{
	struct vpci_pt_desc d = {
		.vendor = 0x10de, .device = 0x1234, .class = 0x030000, .msix_nvec = 4,
		.msix_bir = 4, .msix_off = 0x800, .pba_bir = 4, .pba_off = 0xC00,
	};
	d.bar_size[0] = 16u << 20;
	d.bar_size[2] = 8ull << 30;
	d.bar_flags[2] = VPCI_BAR_64 | VPCI_BAR_PREFETCH;
	d.bar_size[4] = 4096;
	return d;
}

Test(vpci_pt, large_and_prefetchable_bars)
{
	struct vpci_pt_desc d = gpu_desc();
	uint8_t w[256], m[256];

	setup_bus();
	cr_assert_eq(vpci_add_passthrough(&bus, 6, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rd(6, 0x18, 4), 0xC, "64-bit prefetchable");
	wr(6, 0x18, 4, 0xFFFFFFFF);
	wr(6, 0x1C, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(6, 0x18, 4), 0xC, "8 GiB: no low address bits");
	cr_expect_eq(rd(6, 0x1C, 4), 0xFFFFFFFEu, "8 GiB in the upper half");
	wr(6, 0x20, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(6, 0x20, 4), 0xFFFFF000u);
	cr_expect_eq(rd(6, 0x40, 1), 0x11);
	cr_expect_eq(rd(6, 0x41, 1), 0, "MSI-X only");
	cr_expect_eq(rd(6, 0x42, 2), 3);
	cr_expect_eq(rd(6, 0x44, 4), 0x800 | 4, "table BIR 4");
	cr_expect_eq(rd(6, 0x48, 4), 0xC00 | 4);

	/* The whole filter once more, for this layout. */
	d = gpu_desc();
	common_space(w, m, &d);
	put(m + 0x10, 4, 0xFF000000);
	w[0x18] = 0x0C;
	put(m + 0x1C, 4, 0xFFFFFFFE);
	put(m + 0x20, 4, 0xFFFFF000);
	w[0x40] = 0x11;
	put(w + 0x42, 2, 3);
	put(m + 0x42, 2, 0xC000);
	put(w + 0x44, 4, 0x804);
	put(w + 0x48, 4, 0xC04);
	vpci_init(&bus, &host);
	cr_assert_eq(vpci_add_passthrough(&bus, 6, &d, err, sizeof(err)), 0, "%s", err);
	expect_reads(6, w);
	expect_write_filter(6, m);
}

static unsigned chain(unsigned slot, unsigned *pos, uint8_t *id, unsigned max)
{
	unsigned n = 0;

	for (unsigned p = rd(slot, 0x34, 1); p; p = rd(slot, p + 1, 1)) {
		cr_assert_lt(n, max, "capability list of slot %u loops", slot);
		cr_assert(p >= 0x40 && p <= 0xFC && !(p & 3), "capability at 0x%x", p);
		pos[n] = p;
		id[n++] = (uint8_t)rd(slot, p, 1);
	}
	return n;
}

Test(vpci_pt, capability_chain)
{
	unsigned pos[8];
	uint8_t id[8];

	setup_bus();
	cr_assert_eq(chain(NVME, pos, id, 8), 3);
	cr_expect_eq(id[0], 0x11);
	cr_expect_eq(id[1], 0x05);
	cr_expect_eq(id[2], 0x10);
	cr_expect_eq(pos[0], NVME_MSIX);
	cr_expect_eq(pos[1], NVME_MSI);
	cr_expect_eq(pos[2], NVME_PCIE);
	cr_assert_eq(chain(EDU, pos, id, 8), 1);
	cr_expect_eq(id[0], 0x05);

	/* No capabilities at all: no list, no status bit. */
	struct vpci_pt_desc d = edu_desc();
	d.msi = 0;
	cr_assert_eq(vpci_add_passthrough(&bus, 7, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rd(7, 0x06, 2), 0);
	cr_expect_eq(rd(7, 0x34, 1), 0);
	/* PCI Express alone sits first. */
	d = nvme_desc();
	d.msi = 0;
	d.msix_nvec = 0;
	cr_assert_eq(vpci_add_passthrough(&bus, 8, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(chain(8, pos, id, 8), 1);
	cr_expect_eq(id[0], 0x10);
	cr_expect_eq(rd(8, 0x40 + 2, 2), 0x0002);
}

Test(vpci_pt, vendor_capabilities_are_read_only_copies)
{
	/* virtio-net-pci's: MSI-X, then common (16 bytes), notify (20), ISR, device (16) */
	struct vpci_pt_desc d = edu_desc();
	static const uint8_t common[16] = { 0x09, 0x70, 16, 1, 4, 0, 0, 0, 0, 0, 0, 0,
					    0x00, 0x10, 0, 0 };
	static const uint8_t notify[20] = { 0x09, 0x50, 20, 2, 4, 0, 0, 0, 0, 0x30, 0, 0,
					    0x00, 0x10, 0, 0, 4, 0, 0, 0 };
	unsigned pos[8];
	uint8_t id[8], before[256], after[256];

	d.msi = 0;
	d.msix_nvec = 4;
	d.msix_bir = 0;
	d.msix_off = 0x800;
	d.pba_off = 0xC00;
	d.nvcaps = 2;
	d.vcap_len[0] = 16;
	memcpy(d.vcap[0], common, 16);
	d.vcap_len[1] = 20;
	memcpy(d.vcap[1], notify, 20);
	setup_bus();
	cr_assert_eq(vpci_add_passthrough(&bus, 9, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(chain(9, pos, id, 8), 3);
	cr_expect(id[0] == 0x11 && id[1] == 0x09 && id[2] == 0x09);
	cr_expect_eq(pos[1], 0x50, "after MSI-X, dword aligned");
	cr_expect_eq(pos[2], 0x60);
	for (unsigned i = 2; i < 16; i++)
		cr_expect_eq(rd(9, pos[1] + i, 1), common[i], "common byte %u", i);
	for (unsigned i = 2; i < 20; i++)
		cr_expect_eq(rd(9, pos[2] + i, 1), notify[i], "notify byte %u", i);
	cr_expect_eq(rd(9, pos[2] + 1, 1), 0, "the host's next pointer is not kept");
	snapshot(9, before);
	for (unsigned r = pos[1]; r < pos[2] + 20; r += 4)
		wr(9, r, 4, 0xA5A5A5A5);
	snapshot(9, after);
	cr_expect_arr_eq(after, before, 256, "writes to them are dropped");

	/* one that does not fit below 0x100 ends the list there: after MSI-X and PCI Express
	 * (0x40 + 16 + 60 = 0x8C), 16 + 5 * 20 bytes reach 0x100 exactly */
	struct vpci_pt_desc e = nvme_desc();
	e.msi = 0;
	e.nvcaps = VPCI_VCAPS_MAX;
	e.vcap_len[0] = 16;
	memcpy(e.vcap[0], common, 16);
	for (unsigned k = 1; k < VPCI_VCAPS_MAX; k++) {
		e.vcap_len[k] = 20;
		memcpy(e.vcap[k], notify, 20);
	}
	cr_assert_eq(vpci_add_passthrough(&bus, 10, &e, err, sizeof(err)), 0, "%s", err);
	unsigned n = chain(10, pos, id, 8);
	cr_expect_eq(n, 2 + 6, "MSI-X, PCI Express and the 6 vendor capabilities that fit");
	cr_expect_eq(pos[n - 1], 0xEC);
}

Test(vpci_pt, msi_and_msix_control)
{
	setup_bus();
	cr_expect_eq(rd(NVME, NVME_MSI + 2, 2), 0x0180, "masking, 64-bit, one vector");
	wr(NVME, NVME_MSI + 2, 2, 0xFFFF);
	cr_expect_eq(rd(NVME, NVME_MSI + 2, 2), 0x01F1, "Enable and MME are writable");
	wr(NVME, NVME_MSI + 2, 2, 0x0070);
	cr_expect_eq(rd(NVME, NVME_MSI + 2, 2), 0x01F0);
	cr_expect_eq(vpci_msi_nvec(&bus, NVME), 0, "off");
	wr(NVME, NVME_MSI + 2, 2, 0x0071);
	cr_expect_eq(vpci_msi_nvec(&bus, NVME), 1, "MME past MMC: the function's one vector");
	wr(NVME, NVME_MSI + 16, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(NVME, NVME_MSI + 16, 4), 1, "one mask bit");
	wr(NVME, NVME_MSI + 20, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(NVME, NVME_MSI + 20, 4), 0, "pending bits are read-only");
	wr(EDU, EDU_MSI + 4, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(EDU, EDU_MSI + 4, 4), 0xFFFFFFFCu, "address bits 1:0 reserved");
	wr(EDU, EDU_MSI + 12, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(EDU, EDU_MSI + 12, 4), 0x0000FFFFu, "16 data bits");

	wr(NVME, NVME_MSIX + 2, 2, 0xFFFF);
	cr_expect_eq(rd(NVME, NVME_MSIX + 2, 2), 0xC03F, "enable, function mask; size 64");
	wr(NVME, NVME_MSIX + 4, 4, 0);
	cr_expect_eq(rd(NVME, NVME_MSIX + 4, 4), 0x2000, "table offset read-only");
}

Test(vpci_pt, pcie_capability_is_a_read_only_copy)
{
	uint8_t before[256], after[256];

	setup_bus();
	cr_expect_eq(rd(NVME, NVME_PCIE, 4), 0x00020010u, "ID, next 0, PCIe capabilities");
	for (unsigned i = 2; i < sizeof(pcie_blob); i++)
		cr_expect_eq(rd(NVME, NVME_PCIE + i, 1), pcie_blob[i], "byte 0x%x", i);
	snapshot(NVME, before);
	for (unsigned r = NVME_PCIE; r < NVME_PCIE + sizeof(pcie_blob); r += 4) {
		wr(NVME, r, 4, 0);
		wr(NVME, r + 2, 2, 0xFFFF); /* device/link control and status live here */
		wr(NVME, r + 1, 1, 0x5A);
	}
	snapshot(NVME, after);
	cr_expect_arr_eq(after, before, 256);
}

Test(vpci_pt, no_extended_space_and_bad_accesses)
{
	setup_bus();
	for (unsigned r = 0x100; r < 0x1000; r += 0x3C) {
		wr(NVME, r & ~3u, 4, 0xFFFFFFFF);
		cr_expect_eq(rd(NVME, r & ~3u, 4), 0, "reg 0x%x", r & ~3u);
		cr_expect_eq(rd(NVME, r & ~1u, 2), 0);
		cr_expect_eq(rd(NVME, r, 1), 0);
	}
	cr_expect_eq(rd(NVME, 0x00, 3), 0xFFFFFF, "size 3: not an ECAM access");
	cr_expect_eq(rd(NVME, 0x03, 2), 0xFFFF, "crossing a dword");
	cr_expect_eq(vpci_cfg_read(&bus, ECAM(0, NVME, 1, 0), 4), 0xFFFFFFFFu, "function 1");
	cr_expect_eq(vpci_cfg_dword(&bus, NVME, 0x00), 0x00101b36u);
	cr_expect_eq(vpci_cfg_dword(&bus, NVME, 0x100), 0xFFFFFFFFu);
	cr_expect_eq(vpci_cfg_dword(&bus, 9, 0x00), 0xFFFFFFFFu, "no function");
	cr_expect_eq(vpci_cfg_dword(&bus, VPCI_SLOTS, 0x00), 0xFFFFFFFFu);
}

Test(vpci_pt, config_written_after_each_write)
{
	setup_bus();
	wr(NVME, 0x04, 2, 0x0006);
	cr_expect_eq(written.n, 1);
	cr_expect_eq(written.slot, NVME);
	cr_expect_eq(written.reg, 0x04);
	cr_expect_eq(written.size, 2);
	cr_expect_eq(written.now & 0xFFFF, 0x0006, "called after the write took effect");
	wr(NVME, NVME_MSIX + 3, 1, 0x80);
	cr_expect_eq(written.n, 2);
	cr_expect_eq(written.reg, NVME_MSIX + 3);
	cr_expect_eq(written.size, 1);
	cr_expect_eq(written.now >> 16, 0x803F);
	wr(EDU, 0x00, 4, 0);
	cr_expect_eq(written.n, 3, "read-only registers too");
	cr_expect_eq(written.slot, EDU);
	cr_expect_eq(written.reg, 0);
	cr_expect_eq(written.size, 4);
	/* Through ECAM in the partition's window, and mechanism #1. */
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 2), 2, 1, 1);
	cr_expect_eq(written.n, 4);
	cr_expect_eq(written.reg, EDU_MSI + 2);
	cr_expect_eq(written.size, 2);
	uint32_t r = 0;
	cr_expect(vpci_pio(&bus, 0xcf8, 4, 0, 0x80000000u | EDU << 11 | 0x3C, &r));
	cr_expect(vpci_pio(&bus, 0xcfc, 1, 0, 11, &r));
	cr_expect_eq(written.n, 5);
	cr_expect_eq(written.reg, 0x3C);
	cr_expect_eq(written.size, 1);
	cr_expect_eq(written.now & 0xFF, 11);
	/* Reads, bad sizes and absent functions tell nobody. */
	rd(EDU, 0x04, 4);
	wr(EDU, 0x03, 2, 0);
	wr(9, 0x04, 2, 0);
	cr_expect_eq(written.n, 5);
}

Test(vpci_pt, bar_lookup)
{
	unsigned slot = 99, bar = 99;
	uint64_t off = 99;

	setup_bus();
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x10, &slot, &bar, &off), VPCI_REGION_NONE,
		     "not assigned, decoding off");
	cr_assert_eq(vpci_pt_assign_bar(&bus, NVME, 0, NVME_BAR), 0);
	cr_assert_eq(vpci_pt_assign_bar(&bus, EDU, 0, EDU_BAR), 0);
	cr_expect_eq(rd(NVME, 0x10, 4), 0x4, "low half of 32 GiB, type kept");
	cr_expect_eq(rd(NVME, 0x14, 4), 0x8);
	cr_expect_eq(rd(NVME, 0x04, 2), 0x0002, "memory decoding on");

	static const struct {
		uint64_t gpa;
		unsigned slot;
		enum vpci_region r;
		uint64_t off;
	} hits[] = {
		{ NVME_BAR, NVME, VPCI_REGION_PT + 0, 0 },
		{ NVME_BAR + 0x10, NVME, VPCI_REGION_PT + 0, 0x10 },
		{ NVME_BAR + 0x1FFF, NVME, VPCI_REGION_PT + 0, 0x1FFF },
		{ NVME_BAR + 0x2000, NVME, VPCI_REGION_MSIX_TABLE, 0 },
		{ NVME_BAR + 0x2000 + 63 * 16 + 12, NVME, VPCI_REGION_MSIX_TABLE, 0x3FC },
		{ NVME_BAR + 0x3000, NVME, VPCI_REGION_MSIX_PBA, 0 },
		{ NVME_BAR + 0x3004, NVME, VPCI_REGION_MSIX_PBA, 4 },
		{ NVME_BAR + 0x3008, NVME, VPCI_REGION_MSIX_PBA, 8 }, /* the host's 65th bit */
		{ NVME_BAR + 0x3010, NVME, VPCI_REGION_PT + 0, 0x3010 },
		{ NVME_BAR + 0x3FFF, NVME, VPCI_REGION_PT + 0, 0x3FFF },
		{ EDU_BAR, EDU, VPCI_REGION_PT + 0, 0 },
		{ EDU_BAR + 0xFFFFF, EDU, VPCI_REGION_PT + 0, 0xFFFFF },
	};
	for (unsigned i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
		slot = bar = 99;
		off = 99;
		cr_expect_eq(vpci_bar_lookup(&bus, hits[i].gpa, &slot, &bar, &off), hits[i].r,
			     "0x%llx", (unsigned long long)hits[i].gpa);
		cr_expect_eq(slot, hits[i].slot, "0x%llx", (unsigned long long)hits[i].gpa);
		cr_expect_eq(bar, 0);
		cr_expect_eq(off, hits[i].off, "0x%llx: offset 0x%llx",
			     (unsigned long long)hits[i].gpa, (unsigned long long)off);
	}
	slot = bar = 99;
	off = 99;
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x4000, &slot, &bar, &off), VPCI_REGION_NONE);
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR - 1, &slot, &bar, &off), VPCI_REGION_NONE);
	cr_expect_eq(vpci_bar_lookup(&bus, EDU_BAR + 0x100000, &slot, &bar, &off), VPCI_REGION_NONE);
	cr_expect_eq(vpci_bar_lookup(&bus, (uint32_t)NVME_BAR, &slot, &bar, &off), VPCI_REGION_NONE,
		     "the upper half counts");
	cr_expect_eq(slot, 99, "outputs untouched on a miss");
	cr_expect_eq(off, 99);

	/* Decoding off: nothing; the guest moving the BAR moves the decode. */
	wr(NVME, 0x04, 2, 0x0000);
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x10, &slot, &bar, &off), VPCI_REGION_NONE);
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x2000, &slot, &bar, &off), VPCI_REGION_NONE);
	wr(NVME, 0x04, 2, 0x0002);
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x10, &slot, &bar, &off), VPCI_REGION_PT);
	wr(EDU, 0x10, 4, 0xD0000000);
	cr_expect_eq(vpci_bar_lookup(&bus, EDU_BAR, &slot, &bar, &off), VPCI_REGION_NONE);
	cr_expect_eq(vpci_bar_lookup(&bus, 0xD0000000ull + 0x44, &slot, &bar, &off), VPCI_REGION_PT);
	cr_expect_eq(slot, EDU);
	cr_expect_eq(off, 0x44);
}

Test(vpci_pt, bar_lookup_other_bars)
{
	struct vpci_pt_desc d = gpu_desc();
	unsigned slot = 99, bar = 99;
	uint64_t off = 99;

	setup_bus();
	cr_assert_eq(vpci_add_passthrough(&bus, 6, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vpci_pt_assign_bar(&bus, 6, 0, 0xE0000000ull), 0);
	cr_assert_eq(vpci_pt_assign_bar(&bus, 6, 2, 0x400000000ull), 0);
	cr_assert_eq(vpci_pt_assign_bar(&bus, 6, 4, 0xE1000000ull), 0);
	cr_expect_eq(rd(6, 0x18, 4), 0xC);
	cr_expect_eq(rd(6, 0x1C, 4), 0x4);
	cr_expect_eq(vpci_bar_lookup(&bus, 0x400000000ull + (8ull << 30) - 1, &slot, &bar, &off),
		     VPCI_REGION_PT + 2);
	cr_expect_eq(bar, 2);
	cr_expect_eq(off, (8ull << 30) - 1);
	cr_expect_eq(vpci_bar_lookup(&bus, 0xE1000000ull + 0x810, &slot, &bar, &off),
		     VPCI_REGION_MSIX_TABLE);
	cr_expect_eq(bar, 4);
	cr_expect_eq(off, 0x10);
	cr_expect_eq(vpci_bar_lookup(&bus, 0xE1000000ull + 0xC00, &slot, &bar, &off),
		     VPCI_REGION_MSIX_PBA);
	cr_expect_eq(off, 0);
	cr_expect_eq(vpci_bar_lookup(&bus, 0xE1000000ull + 0x840, &slot, &bar, &off),
		     VPCI_REGION_PT + 4, "past the 4 vectors' table");
	cr_expect_eq(off, 0x840);
	cr_expect_eq(vpci_bar_lookup(&bus, 0xE0000000ull + 0x810, &slot, &bar, &off),
		     VPCI_REGION_PT + 0, "BAR0 at the same offset is the device's");
	cr_expect_eq(off, 0x810);
	cr_expect_eq(slot, 6);
}

/* The host's table has 65 entries and the guest sees 64: the 65th host entry (table offset
 * 0x400) must stay virtual like the rest of the table (read 0, writes ignored), never
 * decode as the device's own registers (a write there would reach the real table). */
Test(vpci_pt, msix_table_entries_beyond_the_shown_64_stay_virtual)
{
	unsigned slot = 99, bar = 99;
	uint64_t off = 99;

	setup_bus();
	cr_assert_eq(vpci_pt_assign_bar(&bus, NVME, 0, NVME_BAR), 0);
	cr_expect_eq(vpci_bar_lookup(&bus, NVME_BAR + 0x2000 + 64 * 16, &slot, &bar, &off),
		     VPCI_REGION_MSIX_TABLE);
	cr_expect_eq(off, 64 * 16);
}

Test(vpci_pt, mmio_reaches_the_owner_or_the_virtual_table)
{
	setup_bus();
	cr_assert_eq(vpci_pt_assign_bar(&bus, NVME, 0, NVME_BAR), 0);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x1C, 4, 0, 0), 0xCAFEF00D);
	cr_expect_eq(seen.calls, 1);
	cr_expect_eq(seen.slot, NVME);
	cr_expect_eq(seen.r, VPCI_REGION_PT + 0);
	cr_expect_eq(seen.off, 0x1C);
	cr_expect_eq(seen.size, 4);
	vpci_mmio(&bus, NVME_BAR + 0x1000 + 8, 4, 0x1234, 1);
	cr_expect_eq(seen.calls, 2);
	cr_expect_eq(seen.off, 0x1008);
	cr_expect_eq(seen.write, 1);
	cr_expect_eq(seen.val, 0x1234);
	/* The table and PBA are the bus's: the owner never sees them. */
	vpci_mmio(&bus, NVME_BAR + 0x2000 + 16, 8, 0xFEE00000ull, 1);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x2000 + 16, 8, 0, 0), 0xFEE00000ull);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x2000 + 12, 4, 0, 0), 1, "masked at reset");
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x3000, 8, 0, 0), 0);
	cr_expect_eq(seen.calls, 2);
	/* Decoding off: all ones, nobody asked. */
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, NVME, 0, 0x04), 2, 0, 1);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x1C, 4, 0, 0), 0xFFFFFFFFu);
	cr_expect_eq(seen.calls, 2);
}

Test(vpci_pt, bad_descriptors)
{
	struct vpci_pt_desc d;

	vpci_init(&bus, NULL);
	d = edu_desc();
	d.bar_size[0] = 3000;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: BAR 0 of 3000 bytes is not a power of two of at "
			 "least 16 bytes");
	d = edu_desc();
	d.bar_size[2] = 8;
	err[0] = 0;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL,
		     "at least 16 bytes");
	cr_expect(!strncmp(err, "virtual PCI: BAR 2 of 8 bytes", 29), "%s", err);
	d = edu_desc();
	d.bar_size[5] = 4096;
	d.bar_flags[5] = VPCI_BAR_64;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: 64-bit BAR 5 has no upper half");
	d = edu_desc();
	d.bar_flags[0] = VPCI_BAR_64;
	d.bar_size[1] = 4096;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: 64-bit BAR 0 has no upper half");
	d = nvme_desc();
	d.msix_bir = 1; /* BAR0's upper half */
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: the MSI-X table is in a BAR the function lacks");
	d = nvme_desc();
	d.pba_bir = 2;
	err[0] = 0;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: the MSI-X table is in a BAR the function lacks");
	d = nvme_desc();
	d.msix_bir = 6;
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(rd(3, 0x00, 4), 0xFFFFFFFFu, "nothing was put at the slot");

	d = edu_desc();
	cr_expect_eq(vpci_add_passthrough(&bus, 0, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: slot 0, expected 1 to 15");
	cr_expect_eq(rd(0, 0x00, 4), (uint32_t)VPCI_HB_DEVICE << 16 | VPCI_HB_VENDOR,
		     "the host bridge stays");
	cr_expect_eq(vpci_add_passthrough(&bus, VPCI_SLOTS, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: slot 16, expected 1 to 15");
	cr_assert_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), 0);
	d = nvme_desc();
	cr_expect_eq(vpci_add_passthrough(&bus, 3, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: slot 3 is taken");
	cr_expect_eq(rd(3, 0x00, 4), 0x11e81234u, "edu stays");
	cr_expect_eq(vpci_add_virtio(&bus, 3, VPCI_VIRTIO_NET, 2, 0, 0xFF, err, sizeof(err)),
		     MICA_EINVAL);
	cr_expect_str_eq(err, "virtual PCI: slot 3 is taken");
}

Test(vpci_pt, assign_bar)
{
	setup_bus();
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 0, EDU_BAR + 0x80000), MICA_EINVAL, "misaligned");
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 0, 0x100000000ull), MICA_EINVAL,
		     "32-bit BAR above 4 GiB");
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 0, 0xFFFFFFFFFFF00000ull), MICA_EINVAL,
		     "32-bit BAR at the top of 64 bits (base + size wraps)");
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 0, 0), MICA_EINVAL, "base 0");
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 1, 0xC0000000ull), MICA_EINVAL, "no BAR 1");
	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 6, 0xC0000000ull), MICA_EINVAL);
	cr_expect_eq(vpci_pt_assign_bar(&bus, NVME, 1, 0xC0000000ull), MICA_EINVAL,
		     "the upper half of a 64-bit BAR");
	cr_expect_eq(vpci_pt_assign_bar(&bus, 9, 0, 0xC0000000ull), MICA_EINVAL, "no function");
	cr_expect_eq(vpci_pt_assign_bar(&bus, 0, 0, 0xC0000000ull), MICA_EINVAL, "host bridge");
	cr_expect_eq(rd(EDU, 0x10, 4), 0, "refusals change nothing");
	cr_expect_eq(rd(EDU, 0x04, 2), 0);

	cr_expect_eq(vpci_pt_assign_bar(&bus, EDU, 0, 0xFFF00000ull), 0, "ends at 4 GiB");
	cr_expect_eq(rd(EDU, 0x10, 4), 0xFFF00000u);
	cr_expect_eq(rd(EDU, 0x04, 2), 0x0002);
	cr_expect_eq(vpci_pt_assign_bar(&bus, NVME, 0, 0xFFFFC000ull << 20), 0);
	cr_expect_eq(rd(NVME, 0x10, 4), 0x4);
	cr_expect_eq(rd(NVME, 0x14, 4), 0xFFFFCu);

	/* A virtio function is not a passed-through one. */
	cr_assert_eq(vpci_add_virtio(&bus, 9, VPCI_VIRTIO_NET, 2, 0, 0xFF, err, sizeof(err)), 0);
	cr_expect_eq(vpci_pt_assign_bar(&bus, 9, 0, 0xC0000000ull), MICA_EINVAL);
}
