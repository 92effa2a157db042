/* kernel/vpci/bus.c, the ways in: what a partition's exits call (vpci_mmio_claims,
 * vpci_mmio, vpci_pio, vpci_signal) on a bus placed at a host with an MSI sink. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"
#include "tests/unit/vpci_fixture.h"

#define HOST_ECAM 0xB0000000ull
#define HOST_MEM  0xC0000000ull
#define HOST_IO   0xC000u
static const struct vpci_host host = {
	.ecam_base = HOST_ECAM, .mem_base = HOST_MEM, .mem_size = 0x100000,
	.io_base = HOST_IO, .io_size = 0x1000,
	.msi = msi_sink, .ctx = &sent,
};

/* The test bus again, this time placed at host, owned and with CON's BAR at HOST_MEM. */
static void hosted(void)
{
	memset(&sent, 0, sizeof(sent));
	memset(&seen, 0, sizeof(seen));
	vpci_init(&bus, &host);
	cr_assert_eq(vpci_add_virtio(&bus, CON, VPCI_VIRTIO_CONSOLE, 2, 12, 10, err, sizeof(err)), 0);
	cr_assert_eq(vpci_add_virtio(&bus, NET, VPCI_VIRTIO_NET, 64, 0, 0xFF, err, sizeof(err)), 0);
	attach_all();
	cr_assert_eq(vpci_assign_bar(&bus, CON, HOST_MEM), 0);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, CON, 0, 0x04), 2, 0x0006, 1); /* memory, bus master */
}

Test(vpci_host, mmio_claims_only_its_windows)
{
	hosted();
	cr_expect(vpci_mmio_claims(&bus, HOST_ECAM));
	cr_expect(vpci_mmio_claims(&bus, HOST_ECAM + VPCI_ECAM_SIZE - 1));
	cr_expect(!vpci_mmio_claims(&bus, HOST_ECAM + VPCI_ECAM_SIZE));
	cr_expect(!vpci_mmio_claims(&bus, HOST_ECAM - 1));
	cr_expect(vpci_mmio_claims(&bus, HOST_MEM + 0xFFFFF));
	cr_expect(!vpci_mmio_claims(&bus, HOST_MEM + 0x100000));
	vpci_init(&bus, NULL);
	cr_expect(!vpci_mmio_claims(&bus, HOST_ECAM), "a bus with no host decodes nothing");
	cr_expect_eq(vpci_mmio(&bus, HOST_ECAM, 4, 0, 0), 0xFFFFFFFFu);
}

Test(vpci_host, mmio_ecam_and_bar_reach_the_right_place)
{
	hosted();
	cr_expect_eq(vpci_mmio(&bus, HOST_ECAM + ECAM(0, CON, 0, 0), 4, 0, 0),
		     (0x1040u + VPCI_VIRTIO_CONSOLE) << 16 | 0x1AF4, "IDs through ECAM");
	cr_expect_eq(vpci_mmio(&bus, HOST_ECAM + ECAM(0, 3, 0, 0), 2, 0, 0), 0xFFFF, "no device");
	cr_expect_eq(vpci_mmio(&bus, HOST_ECAM, 8, 0, 0), ~0ull, "ECAM carries one dword");
	cr_expect_eq(vpci_mmio(&bus, HOST_MEM + 0x100000 - 8, 4, 0, 0), 0xFFFFFFFFu,
		     "in the window but no BAR there");

	/* The device's own regions go to its owner, once, with the offset inside the region. */
	cr_expect_eq(vpci_mmio(&bus, HOST_MEM + VPCI_COMMON_OFF + 0x14, 1, 0, 0), 0xCAFEF00D);
	cr_expect_eq(seen.calls, 1);
	cr_expect_eq(seen.slot, CON);
	cr_expect_eq(seen.r, VPCI_REGION_COMMON);
	cr_expect_eq(seen.off, 0x14);
	vpci_mmio(&bus, HOST_MEM + VPCI_NOTIFY_OFF + 8, 2, 1, 1);
	cr_expect_eq(seen.calls, 2);
	cr_expect_eq(seen.r, VPCI_REGION_NOTIFY);
	cr_expect_eq(seen.off, 8);
	cr_expect_eq(seen.write, 1);
	cr_expect_eq(seen.val, 1);
	/* MSI-X is the bus's: the owner never sees it. */
	vpci_mmio(&bus, HOST_MEM + VPCI_MSIX_TABLE_OFF, 8, 0xFEE00000ull, 1);
	cr_expect_eq(vpci_mmio(&bus, HOST_MEM + VPCI_MSIX_TABLE_OFF, 8, 0, 0), 0xFEE00000ull);
	cr_expect_eq(seen.calls, 2);
	/* Inside the BAR but no register: 0, and nobody is asked. */
	cr_expect_eq(vpci_mmio(&bus, HOST_MEM + 0x7000, 4, 0, 0), 0);
	cr_expect_eq(seen.calls, 2);
}

