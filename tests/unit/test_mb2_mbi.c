/* boot/mb2/mbi.c and rsdp.c: Multiboot2 boot information built by hand, damaged one field
 * at a time (the parser must name the problem), and random damage that must never crash. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "boot/mb2/mb2.h"

static _Alignas(8) uint8_t mbi[4096];
static uint32_t len;
static struct mb2_info info;
static char err[200];

static void put32(uint32_t off, uint32_t v) { memcpy(mbi + off, &v, 4); }
static void put64(uint32_t off, uint64_t v) { memcpy(mbi + off, &v, 8); }

static uint32_t tag(uint32_t type, uint32_t size)
{
	uint32_t at = len;

	put32(at, type);
	put32(at + 4, size);
	len += (size + 7) & ~7u;
	return at;
}

static void finish(void)
{
	tag(MB2_TAG_END, 8);
	put32(0, len);
}

static uint32_t module(uint32_t start, uint32_t end, const char *name)
{
	uint32_t at = tag(MB2_TAG_MODULE, 16 + strlen(name) + 1);

	put32(at + 8, start);
	put32(at + 12, end);
	strcpy((char *)mbi + at + 16, name);
	return at;
}

static void rsdp_v2(uint8_t *r)
{
	uint8_t s = 0;
	uint32_t l = 36;

	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "MICA  ", 6);
	r[15] = 2;
	memcpy(r + 20, &l, 4);
	for (int i = 0; i < 20; i++)
		s += r[i];
	r[8] = (uint8_t)-s;
	s = 0;
	for (int i = 0; i < 36; i++)
		s += r[i];
	r[32] = (uint8_t)-s;
}

/* cmdline, two modules, a 3-entry map, both ACPI tags, a 32-bit BGRX framebuffer. */
static void build_good(void)
{
	uint32_t at;

	memset(mbi, 0, sizeof(mbi));
	len = 8;
	at = tag(MB2_TAG_CMDLINE, 8 + 6);
	strcpy((char *)mbi + at + 8, "quiet");
	module(0x200000, 0x201234, "core.elf");
	module(0x300000, 0x300100, "mica.cfg");
	at = tag(MB2_TAG_MMAP, 16 + 3 * 24);
	put32(at + 8, 24);
	put64(at + 16, 0);          put64(at + 24, 0x9fc00);    put32(at + 32, 1);
	put64(at + 40, 0x100000);   put64(at + 48, 0x3ff00000); put32(at + 56, 1);
	put64(at + 64, 0xfffc0000); put64(at + 72, 0x40000);    put32(at + 80, 2);
	at = tag(MB2_TAG_ACPI_OLD, 8 + 20);
	rsdp_v2(mbi + at + 8); /* a 1.0-sized copy of a 2.0 RSDP */
	at = tag(MB2_TAG_ACPI_NEW, 8 + 36);
	rsdp_v2(mbi + at + 8);
	at = tag(MB2_TAG_FRAMEBUFFER, 38);
	put64(at + 8, 0xfd000000);
	put32(at + 16, 1024 * 4);
	put32(at + 20, 1024);
	put32(at + 24, 768);
	mbi[at + 28] = 32;
	mbi[at + 29] = 1;
	memcpy(mbi + at + 32, (uint8_t[]){ 16, 8, 8, 8, 0, 8 }, 6);
	tag(42, 13); /* a tag Mica does not know, with padding */
	finish();
}

static int parse(void)
{
	return mbi_parse(mbi, 0x10000, &info, err, sizeof(err));
}

Test(mb2_mbi, good_mbi)
{
	build_good();
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_str_eq(info.cmdline, "quiet");
	cr_assert_eq(info.nmodules, 2);
	cr_expect_str_eq(info.modules[0].string, "core.elf");
	cr_expect_eq(info.modules[0].start, 0x200000);
	cr_expect_eq(info.modules[0].end, 0x201234);
	cr_expect_str_eq(info.modules[1].string, "mica.cfg");
	cr_assert_eq(info.mmap_count, 3);
	struct boot_mem e = mbi_mmap_entry(&info, 1);
	cr_expect_eq(e.base, 0x100000);
	cr_expect_eq(e.size, 0x3ff00000);
	cr_expect_eq(e.type, BOOT_MEM_USABLE);
	cr_expect_eq(mbi_mmap_entry(&info, 2).type, BOOT_MEM_RESERVED);
	cr_expect_eq(info.rsdp_len, 36, "the ACPI 2.0 copy wins");
	cr_expect_eq(rsdp_check(info.rsdp, info.rsdp_len), 36);
	cr_expect_eq(info.fb.format, 2);
	cr_expect_eq(info.fb.base, 0xfd000000);
	cr_expect_eq(info.fb.pitch, 1024);
	cr_expect_eq(info.fb.height, 768);
}

Test(mb2_mbi, map_types_translate)
{
	build_good();
	uint32_t at = 8 + 16 + 32 + 32; /* after cmdline (16), two modules (32 each) */
	put32(at + 32, 3);
	put32(at + 56, 4);
	put32(at + 80, 5);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(mbi_mmap_entry(&info, 0).type, BOOT_MEM_ACPI);
	cr_expect_eq(mbi_mmap_entry(&info, 1).type, BOOT_MEM_ACPI_NVS);
	cr_expect_eq(mbi_mmap_entry(&info, 2).type, BOOT_MEM_RESERVED, "bad RAM is reserved");
}

