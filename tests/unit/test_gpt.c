/* vmm/gpt.c: a table built here as sgdisk writes one (primary at LBA 1, entries at 2,
 * backup entries and header at the end), then every way it can be damaged or ambiguous;
 * and the NVMe PRP arithmetic (vmm/nvme_cmd.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/bytes.h"
#include "vmm/gpt.h"
#include "vmm/nvme.h"

#define BLOCKS 2048u /* 1 MiB of 512-byte blocks */

static uint8_t img[BLOCKS * 4096];
static uint8_t scratch[GPT_ARRAY_MAX + 2 * 4096];
static struct gpt t;
static char err[256];
static uint32_t bsz = 512;
static uint64_t nblocks = BLOCKS;
static unsigned reads_failing; /* LBA that cannot be read, or 0 */

static int rd(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	cr_assert(lba + count <= nblocks, "read past the disk: LBA %llu + %u",
		  (unsigned long long)lba, count);
	if (reads_failing && lba <= reads_failing && reads_failing < lba + count)
		return -1;
	memcpy(buf, img + lba * bsz, (size_t)count * bsz);
	return 0;
}

static const struct gpt_io io_512 = { rd, NULL, 512, BLOCKS, scratch };

static uint8_t *lba(uint64_t n) { return img + n * bsz; }

static void name(uint8_t *e, const char *s)
{
	for (unsigned k = 0; s[k]; k++)
		put16(e + 56 + 2 * k, (uint8_t)s[k]);
}

static void seal_header(uint64_t at)
{
	uint8_t *h = lba(at);
	put32(h + 16, 0);
	put32(h + 16, gpt_crc32(h, rd32(h + 12)));
}

/* Writes both headers and arrays around entries[] already placed at LBA 2. */
static void seal(void)
{
	uint64_t last = nblocks - 1, array_blocks = 128 * 128 / bsz;
	uint32_t acrc = gpt_crc32(lba(2), 128 * 128);
	memcpy(lba(last - array_blocks), lba(2), 128 * 128);
	for (int b = 0; b < 2; b++) {
		uint64_t at = b ? last : 1;
		uint8_t *h = lba(at);
		memset(h, 0, bsz);
		memcpy(h, "EFI PART", 8);
		put32(h + 8, 0x00010000);
		put32(h + 12, 92);
		put64(h + 24, at);
		put64(h + 32, b ? 1 : last);
		put64(h + 40, 2 + array_blocks);
		put64(h + 48, last - array_blocks - 1);
		memset(h + 56, 0x42, 16);
		put64(h + 72, b ? last - array_blocks : 2);
		put32(h + 80, 128);
		put32(h + 84, 128);
		put32(h + 88, acrc);
		seal_header(at);
	}
}

static void entry(unsigned i, uint64_t first, uint64_t last, const char *n)
{
	uint8_t *e = lba(2) + 128 * i;
	memset(e, 0, 128);
	memset(e, 0xAF, 16);     /* a type GUID: used */
	memset(e + 16, 0x10 + i, 16);
	put64(e + 32, first);
	put64(e + 40, last);
	name(e, n);
}

static void init(void)
{
	memset(img, 0, sizeof(img));
	bsz = 512;
	nblocks = BLOCKS;
	reads_failing = 0;
	entry(0, 34, 1033, "web-root");
	entry(3, 1034, 2014, "db");
	seal();
}

TestSuite(gpt, .init = init);

static int read_table(void)
{
	memset(err, 0, sizeof(err));
	struct gpt_io io = io_512;
	io.block = bsz;
	io.blocks = nblocks;
	return gpt_read(&io, &t, err, sizeof(err));
}

Test(gpt, crc32_known_value)
{
	cr_expect_eq(gpt_crc32("123456789", 9), 0xCBF43926u);
}

