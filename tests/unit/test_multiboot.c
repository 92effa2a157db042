/* kernel/loader/multiboot.c: Multiboot kernels built in memory (ELF32, ELF64 linked high,
 * the a.out kludge), loaded into a buffer that stands for guest RAM, the information
 * structure read back at the offsets of the Multiboot 0.6.96 spec; and damaged images. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/loader/multiboot.h"
#include "tests/unit/guest_ram_stub.h"
#include "lib/bytes.h"

#define RAM (32ULL << 20)
static uint8_t *ram;
static uint8_t img[16384];
static char err[200];
static struct mb_boot out;

static void setup(void)
{
	ram = calloc(1, RAM);
	memset(img, 0, sizeof(img));
	memset(err, 0, sizeof(err));
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	free(ram);
}

TestSuite(multiboot, .init = setup, .fini = teardown);

static void header(unsigned off, uint32_t flags)
{
	put32(img + off, MB_HEADER_MAGIC);
	put32(img + off + 4, flags);
	put32(img + off + 8, (uint32_t)-(MB_HEADER_MAGIC + flags));
}

/* An ELF32 i386 executable: one PT_LOAD of 0x200 file bytes at file offset 0x1000 to
 * paddr 0x100000 (vaddr vbase), memsz 0x3000, entry vbase + 0x10; the header at 0x1004. */
static void elf32(uint32_t vbase)
{
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 1; /* ELFCLASS32 */
	img[5] = 1; /* little endian */
	img[6] = 1;
	put16(img + 16, 2);  /* ET_EXEC */
	put16(img + 18, 3);  /* EM_386 */
	put32(img + 24, vbase + 0x10);
	put32(img + 28, 52); /* phoff */
	put16(img + 42, 32); /* phentsize */
	put16(img + 44, 1);  /* phnum */
	uint8_t *ph = img + 52;
	put32(ph, 1);          /* PT_LOAD */
	put32(ph + 4, 0x1000); /* offset */
	put32(ph + 8, vbase);  /* vaddr */
	put32(ph + 12, 0x100000);
	put32(ph + 16, 0x200); /* filesz */
	put32(ph + 20, 0x3000);
	header(0x1004, MB_HF_PAGE_ALIGN | MB_HF_MEMORY);
	for (unsigned i = 0x1010; i < 0x1200; i++)
		img[i] = (uint8_t)i;
}

static int load(const char *cmdline, const struct mb_module *m, unsigned n)
{
	return mb_load(img, sizeof(img), ram, RAM, "kernel.elf", cmdline, m, n, &out, err,
		       sizeof(err));
}

Test(multiboot, finds_the_header_only_where_valid)
{
	cr_expect_eq(mb_find_header(img, sizeof(img)), -1);
	header(0x40, 0);
	cr_expect_eq(mb_find_header(img, sizeof(img)), 0x40);
	put32(img + 0x48, 0); /* bad checksum */
	cr_expect_eq(mb_find_header(img, sizeof(img)), -1);
	header(8192 - 12, 0);
	cr_expect_eq(mb_find_header(img, sizeof(img)), 8192 - 12, "the last slot of 8 KiB");
	memset(img, 0, sizeof(img));
	header(8192, 0);
	cr_expect_eq(mb_find_header(img, sizeof(img)), -1, "past the first 8 KiB");
	memset(img, 0, sizeof(img));
	header(0x42, 0);
	cr_expect_eq(mb_find_header(img, sizeof(img)), -1, "not 32-bit aligned");
	header(0, 0);
	cr_expect_eq(mb_find_header(img, 11), -1, "cut short");
}

