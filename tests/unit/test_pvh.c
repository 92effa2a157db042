/* kernel/loader/pvh.c: a PVH kernel built in memory (ELF64 with the Xen entry note), loaded
 * into a buffer that stands for guest RAM; the start-info, memory map, modules and the
 * entry state read back at the offsets of Xen's hvm_start_info ABI; damaged images. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/loader/pvh.h"
#include "lib/bytes.h"
#include "tests/unit/guest_ram_stub.h"

#define RAM (64ULL << 20)
static uint8_t *ram;
static uint8_t img[8192];
static char err[200];
static struct acpi_guest acpi;
static struct vcpu_boot_state st;

static void setup(void)
{
	ram = calloc(1, RAM);
	memset(img, 0, sizeof(img));
	acpi_guest_defaults(&acpi, 2);
	/* ELF64 x86-64: PT_LOAD of 0x100 bytes at file 0x1000 to paddr 16 MiB (memsz 0x2000,
	 * linked high), PT_NOTE at file 0x800 with two notes, the second the PVH entry. */
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 2;
	img[5] = 1;
	put16(img + 16, 2);
	put16(img + 18, 62);
	put64(img + 24, 0xffffffff81000000ull);
	put64(img + 32, 64);
	put16(img + 54, 56);
	put16(img + 56, 2);
	uint8_t *ph = img + 64;
	put32(ph, 1);
	put64(ph + 8, 0x1000);
	put64(ph + 16, 0xffffffff81000000ull);
	put64(ph + 24, 0x1000000);
	put64(ph + 32, 0x100);
	put64(ph + 40, 0x2000);
	ph += 56;
	put32(ph, 4);
	put64(ph + 8, 0x800);
	put64(ph + 32, 0x30);
	uint8_t *n = img + 0x800;
	put32(n, 6), put32(n + 4, 4), put32(n + 8, 6), memcpy(n + 12, "Linux\0\0\0", 8);
	put32(n + 20, 1); /* desc */
	n += 24;
	put32(n, 4), put32(n + 4, 8), put32(n + 8, PVH_NOTE_ENTRY), memcpy(n + 12, "Xen", 4);
	put64(n + 16, 0x1000050);
	memset(img + 0x1000, 0x90, 0x100);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(pvh, .init = setup, .fini = teardown);

static int load(const char *cmdline, const struct pvh_module *m, unsigned nm)
{
	return pvh_load(img, sizeof(img), cmdline, m, nm, ram, RAM, &acpi, &st, err, sizeof(err));
}

Test(pvh, finds_the_entry_note)
{
	uint32_t e = 0;
	cr_assert_eq(pvh_find_entry(img, sizeof(img), &e), 0);
	cr_expect_eq(e, 0x1000050);
	put32(img + 0x800 + 24 + 8, 17); /* another Xen note */
	cr_expect_eq(pvh_find_entry(img, sizeof(img), &e), -1);
	put32(img + 0x800 + 24 + 8, PVH_NOTE_ENTRY);
	put32(img + 0x800 + 24 + 4, 0x1000); /* desc past the segment */
	cr_expect_eq(pvh_find_entry(img, sizeof(img), &e), -1);
	cr_expect_eq(pvh_find_entry(img, 40, &e), -1, "cut short");
}

