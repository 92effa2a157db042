/* lib/snapimg.c: Mica's durable snapshot image. An image built with the writer reads back
 * whole; one cut short anywhere, with any bit flipped, with sections swapped, repeated or
 * dropped, of another version, or with sizes its header does not allow is refused with a
 * sentence; and an image is restored only where the vendor, the CPU features and Mica's
 * state layout allow. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/snapimg.h"

#define CAP (64u << 10)

static uint8_t img[CAP];
static size_t len;
static char err[256];

static struct snapimg_info base(void)
{
	struct snapimg_info i;
	memset(&i, 0, sizeof(i));
	i.vendor = SNAPIMG_VENDOR_AMD;
	i.cpuid1_ecx = 0x80202001;
	i.cpuid1_edx = 0x178bfbff;
	i.cpuid7_ebx = 0x209;
	i.xcr0 = 7;
	i.layout = 0x1234;
	i.ram_size = 20 << 10; /* one piece of 20 KiB */
	i.disk_size = 0;
	i.taken = 1765000000;
	i.nvcpus = 2;
	strcpy(i.name, "web");
	strcpy(i.tag, "before-upgrade");
	return i;
}

struct sec {
	uint32_t type, index;
	uint64_t size;
	uint8_t fill;
};

/* An image of these sections (data: fill bytes), its header's size computed. */
static void build(struct snapimg_info info, const struct sec *s, unsigned n)
{
	uint64_t data = 0;
	for (unsigned k = 0; k < n; k++)
		data += snapimg_padded(s[k].size);
	info.image_size = snapimg_size(n, data);
	cr_assert(info.image_size <= CAP);
	memset(img, 0, sizeof(img));
	snapimg_put_header(img, &info);
	size_t at = SNAPIMG_HEADER_SIZE;
	uint32_t chain = 0;
	for (unsigned k = 0; k < n; k++) {
		uint8_t *d = img + at + SNAPIMG_SECTION_SIZE;
		memset(d, s[k].fill, s[k].size);
		snapimg_put_section(img + at, s[k].type, s[k].index, d, s[k].size, &chain);
		at += SNAPIMG_SECTION_SIZE + snapimg_padded(s[k].size);
	}
	snapimg_put_end(img + at, chain);
	len = at + SNAPIMG_SECTION_SIZE;
	cr_assert_eq(len, info.image_size);
}

static const struct sec usual[] = {
	{ SNAPIMG_VCPU, 0, 1000, 0xa0 },   { SNAPIMG_VCPU, 1, 1000, 0xa1 },
	{ SNAPIMG_DEVICES, 0, 333, 0xd0 }, { SNAPIMG_VIRTIO, 1, 100, 0x51 },
	{ SNAPIMG_VIRTIO, 2, 100, 0x52 },  { SNAPIMG_RAM, 0, 20 << 10, 0x77 },
};
#define USUAL (sizeof(usual) / sizeof(usual[0]))

/* Reads img[0, n) as a stream, the way the service reads a disk: 0 or -1 with err. */
static int read_image(size_t n, struct snapimg_reader *r, unsigned *sections)
{
	struct snapimg_section s;
	size_t at = SNAPIMG_HEADER_SIZE;

	*sections = 0;
	if (n < SNAPIMG_HEADER_SIZE) {
		snprintf(err, sizeof(err), "short header");
		return -1;
	}
	if (snapimg_read_header(r, img, err, sizeof(err)))
		return -1;
	for (;;) {
		if (n - at < SNAPIMG_SECTION_SIZE)
			return snapimg_finish(r, err, sizeof(err));
		if (snapimg_read_section(r, img + at, &s, err, sizeof(err)))
			return -1;
		at += SNAPIMG_SECTION_SIZE;
		if (s.type == SNAPIMG_END)
			return snapimg_finish(r, err, sizeof(err));
		if (n - at < snapimg_padded(s.size))
			return snapimg_finish(r, err, sizeof(err));
		if (snapimg_read_data(r, img + at, err, sizeof(err)))
			return -1;
		at += snapimg_padded(s.size);
		(*sections)++;
	}
}

