/* Mica's durable snapshot image (lib/snapimg.h). Header, 256 bytes:
 *   0 magic "MICASNAP"   8 version   12 header size   16 image size   24 vendor
 *  28 vCPUs   32 CPUID 1 ECX, EDX, 7 EBX, ECX   48 XCR0   56 layout   64 RAM size
 *  72 disk size   80 taken   88 name[32]   120 tag[32]   152..251 zero   252 CRC of 0..251
 * Section header, 24 bytes: 0 type  4 index  8 data size  16 CRC of the data  20 CRC of 0..19
 * The data follows, padded with zeros to 8 bytes; the end mark is a section of type
 * SNAPIMG_END with no data whose CRC field is the chain of every section's data CRC. */
#include <string.h>

#include "lib/bytes.h"
#include "lib/crc32.h"
#include "lib/errmsg.h"
#include "lib/snapimg.h"

#define H_VERSION   8
#define H_HSIZE     12
#define H_ISIZE     16
#define H_VENDOR    24
#define H_VCPUS     28
#define H_CPUID     32
#define H_XCR0      48
#define H_LAYOUT    56
#define H_RAM       64
#define H_DISK      72
#define H_TAKEN     80
#define H_NAME      88
#define H_TAG       120
#define H_RESERVED  152
#define H_CRC       252

#define S_TYPE      0
#define S_INDEX     4
#define S_SIZE      8
#define S_CRC       16
#define S_HCRC      20

#define RAM_MAX     (1ull << 40)  /* 1 TiB: more than any partition Mica builds */
#define STATE_MAX   (1ull << 20)  /* a vCPU's or the devices' saved state */
#define VIRTIO_MAX  (64ull << 10)
#define VIRTIO_SLOTS 32u

typedef unsigned long long ull;

static uint64_t pieces(uint64_t bytes)
{
	return (bytes + SNAPIMG_PIECE - 1) / SNAPIMG_PIECE;
}

static uint64_t piece_size(uint64_t total, uint64_t k)
{
	uint64_t off = k * SNAPIMG_PIECE;
	return total - off < SNAPIMG_PIECE ? total - off : SNAPIMG_PIECE;
}

static uint32_t chain_with(uint32_t chain, uint32_t crc)
{
	uint8_t b[4];
	put32(b, crc);
	return crc32_more(chain, b, 4);
}

void snapimg_put_header(uint8_t out[SNAPIMG_HEADER_SIZE], const struct snapimg_info *in)
{
	memset(out, 0, SNAPIMG_HEADER_SIZE);
	memcpy(out, SNAPIMG_MAGIC, 8);
	put32(out + H_VERSION, SNAPIMG_VERSION);
	put32(out + H_HSIZE, SNAPIMG_HEADER_SIZE);
	put64(out + H_ISIZE, in->image_size);
	put32(out + H_VENDOR, in->vendor);
	put32(out + H_VCPUS, in->nvcpus);
	put32(out + H_CPUID, in->cpuid1_ecx);
	put32(out + H_CPUID + 4, in->cpuid1_edx);
	put32(out + H_CPUID + 8, in->cpuid7_ebx);
	put32(out + H_CPUID + 12, in->cpuid7_ecx);
	put64(out + H_XCR0, in->xcr0);
	put64(out + H_LAYOUT, in->layout);
	put64(out + H_RAM, in->ram_size);
	put64(out + H_DISK, in->disk_size);
	put64(out + H_TAKEN, in->taken);
	memcpy(out + H_NAME, in->name, strnlen(in->name, SNAPIMG_NAME_MAX - 1));
	memcpy(out + H_TAG, in->tag, strnlen(in->tag, SNAPIMG_NAME_MAX - 1));
	put32(out + H_CRC, crc32_of(out, H_CRC));
}

static void put_section(uint8_t out[SNAPIMG_SECTION_SIZE], uint32_t type, uint32_t index,
			uint64_t size, uint32_t crc)
{
	put32(out + S_TYPE, type);
	put32(out + S_INDEX, index);
	put64(out + S_SIZE, size);
	put32(out + S_CRC, crc);
	put32(out + S_HCRC, crc32_of(out, S_HCRC));
}

void snapimg_put_section(uint8_t out[SNAPIMG_SECTION_SIZE], uint32_t type, uint32_t index,
			 const void *data, uint64_t size, uint32_t *chain)
{
	uint32_t crc = crc32_of(data, size);
	put_section(out, type, index, size, crc);
	*chain = chain_with(*chain, crc);
}

