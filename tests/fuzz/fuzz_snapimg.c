/* lib/snapimg.c: any bytes read as a snapshot image, streamed as the service reads a disk.
 * Random bytes rarely pass a CRC, so when the input's first byte is odd the harness first
 * seals what the input says (as a writer would): the header's CRC, each section header's
 * CRC and data CRC, and the end mark's chain, so the checks behind the CRCs run. An image
 * that reads must be exactly its header's size, hold every vCPU and one device section,
 * its sections in ascending order each inside the image, every size within what the
 * header allows; a refusal comes with a sentence; nothing is read past the input (ASan:
 * the image is copied to an allocation of its exact size). */
#include "tests/fuzz/fuzz.h"
#include "lib/bytes.h"
#include "lib/crc32.h"
#include "lib/snapimg.h"

static void seal(uint8_t *img, size_t n)
{
	if (n < SNAPIMG_HEADER_SIZE)
		return;
	memcpy(img, SNAPIMG_MAGIC, 8);
	put32(img + 252, crc32_of(img, 252));
	uint32_t chain = 0;
	for (size_t at = SNAPIMG_HEADER_SIZE; n - at >= SNAPIMG_SECTION_SIZE;) {
		uint8_t *h = img + at;
		uint64_t size = rd64(h + 8);
		if (rd32(h) == SNAPIMG_END) {
			put32(h + 16, chain);
			put32(h + 20, crc32_of(h, 20));
			return;
		}
		at += SNAPIMG_SECTION_SIZE;
		if (size > n - at)
			size = n - at;
		size &= ~7ull; /* what fits, padded: a sealed section is one the reader can take */
		put64(h + 8, size);
		put32(h + 16, crc32_of(img + at, size));
		put32(h + 20, crc32_of(h, 20));
		chain = crc32_more(chain, h + 16, 4);
		at += size;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct snapimg_reader r;
	struct snapimg_section s, last = { 0 };
	unsigned sections = 0;
	uint8_t *img = malloc(size ? size : 1);

	memcpy(img, data, size);
	if (size && (data[0] & 1))
		seal(img, size);
	memset(err, 0, sizeof(err));
	int rc = -1;
	if (size >= SNAPIMG_HEADER_SIZE && !snapimg_read_header(&r, img, err, sizeof(err))) {
		size_t at = SNAPIMG_HEADER_SIZE;
		for (;;) {
			if (size - at < SNAPIMG_SECTION_SIZE) {
				rc = snapimg_finish(&r, err, sizeof(err));
				break;
			}
			if (snapimg_read_section(&r, img + at, &s, err, sizeof(err)))
				break;
			at += SNAPIMG_SECTION_SIZE;
			if (s.type == SNAPIMG_END) {
				rc = snapimg_finish(&r, err, sizeof(err));
				break;
			}
			FUZZ_CHECK(sections == 0 || s.type > last.type ||
				   (s.type == last.type && s.index > last.index),
				   "section %u/%u taken after %u/%u", s.type, s.index, last.type,
				   last.index);
			FUZZ_CHECK(at + snapimg_padded(s.size) + SNAPIMG_SECTION_SIZE <=
				   r.info.image_size, "section %u/%u runs past the image's %llu bytes",
				   s.type, s.index, (unsigned long long)r.info.image_size);
			if (size - at < snapimg_padded(s.size)) {
				rc = snapimg_finish(&r, err, sizeof(err));
				break;
			}
			if (snapimg_read_data(&r, img + at, err, sizeof(err)))
				break;
			at += snapimg_padded(s.size);
			last = s;
			sections++;
		}
		if (!rc) {
			FUZZ_CHECK(at == r.info.image_size, "an image of %zu bytes read, its header "
				   "says %llu", at, (unsigned long long)r.info.image_size);
			FUZZ_CHECK(r.vcpus == r.info.nvcpus && r.devices == 1,
				   "%u of %u vCPUs, %u device sections", r.vcpus, r.info.nvcpus,
				   r.devices);
			FUZZ_CHECK(r.info.nvcpus >= 1 && r.info.nvcpus <= SNAPIMG_VCPUS_MAX &&
				   r.info.ram_size % 4096 == 0 && r.info.ram_size,
				   "a header outside its bounds taken");
		}
	}
	if (rc && size >= SNAPIMG_HEADER_SIZE)
		fuzz_check_msg(err, sizeof(err)); /* shorter: the reader was never asked */
	free(img);
	return 0;
}