static int check(void)
{
	struct snapimg_reader r;
	unsigned n;
	err[0] = 0;
	return read_image(len, &r, &n);
}

Test(snapimg, reads_back_what_was_written)
{
	struct snapimg_reader r;
	unsigned n;
	build(base(), usual, USUAL);
	cr_assert_eq(read_image(len, &r, &n), 0, "%s", err);
	cr_assert_eq(n, USUAL);
	cr_assert_str_eq(r.info.name, "web");
	cr_assert_str_eq(r.info.tag, "before-upgrade");
	cr_assert_eq(r.info.nvcpus, 2);
	cr_assert_eq(r.info.ram_size, 20 << 10);
	cr_assert_eq(r.info.layout, 0x1234);
	cr_assert_eq(r.info.xcr0, 7);
	cr_assert_eq(r.info.image_size, len);
}

Test(snapimg, absent_ram_pieces_are_allowed)
{
	struct snapimg_info i = base();
	i.ram_size = 5 << 20; /* pieces of 2, 2 and 1 MiB: only the last one in the image */
	const struct sec s[] = {
		{ SNAPIMG_VCPU, 0, 8, 1 }, { SNAPIMG_VCPU, 1, 8, 2 }, { SNAPIMG_DEVICES, 0, 8, 3 },
	};
	build(i, s, 3);
	cr_assert_eq(check(), 0, "%s", err);
}

Test(snapimg, every_cut_is_refused)
{
	build(base(), usual, USUAL);
	size_t whole = len;
	for (size_t n = 0; n < whole; n += (n < 512 ? 1 : 7)) {
		struct snapimg_reader r;
		unsigned k;
		cr_assert_neq(read_image(n, &r, &k), 0, "an image cut at byte %zu of %zu was taken",
			      n, whole);
	}
	struct snapimg_reader r;
	unsigned k;
	read_image(whole - 1, &r, &k);
	cr_assert(strstr(err, "cut short"), "%s", err);
}

Test(snapimg, every_flipped_bit_is_refused)
{
	build(base(), usual, USUAL);
	for (size_t at = 0; at < len; at += (at < 1024 ? 1 : 13)) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			img[at] ^= (uint8_t)(1u << bit);
			cr_assert_neq(check(), 0, "bit %u of byte %zu flipped and taken", bit, at);
			img[at] ^= (uint8_t)(1u << bit);
		}
	}
	cr_assert_eq(check(), 0, "%s", err);
}

Test(snapimg, another_version_is_refused_by_name)
{
	build(base(), usual, USUAL);
	img[8] = 2;
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "version 2: this Mica reads version 1"), "%s", err);
	build(base(), usual, USUAL);
	memcpy(img, "NOTASNAP", 8);
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "not a Mica snapshot image"), "%s", err);
}

Test(snapimg, swapped_repeated_and_dropped_sections_are_refused)
{
	struct sec s[USUAL];
	memcpy(s, usual, sizeof(s));
	s[0] = usual[1];
	s[1] = usual[0]; /* vCPU 1 before vCPU 0 */
	build(base(), s, USUAL);
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "out of order or repeated"), "%s", err);

	memcpy(s, usual, sizeof(s));
	s[4] = usual[3]; /* virtio 1 twice */
	build(base(), s, USUAL);
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "out of order or repeated"), "%s", err);

	build(base(), usual + 1, USUAL - 1); /* no vCPU 0 */
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "1 of 2 vCPUs"), "%s", err);

	/* a section cut out of a finished image, the header's size and the rest moved up: the
	 * end mark's CRC chain no longer matches */
	build(base(), usual, USUAL);
	size_t at = SNAPIMG_HEADER_SIZE, n = 0;
	for (unsigned k = 0; k < 4; k++)
		at += SNAPIMG_SECTION_SIZE + snapimg_padded(usual[k].size);
	n = SNAPIMG_SECTION_SIZE + snapimg_padded(usual[4].size);
	memmove(img + at, img + at + n, len - at - n);
	len -= n;
	struct snapimg_info i = base();
	i.image_size = len;
	snapimg_put_header(img, &i);
	cr_assert_neq(check(), 0, "virtio 2 dropped and taken");
}