Test(multiboot, elf32_kernel_and_information)
{
	static const uint8_t m1[100] = { 1, 2, 3 }, m2[5000] = { 9 };
	struct mb_module mods[2] = { { m1, sizeof(m1), "one.bin" }, { m2, sizeof(m2), "d/two" } };

	elf32(0x100000);
	cr_assert_eq(load("console=ttyS0 x=1", mods, 2), 0, "%s", err);
	cr_expect_eq(out.entry, 0x100010);
	cr_expect_eq(out.lowest, 0x100000);
	cr_expect_eq(out.highest, 0x103000);
	cr_expect(!memcmp(ram + 0x100010, img + 0x1010, 0x1f0), "file bytes at paddr");
	cr_expect_eq(ram[0x100200], 0, "bss zeroed");

	uint8_t *mbi = ram + out.info;
	uint32_t flags = rd32(mbi);
	cr_expect_eq(flags, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
				    MB_INFO_LOADER_NAME);
	cr_expect_eq(rd32(mbi + 4), 639, "mem_lower in KiB");
	cr_expect_eq(rd32(mbi + 8), (RAM - (1 << 20)) >> 10, "mem_upper in KiB");
	cr_expect_str_eq((char *)ram + rd32(mbi + 16), "kernel.elf console=ttyS0 x=1");
	cr_expect_str_eq((char *)ram + rd32(mbi + 64), "Mica");

	/* Modules: page aligned, after the kernel, strings their paths. */
	cr_assert_eq(rd32(mbi + 20), 2);
	uint8_t *ml = ram + rd32(mbi + 24);
	cr_expect_eq(rd32(ml), 0x103000);
	cr_expect_eq(rd32(ml + 4), 0x103000 + 100);
	cr_expect_str_eq((char *)ram + rd32(ml + 8), "one.bin");
	cr_expect_eq(rd32(ml + 16), 0x104000);
	cr_expect_eq(rd32(ml + 20), 0x104000 + 5000);
	cr_expect_str_eq((char *)ram + rd32(ml + 24), "d/two");
	cr_expect(!memcmp(ram + 0x103000, m1, sizeof(m1)));
	cr_expect_eq(ram[0x104000], 9);
	cr_expect_eq(out.info, 0x106000, "the information after the last module's page");

	/* The memory map: 20-byte entries with their size field first. */
	uint32_t len = rd32(mbi + 44);
	uint8_t *e = ram + rd32(mbi + 48);
	cr_assert_eq(len, 4 * 24);
	uint64_t usable = 0;
	for (uint8_t *q = e; q < e + len; q += 4 + rd32(q)) {
		cr_expect_eq(rd32(q), 20);
		if (rd32(q + 20) == 1)
			usable += rd64(q + 12);
	}
	cr_expect_eq(usable, 0x9FC00 + RAM - 0x100000);
	cr_expect_eq(rd64(e + 24 * 3 + 4), 0x100000);

	/* The GDT: flat 32-bit code at 0x08, data at 0x10. */
	cr_expect_eq(out.gdt_limit, 23);
	cr_expect_eq(rd64(ram + out.gdt), 0);
	cr_expect_eq(rd64(ram + out.gdt + MB_GDT_SEL_CODE), 0x00CF9B000000FFFFULL);
	cr_expect_eq(rd64(ram + out.gdt + MB_GDT_SEL_DATA), 0x00CF93000000FFFFULL);
	cr_expect(out.end > out.gdt + 24 && out.end <= out.info + 4096);
}

Test(multiboot, no_cmdline_gives_the_image_name)
{
	elf32(0x100000);
	cr_assert_eq(load("", NULL, 0), 0, "%s", err);
	uint8_t *mbi = ram + out.info;
	cr_expect_str_eq((char *)ram + rd32(mbi + 16), "kernel.elf");
	cr_expect_eq(rd32(mbi) & MB_INFO_MODS, 0);
	cr_expect_eq(out.info, 0x103000);
}

Test(multiboot, higher_half_entry_is_translated)
{
	elf32(0xC0100000u);
	cr_assert_eq(load("", NULL, 0), 0, "%s", err);
	cr_expect_eq(out.entry, 0x100010, "virtual entry to physical, as GRUB does");
	put32(img + 24, 0xD0000000u);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the entry point 0xd0000000 lies outside everything the kernel loads");
}

Test(multiboot, elf64_kernel)
{
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 2;
	img[5] = 1;
	put16(img + 16, 2);
	put16(img + 18, 62);
	put64(img + 24, 0x200000);
	put64(img + 32, 64);
	put16(img + 54, 56);
	put16(img + 56, 1);
	uint8_t *ph = img + 64;
	put32(ph, 1);
	put64(ph + 8, 0x1000);
	put64(ph + 16, 0x200000);
	put64(ph + 24, 0x200000);
	put64(ph + 32, 0x100);
	put64(ph + 40, 0x100);
	header(0x1000 + 64, 0);
	cr_assert_eq(load("", NULL, 0), 0, "%s", err);
	cr_expect_eq(out.entry, 0x200000);
	put16(img + 18, 3);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "ELF type 2 machine 3: expected an executable for x86-64");
}

Test(multiboot, aout_kludge)
{
	/* A flat binary loaded at 0x100000 whose header sits at file offset 0x20. */
	header(0x20, MB_HF_AOUT_KLUDGE | MB_HF_MEMORY);
	put32(img + 0x2C, 0x100020); /* header_addr */
	put32(img + 0x30, 0x100000); /* load_addr */
	put32(img + 0x34, 0x100800); /* load_end_addr */
	put32(img + 0x38, 0x102000); /* bss_end_addr */
	put32(img + 0x3C, 0x100040); /* entry_addr */
	img[0x7FF] = 0x5A;
	img[0x800] = 0x77;
	memset(ram + 0x101000, 0xEE, 16);
	cr_assert_eq(load("", NULL, 0), 0, "%s", err);
	cr_expect_eq(out.entry, 0x100040);
	cr_expect_eq(ram[0x1007FF], 0x5A);
	cr_expect_eq(ram[0x100800], 0, "load_end_addr stops the file");
	cr_expect_eq(ram[0x101000], 0, "bss zeroed");
	cr_expect_eq(out.highest, 0x102000);

	put32(img + 0x38, 0x100400);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "Multiboot bss_end_addr 0x100400 is below the end of the loaded "
			      "file (0x100800)");
	put32(img + 0x38, 0);
	put32(img + 0x2C, 0x100100); /* the file would start before byte 0 */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	put32(img + 0x2C, 0x100020);
	put32(img + 0x34, 0x200000);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL, "more than the file holds");
	put32(img + 0x34, 0);
	cr_assert_eq(load("", NULL, 0), 0, "0: to the end of the file: %s", err);
	cr_expect_eq(out.highest, 0x100000 + sizeof(img));
}

