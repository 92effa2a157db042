/* kernel/vpci/bus.c, passed-through functions' interrupts: MSI (one and several vectors,
 * masking and pending bits) and MSI-X (signalling, pending, unmasking), on the edu and
 * nvme models of vpci_pt_fixture.h. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/vpci_pt_fixture.h"

Test(vpci_pt, msi_signal)
{
	uint64_t addr = 0;
	uint32_t data = 0;

	setup_bus();
	cr_expect_eq(vpci_msi_message(&bus, EDU, 0, &addr, &data), VPCI_MSIX_DISABLED,
		     "disabled at reset");
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 4), 4, 0xFEE01000, 1);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 12), 2, 0x4041, 1);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 2), 2, 1, 1);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), VPCI_MSIX_NO_MASTER, "bus master off");
	cr_expect_eq(sent.n, 0);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, 0x04), 2, 0x0006, 1);
	cr_expect_eq(sent.n, 0, "lost without bus mastering, not pending");
	cr_expect_eq(vpci_msi_message(&bus, EDU, 0, &addr, &data), 0);
	cr_expect_eq(addr, 0xFEE01000ull);
	cr_expect_eq(data, 0x4041);

	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 2), 2, 0, 1);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), VPCI_MSIX_DISABLED);
	cr_expect_eq(sent.n, 0, "MSI off: lost, not pending");

	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 2), 2, 1, 1);
	cr_expect_eq(sent.n, 0, "enabling sends nothing by itself");
	cr_expect_eq(vpci_signal(&bus, EDU, 0), 0);
	cr_expect_eq(sent.n, 1);
	cr_expect_eq(sent.addr[0], 0xFEE01000ull);
	cr_expect_eq(sent.data[0], 0x4041);
	cr_expect_eq(vpci_signal(&bus, EDU, 1), MICA_EINVAL, "one vector only");
	cr_expect_eq(vpci_signal(&bus, EDU, 40), MICA_EINVAL);
	cr_expect_eq(sent.n, 1);

	/* The upper address dword is part of the message. */
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, EDU_MSI + 8), 4, 0x1, 1);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), 0);
	cr_expect_eq(sent.addr[1], 0x1FEE01000ull);

	vpci_mmio(&bus, HOST_ECAM + ECAM(0, EDU, 0, 0x04), 2, 0x0002, 1);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), VPCI_MSIX_NO_MASTER);
	cr_expect_eq(sent.n, 2);
	cr_expect_eq(vpci_msi_message(&bus, 9, 0, &addr, &data), MICA_EINVAL, "no function");
	cr_expect_eq(vpci_msi_message(&bus, NVME, 0, &addr, &data), VPCI_MSIX_DISABLED,
		     "NVMe's MSI is off");
}

/* A configuration write the way a guest makes it (through ECAM): the bus then sends what
 * it unmasked. */
static void cfgw(unsigned dev, unsigned reg, unsigned size, uint32_t val)
{
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, dev, 0, reg), size, val, 1);
}

/* PCI Local Bus 3.0 6.8.1.8: a masked vector is remembered in its pending bit and sent
 * once when unmasked; disabling MSI or bus mastering does not send it. */
Test(vpci_pt, msi_mask_and_pending)
{
	setup_bus();
	cfgw(EDU, EDU_MSI + 4, 4, 0xFEE03000);
	cfgw(EDU, EDU_MSI + 12, 2, 0x0061);
	cfgw(EDU, 0x04, 2, 0x0006);
	cfgw(EDU, EDU_MSI + 16, 4, 1);
	cfgw(EDU, EDU_MSI + 2, 2, 1);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), VPCI_MSIX_MASKED);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), VPCI_MSIX_MASKED, "twice: still one pending");
	cr_expect_eq(sent.n, 0);
	cr_expect_eq(rd(EDU, EDU_MSI + 20, 4), 1, "pending");
	cfgw(EDU, 0x04, 2, 0x0002);
	cfgw(EDU, EDU_MSI + 16, 4, 0);
	cr_expect_eq(sent.n, 0, "no bus mastering: it waits");
	cr_expect_eq(rd(EDU, EDU_MSI + 20, 4), 1);
	cfgw(EDU, 0x04, 2, 0x0006);
	cr_expect_eq(sent.n, 1, "bus mastering back on: sent");
	cr_expect_eq(sent.data[0], 0x0061);
	cr_expect_eq(rd(EDU, EDU_MSI + 20, 4), 0);
	cr_expect_eq(vpci_signal(&bus, EDU, 0), 0);
	cr_expect_eq(sent.n, 2);
}

/* A function with 8 MSI vectors: the guest enables 4 (MME 2); vector k goes out with k
 * in the data's low bits, whatever the guest wrote there; each vector masks on its own. */
