/* Mica's durable snapshot image (docs/snapshots.md, "The durable format"): how a snapshot
 * is laid out when it leaves RAM for a disk, and the checks that come before anything in
 * one is believed. Pure: no allocation, no I/O. The image is read and written as a stream
 * (a header, then sections, each a small header and its data, then an end mark), so the
 * writer and the reader never need the whole image in memory: a RAM section is one 2 MiB
 * piece at most.
 *
 * All numbers are little-endian. Every header carries its own CRC-32 (lib/crc32.h), every
 * section's data too, and the end mark the CRC of all the section CRCs in order: a flipped
 * bit, a section cut short, sections swapped, dropped or repeated, and an image cut after
 * any section are each refused with a sentence that says what was found. */
#ifndef MICA_LIB_SNAPIMG_H
#define MICA_LIB_SNAPIMG_H

#include <stddef.h>
#include <stdint.h>

#define SNAPIMG_MAGIC         "MICASNAP"
#define SNAPIMG_VERSION       1u     /* the layout below; a reader refuses any other */
#define SNAPIMG_HEADER_SIZE   256u
#define SNAPIMG_SECTION_SIZE  24u
#define SNAPIMG_PIECE         (2ull << 20) /* a RAM section's span */
#define SNAPIMG_NAME_MAX      32u
#define SNAPIMG_VCPUS_MAX     64u

#define SNAPIMG_VENDOR_AMD    1u     /* AMD SVM */
#define SNAPIMG_VENDOR_INTEL  2u     /* Intel VT-x */

/* Section types, in the order an image holds them (indexes ascend within a type). */
enum snapimg_type {
	SNAPIMG_VCPU = 1,    /* index: the vCPU; data: its saved state */
	SNAPIMG_DEVICES = 2, /* index 0; data: the partition's device models */
	SNAPIMG_VIRTIO = 3,  /* index: the PCI slot; data: the driver's side of the device */
	SNAPIMG_DISK = 4,    /* index: the 2 MiB chunk of its scratch disk (disk = FILE) */
	SNAPIMG_RAM = 5,     /* index: the 2 MiB piece; a piece not in the image is zero */
	SNAPIMG_END = 0xffffffffu,
};

/* What the image was taken on, and of what. */
struct snapimg_info {
	uint32_t vendor;          /* SNAPIMG_VENDOR_* */
	uint32_t cpuid1_ecx, cpuid1_edx, cpuid7_ebx, cpuid7_ecx; /* the features guests saw */
	uint64_t xcr0;            /* the XSAVE components in the saved FPU state */
	uint64_t layout;          /* the saving Mica's state layout (its sizes and version) */
	uint64_t ram_size;        /* the partition's RAM */
	uint64_t disk_size;       /* its scratch disk, 0: none */
	uint64_t taken;           /* seconds since 1970 */
	uint64_t image_size;      /* every byte, header to end mark */
	uint32_t nvcpus;
	char name[SNAPIMG_NAME_MAX], tag[SNAPIMG_NAME_MAX]; /* NUL-terminated */
};

struct snapimg_section {
	uint32_t type, index;
	uint64_t size;            /* data bytes (the data is padded to 8 bytes) */
	uint32_t crc;             /* of the data */
};

/* The bytes of a section's data with its padding. */
static inline uint64_t snapimg_padded(uint64_t size)
{
	return (size + 7) & ~7ull;
}

/* --- writing -------------------------------------------------------------------------- */

/* The header for info (image_size included: a writer knows its sections' sizes first). */
void snapimg_put_header(uint8_t out[SNAPIMG_HEADER_SIZE], const struct snapimg_info *info);

/* A section's header; *chain (start at 0) takes its CRC for the end mark. */
void snapimg_put_section(uint8_t out[SNAPIMG_SECTION_SIZE], uint32_t type, uint32_t index,
			 const void *data, uint64_t size, uint32_t *chain);

/* The end mark: a section of type SNAPIMG_END, no data, the chain as its CRC. */
void snapimg_put_end(uint8_t out[SNAPIMG_SECTION_SIZE], uint32_t chain);

/* The bytes an image of these sections takes: header, sections padded, end mark. */
uint64_t snapimg_size(unsigned nsections, uint64_t data_bytes_padded);

/* --- reading -------------------------------------------------------------------------- */

/* A reader's progress through one image. */
struct snapimg_reader {
	struct snapimg_info info;
	uint64_t offset;          /* bytes taken so far */
	uint32_t last_type, last_index, chain;
	unsigned vcpus, devices, ended;
	struct snapimg_section pending; /* the section whose data comes next */
	int want_data;
};

/* Reads the header (the image's first SNAPIMG_HEADER_SIZE bytes): 0 with r ready, or -1
 * with a sentence (not an image, another version, damaged, impossible sizes). */
int snapimg_read_header(struct snapimg_reader *r, const uint8_t in[SNAPIMG_HEADER_SIZE],
			char *err, size_t errlen);

/* Reads the next section header: 0 with *s (then its data goes to snapimg_read_data, or,
 * for the end mark, snapimg_finish), or -1 with a sentence (damaged, out of order,
 * repeated, an index or size the header does not allow, past the image's end). */
int snapimg_read_section(struct snapimg_reader *r, const uint8_t in[SNAPIMG_SECTION_SIZE],
			 struct snapimg_section *s, char *err, size_t errlen);

/* Checks the data of the section just read: snapimg_padded(size) bytes, the padding
 * included (it must be zero). */
int snapimg_read_data(struct snapimg_reader *r, const void *data, char *err, size_t errlen);

/* After the end mark: 0 when the image is whole (every vCPU, the devices, the CRC chain,
 * the size the header gave), or -1 with a sentence. */
int snapimg_finish(struct snapimg_reader *r, char *err, size_t errlen);

/* Can this host restore it? 0, or -1 with a sentence naming what differs: the vendor, the
 * CPU features the guests saw that this CPU lacks, the XSAVE components, Mica's layout. */
int snapimg_fits(const struct snapimg_info *image, const struct snapimg_info *host,
		 char *err, size_t errlen);

#endif
