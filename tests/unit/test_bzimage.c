/* kernel/loader/bzimage.c: a small bzImage built in memory, damaged one field at a time (each error
 * names what was expected and found), then cut short and randomly mutated: every image is
 * handed over in a buffer of exactly its size, so ASan catches any read past the end.
 * MICA_TEST_BZIMAGE=path additionally parses a real kernel (e.g. Debian's vmlinuz). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/bzimage.h"

#define SETUP_SECTS 4
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)
#define KERNEL_SIZE 0x3000
#define IMG_SIZE    (SETUP_SIZE + KERNEL_SIZE)

static uint8_t img[IMG_SIZE];
static uint64_t size;
static char err[256];
static struct bzimage_info info;

static void w16(unsigned off, uint16_t v) { memcpy(img + off, &v, 2); }
static void w32(unsigned off, uint32_t v) { memcpy(img + off, &v, 4); }
static void w64(unsigned off, uint64_t v) { memcpy(img + off, &v, 8); }

/* Offsets straight from the boot protocol's header table, independent of bzimage.h. */
static void build(void)
{
	memset(img, 0, sizeof(img));
	size = IMG_SIZE;
	img[0x1f1] = SETUP_SECTS;
	w32(0x1f4, KERNEL_SIZE / 16);          /* syssize */
	w16(0x1fe, 0xaa55);                    /* boot_flag */
	img[0x200] = 0xeb;                     /* jump: header ends at 0x202 + 0x6a */
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	w16(0x206, 0x020f);                    /* version 2.15 */
	w16(0x20e, 0x200);                     /* kernel_version string at 0x400 */
	strcpy((char *)img + 0x400, "6.1.0-test (mica@test) #1 SMP");
	img[0x211] = 0x01;                     /* loadflags: LOADED_HIGH */
	w32(0x214, 0x100000);                  /* code32_start */
	w32(0x22c, 0x7fffffff);                /* initrd_addr_max */
	w32(0x230, 0x200000);                  /* kernel_alignment */
	img[0x234] = 1;                        /* relocatable_kernel */
	img[0x235] = 21;                       /* min_alignment */
	w16(0x236, 0x0003);                    /* xloadflags: KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	w32(0x238, 2047);                      /* cmdline_size */
	w32(0x248, 0x100);                     /* payload_offset */
	w32(0x24c, 0x2000);                    /* payload_length */
	w64(0x258, 0x1000000);                 /* pref_address */
	w32(0x260, 0x800000);                  /* init_size */
	for (unsigned i = 0; i < KERNEL_SIZE; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 3);
}

TestSuite(bzimage, .init = build);

static int parse(void)
{
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	memset(&info, 0xa5, sizeof(info));
	/* An exact-size copy: reading one byte past the image is an ASan error. */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, img, size);
	int rc = bzimage_parse(copy, size, &info, err, sizeof(err));
	free(copy);
	return rc;
}

