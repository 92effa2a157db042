/* kernel/loader/boot_linux.c: a small bzImage laid out in 128 MiB of "guest RAM"; the zero page,
 * e820 map, page tables, GDT, ACPI pointer, kernel, initrd, command line and the entry state
 * are read back at the offsets the boot protocol documents (not through boot_linux.h). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/boot_linux.h"
#include "kernel/platform/acpi_tables.h"
#include "tests/unit/guest_ram_stub.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (128 * MiB)
#define SETUP_SIZE (5 * 512)
#define KERNEL_SIZE 0x3000
#define IMG_SIZE (SETUP_SIZE + KERNEL_SIZE)
#define INIT_SIZE (8 * MiB)

static uint8_t img[IMG_SIZE];
static uint8_t *ram;
static uint64_t ram_size;
static uint8_t initrd[0x5001];
static uint64_t isize;
static const char *cmdline;
static struct boot_linux_platform plat;
static struct vcpu_boot_state st;
static char err[256];

static void w16(unsigned off, uint16_t v) { memcpy(img + off, &v, 2); }
static void w32(unsigned off, uint32_t v) { memcpy(img + off, &v, 4); }
static void w64(unsigned off, uint64_t v) { memcpy(img + off, &v, 8); }
static uint16_t r16(uint64_t a) { uint16_t v; memcpy(&v, ram + a, 2); return v; }
static uint32_t r32(uint64_t a) { uint32_t v; memcpy(&v, ram + a, 4); return v; }
static uint64_t r64(uint64_t a) { uint64_t v; memcpy(&v, ram + a, 8); return v; }

#define ZP 0x10000ULL /* documented in docs/guests.md */

static void build_image(void)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = 4;
	w32(0x1f4, KERNEL_SIZE / 16);
	w16(0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	w16(0x206, 0x020f);
	img[0x211] = 0x81;                /* LOADED_HIGH | CAN_USE_HEAP */
	w16(0x224, 0x9e00);               /* heap_end_ptr: meaningless for the 64-bit entry */
	w32(0x22c, 0x7fffffff);
	w32(0x230, 0x200000);
	img[0x234] = 1;
	w16(0x236, 0x0003);
	w32(0x238, 2047);
	w64(0x250, 0x1234);               /* setup_data from the image must not survive */
	w64(0x258, 0x1000000);
	w32(0x260, INIT_SIZE);
	w32(0x264, 0xabcdef);             /* handover_offset: copied as is */
	w32(0x268, 0x55aa);               /* kernel_info_offset: copied as is */
	for (unsigned i = 0; i < KERNEL_SIZE; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 13 + 1);
}