Test(gpt, reads_a_good_table)
{
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_assert_eq(t.nparts, 2);
	cr_expect_eq(t.part[0].number, 1);
	cr_expect_str_eq(t.part[0].name, "web-root");
	cr_expect_eq(t.part[0].first, 34);
	cr_expect_eq(t.part[0].last, 1033);
	cr_expect_eq(t.part[1].number, 4, "numbers are entry positions, unused ones skipped");
	cr_expect_str_eq(t.part[1].name, "db");

	struct gpt_part p;
	cr_assert_eq(gpt_find(&t, "db", &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(p.first, 1034);
	cr_expect_eq(p.last, 2014);
}

Test(gpt, four_k_blocks)
{
	bsz = 4096;
	nblocks = 256;
	memset(img, 0, sizeof(img));
	entry(0, 6, 100, "big");
	seal();
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_expect_str_eq(t.part[0].name, "big");
}

Test(gpt, missing_and_duplicate_names)
{
	struct gpt_part p;
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_expect_eq(gpt_find(&t, "web", &p, err, sizeof(err)), -1, "no prefix match");
	cr_expect_str_eq(err, "no GPT partition is named 'web' (2 partitions; name one with "
			 "sgdisk -c N:web)");
	entry(3, 1034, 2014, "web-root");
	seal();
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_expect_eq(gpt_find(&t, "web-root", &p, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "GPT partitions 1 and 4 are both named 'web-root': a name must "
			 "pick one partition (rename one with sgdisk -c)");
}

Test(gpt, unprintable_name_characters_never_match)
{
	uint8_t *e = lba(2);
	put16(e + 56 + 2, 0x00E9); /* "wé..." */
	seal();
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_expect_str_eq(t.part[0].name, "w?b-root");
	put16(lba(2) + 56 + 2, 0x001B); /* ESC: never into a log line */
	put16(lba(2) + 56 + 4, 0x000A);
	seal();
	cr_assert_eq(read_table(), 0, "%s", err);
	cr_expect_str_eq(t.part[0].name, "w??-root");
}

Test(gpt, no_table)
{
	memset(img, 0, sizeof(img));
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "no primary GPT header at LBA 1 (no 'EFI PART' signature): the "
			 "disk has no GUID partition table");
}

Test(gpt, damaged_primary_header)
{
	lba(1)[40] ^= 1; /* first usable LBA, CRC not updated */
	cr_expect_eq(read_table(), -1);
	cr_expect(strstr(err, "the primary GPT header (LBA 1) is damaged: its CRC32 is 0x"),
		  "%s", err);
}

Test(gpt, damaged_backup_header)
{
	lba(BLOCKS - 1)[0] = 'X';
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "no backup GPT header at LBA 2047 (no 'EFI PART' signature): the "
			 "disk has no GUID partition table");
}

Test(gpt, damaged_entries)
{
	lba(2)[60] ^= 0x20; /* a name character */
	cr_expect_eq(read_table(), -1);
	cr_expect(strstr(err, "the primary GPT's partition entries are damaged"), "%s", err);
	init();
	lba(BLOCKS - 1 - 32)[33] ^= 1; /* the backup array's first entry */
	cr_expect_eq(read_table(), -1);
	cr_expect(strstr(err, "the backup GPT's partition entries are damaged"), "%s", err);
}

Test(gpt, headers_that_disagree)
{
	put64(lba(BLOCKS - 1) + 48, 2000); /* another last usable LBA, resealed */
	seal_header(BLOCKS - 1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary and backup GPT headers describe different tables "
			 "(one of them is stale or damaged)");
}

Test(gpt, header_in_the_wrong_place)
{
	put64(lba(1) + 24, 7);
	seal_header(1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary GPT header at LBA 1 says it is at LBA 7");
}

Test(gpt, usable_area_over_the_table)
{
	for (int k = 0; k < 2; k++) {
		init();
		/* first usable inside the primary array; last usable inside the backup array */
		put64(lba(1) + 40, k ? 34 : 20);
		put64(lba(1) + 48, k ? 2030 : 2014);
		put64(lba(BLOCKS - 1) + 40, k ? 34 : 20);
		put64(lba(BLOCKS - 1) + 48, k ? 2030 : 2014);
		seal_header(1);
		seal_header(BLOCKS - 1);
		cr_expect_eq(read_table(), -1);
		cr_expect(strstr(err, "overlaps the table itself"), "%s", err);
	}
}

Test(gpt, backup_past_the_end)
{
	put64(lba(1) + 32, BLOCKS);
	seal_header(1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the backup GPT header would be at LBA 2048, past the disk's end "
			 "(2048 blocks)");
}

Test(gpt, partition_outside_the_usable_area)
{
	entry(1, 2000, 2046, "late"); /* past the last usable LBA (2014) */
	seal();
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "GPT partition 2 (LBA 2000 to 2046) lies outside the usable area "
			 "(LBA 34 to 2014)");
	init();
	entry(1, 900, 800, "backwards");
	seal();
	cr_expect_eq(read_table(), -1);
}

Test(gpt, oversized_and_odd_arrays)
{
	put32(lba(1) + 80, 100000); /* entries: a table bigger than Mica reads */
	seal_header(1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary GPT has 100000 entries of 128 bytes; Mica reads tables "
			 "of at most 16384 bytes (128 entries of 128 bytes)");
	init();
	put32(lba(1) + 84, 200);
	seal_header(1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary GPT header gives entries of 200 bytes; expected 128 "
			 "times a power of two");
	init();
	put32(lba(1) + 12, 600);
	seal_header(1);
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary GPT header's size is 600 bytes; expected 92 to 512");
}

Test(gpt, unreadable_blocks)
{
	reads_failing = 5;
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the primary GPT's entries (LBA 2) cannot be read");
}

Test(gpt, tiny_disk)
{
	nblocks = 2;
	cr_expect_eq(read_table(), -1);
	cr_expect_str_eq(err, "the disk has 2 blocks: too small for a GPT");
}

/* ---- PRP entries ---- */

Test(nvme_prp, one_two_and_many_pages)
{
	uint64_t list[512], p1, p2;
	cr_assert_eq(nvme_prp(0x10000, 4096, list, 0x9000, &p1, &p2), 0);
	cr_expect(p1 == 0x10000 && p2 == 0);
	cr_assert_eq(nvme_prp(0x10000, 8192, list, 0x9000, &p1, &p2), 0);
	cr_expect(p1 == 0x10000 && p2 == 0x11000, "two pages: PRP2 is the second page");
	cr_assert_eq(nvme_prp(0x10000, 3 * 4096, list, 0x9000, &p1, &p2), 0);
	cr_expect(p1 == 0x10000 && p2 == 0x9000, "more: PRP2 is the list");
	cr_expect(list[0] == 0x11000 && list[1] == 0x12000);
	/* an offset in the first page: the rest starts on the next page boundary */
	cr_assert_eq(nvme_prp(0x10200, 4096, list, 0x9000, &p1, &p2), 0);
	cr_expect(p1 == 0x10200 && p2 == 0x11000);
	cr_assert_eq(nvme_prp(0x10200, 512, list, 0x9000, &p1, &p2), 0);
	cr_expect(p2 == 0);
	/* 2 MiB from a page boundary: 1 + 511 list entries; one byte more needs a 513th */
	cr_assert_eq(nvme_prp(0x200000, 2u << 20, list, 0x9000, &p1, &p2), 0);
	cr_expect_eq(list[510], 0x200000 + 511 * 4096ull);
	cr_expect_eq(nvme_prp(0x200000, (2u << 20) + 4096 * 2, list, 0x9000, &p1, &p2), -1);
}

Test(nvme_prp, status_words)
{
	cr_expect_str_eq(nvme_status_str(0, 0x80), "LBA out of range");
	cr_expect_str_eq(nvme_status_str(2, 0x81), "media error: unrecovered read error");
	cr_expect_str_eq(nvme_status_str(7, 0x01), "vendor specific error");
}