Test(vpci_pt, msi_multiple_vectors)
{
	struct vpci_pt_desc d = edu_desc();
	uint64_t addr;
	uint32_t data;

	setup_bus();
	d.msi = 8;
	cr_assert_eq(vpci_add_passthrough(&bus, 9, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rd(9, EDU_MSI + 2, 2), 0x0186, "MMC 3: 8 vectors");
	cfgw(9, EDU_MSI + 16, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(9, EDU_MSI + 16, 4), 0xFF, "8 mask bits");
	cfgw(9, EDU_MSI + 16, 4, 1u << 2);
	cfgw(9, EDU_MSI + 4, 4, 0xFEE00000);
	cfgw(9, EDU_MSI + 12, 2, 0x4043); /* low bits set by a careless guest: replaced */
	cfgw(9, 0x04, 2, 0x0006);
	cfgw(9, EDU_MSI + 2, 2, 0x0021);
	cr_expect_eq(vpci_msi_nvec(&bus, 9), 4);
	cr_expect_eq(vpci_signal(&bus, 9, 0), 0);
	cr_expect_eq(vpci_signal(&bus, 9, 3), 0);
	cr_expect_eq(vpci_signal(&bus, 9, 2), VPCI_MSIX_MASKED);
	cr_expect_eq(vpci_signal(&bus, 9, 4), MICA_EINVAL, "past the 4 enabled");
	cr_assert_eq(sent.n, 2);
	cr_expect_eq(sent.data[0], 0x4040);
	cr_expect_eq(sent.data[1], 0x4043);
	cr_expect_eq(rd(9, EDU_MSI + 20, 4), 1u << 2);
	cfgw(9, EDU_MSI + 16, 4, 0);
	cr_assert_eq(sent.n, 3, "unmasked: vector 2 sent");
	cr_expect_eq(sent.data[2], 0x4042);
	cr_expect_eq(vpci_msi_message(&bus, 9, 1, &addr, &data), 0);
	cr_expect_eq(data, 0x4041);

	/* Counts that are not a power of two, or more than 32, are refused. */
	d.msi = 3;
	cr_expect_eq(vpci_add_passthrough(&bus, 10, &d, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "power of two") != NULL, "%s", err);
	d.msi = 64;
	cr_expect_eq(vpci_add_passthrough(&bus, 10, &d, err, sizeof(err)), MICA_EINVAL);
	d.msi = 32;
	cr_expect_eq(vpci_add_passthrough(&bus, 10, &d, err, sizeof(err)), 0, "%s", err);
	cfgw(10, EDU_MSI + 16, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(10, EDU_MSI + 16, 4), 0xFFFFFFFFu, "32 mask bits");
}

Test(vpci_pt, msix_signal_pending_and_unmask)
{
	setup_bus();
	cr_assert_eq(vpci_pt_assign_bar(&bus, NVME, 0, NVME_BAR), 0);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, NVME, 0, 0x04), 2, 0x0006, 1);
	vpci_mmio(&bus, NVME_BAR + 0x2000 + 3 * 16, 8, 0xFEE02000ull, 1);
	vpci_mmio(&bus, NVME_BAR + 0x2000 + 3 * 16 + 8, 8, 0x51 | 1ull << 32, 1); /* masked */
	cr_expect_eq(vpci_signal(&bus, NVME, 3), VPCI_MSIX_DISABLED);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x3000, 8, 0, 0), 0, "disabled: not pending");
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, NVME, 0, NVME_MSIX + 2), 2, 0x8000, 1);
	cr_expect_eq(vpci_signal(&bus, NVME, 3), VPCI_MSIX_MASKED);
	cr_expect_eq(sent.n, 0);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x3000, 8, 0, 0), 1ull << 3, "pending bit 3");

	/* Unmasking through the BAR sends it, once, and clears the pending bit. */
	vpci_mmio(&bus, NVME_BAR + 0x2000 + 3 * 16 + 12, 4, 0, 1);
	cr_expect_eq(sent.n, 1);
	cr_expect_eq(sent.addr[0], 0xFEE02000ull);
	cr_expect_eq(sent.data[0], 0x51);
	cr_expect_eq(vpci_mmio(&bus, NVME_BAR + 0x3000, 8, 0, 0), 0);
	cr_expect_eq(vpci_signal(&bus, NVME, 3), 0);
	cr_expect_eq(sent.n, 2);
	cr_expect_eq(vpci_signal(&bus, NVME, 63), VPCI_MSIX_MASKED, "the last shown vector");
	cr_expect_eq(vpci_signal(&bus, NVME, 64), MICA_EINVAL, "past the 64 shown");
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, NVME, 0, 0x04), 2, 0x0002, 1);
	cr_expect_eq(vpci_signal(&bus, NVME, 3), VPCI_MSIX_NO_MASTER);
	cr_expect_eq(sent.n, 2);
}
