/* GUID partition tables (UEFI 2.10, 5.3): reading and checking both copies, and finding a
 * partition by its name. Pure logic: the disk is read through a callback. */
#ifndef MICA_VMM_GPT_H
#define MICA_VMM_GPT_H

#include <stddef.h>
#include <stdint.h>

#define GPT_NAME_MAX    36u   /* UTF-16 code units in an entry's name */
#define GPT_ENTRIES_MAX 128u  /* entries Mica reads: what every tool writes */
#define GPT_ARRAY_MAX   (GPT_ENTRIES_MAX * 128u) /* bytes of entry array read */

struct gpt_io {
	/* Reads count blocks from lba into buf (count * block bytes). 0, or -1 on error. */
	int (*read)(void *ctx, uint64_t lba, uint32_t count, void *buf);
	void *ctx;
	uint32_t block;      /* logical block size: 512 or 4096 */
	uint64_t blocks;     /* the disk's size in blocks */
	uint8_t *scratch;    /* GPT_ARRAY_MAX + 2 * block bytes to work in */
};

struct gpt_part {
	unsigned number;     /* 1-based, as sgdisk and Linux number them */
	uint64_t first, last; /* LBAs, inclusive */
	char name[GPT_NAME_MAX + 1]; /* printable ASCII; any other character reads as '?' */
};

struct gpt {
	unsigned nparts;     /* used entries (non-zero type GUID) */
	struct gpt_part part[GPT_ENTRIES_MAX];
};

/* Reads the primary header (LBA 1), the backup header (the last LBA) and each one's entry
 * array, and checks everything a tool checks: signatures, revisions, header sizes, both
 * CRC32s, where each header says it and the other are, that both describe the same
 * entries, and that every partition lies inside the usable area with first <= last. 0 with
 * *t filled, or -1 with a sentence in err (what is damaged, and where). */
int gpt_read(const struct gpt_io *io, struct gpt *t, char *err, size_t errlen);

/* The partition named name: 0 with *out, or -1 with a sentence in err (no partition of that
 * name; or two of them). */
int gpt_find(const struct gpt *t, const char *name, struct gpt_part *out, char *err,
	     size_t errlen);

/* CRC-32 (IEEE 802.3, reflected, as GPT uses it) of len bytes. */
uint32_t gpt_crc32(const void *buf, size_t len);

#endif