static void expect_error(const char *what)
{
	cr_assert_neq(parse(), 0, "accepted a broken MBI (%s)", what);
	cr_expect(strstr(err, what) != NULL, "message '%s' does not mention '%s'", err, what);
}

Test(mb2_mbi, misaligned_address)
{
	build_good();
	cr_assert_neq(mbi_parse(mbi, 0x10004, &info, err, sizeof(err)), 0);
	cr_expect(strstr(err, "8-byte aligned"), "%s", err);
}

Test(mb2_mbi, bad_total_size)
{
	build_good();
	put32(0, 12);
	expect_error("bytes long");
	put32(0, 1u << 30);
	expect_error("bytes long");
}

Test(mb2_mbi, no_end_tag)
{
	build_good();
	put32(0, len - 8); /* cut the end tag off */
	expect_error("no end tag");
}

Test(mb2_mbi, tag_past_the_end)
{
	build_good();
	put32(8 + 4, 4000); /* the command line tag claims 4000 bytes */
	expect_error("has size 4000");
}

Test(mb2_mbi, tag_smaller_than_its_header)
{
	build_good();
	put32(8 + 4, 4);
	expect_error("has size 4");
}

Test(mb2_mbi, end_tag_with_a_size)
{
	build_good();
	put32(len - 8 + 4, 16);
	put32(0, len + 8);
	expect_error("end tag");
}

Test(mb2_mbi, unterminated_strings)
{
	build_good();
	memset(mbi + 8 + 8, 'a', 8); /* "quiet" and its NUL overwritten: no NUL in the tag */
	expect_error("NUL-terminated");
	build_good();
	put32(24 + 4, 16 + 4); /* module 0 string cut to 4 bytes, no NUL */
	expect_error("not NUL-terminated");
}

Test(mb2_mbi, module_end_below_start)
{
	build_good();
	put32(24 + 12, 0x100);
	expect_error("end below start");
}

Test(mb2_mbi, mmap_entry_size)
{
	uint32_t at = 8 + 16 + 32 + 32;

	build_good();
	put32(at + 8, 20);
	expect_error("entries of 20 bytes");
	build_good();
	put32(at + 8, 32); /* 72 bytes of entries do not divide into 32 */
	expect_error("entries of 32 bytes");
}

Test(mb2_mbi, acpi_tag_too_short)
{
	build_good();
	len = 8;
	tag(MB2_TAG_ACPI_NEW, 8 + 20);
	finish();
	expect_error("ACPI 2.0 RSDP tag");
}

Test(mb2_mbi, too_many_modules)
{
	memset(mbi, 0, sizeof(mbi));
	len = 8;
	for (int i = 0; i < MB2_MAX_MODULES + 1; i++)
		module(0x100000, 0x100000, "m");
	finish();
	expect_error("more than 64 modules");
}

Test(mb2_mbi, random_damage_never_crashes)
{
	srand(1234);
	for (int round = 0; round < 20000; round++) {
		build_good();
		for (int k = 0; k < 1 + rand() % 4; k++)
			mbi[rand() % len] = (uint8_t)rand();
		if (parse() == 0) {
			cr_assert(info.nmodules <= MB2_MAX_MODULES);
			for (unsigned i = 0; i < info.mmap_count; i++)
				(void)mbi_mmap_entry(&info, i);
			if (info.rsdp)
				(void)rsdp_check(info.rsdp, info.rsdp_len);
		} else {
			cr_assert(strlen(err) > 10);
		}
	}
}

/* --- RSDP ------------------------------------------------------------------------------ */

Test(mb2_rsdp, check_and_scan)
{
	static uint8_t area[0x20000];
	uint8_t *r = area + 0x1230;

	memset(area, 0, sizeof(area));
	cr_expect_eq(rsdp_scan(area, sizeof(area)), -1);
	rsdp_v2(area + 0x1228); /* not on a 16-byte boundary: never found there */
	cr_expect_eq(rsdp_scan(area, sizeof(area)), -1);
	rsdp_v2(r);
	cr_expect_eq(rsdp_check(r, 36), 36);
	cr_expect_eq(rsdp_check(r, 20), 20, "a 1.0-sized copy");
	cr_expect_eq(rsdp_check(r, 19), 0);
	cr_expect_eq(rsdp_scan(area, sizeof(area)), 0x1230);
	r[33]++; /* extended checksum broken */
	cr_expect_eq(rsdp_check(r, 36), 0);
	r[33]--;
	r[20] = 200; /* length beyond what is there */
	cr_expect_eq(rsdp_check(r, 36), 0);
	rsdp_v2(r);
	r[8]++; /* 1.0 checksum broken */
	cr_expect_eq(rsdp_check(r, 36), 0);
	rsdp_v2(r);
	cr_expect_eq(rsdp_scan(r, 20), 0, "fits exactly at the end of the area");
}
