/* What the passed-through function tests share (tests/unit/test_vpci_pt.c, the
 * configuration space and BARs; test_vpci_pt_irq.c, MSI and MSI-X): a bus with QEMU's edu
 * (MSI) and nvme (MSI-X, PCI Express) modelled at slots 3 and 4, every slot owned. */
#ifndef MICA_TEST_VPCI_PT_FIXTURE_H
#define MICA_TEST_VPCI_PT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"
#include "tests/unit/vpci_fixture.h"

#define EDU  3
#define NVME 4

#define HOST_ECAM 0xB0000000ull
#define EDU_BAR   0xC0000000ull    /* 1 MiB, 32-bit */
#define NVME_BAR  0x800000000ull   /* 16 KiB, 64-bit: above 4 GiB */

/* Where the capabilities land: MSI-X (16 bytes with padding), MSI (24), PCI Express. */
#define NVME_MSIX 0x40
#define NVME_MSI  0x50
#define NVME_PCIE 0x68
#define EDU_MSI   0x40

static const struct vpci_host host = {
	.ecam_base = HOST_ECAM, .mem_base = 0xC0000000ull, .mem_size = 0x40000000ull,
	.msi = msi_sink, .ctx = &sent,
};

/* config_written: what the owner was told, and the register as it read at that moment. */
static struct {
	unsigned n, slot, reg, size;
	uint32_t now;
} written __attribute__((unused));

static inline void written_fn(void *dev, unsigned reg, unsigned size)
{
	unsigned *slot = dev;
	written.n++;
	written.slot = *slot;
	written.reg = reg;
	written.size = size;
	written.now = vpci_cfg_dword(&bus, *slot, reg & ~3u);
}

static const struct vpci_ops pt_ops = { .region = region_fn, .config_written = written_fn };

static uint8_t pcie_blob[0x3c] __attribute__((unused));

static inline struct vpci_pt_desc edu_desc(void)
{
	struct vpci_pt_desc d = {
		.vendor = 0x1234, .device = 0x11e8, .subvendor = 0x1af4, .subsystem = 0x1100,
		.class = 0x00ff00, .revision = 0x10, .msi = 1,
	};
	d.bar_size[0] = 1u << 20;
	return d;
}

static inline struct vpci_pt_desc nvme_desc(void)
{
	struct vpci_pt_desc d = {
		.vendor = 0x1b36, .device = 0x0010, .subvendor = 0x1af4, .subsystem = 0x1100,
		.class = 0x010802, .revision = 0x02, .msi = 1, .msix_nvec = 65,
		.msix_bir = 0, .msix_off = 0x2000, .pba_bir = 0, .pba_off = 0x3000, .has_pcie = 1,
	};
	d.bar_size[0] = 16u << 10;
	d.bar_flags[0] = VPCI_BAR_64;
	for (unsigned i = 0; i < sizeof(pcie_blob); i++)
		pcie_blob[i] = (uint8_t)(0xA0 + i);
	pcie_blob[0] = 0x10;
	pcie_blob[1] = 0x99; /* the host's next pointer: must not survive */
	pcie_blob[2] = 0x02; /* version 2, endpoint */
	pcie_blob[3] = 0x00;
	memcpy(d.pcie, pcie_blob, sizeof(pcie_blob));
	return d;
}

static inline void setup_bus(void)
{
	memset(&sent, 0, sizeof(sent));
	memset(&seen, 0, sizeof(seen));
	memset(&written, 0, sizeof(written));
	vpci_init(&bus, &host);
	struct vpci_pt_desc e = edu_desc(), n = nvme_desc();
	cr_assert_eq(vpci_add_passthrough(&bus, EDU, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vpci_add_passthrough(&bus, NVME, &n, err, sizeof(err)), 0, "%s", err);
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		owners[s] = s;
		vpci_attach(&bus, s, &pt_ops, &owners[s]);
	}
}

#endif
