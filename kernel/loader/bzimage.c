/* bzImage checks (Linux x86 boot protocol). Every offset read is inside the file: the boot
 * sector and the header are checked for size first, and once the setup sectors are known to
 * be in the file, everything up to the end of the setup is readable. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/bzimage.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

typedef unsigned long long ull; /* what %llx prints, in every build */

/* The version string is only for logs: take its printable prefix, inside the setup. */
static void copy_version(const uint8_t *im, uint32_t setup_size, struct bzimage_info *out)
{
	uint32_t off = rd16(im + BZ_KERNEL_VERSION);
	size_t n = 0;

	out->kernel_version[0] = '\0';
	if (!off)
		return;
	off += 0x200;
	while (off + n < setup_size && n + 1 < sizeof(out->kernel_version)) {
		uint8_t c = im[off + n];
		if (c < 0x20 || c > 0x7e)
			break;
		out->kernel_version[n++] = (char)c;
	}
	out->kernel_version[n] = '\0';
}

int bzimage_parse(const void *img, uint64_t size, struct bzimage_info *out, char *err,
		  size_t errlen)
{
	const uint8_t *im = img;
	struct bzimage_info info;

	if (err && errlen)
		err[0] = '\0';
	if (!img)
		return errmsg(MICA_EINVAL, err, errlen, "no kernel image");
	memset(&info, 0, sizeof(info));

	if (size < 0x200)
		return errmsg(MICA_EINVAL, err, errlen, "image is %llu bytes, too small for a bzImage (its boot "
			    "sector alone is 512)", (ull)size);
	if (rd16(im + BZ_BOOT_FLAG) != 0xaa55)
		return errmsg(MICA_EINVAL, err, errlen, "not a bzImage: no boot sector signature 55 aa at 0x1fe "
			    "(found %02x %02x)", im[BZ_BOOT_FLAG], im[BZ_BOOT_FLAG + 1]);
	if (size < BZ_VERSION + 2)
		return errmsg(MICA_EINVAL, err, errlen, "image is %llu bytes, too small for a bzImage setup header",
			    (ull)size);
	if (memcmp(im + BZ_HEADER, "HdrS", 4) != 0)
		return errmsg(MICA_EINVAL, err, errlen, "not a bzImage: no \"HdrS\" at 0x202 (found %02x %02x %02x "
			    "%02x)", im[BZ_HEADER], im[BZ_HEADER + 1], im[BZ_HEADER + 2],
			    im[BZ_HEADER + 3]);
	info.version = rd16(im + BZ_VERSION);
	if (info.version < BZ_MIN_VERSION)
		return errmsg(MICA_EINVAL, err, errlen, "boot protocol %u.%02u is too old: need 2.12 or later for "
			    "the 64-bit entry", info.version >> 8, info.version & 0xff);

	unsigned sects = im[BZ_SETUP_SECTS] ? im[BZ_SETUP_SECTS] : 4;
	info.setup_size = (sects + 1) * 512;
	uint64_t sys = (uint64_t)rd32(im + BZ_SYSSIZE) * 16;
	if (info.setup_size > size || sys > size - info.setup_size)
		return errmsg(MICA_EINVAL, err, errlen, "image is truncated: setup (%u sectors) and kernel need %llu "
			    "bytes, file has %llu", sects, (ull)(info.setup_size + sys), (ull)size);
	/* From here on, [0, setup_size) is readable, and setup_size >= 2560 > the header. */
	if (!sys)
		return errmsg(MICA_EINVAL, err, errlen, "the protected-mode kernel is empty (syssize is 0)");
	info.kernel_size = sys;

	uint32_t hend = BZ_HEADER + im[BZ_JUMP + 1];
	if (hend < BZ_HEADER_MIN_END)
		return errmsg(MICA_EINVAL, err, errlen, "setup header ends at 0x%x, before 0x%x where protocol "
			    "2.12's fields end", hend, BZ_HEADER_MIN_END);
	info.header_end = hend < BZ_HEADER_MAX_END ? hend : BZ_HEADER_MAX_END;

	info.loadflags = im[BZ_LOADFLAGS];
	if (!(info.loadflags & BZ_LOADED_HIGH))
		return errmsg(MICA_EINVAL, err, errlen, "loadflags 0x%02x lack LOADED_HIGH (0x01): a zImage that "
			    "loads below 1 MiB", info.loadflags);
	info.xloadflags = rd16(im + BZ_XLOADFLAGS);
	if (!(info.xloadflags & BZ_XLF_KERNEL_64))
		return errmsg(MICA_EINVAL, err, errlen, "xloadflags 0x%04x lack XLF_KERNEL_64 (0x0001): the kernel "
			    "has no 64-bit entry (a 32-bit kernel?)", info.xloadflags);
	if (!im[BZ_RELOCATABLE])
		return errmsg(MICA_EINVAL, err, errlen, "relocatable_kernel is 0: need a relocatable kernel "
			    "(CONFIG_RELOCATABLE=y)");

	info.kernel_alignment = rd32(im + BZ_KERNEL_ALIGNMENT);
	uint32_t a = info.kernel_alignment;
	if (a < 0x1000 || (a & (a - 1)))
		return errmsg(MICA_EINVAL, err, errlen, "kernel_alignment 0x%x is not a power of two of at least "
			    "4 KiB", a);
	if (a > 0x40000000)
		return errmsg(MICA_EINVAL, err, errlen, "kernel_alignment 0x%x is larger than 1 GiB", a);

	info.init_size = rd32(im + BZ_INIT_SIZE);
	if (info.init_size < info.kernel_size)
		return errmsg(MICA_EINVAL, err, errlen, "init_size 0x%x is smaller than the kernel itself (0x%llx "
			    "bytes)", info.init_size, (ull)info.kernel_size);

	info.pref_address = rd64(im + BZ_PREF_ADDRESS);
	if (info.pref_address < 0x100000 || info.pref_address >= (1ULL << 52))
		return errmsg(MICA_EINVAL, err, errlen, "pref_address 0x%llx is outside [1 MiB, 2^52)",
			    (ull)info.pref_address);
	if (info.pref_address & (a - 1))
		return errmsg(MICA_EINVAL, err, errlen, "pref_address 0x%llx is not a multiple of kernel_alignment "
			    "0x%x", (ull)info.pref_address, a);

	info.cmdline_size = rd32(im + BZ_CMDLINE_SIZE);
	if (!info.cmdline_size)
		return errmsg(MICA_EINVAL, err, errlen, "cmdline_size is 0: the kernel takes no command line");
	info.initrd_addr_max = rd32(im + BZ_INITRD_ADDR_MAX);
	if (info.initrd_addr_max < 0x100000)
		return errmsg(MICA_EINVAL, err, errlen, "initrd_addr_max 0x%x is below 1 MiB", info.initrd_addr_max);

	uint64_t poff = rd32(im + BZ_PAYLOAD_OFFSET), plen = rd32(im + BZ_PAYLOAD_LENGTH);
	if ((poff || plen) && poff + plen > info.kernel_size)
		return errmsg(MICA_EINVAL, err, errlen, "compressed payload [0x%llx, 0x%llx) lies outside the "
			    "protected-mode kernel (0x%llx bytes)", (ull)poff, (ull)(poff + plen),
			    (ull)info.kernel_size);

	copy_version(im, info.setup_size, &info);
	if (out)
		*out = info;
	return 0;
}
