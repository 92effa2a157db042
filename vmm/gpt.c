/* GUID partition tables (vmm/gpt.h). Both headers and both entry arrays are checked before
 * anything is served from the disk: a table that a tool would call damaged is refused, so a
 * guest never gets a range that somebody's half-written table made up. */
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/crc32.h"
#include "lib/errmsg.h"
#include "vmm/gpt.h"

typedef unsigned long long ull;

#define HDR_MIN      92u         /* the header's defined fields */
#define REVISION_1_0 0x00010000u
#define ENTRY_MIN    128u

/* The header fields Mica uses (UEFI 2.10, table 5.5). */
struct hdr {
	uint64_t my, alternate, first_usable, last_usable, entries_lba;
	uint32_t nentries, entry_size, entries_crc;
	uint8_t disk_guid[16];
};

uint32_t gpt_crc32(const void *buf, size_t len)
{
	return crc32_of(buf, len);
}

/* Reads and checks the header at lba: 0 with *h, or -1 with the sentence. which: "primary"
 * or "backup", for the sentence. */
static int read_header(const struct gpt_io *io, uint64_t lba, const char *which,
		       struct hdr *h, char *err, size_t errlen)
{
	uint8_t *b = io->scratch;

	if (lba >= io->blocks)
		return errmsg(-1, err, errlen, "the %s GPT header would be at LBA %llu, past the "
			      "disk's end (%llu blocks)", which, (ull)lba, (ull)io->blocks);
	if (io->read(io->ctx, lba, 1, b))
		return errmsg(-1, err, errlen, "the %s GPT header (LBA %llu) cannot be read",
			      which, (ull)lba);
	if (memcmp(b, "EFI PART", 8))
		return errmsg(-1, err, errlen, "no %s GPT header at LBA %llu (no 'EFI PART' "
			      "signature): the disk has no GUID partition table", which, (ull)lba);
	uint32_t size = rd32(b + 12), crc = rd32(b + 16);
	if (size < HDR_MIN || size > io->block)
		return errmsg(-1, err, errlen, "the %s GPT header's size is %u bytes; expected "
			      "%u to %u", which, size, HDR_MIN, io->block);
	put32(b + 16, 0);
	uint32_t want = gpt_crc32(b, size);
	put32(b + 16, crc);
	if (crc != want)
		return errmsg(-1, err, errlen, "the %s GPT header (LBA %llu) is damaged: its "
			      "CRC32 is 0x%08x, its contents give 0x%08x", which, (ull)lba, crc,
			      want);
	if (rd32(b + 8) >> 16 != REVISION_1_0 >> 16)
		return errmsg(-1, err, errlen, "the %s GPT header has revision 0x%08x; Mica "
			      "reads revision 1.x", which, rd32(b + 8));
	h->my = rd64(b + 24);
	h->alternate = rd64(b + 32);
	h->first_usable = rd64(b + 40);
	h->last_usable = rd64(b + 48);
	memcpy(h->disk_guid, b + 56, 16);
	h->entries_lba = rd64(b + 72);
	h->nentries = rd32(b + 80);
	h->entry_size = rd32(b + 84);
	h->entries_crc = rd32(b + 88);
	if (h->my != lba)
		return errmsg(-1, err, errlen, "the %s GPT header at LBA %llu says it is at LBA "
			      "%llu", which, (ull)lba, (ull)h->my);
	if (h->entry_size < ENTRY_MIN || h->entry_size % ENTRY_MIN ||
	    (h->entry_size & (h->entry_size - 1)))
		return errmsg(-1, err, errlen, "the %s GPT header gives entries of %u bytes; "
			      "expected 128 times a power of two", which, h->entry_size);
	if ((uint64_t)h->nentries * h->entry_size > GPT_ARRAY_MAX)
		return errmsg(-1, err, errlen, "the %s GPT has %u entries of %u bytes; Mica reads "
			      "tables of at most %u bytes (%u entries of 128 bytes)", which,
			      h->nentries, h->entry_size, GPT_ARRAY_MAX, GPT_ENTRIES_MAX);
	if (h->first_usable > h->last_usable || h->last_usable >= io->blocks)
		return errmsg(-1, err, errlen, "the %s GPT header's usable area (LBA %llu to "
			      "%llu) does not fit the disk (%llu blocks)", which,
			      (ull)h->first_usable, (ull)h->last_usable, (ull)io->blocks);
	return 0;
}

/* Reads h's entry array into scratch + block and checks its CRC32: 0, or -1. */
static int read_array(const struct gpt_io *io, const struct hdr *h, const char *which,
		      char *err, size_t errlen)
{
	uint64_t bytes = (uint64_t)h->nentries * h->entry_size;
	uint32_t count = (uint32_t)((bytes + io->block - 1) / io->block);
	uint8_t *a = io->scratch + io->block;

	if (count == 0)
		return 0;
	if (h->entries_lba >= io->blocks || count > io->blocks - h->entries_lba)
		return errmsg(-1, err, errlen, "the %s GPT's entries (LBA %llu, %u blocks) lie "
			      "past the disk's end", which, (ull)h->entries_lba, count);
	if (io->read(io->ctx, h->entries_lba, count, a))
		return errmsg(-1, err, errlen, "the %s GPT's entries (LBA %llu) cannot be read",
			      which, (ull)h->entries_lba);
	uint32_t crc = gpt_crc32(a, bytes);
	if (crc != h->entries_crc)
		return errmsg(-1, err, errlen, "the %s GPT's partition entries are damaged: "
			      "their CRC32 is 0x%08x, the header says 0x%08x", which, crc,
			      h->entries_crc);
	return 0;
}