void snapimg_put_end(uint8_t out[SNAPIMG_SECTION_SIZE], uint32_t chain)
{
	put_section(out, SNAPIMG_END, 0, 0, chain);
}

uint64_t snapimg_size(unsigned nsections, uint64_t data_bytes_padded)
{
	return SNAPIMG_HEADER_SIZE + (uint64_t)(nsections + 1) * SNAPIMG_SECTION_SIZE +
	       data_bytes_padded;
}

/* A name field: NUL-terminated within its 32 bytes, not empty, printable, zero after. */
static int name_ok(const uint8_t *f)
{
	size_t n = strnlen((const char *)f, SNAPIMG_NAME_MAX);
	if (n == 0 || n == SNAPIMG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < SNAPIMG_NAME_MAX; i++)
		if (i < n ? f[i] < 0x21 || f[i] > 0x7e : f[i] != 0)
			return 0;
	return 1;
}

int snapimg_read_header(struct snapimg_reader *r, const uint8_t in[SNAPIMG_HEADER_SIZE],
			char *err, size_t errlen)
{
	struct snapimg_info *i = &r->info;

	memset(r, 0, sizeof(*r));
	if (memcmp(in, SNAPIMG_MAGIC, 8))
		return errmsg(-1, err, errlen, "not a Mica snapshot image (no \"%s\" at its start)",
			      SNAPIMG_MAGIC);
	uint32_t version = rd32(in + H_VERSION);
	if (version != SNAPIMG_VERSION)
		return errmsg(-1, err, errlen, "snapshot image version %u: this Mica reads version "
			      "%u only", version, SNAPIMG_VERSION);
	uint32_t want = crc32_of(in, H_CRC), got = rd32(in + H_CRC);
	if (want != got)
		return errmsg(-1, err, errlen, "snapshot image header damaged: its CRC is 0x%08x, "
			      "its bytes give 0x%08x", got, want);
	if (rd32(in + H_HSIZE) != SNAPIMG_HEADER_SIZE)
		return errmsg(-1, err, errlen, "snapshot image header is %u bytes, expected %u",
			      rd32(in + H_HSIZE), SNAPIMG_HEADER_SIZE);
	for (unsigned k = H_RESERVED; k < H_CRC; k++)
		if (in[k])
			return errmsg(-1, err, errlen, "snapshot image header: reserved byte %u is "
				      "0x%02x, expected 0", k, in[k]);
	if (!name_ok(in + H_NAME) || !name_ok(in + H_TAG))
		return errmsg(-1, err, errlen, "snapshot image header: the partition name or tag is "
			      "not 1 to %u printable characters", SNAPIMG_NAME_MAX - 1);
	i->image_size = rd64(in + H_ISIZE);
	i->vendor = rd32(in + H_VENDOR);
	i->nvcpus = rd32(in + H_VCPUS);
	i->cpuid1_ecx = rd32(in + H_CPUID);
	i->cpuid1_edx = rd32(in + H_CPUID + 4);
	i->cpuid7_ebx = rd32(in + H_CPUID + 8);
	i->cpuid7_ecx = rd32(in + H_CPUID + 12);
	i->xcr0 = rd64(in + H_XCR0);
	i->layout = rd64(in + H_LAYOUT);
	i->ram_size = rd64(in + H_RAM);
	i->disk_size = rd64(in + H_DISK);
	i->taken = rd64(in + H_TAKEN);
	memcpy(i->name, in + H_NAME, SNAPIMG_NAME_MAX);
	memcpy(i->tag, in + H_TAG, SNAPIMG_NAME_MAX);
	if (i->vendor != SNAPIMG_VENDOR_AMD && i->vendor != SNAPIMG_VENDOR_INTEL)
		return errmsg(-1, err, errlen, "snapshot image: CPU vendor %u is neither AMD (1) nor "
			      "Intel (2)", i->vendor);
	if (i->nvcpus == 0 || i->nvcpus > SNAPIMG_VCPUS_MAX)
		return errmsg(-1, err, errlen, "snapshot image: %u vCPUs, expected 1 to %u",
			      i->nvcpus, SNAPIMG_VCPUS_MAX);
	if (i->ram_size == 0 || i->ram_size % 4096 || i->ram_size > RAM_MAX)
		return errmsg(-1, err, errlen, "snapshot image: RAM of %llu bytes, expected a "
			      "multiple of 4 KiB up to 1 TiB", (ull)i->ram_size);
	if (i->disk_size % 512 || i->disk_size > RAM_MAX)
		return errmsg(-1, err, errlen, "snapshot image: a disk of %llu bytes, expected a "
			      "multiple of 512 up to 1 TiB", (ull)i->disk_size);
	/* the least an image can be: every vCPU, the devices, the end mark */
	uint64_t least = snapimg_size(i->nvcpus + 1, (uint64_t)(i->nvcpus + 1) * 8);
	if (i->image_size < least)
		return errmsg(-1, err, errlen, "snapshot image: its header gives %llu bytes, less "
			      "than the %llu its %u vCPUs need", (ull)i->image_size, (ull)least,
			      i->nvcpus);
	r->offset = SNAPIMG_HEADER_SIZE;
	return 0;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case SNAPIMG_VCPU: return "vCPU";
	case SNAPIMG_DEVICES: return "devices";
	case SNAPIMG_VIRTIO: return "virtio";
	case SNAPIMG_DISK: return "disk";
	case SNAPIMG_RAM: return "RAM";
	case SNAPIMG_END: return "end";
	default: return "unknown";
	}
}