Test(multiboot, refusals)
{
	elf32(0x100000);
	cr_expect_eq(mb_load(img, sizeof(img), NULL, RAM, "k", "", NULL, 0, &out, err,
			     sizeof(err)), 0, "a dry run checks without RAM");

	header(0x1004, MB_HF_MEMORY | (1u << 5));
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the Multiboot header requires features 0x20 (flag bits 3-15) "
			      "that no Multiboot loader knows");

	elf32(0x100000);
	put32(img + 52 + 12, 0x9F000); /* paddr in the hole */
	put32(img + 24, 0x9F010);
	put32(img + 52 + 8, 0x9F000);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the kernel's bytes at [0x9f000, 0xa2000) fall into the PC's hole "
			      "at 640 KiB - 1 MiB, which is not RAM");

	elf32(0x100000);
	put32(img + 52 + 12, RAM - 0x1000);
	put32(img + 52 + 8, RAM - 0x1000);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the kernel's bytes at [0x1fff000, 0x2002000) do not fit the "
			      "partition's 32 MiB of RAM below 4 GiB");

	elf32(0x100000);
	put32(img + 52 + 16, 0x4000); /* filesz > memsz */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	elf32(0x100000);
	put32(img + 52 + 4, 0xFFFFFF00u); /* offset past the image */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	elf32(0x100000);
	put16(img + 44, 600); /* program headers past the image */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	elf32(0x100000);
	put32(img + 52, 4); /* no PT_LOAD */
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "the ELF image has no loadable segment");
	elf32(0x100000);
	memcpy(img, "MZ", 2);
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "a Multiboot kernel without the address fields (flag 16) must be "
			      "an ELF executable, and this is not one");

	elf32(0x100000);
	static uint8_t big[1];
	struct mb_module m = { big, RAM, "huge" };
	cr_expect_eq(load("", &m, 1), MICA_EINVAL);
	cr_expect_str_eq(err, "module 'huge' (33554432 bytes) does not fit after the kernel in "
			      "the partition's RAM below 4 GiB");
	memset(img, 0, sizeof(img));
	cr_expect_eq(load("", NULL, 0), MICA_EINVAL);
	cr_expect_str_eq(err, "no Multiboot header (magic 0x1badb002 with a valid checksum) in "
			      "the image's first 8192 bytes");
}

/* Found by fuzz_multiboot: a kernel that ends at or below 640 KiB had its modules and the
 * information structure placed right after it, in the PC's hole at 640 KiB - 1 MiB, which
 * is not RAM (the memory map says so). They go to 1 MiB and up instead. */
Test(multiboot, modules_and_information_skip_the_hole)
{
	static const char mod[] = "module";
	const struct mb_module m = { mod, sizeof(mod), "m" };
	header(0x20, MB_HF_AOUT_KLUDGE | MB_HF_MEMORY);
	put32(img + 0x2C, 0x10020); /* header_addr: the file loads at 0x10000 */
	put32(img + 0x30, 0x10000);
	put32(img + 0x34, 0);
	put32(img + 0x38, 0xA0000); /* bss up to 640 KiB exactly */
	put32(img + 0x3C, 0x10040);
	cr_assert_eq(load("", &m, 1), 0, "%s", err);
	cr_expect_eq(out.highest, 0xA0000);
	uint32_t mods = rd32(ram + out.info + 24);
	cr_expect_geq(rd32(ram + mods), 0x100000, "module at 0x%x", rd32(ram + mods));
	cr_expect_geq(out.info, 0x100000, "information at 0x%x", out.info);
	cr_expect_eq(memcmp(ram + rd32(ram + mods), mod, sizeof(mod)), 0);
}

/* RAM zeroed on first touch (kernel/ram.h): every byte the loader writes lies in a range
 * it announced first; the pieces above the information are left alone. */
Test(multiboot, writes_only_what_it_announces)
{
	static const uint8_t m1[100] = { 5 };
	struct mb_module mods[1] = { { m1, sizeof(m1), "one.bin" } };

	elf32(0x100000);
	guest_ram_watch(ram, RAM);
	cr_assert_eq(load("console=ttyS0", mods, 1), 0, "%s", err);
	uint64_t a = guest_ram_unannounced();
	cr_expect_eq(a, UINT64_MAX, "wrote at 0x%lx without announcing it", (unsigned long)a);
	cr_expect_eq(ram[0x103000], 5, "the module is there");
	cr_expect_str_eq((char *)ram + rd32(ram + out.info + 64), "Mica");
	cr_expect(!guest_ram_announced(8ULL << 20, RAM - (8ULL << 20)), "nothing above 8 MiB");
}