Test(snapimg, sizes_the_header_does_not_allow_are_refused)
{
	struct sec s[USUAL];
	memcpy(s, usual, sizeof(s));
	s[5].index = 1; /* a 20 KiB partition has one piece */
	build(base(), s, USUAL);
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "does not fit"), "%s", err);

	memcpy(s, usual, sizeof(s));
	s[5].size = 4096; /* piece 0 is 20 KiB */
	build(base(), s, USUAL);
	cr_assert_neq(check(), 0);

	struct snapimg_info i = base();
	i.nvcpus = 1; /* vCPU 1 is not there */
	build(i, usual, USUAL);
	cr_assert_neq(check(), 0);

	memcpy(s, usual, sizeof(s));
	s[0].type = 9;
	s[0].index = 0;
	build(base(), s, 1);
	cr_assert_neq(check(), 0);
	cr_assert(strstr(err, "unknown type 9"), "%s", err);
}

Test(snapimg, a_header_that_lies_about_the_size_is_refused)
{
	build(base(), usual, USUAL);
	struct snapimg_info i = base();
	i.image_size = len + 64;
	snapimg_put_header(img, &i);
	cr_assert_neq(check(), 0, "longer than the image");
	i.image_size = len - 64;
	snapimg_put_header(img, &i);
	cr_assert_neq(check(), 0, "shorter than the image");
	cr_assert(strstr(err, "runs past") || strstr(err, "end mark"), "%s", err);
}

Test(snapimg, impossible_headers_are_refused)
{
	struct snapimg_info i = base();
	i.nvcpus = 0;
	build(i, usual, 0);
	cr_assert_neq(check(), 0);
	i = base();
	i.ram_size = 1000; /* not a multiple of 4 KiB */
	build(i, usual, USUAL);
	cr_assert_neq(check(), 0);
	i = base();
	i.vendor = 3;
	build(i, usual, USUAL);
	cr_assert_neq(check(), 0);
	i = base();
	strcpy(i.name, "");
	build(i, usual, USUAL);
	cr_assert_neq(check(), 0);
}

Test(snapimg, restored_only_where_the_machine_fits)
{
	struct snapimg_info im = base(), host = base();
	host.cpuid1_ecx |= 0x100; /* more than it needs is fine */
	host.xcr0 |= 0xe0;
	cr_assert_eq(snapimg_fits(&im, &host, err, sizeof(err)), 0, "%s", err);

	host.vendor = SNAPIMG_VENDOR_INTEL;
	cr_assert_neq(snapimg_fits(&im, &host, err, sizeof(err)), 0);
	cr_assert(strstr(err, "taken on AMD SVM, this machine is Intel VT-x"), "%s", err);

	host = base();
	host.cpuid7_ebx &= ~0x8u;
	cr_assert_neq(snapimg_fits(&im, &host, err, sizeof(err)), 0);
	cr_assert(strstr(err, "CPUID 7 EBX bits 0x8"), "%s", err);

	host = base();
	host.xcr0 = 3;
	cr_assert_neq(snapimg_fits(&im, &host, err, sizeof(err)), 0);
	cr_assert(strstr(err, "XCR0 bits 0x4"), "%s", err);

	host = base();
	host.layout = 0x1235;
	cr_assert_neq(snapimg_fits(&im, &host, err, sizeof(err)), 0);
	cr_assert(strstr(err, "laid out differently"), "%s", err);
}