static void expect_error(const char *msg)
{
	cr_assert_eq(parse(), MICA_EINVAL, "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
	build();
}

Test(bzimage, parses_a_good_image)
{
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(err[0], '\0');
	cr_expect_eq(info.version, 0x020f);
	cr_expect_eq(info.loadflags, 1);
	cr_expect_eq(info.xloadflags, 3);
	cr_expect_eq(info.setup_size, SETUP_SIZE);
	cr_expect_eq(info.header_end, 0x26c);
	cr_expect_eq(info.kernel_size, KERNEL_SIZE);
	cr_expect_eq(info.kernel_alignment, 0x200000);
	cr_expect_eq(info.pref_address, 0x1000000);
	cr_expect_eq(info.init_size, 0x800000);
	cr_expect_eq(info.cmdline_size, 2047);
	cr_expect_eq(info.initrd_addr_max, 0x7fffffff);
	cr_expect_str_eq(info.kernel_version, "6.1.0-test (mica@test) #1 SMP");
	cr_expect_eq(bzimage_parse(img, size, NULL, NULL, 0), 0, "out and err are optional");
}

Test(bzimage, setup_sects_zero_means_four)
{
	img[0x1f1] = 0;
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(info.setup_size, 5 * 512);
}

Test(bzimage, trailing_bytes_are_not_kernel)
{
	/* Signed kernels carry a signature after syssize * 16 bytes: not loaded. */
	w32(0x1f4, KERNEL_SIZE / 16 - 0x10);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(info.kernel_size, KERNEL_SIZE - 0x100);
}

Test(bzimage, header_end_is_capped_and_version_string_is_bounded)
{
	img[0x201] = 0xff; /* header claims to reach 0x301: boot_params holds it up to 0x290 */
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(info.header_end, 0x290);

	build();
	w16(0x20e, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_str_eq(info.kernel_version, "");

	/* A string running to the end of the setup, unterminated: cut at the setup's end. */
	build();
	w16(0x20e, SETUP_SIZE - 0x200 - 5);
	memcpy(img + SETUP_SIZE - 5, "abcde", 5);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_str_eq(info.kernel_version, "abcde");

	/* A string pointer past the setup: nothing. */
	build();
	w16(0x20e, 0xfff0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_str_eq(info.kernel_version, "");

	/* Long strings are cut to the field. */
	build();
	memset(img + 0x400, 'x', 300);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(strlen(info.kernel_version), sizeof(info.kernel_version) - 1);
}

Test(bzimage, errors_say_what_was_expected_and_found)
{
	size = 0;
	expect_error("image is 0 bytes, too small for a bzImage (its boot sector alone is 512)");
	size = 511;
	expect_error("image is 511 bytes, too small for a bzImage (its boot sector alone is 512)");
	w16(0x1fe, 0x1234);
	expect_error("not a bzImage: no boot sector signature 55 aa at 0x1fe (found 34 12)");
	size = 0x205;
	expect_error("image is 517 bytes, too small for a bzImage setup header");
	memset(img + 0x202, 0, 4);
	expect_error("not a bzImage: no \"HdrS\" at 0x202 (found 00 00 00 00)");
	w16(0x206, 0x0206);
	expect_error("boot protocol 2.06 is too old: need 2.12 or later for the 64-bit entry");
	w16(0x206, 0x020b);
	expect_error("boot protocol 2.11 is too old: need 2.12 or later for the 64-bit entry");
	size = IMG_SIZE - 1;
	expect_error("image is truncated: setup (4 sectors) and kernel need 14848 bytes, file "
		     "has 14847");
	size = 0x300;
	expect_error("image is truncated: setup (4 sectors) and kernel need 14848 bytes, file "
		     "has 768");
	img[0x1f1] = 60;
	expect_error("image is truncated: setup (60 sectors) and kernel need 43520 bytes, file "
		     "has 14848");
	w32(0x1f4, 0xffffffff);
	expect_error("image is truncated: setup (4 sectors) and kernel need 68719479280 bytes, "
		     "file has 14848");
	w32(0x1f4, 0);
	expect_error("the protected-mode kernel is empty (syssize is 0)");
	img[0x201] = 0x60;
	expect_error("setup header ends at 0x262, before 0x268 where protocol 2.12's fields end");
	img[0x211] = 0x80;
	expect_error("loadflags 0x80 lack LOADED_HIGH (0x01): a zImage that loads below 1 MiB");
	w16(0x236, 0x0002);
	expect_error("xloadflags 0x0002 lack XLF_KERNEL_64 (0x0001): the kernel has no 64-bit "
		     "entry (a 32-bit kernel?)");
	img[0x234] = 0;
	expect_error("relocatable_kernel is 0: need a relocatable kernel (CONFIG_RELOCATABLE=y)");
	w32(0x230, 0x300000);
	expect_error("kernel_alignment 0x300000 is not a power of two of at least 4 KiB");
	w32(0x230, 0);
	expect_error("kernel_alignment 0x0 is not a power of two of at least 4 KiB");
	w32(0x230, 0x800);
	expect_error("kernel_alignment 0x800 is not a power of two of at least 4 KiB");
	w32(0x230, 0x80000000);
	expect_error("kernel_alignment 0x80000000 is larger than 1 GiB");
	w32(0x260, KERNEL_SIZE - 1);
	expect_error("init_size 0x2fff is smaller than the kernel itself (0x3000 bytes)");
	w64(0x258, 0x80000);
	expect_error("pref_address 0x80000 is outside [1 MiB, 2^52)");
	w64(0x258, 0xffffffffffe00000ULL);
	expect_error("pref_address 0xffffffffffe00000 is outside [1 MiB, 2^52)");
	w64(0x258, 0x1100000);
	expect_error("pref_address 0x1100000 is not a multiple of kernel_alignment 0x200000");
	w32(0x238, 0);
	expect_error("cmdline_size is 0: the kernel takes no command line");
	w32(0x22c, 0xfffff);
	expect_error("initrd_addr_max 0xfffff is below 1 MiB");
	w32(0x24c, 0x3000);
	expect_error("compressed payload [0x100, 0x3100) lies outside the protected-mode kernel "
		     "(0x3000 bytes)");
	w32(0x248, 0xffffffff);
	expect_error("compressed payload [0xffffffff, 0x100001fff) lies outside the "
		     "protected-mode kernel (0x3000 bytes)");

	cr_expect_eq(bzimage_parse(NULL, 100, &info, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "no kernel image");
	char small[8];
	cr_expect_eq(bzimage_parse(img, 10, &info, small, sizeof(small)), MICA_EINVAL);
	cr_expect_eq(strlen(small), 7, "error is cut to the buffer and terminated");
}

/* Every prefix of a good image is refused, without reading past it. */
Test(bzimage, every_truncation_fails_cleanly)
{
	for (size = 0; size < IMG_SIZE; size++)
		cr_assert_eq(parse(), MICA_EINVAL, "accepted an image cut to %llu bytes",
			     (unsigned long long)size);
}

/* Random damage to the header (and random lengths): never a crash or an out-of-bounds read;
 * whatever is accepted satisfies what the loader relies on. */
Test(bzimage, random_damage_never_crashes)
{
	srand(12345);
	unsigned accepted = 0;
	for (unsigned iter = 0; iter < 20000; iter++) {
		build();
		unsigned flips = 1 + rand() % 6;
		for (unsigned i = 0; i < flips; i++) {
			unsigned off = 0x1f0 + rand() % 0x80;
			img[off] = (uint8_t)rand();
		}
		if (rand() % 4 == 0)
			size = rand() % (IMG_SIZE + 1);
		if (parse() == 0) {
			accepted++;
			cr_assert_leq((uint64_t)info.setup_size + info.kernel_size, size);
			cr_assert_geq(info.init_size, info.kernel_size);
			cr_assert_eq(info.kernel_alignment & (info.kernel_alignment - 1), 0);
			cr_assert_eq(info.pref_address % info.kernel_alignment, 0);
			cr_assert_geq(info.header_end, 0x268);
			cr_assert_leq(info.header_end, 0x290);
			cr_assert_geq(info.version, 0x020c);
			cr_assert_lt(strlen(info.kernel_version), sizeof(info.kernel_version));
		} else {
			cr_assert_neq(err[0], '\0', "refused without a reason");
			cr_assert_lt(strlen(err), sizeof(err));
		}
	}
	cr_expect_gt(accepted, 100, "the fuzzer should also produce valid images");
}

Test(bzimage, real_kernel_from_environment)
{
	const char *path = getenv("MICA_TEST_BZIMAGE");
	if (!path)
		cr_skip_test("MICA_TEST_BZIMAGE not set");
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *k = malloc(n);
	cr_assert_eq(fread(k, 1, n, f), (size_t)n);
	fclose(f);
	cr_assert_eq(bzimage_parse(k, n, &info, err, sizeof(err)), 0, "%s", err);
	cr_log_info("%s: protocol %x, kernel %llu bytes, init_size %#x, pref %#llx, version %s",
		    path, info.version, (unsigned long long)info.kernel_size, info.init_size,
		    (unsigned long long)info.pref_address, info.kernel_version);
	free(k);
}