Test(pvh, start_info_and_entry_state)
{
	static const uint8_t rd[10000] = { 7 }, extra[3] = { 1, 2, 3 };
	struct pvh_module m[2] = { { rd, sizeof(rd), "initrd.img" }, { extra, 3, "x.bin" } };

	cr_assert_eq(load("console=ttyS0", m, 2), 0, "%s", err);
	cr_expect_eq(st.mode, VCPU_MODE_PROT32);
	cr_expect_eq(st.rip, 0x1000050);
	cr_expect_eq(st.rbx, PVH_START_INFO);
	cr_expect_eq(st.cr0 & 0x80000001u, 1, "protection on, paging off");
	cr_expect_eq(st.code_sel, 0x08);
	cr_expect_eq(rd64(ram + st.gdt_base + 8), 0x00CF9B000000FFFFULL);
	cr_expect_eq(ram[0x1000000], 0x90);
	cr_expect_eq(ram[0x1000100], 0, "bss zeroed");

	const uint8_t *si = ram + PVH_START_INFO;
	cr_expect_eq(rd32(si), 0x336ec578);
	cr_expect_eq(rd32(si + 4), 1);
	cr_expect_str_eq((char *)ram + rd64(si + 24), "console=ttyS0");
	uint64_t rsdp = rd64(si + 32);
	cr_expect(rsdp >= PVH_ACPI && rsdp < PVH_ACPI + PVH_ACPI_SIZE);
	cr_expect(!memcmp(ram + rsdp, "RSD PTR ", 8));

	cr_assert_eq(rd32(si + 12), 2);
	const uint8_t *ml = ram + rd64(si + 16);
	cr_expect_eq(rd64(ml), RAM - 3 * 4096, "the first module highest: 10000 bytes, page aligned");
	cr_expect_eq(rd64(ml + 8), sizeof(rd));
	cr_expect_str_eq((char *)ram + rd64(ml + 16), "initrd.img");
	cr_expect_eq(ram[rd64(ml)], 7);
	cr_expect_eq(rd64(ml + 32), RAM - 4 * 4096);
	cr_expect_str_eq((char *)ram + rd64(ml + 48), "x.bin");

	uint32_t nmap = rd32(si + 48);
	const uint8_t *mm = ram + rd64(si + 40);
	uint64_t usable = 0;
	for (unsigned i = 0; i < nmap; i++)
		if (rd32(mm + 24 * i + 16) == 1)
			usable += rd64(mm + 24 * i + 8);
	cr_expect_eq(usable, PVH_LOW_END + RAM - 0x100000);
}

Test(pvh, with_pci_the_ecam_range_is_reserved)
{
	acpi.ecam_base = 0xB0000000;
	acpi.ecam_bus_end = 0;
	cr_assert_eq(load("", NULL, 0), 0, "%s", err);
	const uint8_t *si = ram + PVH_START_INFO;
	cr_assert_eq(rd32(si + 48), 4);
	const uint8_t *e = ram + rd64(si + 40) + 3 * 24;
	cr_expect_eq(rd64(e), 0xB0000000);
	cr_expect_eq(rd64(e + 8), 1 << 20);
	cr_expect_eq(rd32(e + 16), 2);
	cr_expect_eq(rd32(si + 12), 0);
	cr_expect_eq(rd64(si + 16), 0, "no module list without modules");
}

Test(pvh, refusals)
{
	cr_expect_eq(pvh_load(img, sizeof(img), "", NULL, 0, NULL, RAM, &acpi, NULL, err,
			      sizeof(err)), 0, "a dry run: %s", err);
	put64(img + 64 + 24, 0x80000); /* below 1 MiB */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the kernel's segment at [0x80000, 0x82000) does not lie in the "
			      "partition's RAM above 1 MiB (64 MiB)");
	put64(img + 64 + 24, 0x1000000);
	put64(img + 0x800 + 24 + 16, 0x2000000);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the PVH entry point 0x2000000 lies outside the kernel's segments");
	put64(img + 0x800 + 24 + 16, 0x1000050);
	static uint8_t big[1];
	struct pvh_module m = { big, RAM - 0x1000000, "huge" };
	cr_expect_eq(load("", &m, 1), MICA_EINVAL);
	cr_expect_str_eq(err, "module 'huge' (50331648 bytes) does not fit between the kernel "
			      "(ending at 0x1002000) and the end of RAM below 4 GiB");
	cr_expect_eq(pvh_load(img, sizeof(img), "", NULL, 0, ram, 0xFF000000ull, &acpi, &st, err,
			      sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "4080 MiB of RAM would cover the platform's devices at 0xfec00000: "
			      "a PVH guest can have at most 4076 MiB");
	put32(img + 0x800 + 24 + 8, 3);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) in the image");
}

/* RAM zeroed on first touch (kernel/ram.h): every byte the loader writes lies in a range
 * it announced first, and the middle of RAM, which nothing is loaded to, is left alone. */
Test(pvh, writes_only_what_it_announces)
{
	static const uint8_t rd[10000] = { 7 };
	struct pvh_module m[1] = { { rd, sizeof(rd), "initrd.img" } };

	guest_ram_watch(ram, RAM);
	cr_assert_eq(load("console=ttyS0", m, 1), 0, "%s", err);
	uint64_t a = guest_ram_unannounced();
	cr_expect_eq(a, UINT64_MAX, "wrote at 0x%lx without announcing it", (unsigned long)a);
	cr_expect_eq(ram[RAM - 3 * 4096], 7, "the module is there");
	cr_expect(!guest_ram_announced(32ULL << 20, 2ULL << 20), "32 MiB announced: nothing goes there");
}
