/* vmm/gpt.c: any disk of 8 blocks of 512 bytes (the input, zero padded). Random bytes
 * rarely pass a CRC, so when the input's first byte is odd the harness first seals what
 * the input says: each header's entry array CRC and header CRC are recomputed (as a tool
 * would), and the checks behind the CRCs get exercised. A table that reads must describe
 * partitions inside the disk and inside the usable area, with first <= last and names
 * that are NUL-terminated printable ASCII; gpt_find answers a partition of the table or a sentence. */
#include "tests/fuzz/fuzz.h"
#include "lib/bytes.h"
#include "vmm/gpt.h"

#define BS     512u
#define BLOCKS 8u  /* 4 KiB: libFuzzer's default longest input covers it all */

static uint8_t disk[BLOCKS * BS];
static uint8_t scratch[GPT_ARRAY_MAX + 2 * 4096];
static struct gpt t;

static int rd(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	FUZZ_CHECK(lba < BLOCKS && count <= BLOCKS - lba, "read of %u blocks at LBA %llu past "
		   "the disk", count, (unsigned long long)lba);
	memcpy(buf, disk + lba * BS, (size_t)count * BS);
	return 0;
}

static void seal(uint64_t lba)
{
	if (lba >= BLOCKS)
		return;
	uint8_t *h = disk + lba * BS;
	uint32_t size = rd32(h + 12);
	uint64_t at = rd64(h + 72);
	uint64_t bytes = (uint64_t)rd32(h + 80) * rd32(h + 84);
	if (at < BLOCKS && bytes <= (BLOCKS - at) * BS)
		put32(h + 88, gpt_crc32(disk + at * BS, bytes));
	if (size >= 92 && size <= BS) {
		put32(h + 16, 0);
		put32(h + 16, gpt_crc32(h, size));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[200];
	struct gpt_part p;
	const struct gpt_io io = { rd, NULL, BS, BLOCKS, scratch };

	memset(disk, 0, sizeof(disk));
	memcpy(disk, data, size < sizeof(disk) ? size : sizeof(disk));
	if (size && (data[0] & 1)) {
		uint64_t alt = rd64(disk + BS + 32);
		memcpy(disk + BS, "EFI PART", 8);
		if (alt < BLOCKS)
			memcpy(disk + alt * BS, "EFI PART", 8);
		seal(alt);
		seal(1);
	}
	memset(err, 0, sizeof(err));
	if (gpt_read(&io, &t, err, sizeof(err))) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(t.nparts <= GPT_ENTRIES_MAX, "%u partitions", t.nparts);
	for (unsigned i = 0; i < t.nparts; i++) {
		const struct gpt_part *q = &t.part[i];
		FUZZ_CHECK(q->first <= q->last && q->last < BLOCKS && q->first >= 2,
			   "partition %u: LBA %llu to %llu on a disk of %u blocks", q->number,
			   (unsigned long long)q->first, (unsigned long long)q->last, BLOCKS);
		size_t n = strnlen(q->name, sizeof(q->name));
		FUZZ_CHECK(n < sizeof(q->name), "name not terminated");
		for (size_t k = 0; k < n; k++)
			FUZZ_CHECK(q->name[k] >= 0x20 && q->name[k] < 0x7F, "name byte 0x%02x",
				   (unsigned char)q->name[k]);
	}
	const char *name = t.nparts ? t.part[data[size - 1] % t.nparts].name : "x";
	memset(err, 0, sizeof(err));
	if (gpt_find(&t, name, &p, err, sizeof(err)) == 0)
		FUZZ_CHECK(!strcmp(p.name, name) && p.first <= p.last, "found the wrong one");
	else
		fuzz_check_msg(err, sizeof(err));
	return 0;
}