static void setup(void)
{
	build_image();
	ram_size = RAM_SIZE;
	ram = malloc(RAM_SIZE);
	cr_assert(ram);
	memset(ram, 0xcc, RAM_SIZE);
	for (unsigned i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	isize = sizeof(initrd);
	cmdline = "console=ttyS0 root=/dev/ram0";
	acpi_guest_defaults(&plat.acpi, 2);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(boot_linux, .init = setup, .fini = teardown);

static int load(void)
{
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return boot_linux_load(img, IMG_SIZE, isize ? initrd : NULL, isize, cmdline, ram,
			       ram_size, &plat, &st, err, sizeof(err));
}

static void expect_error(const char *msg)
{
	cr_assert_eq(load(), MICA_EINVAL, "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
	/* Nothing may be written before every check has passed. */
	for (uint64_t a = 0; a < RAM_SIZE; a += 0x1000)
		cr_assert_eq(ram[a], 0xcc, "RAM at 0x%llx written before validation finished",
			     (unsigned long long)a);
}

struct e820 { uint64_t addr, size; uint32_t type; };

static unsigned e820(struct e820 *out)
{
	unsigned n = ram[ZP + 0x1e8];
	cr_assert_leq(n, 128);
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = ZP + 0x2d0 + 20 * i;
		out[i] = (struct e820){ r64(e), r64(e + 8), r32(e + 16) };
	}
	return n;
}

Test(boot_linux, zero_page_and_memory_map)
{
	cr_assert_eq(load(), 0, "%s", err);
	/* The setup header is the image's, from 0x1f1 to 0x202 + img[0x201]. */
	cr_expect_eq(ram[ZP + 0x1f1], 4, "setup_sects");
	cr_expect_eq(r16(ZP + 0x1fe), 0xaa55);
	cr_expect(memcmp(ram + ZP + 0x202, "HdrS", 4) == 0);
	cr_expect_eq(r16(ZP + 0x206), 0x020f);
	cr_expect_eq(r32(ZP + 0x230), 0x200000, "kernel_alignment");
	cr_expect_eq(r32(ZP + 0x260), INIT_SIZE, "init_size");
	cr_expect_eq(r32(ZP + 0x264), 0xabcdef, "handover_offset");
	cr_expect_eq(r32(ZP + 0x268), 0x55aa, "kernel_info_offset");
	cr_expect_eq(r32(ZP + 0x26c), 0, "past the header: zero");
	cr_expect_eq(ram[ZP + 0x1ef], 0, "sentinel");
	/* What the loader fills in. */
	cr_expect_eq(ram[ZP + 0x210], 0xff, "type_of_loader");
	cr_expect_eq(ram[ZP + 0x211], 0x01, "loadflags: LOADED_HIGH, no CAN_USE_HEAP");
	cr_expect_eq(r16(ZP + 0x224), 0, "heap_end_ptr");
	cr_expect_eq(r32(ZP + 0x214), 0x1000000, "code32_start = load address");
	cr_expect_eq(r32(ZP + 0x228), 0x20000, "cmd_line_ptr");
	cr_expect_eq(r32(ZP + 0x0c8), 0, "ext_cmd_line_ptr");
	cr_expect_eq(r64(ZP + 0x250), 0, "setup_data");
	cr_expect_eq(r32(ZP + 0x23c), 0, "hardware_subarch: PC");
	cr_expect_str_eq((char *)ram + 0x20000, "console=ttyS0 root=/dev/ram0");

	struct e820 m[128];
	cr_assert_eq(e820(m), 3);
	cr_expect(m[0].addr == 0 && m[0].size == 0x9f000 && m[0].type == 1);
	cr_expect(m[1].addr == 0x9f000 && m[1].size == 0x61000 && m[1].type == 2);
	cr_expect(m[2].addr == 0x100000 && m[2].size == RAM_SIZE - 0x100000 && m[2].type == 1);

	/* ACPI: the RSDP at 0xe0000, in the reserved hole, and its tables inside the hole. */
	uint64_t rsdp = r64(ZP + 0x070);
	cr_expect_eq(rsdp, 0xe0000);
	cr_expect(memcmp(ram + rsdp, "RSD PTR ", 8) == 0);
	uint64_t xsdt = r64(rsdp + 24);
	cr_expect(xsdt >= 0xe0000 && xsdt < 0x100000);
	cr_expect(memcmp(ram + xsdt, "XSDT", 4) == 0);
	uint64_t madt = r64(xsdt + 36 + 8);
	cr_expect(memcmp(ram + madt, "APIC", 4) == 0);
	cr_expect_eq(ram[madt + 44 + 8 + 3], 1, "second vCPU's APIC ID");
}

Test(boot_linux, kernel_initrd_and_entry_state)
{
	cr_assert_eq(load(), 0, "%s", err);
	/* Kernel at pref_address, the rest of init_size zeroed. */
	cr_expect(memcmp(ram + 0x1000000, img + SETUP_SIZE, KERNEL_SIZE) == 0);
	for (uint64_t a = 0x1000000 + KERNEL_SIZE; a < 0x1000000 + INIT_SIZE; a += 511)
		cr_assert_eq(ram[a], 0, "init_size area at 0x%llx not zeroed", (unsigned long long)a);
	cr_expect_eq(ram[0x1000000 + INIT_SIZE], 0xcc, "wrote past init_size");
	cr_expect_eq(ram[0x1000000 - 1], 0xcc);

	/* Initrd at the top of RAM, 4 KiB aligned. */
	uint64_t at = (RAM_SIZE - sizeof(initrd)) & ~0xfffULL;
	cr_expect_eq(r32(ZP + 0x218), at, "ramdisk_image");
	cr_expect_eq(r32(ZP + 0x21c), sizeof(initrd), "ramdisk_size");
	cr_expect_eq(r32(ZP + 0x0c0), 0, "ext_ramdisk_image");
	cr_expect_eq(r32(ZP + 0x0c4), 0, "ext_ramdisk_size");
	cr_expect(memcmp(ram + at, initrd, sizeof(initrd)) == 0);

	/* 64-bit boot protocol entry. */
	cr_expect_eq(st.mode, VCPU_MODE_LONG64);
	cr_expect_eq(st.rip, 0x1000200);
	cr_expect_eq(st.rsi, ZP);
	cr_expect_eq(st.cr0 & 0x80000001, 0x80000001, "PG and PE");
	cr_expect_eq(st.cr4 & 0x20, 0x20, "PAE");
	cr_expect_eq(st.efer & 0x500, 0x500, "LME and LMA");
	cr_expect_eq(st.code_sel, 0x10, "__BOOT_CS");
	cr_expect_eq(st.data_sel, 0x18, "__BOOT_DS");
	cr_expect_geq(st.gdt_limit, 0x1f);
	uint64_t gdt = st.gdt_base;
	cr_assert_lt(gdt, 0x9f000);
	cr_expect_eq(r64(gdt + 0x10), 0x00af9b000000ffffULL, "64-bit code, flat");
	cr_expect_eq(r64(gdt + 0x18), 0x00cf93000000ffffULL, "data, flat");

	/* Identity map of [0, 4 GiB) in 2 MiB pages through CR3. */
	uint64_t pml4 = st.cr3;
	uint64_t pdpt = r64(pml4) & ~0xfffULL;
	cr_expect_eq(r64(pml4) & 3, 3);
	for (uint64_t va = 0; va < (4ULL << 30); va += 2 * MiB) {
		uint64_t pdpte = r64(pdpt + 8 * (va >> 30));
		cr_assert_eq(pdpte & 3, 3);
		uint64_t pde = r64((pdpte & ~0xfffULL) + 8 * ((va >> 21) & 511));
		cr_assert_eq(pde & 0x83, 0x83, "2 MiB page, present, writable at 0x%llx",
			     (unsigned long long)va);
		cr_assert_eq(pde & ~0x1fffffULL, va);
	}
	/* Nothing Mica built below 1 MiB overlaps another piece. */
	cr_expect(pml4 + 0x6000 <= gdt && gdt + 0x20 <= st.rsp && st.rsp <= ZP);
	cr_expect(ZP + 0x1000 <= 0x20000);

	struct vcpu_boot_state ap;
	memset(&ap, 0xff, sizeof(ap));
	boot_linux_ap_state(&ap);
	cr_expect_eq(ap.mode, VCPU_MODE_WAIT_SIPI);
	cr_expect_eq(ap.rip, 0);
}

Test(boot_linux, no_initrd_and_no_command_line)
{
	isize = 0;
	cmdline = NULL;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(r32(ZP + 0x218), 0);
	cr_expect_eq(r32(ZP + 0x21c), 0);
	cr_expect_eq(ram[0x20000], 0, "empty command line");
	cr_expect_eq(ram[RAM_SIZE - 1], 0xcc);
}

Test(boot_linux, initrd_respects_initrd_addr_max)
{
	w32(0x22c, 0x3ffffff); /* last byte at most 64 MiB - 1 */
	cr_assert_eq(load(), 0, "%s", err);
	uint64_t at = r32(ZP + 0x218);
	cr_expect_eq(at, (0x4000000 - sizeof(initrd)) & ~0xfffULL);
	cr_expect_leq(at + sizeof(initrd) - 1, 0x3ffffff);
}

Test(boot_linux, initrd_goes_below_the_kernel_when_above_is_full)
{
	/* The kernel's area ends 4 KiB below the initrd limit: the initrd must go below it. */
	w32(0x22c, 0x1000000 + INIT_SIZE + 0xfff);
	cr_assert_eq(load(), 0, "%s", err);
	uint64_t at = r32(ZP + 0x218);
	cr_expect_eq(at, (0x1000000 - sizeof(initrd)) & ~0xfffULL);
	cr_expect(memcmp(ram + at, initrd, sizeof(initrd)) == 0);
	cr_expect(memcmp(ram + 0x1000000, img + SETUP_SIZE, KERNEL_SIZE) == 0);
}

Test(boot_linux, initrd_exactly_fills_the_top)
{
	isize = 0x5000;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(r32(ZP + 0x218), RAM_SIZE - 0x5000);
	cr_expect_eq(r32(ZP + 0x21c), 0x5000);
}

Test(boot_linux, kernel_falls_back_to_16_mib)
{
	w64(0x258, 0x6000000); /* 96 MiB + 8 MiB init_size would fit ... */
	w32(0x260, 40 * MiB);  /* ... 40 MiB does not */
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(st.rip, 0x1000200);
	cr_expect_eq(r32(ZP + 0x214), 0x1000000);
	cr_expect(memcmp(ram + 0x1000000, img + SETUP_SIZE, KERNEL_SIZE) == 0);
}

Test(boot_linux, pci_ecam_is_reserved_in_e820)
{
	plat.acpi.ecam_base = 0xe0000000;
	plat.acpi.ecam_bus_start = 0;
	plat.acpi.ecam_bus_end = 15;
	cr_assert_eq(load(), 0, "%s", err);
	struct e820 m[128];
	cr_assert_eq(e820(m), 4);
	cr_expect_eq(m[3].addr, 0xe0000000);
	cr_expect_eq(m[3].size, 16 * MiB);
	cr_expect_eq(m[3].type, 2);
	uint64_t xsdt = r64(0xe0000 + 24);
	cr_expect_eq(r32(xsdt + 4), 36 + 3 * 8, "XSDT lists the MCFG too");
}

/* The platform's PCI: ECAM reserved in e820, the BAR window left out of it (a hole, like
 * every MMIO range but the ECAM one), the host bridge in the DSDT. */
Test(boot_linux, pci_platform_window_is_not_in_e820)
{
	plat.acpi.ecam_base = ACPI_PCI_ECAM_BASE;
	plat.acpi.pci_mem_base = ACPI_PCI_MEM_BASE;
	plat.acpi.pci_mem_size = ACPI_PCI_MEM_SIZE;
	cr_assert_eq(load(), 0, "%s", err);
	struct e820 m[128];
	cr_assert_eq(e820(m), 4);
	cr_expect_eq(m[3].addr, 0xB0000000);
	cr_expect_eq(m[3].size, MiB);
	cr_expect_eq(m[3].type, 2);
	for (unsigned i = 0; i < 4; i++)
		cr_expect(m[i].addr + m[i].size <= 0xC0000000 || m[i].addr >= 0xD0000000,
			  "e820 entry %u covers the PCI memory window", i);
	uint64_t fadt = r32(r64(0xe0000 + 24) + 36), dsdt = r32(fadt + 40);
	int pci0 = 0;
	for (uint64_t a = dsdt; a + 4 <= dsdt + r32(dsdt + 4); a++)
		pci0 |= !memcmp(ram + a, "PCI0", 4);
	cr_expect(pci0, "no PCI0 in the DSDT");
}

Test(boot_linux, errors)
{
	ram_size = 64 * MiB - 1;
	expect_error("a Linux guest needs at least 64 MiB of RAM, the partition has 65535 KiB");
	ram_size = RAM_SIZE;

	img[0x202] = 'X';
	expect_error("not a bzImage: no \"HdrS\" at 0x202 (found 58 64 72 53)");
	build_image();

	w32(0x260, 120 * MiB);
	expect_error("the kernel needs 120 MiB (init_size 0x7800000) from 0x1000000, RAM ends at "
		     "128 MiB");
	build_image();

	isize = 120 * MiB; /* the initrd array is small, but nothing is read before this fails */
	expect_error("the initrd (125829120 bytes) does not fit: the kernel takes [0x1000000, "
		     "0x1800000) and the initrd must end below 0x8000000 (end of RAM)");
	w32(0x22c, 0x2000000 - 1);
	isize = 16 * MiB;
	expect_error("the initrd (16777216 bytes) does not fit: the kernel takes [0x1000000, "
		     "0x1800000) and the initrd must end below 0x2000000 (initrd_addr_max)");
	build_image();
	isize = sizeof(initrd);

	char longline[2049];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[2048] = '\0';
	cmdline = longline;
	expect_error("the command line is 2048 bytes, the kernel takes at most 2047");
	longline[2047] = '\0';
	cr_expect_eq(load(), 0, "exactly cmdline_size is fine: %s", err);
	cr_expect_eq(strlen((char *)ram + 0x20000), 2047);
	memset(ram, 0xcc, RAM_SIZE);
	char *huge = malloc(0x10001);
	memset(huge, 'b', 0x10000);
	huge[0x10000] = '\0';
	w32(0x238, 0x100000);
	cmdline = huge;
	expect_error("the command line is longer than Mica's 65535-byte area");
	free(huge);
	build_image();
	cmdline = NULL;

	plat.acpi.ncpus = 0;
	expect_error("0 vCPUs: the ACPI tables describe 1 to 1024");
	acpi_guest_defaults(&plat.acpi, 2);

	plat.acpi.ecam_base = 0x6000000;
	plat.acpi.ecam_bus_end = 0;
	expect_error("128 MiB of RAM would cover the PCI ECAM window at 0x6000000: a Linux guest "
		     "can have at most 96 MiB");
	acpi_guest_defaults(&plat.acpi, 2);

	/* The PCI memory window (BARs) is MMIO too, even when it lies below the ECAM window. */
	plat.acpi.ecam_base = ACPI_PCI_ECAM_BASE;
	plat.acpi.pci_mem_base = 0x5000000;
	plat.acpi.pci_mem_size = 0x1000000;
	expect_error("128 MiB of RAM would cover the PCI memory window at 0x5000000: a Linux guest "
		     "can have at most 80 MiB");
	plat.acpi.pci_mem_base = ACPI_PCI_MEM_BASE;
	plat.acpi.pci_mem_size = ACPI_PCI_MEM_SIZE;
	ram_size = 0xB0000000ULL + MiB;
	expect_error("2817 MiB of RAM would cover the PCI ECAM window at 0xb0000000: a Linux guest "
		     "can have at most 2816 MiB");
	plat.acpi.ecam_base = 0xd0000000; /* now the window comes first */
	ram_size = 0xC0000000ULL + MiB;
	expect_error("3073 MiB of RAM would cover the PCI memory window at 0xc0000000: a Linux "
		     "guest can have at most 3072 MiB");
	ram_size = RAM_SIZE;
	acpi_guest_defaults(&plat.acpi, 2);

	/* RAM larger than the MMIO hole: refused before anything is touched. */
	ram_size = 4ULL << 30;
	expect_error("4096 MiB of RAM would cover the I/O APIC at 0xfec00000: a Linux guest can "
		     "have at most 4076 MiB");
	ram_size = RAM_SIZE;

	cr_expect_eq(boot_linux_load(img, IMG_SIZE, initrd, 10, NULL, ram, ram_size, NULL, &st,
				     err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(boot_linux_load(img, IMG_SIZE, NULL, 10, NULL, ram, ram_size, &plat, &st,
				     err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "an initrd of 10 bytes but no data");
}

/* RAM zeroed on first touch (kernel/ram.h): every byte the loader writes (low memory, the
 * kernel with its init_size, the initrd at the top) lies in a range it announced first,
 * and the RAM between them is left for the guest to touch. */
Test(boot_linux, writes_only_what_it_announces)
{
	guest_ram_watch(ram, RAM_SIZE);
	cr_assert_eq(load(), 0, "%s", err);
	uint64_t a = guest_ram_unannounced();
	cr_expect_eq(a, UINT64_MAX, "wrote at 0x%lx without announcing it", (unsigned long)a);
	uint64_t at = (RAM_SIZE - sizeof(initrd)) & ~0xfffULL;
	cr_expect(memcmp(ram + at, initrd, sizeof(initrd)) == 0, "the initrd is there");
	cr_expect_eq(r32(ZP + 0x218), at, "ramdisk_image");
	cr_expect(!guest_ram_announced(64 * MiB, 32 * MiB), "[64, 96) MiB announced");
}