/* The index and data size a section of type t may have here; 0, or -1 with a sentence. */
static int section_allowed(const struct snapimg_info *i, const struct snapimg_section *s,
			   char *err, size_t errlen)
{
	uint64_t n;
	switch (s->type) {
	case SNAPIMG_VCPU:
		if (s->index >= i->nvcpus || s->size == 0 || s->size > STATE_MAX)
			break;
		return 0;
	case SNAPIMG_DEVICES:
		if (s->index != 0 || s->size == 0 || s->size > STATE_MAX)
			break;
		return 0;
	case SNAPIMG_VIRTIO:
		if (s->index >= VIRTIO_SLOTS || s->size == 0 || s->size > VIRTIO_MAX)
			break;
		return 0;
	case SNAPIMG_DISK:
		n = pieces(i->disk_size);
		if (s->index >= n || s->size != piece_size(i->disk_size, s->index))
			break;
		return 0;
	case SNAPIMG_RAM:
		n = pieces(i->ram_size);
		if (s->index >= n || s->size != piece_size(i->ram_size, s->index))
			break;
		return 0;
	default:
		return errmsg(-1, err, errlen, "snapshot image: a section of unknown type %u",
			      s->type);
	}
	return errmsg(-1, err, errlen, "snapshot image: %s section %u of %llu bytes does not fit "
		      "a partition of %u vCPUs, %llu bytes of RAM and a %llu-byte disk",
		      type_name(s->type), s->index, (ull)s->size, i->nvcpus,
		      (ull)i->ram_size, (ull)i->disk_size);
}

int snapimg_read_section(struct snapimg_reader *r, const uint8_t in[SNAPIMG_SECTION_SIZE],
			 struct snapimg_section *s, char *err, size_t errlen)
{
	const struct snapimg_info *i = &r->info;

	if (r->ended || r->want_data)
		return errmsg(-1, err, errlen, "snapshot image: a section read %s",
			      r->ended ? "after the end mark" : "before the last one's data");
	if (crc32_of(in, S_HCRC) != rd32(in + S_HCRC))
		return errmsg(-1, err, errlen, "snapshot image: the section header at byte %llu is "
			      "damaged (its CRC does not match)", (ull)r->offset);
	s->type = rd32(in + S_TYPE);
	s->index = rd32(in + S_INDEX);
	s->size = rd64(in + S_SIZE);
	s->crc = rd32(in + S_CRC);
	if (s->type == SNAPIMG_END) {
		if (s->size != 0 || s->index != 0)
			return errmsg(-1, err, errlen, "snapshot image: its end mark carries data");
		if (s->crc != r->chain)
			return errmsg(-1, err, errlen, "snapshot image: its end mark does not match the "
				      "sections read (one missing, or from another image)");
		r->offset += SNAPIMG_SECTION_SIZE;
		r->ended = 1;
		return 0;
	}
	if (section_allowed(i, s, err, errlen))
		return -1;
	if (s->type < r->last_type || (s->type == r->last_type && s->index <= r->last_index))
		return errmsg(-1, err, errlen, "snapshot image: %s section %u comes after %s "
			      "section %u: sections out of order or repeated", type_name(s->type),
			      s->index, type_name(r->last_type), r->last_index);
	/* this section and the end mark after it must fit in the image */
	uint64_t left = i->image_size - r->offset;
	if (left < 2 * SNAPIMG_SECTION_SIZE ||
	    snapimg_padded(s->size) > left - 2 * SNAPIMG_SECTION_SIZE)
		return errmsg(-1, err, errlen, "snapshot image: %s section %u (%llu bytes) at byte "
			      "%llu runs past the image's %llu bytes", type_name(s->type),
			      s->index, (ull)s->size, (ull)r->offset, (ull)i->image_size);
	r->last_type = s->type;
	r->last_index = s->index;
	r->pending = *s;
	r->want_data = 1;
	r->offset += SNAPIMG_SECTION_SIZE;
	return 0;
}

