/* kernel/loader/bzimage.c: any image. An accepted one has its setup and kernel inside the
 * file, a power-of-two alignment, init_size covering the kernel, and a version string that
 * is NUL-terminated. */
#include "tests/fuzz/fuzz.h"
#include "kernel/loader/bzimage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info b;
	char err[200];
	err[0] = 0;
	if (bzimage_parse(data, size, &b, err, sizeof(err))) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(b.version >= BZ_MIN_VERSION, "version 0x%x", b.version);
	FUZZ_CHECK((uint64_t)b.setup_size + b.kernel_size <= size, "setup %u + kernel %llu > %zu",
		   b.setup_size, (unsigned long long)b.kernel_size, size);
	FUZZ_CHECK(b.header_end <= size, "header end %u past the file", b.header_end);
	FUZZ_CHECK(b.kernel_alignment && !(b.kernel_alignment & (b.kernel_alignment - 1)),
		   "alignment 0x%x", b.kernel_alignment);
	FUZZ_CHECK(b.init_size >= b.kernel_size, "init_size below the kernel's size");
	FUZZ_CHECK(b.xloadflags & BZ_XLF_KERNEL_64, "no 64-bit entry");
	FUZZ_CHECK(memchr(b.kernel_version, 0, sizeof(b.kernel_version)), "version string");
	return 0;
}