Test(vpci_host, signal_and_unmask_send_through_the_host)
{
	unsigned cap;

	hosted();
	cap = msix_cap(CON);
	vpci_mmio(&bus, HOST_MEM + VPCI_MSIX_TABLE_OFF + 16, 8, 0xFEE01000ull, 1);
	vpci_mmio(&bus, HOST_MEM + VPCI_MSIX_TABLE_OFF + 24, 8, 0x42 | 1ull << 32, 1); /* masked */
	cr_expect_eq(vpci_signal(&bus, CON, 1), VPCI_MSIX_DISABLED);
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, CON, 0, cap + 2), 2, 0x8000, 1);
	cr_expect_eq(vpci_signal(&bus, CON, 1), VPCI_MSIX_MASKED, "now pending");
	cr_expect_eq(sent.n, 0);
	/* Unmasking through the BAR sends the pending message, exactly once. */
	vpci_mmio(&bus, HOST_MEM + VPCI_MSIX_TABLE_OFF + 28, 4, 0, 1);
	cr_expect_eq(sent.n, 1);
	cr_expect_eq(sent.addr[0], 0xFEE01000ull);
	cr_expect_eq(sent.data[0], 0x42);
	cr_expect_eq(vpci_signal(&bus, CON, 1), 0);
	cr_expect_eq(sent.n, 2);
	/* Function Mask through config space holds it; clearing it (mechanism #1) sends. */
	vpci_mmio(&bus, HOST_ECAM + ECAM(0, CON, 0, cap + 2), 2, 0xC000, 1);
	cr_expect_eq(vpci_signal(&bus, CON, 1), VPCI_MSIX_FMASKED);
	uint32_t r = 0;
	cr_expect(vpci_pio(&bus, 0xcf8, 4, 0, 0x80000000u | CON << 11 | cap, &r));
	cr_expect(vpci_pio(&bus, 0xcfe, 2, 0, 0x8000, &r));
	cr_expect_eq(sent.n, 3);
	cr_expect_eq(vpci_signal(&bus, CON, 2), MICA_EINVAL, "past the table");
	cr_expect_eq(vpci_signal(&bus, 3, 0), MICA_EINVAL, "no function");
}

Test(vpci_host, mechanism_one)
{
	uint32_t r = 0;

	hosted();
	cr_expect(vpci_pio(&bus, 0xcf8, 4, 0, 0x80000000u | CON << 11 | 0x03, &r));
	cr_expect(vpci_pio(&bus, 0xcf8, 4, 1, 0, &r));
	cr_expect_eq(r, 0x80000000u | CON << 11, "the low bits read 0");
	cr_expect(vpci_pio(&bus, 0xcfc, 4, 1, 0, &r));
	cr_expect_eq(r, (0x1040u + VPCI_VIRTIO_CONSOLE) << 16 | 0x1AF4);
	cr_expect(vpci_pio(&bus, 0xcfe, 2, 1, 0, &r));
	cr_expect_eq(r, 0x1040u + VPCI_VIRTIO_CONSOLE);
	cr_expect(!vpci_pio(&bus, 0xcf9, 1, 0, 6, &r), "0xCF9 is the reset register");
	cr_expect(!vpci_pio(&bus, 0x3f8, 1, 1, 0, &r));
	cr_expect(vpci_pio(&bus, 0xcf8, 4, 0, CON << 11, &r));
	r = 0;
	cr_expect(vpci_pio(&bus, 0xcfc, 4, 1, 0, &r));
	cr_expect_eq(r, 0xFFFFFFFFu, "enable bit clear: master abort");
}

/* A port access through vpci_pio: the value read (result starts as a marker, so that an
 * access the bus does not take shows it). */
static uint32_t pio(uint16_t port, unsigned size, int in, uint32_t val, int *took)
{
	uint32_t result = 0x5A5A5A5A;
	*took = vpci_pio(&bus, port, size, in, val, &result);
	return result;
}