static int guid_zero(const uint8_t *g)
{
	for (int k = 0; k < 16; k++)
		if (g[k])
			return 0;
	return 1;
}

/* The used entries of the array just read into t. */
static int take_entries(const struct gpt_io *io, const struct hdr *h, struct gpt *t,
			char *err, size_t errlen)
{
	const uint8_t *a = io->scratch + io->block;

	t->nparts = 0;
	for (uint32_t i = 0; i < h->nentries; i++) {
		const uint8_t *e = a + (uint64_t)i * h->entry_size;
		if (guid_zero(e))
			continue; /* an unused entry */
		struct gpt_part *p = &t->part[t->nparts++];
		p->number = i + 1;
		p->first = rd64(e + 32);
		p->last = rd64(e + 40);
		if (p->first > p->last || p->first < h->first_usable || p->last > h->last_usable)
			return errmsg(-1, err, errlen, "GPT partition %u (LBA %llu to %llu) lies "
				      "outside the usable area (LBA %llu to %llu)", p->number,
				      (ull)p->first, (ull)p->last, (ull)h->first_usable,
				      (ull)h->last_usable);
		unsigned n = 0;
		for (; n < GPT_NAME_MAX; n++) {
			uint16_t ch = rd16(e + 56 + 2 * n);
			if (ch == 0)
				break;
			/* printable ASCII only: the name goes into log lines */
			p->name[n] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
		}
		p->name[n] = '\0';
	}
	return 0;
}

int gpt_read(const struct gpt_io *io, struct gpt *t, char *err, size_t errlen)
{
	struct hdr pri, bak;

	memset(t, 0, sizeof(*t));
	if (io->block != 512 && io->block != 4096)
		return errmsg(-1, err, errlen, "blocks of %u bytes; GPT is read on 512 or 4096",
			      io->block);
	if (io->blocks < 3)
		return errmsg(-1, err, errlen, "the disk has %llu blocks: too small for a GPT",
			      (ull)io->blocks);
	if (read_header(io, 1, "primary", &pri, err, errlen) ||
	    read_array(io, &pri, "primary", err, errlen) ||
	    take_entries(io, &pri, t, err, errlen))
		return -1;
	if (pri.alternate == 1 || read_header(io, pri.alternate, "backup", &bak, err, errlen))
		return pri.alternate == 1
			? errmsg(-1, err, errlen, "the primary GPT header names itself as its "
				 "backup")
			: -1;
	/* The usable area must leave both copies of the table alone: a partition over them
	 * would let its guest rewrite the table. */
	uint64_t array = ((uint64_t)pri.nentries * pri.entry_size + io->block - 1) / io->block;
	if (pri.entries_lba < 2 || pri.first_usable < pri.entries_lba + array ||
	    pri.last_usable >= bak.entries_lba || bak.entries_lba + array > bak.my)
		return errmsg(-1, err, errlen, "the GPT's usable area (LBA %llu to %llu) overlaps "
			      "the table itself (entries at LBA %llu and %llu, %llu blocks each)",
			      (ull)pri.first_usable, (ull)pri.last_usable, (ull)pri.entries_lba,
			      (ull)bak.entries_lba, (ull)array);
	if (bak.alternate != 1)
		return errmsg(-1, err, errlen, "the backup GPT header (LBA %llu) names LBA %llu "
			      "as the primary, not 1", (ull)bak.my, (ull)bak.alternate);
	if (bak.first_usable != pri.first_usable || bak.last_usable != pri.last_usable ||
	    bak.nentries != pri.nentries || bak.entry_size != pri.entry_size ||
	    bak.entries_crc != pri.entries_crc || memcmp(bak.disk_guid, pri.disk_guid, 16))
		return errmsg(-1, err, errlen, "the primary and backup GPT headers describe "
			      "different tables (one of them is stale or damaged)");
	return read_array(io, &bak, "backup", err, errlen);
}

int gpt_find(const struct gpt *t, const char *name, struct gpt_part *out, char *err,
	     size_t errlen)
{
	const struct gpt_part *found = NULL;

	for (unsigned i = 0; i < t->nparts; i++) {
		if (strcmp(t->part[i].name, name))
			continue;
		if (found)
			return errmsg(-1, err, errlen, "GPT partitions %u and %u are both named "
				      "'%s': a name must pick one partition (rename one with "
				      "sgdisk -c)", found->number, t->part[i].number, name);
		found = &t->part[i];
	}
	if (!found)
		return errmsg(-1, err, errlen, "no GPT partition is named '%s' (%u partitions; "
			      "name one with sgdisk -c N:%s)", name, t->nparts, name);
	*out = *found;
	return 0;
}