int snapimg_read_data(struct snapimg_reader *r, const void *data, char *err, size_t errlen)
{
	const struct snapimg_section *s = &r->pending;

	if (!r->want_data)
		return errmsg(-1, err, errlen, "snapshot image: data read with no section before it");
	const uint8_t *pad = (const uint8_t *)data + s->size;
	for (uint64_t k = 0; k < snapimg_padded(s->size) - s->size; k++)
		if (pad[k])
			return errmsg(-1, err, errlen, "snapshot image: %s section %u is damaged (its "
				      "padding is not zero)", type_name(s->type), s->index);
	uint32_t crc = crc32_of(data, s->size);
	if (crc != s->crc)
		return errmsg(-1, err, errlen, "snapshot image: %s section %u is damaged (CRC "
			      "0x%08x, its data gives 0x%08x)", type_name(s->type), s->index,
			      s->crc, crc);
	r->want_data = 0;
	r->offset += snapimg_padded(s->size);
	r->chain = chain_with(r->chain, crc);
	r->vcpus += s->type == SNAPIMG_VCPU;
	r->devices += s->type == SNAPIMG_DEVICES;
	return 0;
}

int snapimg_finish(struct snapimg_reader *r, char *err, size_t errlen)
{
	const struct snapimg_info *i = &r->info;

	if (!r->ended)
		return errmsg(-1, err, errlen, "snapshot image: cut short after %llu of its %llu "
			      "bytes (no end mark)", (ull)r->offset, (ull)i->image_size);
	if (r->offset != i->image_size)
		return errmsg(-1, err, errlen, "snapshot image: its end mark is at byte %llu, its "
			      "header gives %llu bytes", (ull)(r->offset - SNAPIMG_SECTION_SIZE),
			      (ull)i->image_size);
	if (r->vcpus != i->nvcpus || r->devices != 1)
		return errmsg(-1, err, errlen, "snapshot image: %u of %u vCPUs and %u of 1 device "
			      "sections", r->vcpus, i->nvcpus, r->devices);
	return 0;
}

/* Bits set in image but not in host, named for a sentence: "CPUID 1 ECX 0x..". */
static int lacks(const char *what, uint64_t image, uint64_t host, char *err, size_t errlen)
{
	uint64_t missing = image & ~host;
	if (!missing)
		return 0;
	return errmsg(-1, err, errlen, "taken on a CPU with %s bits 0x%llx that this one lacks",
		      what, (ull)missing);
}

int snapimg_fits(const struct snapimg_info *im, const struct snapimg_info *host, char *err,
		 size_t errlen)
{
	if (im->vendor != host->vendor)
		return errmsg(-1, err, errlen, "taken on %s, this machine is %s",
			      im->vendor == SNAPIMG_VENDOR_AMD ? "AMD SVM" : "Intel VT-x",
			      host->vendor == SNAPIMG_VENDOR_AMD ? "AMD SVM" : "Intel VT-x");
	if (lacks("CPUID 1 ECX", im->cpuid1_ecx, host->cpuid1_ecx, err, errlen) ||
	    lacks("CPUID 1 EDX", im->cpuid1_edx, host->cpuid1_edx, err, errlen) ||
	    lacks("CPUID 7 EBX", im->cpuid7_ebx, host->cpuid7_ebx, err, errlen) ||
	    lacks("CPUID 7 ECX", im->cpuid7_ecx, host->cpuid7_ecx, err, errlen) ||
	    lacks("XCR0", im->xcr0, host->xcr0, err, errlen))
		return -1;
	if (im->layout != host->layout)
		return errmsg(-1, err, errlen, "taken by a Mica whose saved state is laid out "
			      "differently (layout 0x%llx, this one 0x%llx)", (ull)im->layout,
			      (ull)host->layout);
	return 0;
}