Test(vpci_host, io_bar_sizing_and_assignment)
{
	hosted();
	/* Linux's __pci_read_base() on an I/O BAR: all ones, read the mask back. */
	wr(NET, 0x18, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(NET, 0x18, 4), 0x0000FFF1, "16 ports, 16-bit decode, I/O");
	wr(NET, 0x18, 4, 0xC0F7);
	cr_expect_eq(rd(NET, 0x18, 4), 0xC0F1, "low bits: size alignment and the I/O flag");
	cr_expect_eq(vpci_assign_io_bar(&bus, NET, HOST_IO + 0x50), 0);
	cr_expect_eq(rd(NET, 0x18, 4), HOST_IO + 0x51);
	cr_expect_eq(rd(NET, 0x04, 2) & 1, 1, "firmware turned I/O decoding on");
	cr_expect_eq(vpci_assign_io_bar(&bus, NET, HOST_IO + 0x58), MICA_EINVAL, "misaligned");
	cr_expect_eq(vpci_assign_io_bar(&bus, NET, 0), MICA_EINVAL);
	cr_expect_eq(vpci_assign_io_bar(&bus, 3, HOST_IO), MICA_EINVAL, "empty slot");
	cr_expect_eq(vpci_assign_io_bar(&bus, 0, HOST_IO), MICA_EINVAL, "the host bridge");
}

Test(vpci_host, io_bar_notify_reaches_the_owner)
{
	int took;

	hosted();
	cr_assert_eq(vpci_assign_io_bar(&bus, CON, HOST_IO + 0x10), 0);
	cr_assert_eq(vpci_assign_io_bar(&bus, NET, HOST_IO + 0x50), 0);
	/* Queue 1 of NET: port base + 2, 16 bits; the owner sees BAR0's notify offset. */
	pio(HOST_IO + 0x52, 2, 0, 1, &took);
	cr_expect(took);
	cr_expect_eq(seen.calls, 1);
	cr_expect_eq(seen.slot, NET);
	cr_expect_eq(seen.r, VPCI_REGION_NOTIFY);
	cr_expect_eq(seen.off, 1 * VPCI_NOTIFY_MULT);
	cr_expect_eq(seen.size, 2);
	cr_expect_eq(seen.write, 1);
	cr_expect_eq(seen.val, 1);
	cr_expect_eq(pio(HOST_IO + 0x10, 2, 1, 0, &took), 0xCAFEF00D, "a read goes to it too");
	cr_expect_eq(seen.slot, CON);
	cr_expect_eq(seen.write, 0);
	cr_expect_eq(seen.calls, 2);

	/* Not a register: odd ports, accesses that leave the BAR, ports no BAR decodes. */
	cr_expect_eq(pio(HOST_IO + 0x53, 1, 1, 0, &took), 0);
	cr_expect(took);
	cr_expect_eq(pio(HOST_IO + 0x5E, 4, 1, 0, &took), 0xFFFFFFFFu, "crosses the BAR's end");
	cr_expect_eq(pio(HOST_IO + 0x20, 2, 1, 0, &took), 0xFFFF, "in the window, no BAR");
	cr_expect(took, "the window is the bus's");
	cr_expect_eq(seen.calls, 2);

	/* I/O space off in the command register: the BAR goes dark. */
	wr(NET, 0x04, 2, 0x0006);
	pio(HOST_IO + 0x52, 2, 0, 1, &took);
	cr_expect_eq(seen.calls, 2);
	wr(NET, 0x04, 2, 0x0001);
	pio(HOST_IO + 0x52, 2, 0, 1, &took);
	cr_expect_eq(seen.calls, 3, "I/O alone, without memory space, is enough");

	/* A guest may move the BAR anywhere, also out of the window: it then decodes nothing
	 * Mica routes to the bus. */
	wr(NET, 0x18, 4, 0x2001);
	cr_expect_eq(pio(HOST_IO + 0x52, 2, 1, 0, &took), 0xFFFF);
	pio(0x2002, 2, 0, 1, &took);
	cr_expect(!took, "outside the window: not the bus's");
	cr_expect_eq(seen.calls, 3);
	/* Two BARs on the same ports: the lowest slot answers. */
	wr(NET, 0x18, 4, (HOST_IO + 0x10) | 1);
	pio(HOST_IO + 0x10, 2, 0, 0, &took);
	cr_expect_eq(seen.slot, CON);

	/* No host, or a host without an I/O window: only mechanism #1 is the bus's. */
	vpci_init(&bus, NULL);
	pio(HOST_IO, 2, 0, 0, &took);
	cr_expect(!took);
}
