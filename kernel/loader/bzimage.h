/* Linux bzImage parser: checks a kernel image against the x86 boot protocol before anything is
 * loaded (the image comes from the user's ESP and may be anything). Pure logic.
 * Field offsets: Documentation/arch/x86/boot.rst ("The real-mode kernel header"). */
#ifndef MICA_LOADER_BZIMAGE_H
#define MICA_LOADER_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Setup header fields, as byte offsets into the image (and into struct boot_params). */
#define BZ_SETUP_SECTS      0x1f1 /* u8: 512-byte setup sectors after the boot sector (0 = 4) */
#define BZ_SYSSIZE          0x1f4 /* u32: protected-mode kernel size, 16-byte units */
#define BZ_BOOT_FLAG        0x1fe /* u16: 0xaa55 */
#define BZ_JUMP             0x200 /* u16: jump; its second byte + 0x202 ends the header */
#define BZ_HEADER           0x202 /* u32: "HdrS" */
#define BZ_VERSION          0x206 /* u16: boot protocol version, major.minor as 0xMMmm */
#define BZ_KERNEL_VERSION   0x20e /* u16: version string at this value + 0x200 */
#define BZ_TYPE_OF_LOADER   0x210 /* u8 */
#define BZ_LOADFLAGS        0x211 /* u8 */
#define BZ_CODE32_START     0x214 /* u32 */
#define BZ_RAMDISK_IMAGE    0x218 /* u32 */
#define BZ_RAMDISK_SIZE     0x21c /* u32 */
#define BZ_HEAP_END_PTR     0x224 /* u16 */
#define BZ_CMD_LINE_PTR     0x228 /* u32 */
#define BZ_INITRD_ADDR_MAX  0x22c /* u32: highest address the initrd's last byte may have */
#define BZ_KERNEL_ALIGNMENT 0x230 /* u32 */
#define BZ_RELOCATABLE      0x234 /* u8 */
#define BZ_XLOADFLAGS       0x236 /* u16 */
#define BZ_CMDLINE_SIZE     0x238 /* u32: longest command line, without its NUL */
#define BZ_PAYLOAD_OFFSET   0x248 /* u32: from the start of the protected-mode kernel */
#define BZ_PAYLOAD_LENGTH   0x24c /* u32 */
#define BZ_SETUP_DATA       0x250 /* u64 */
#define BZ_PREF_ADDRESS     0x258 /* u64 */
#define BZ_INIT_SIZE        0x260 /* u32 */
#define BZ_HEADER_MIN_END   0x268 /* protocol 2.12 has fields up to here (handover_offset) */
#define BZ_HEADER_MAX_END   0x290 /* struct boot_params has room for the header up to here */

#define BZ_LOADED_HIGH      0x01   /* loadflags: protected-mode code goes at 0x100000 or above */
#define BZ_CAN_USE_HEAP     0x80
#define BZ_XLF_KERNEL_64    0x0001 /* xloadflags: 64-bit entry at load address + 0x200 */
#define BZ_XLF_ABOVE_4G     0x0002 /* kernel, boot_params, cmdline and initrd may be above 4 GiB */

#define BZ_MIN_VERSION      0x020c /* 2.12: xloadflags, so the 64-bit entry can be checked */
#define BZ_ENTRY64_OFFSET   0x200  /* 64-bit entry: load address + this */

struct bzimage_info {
	uint16_t version;          /* boot protocol, 0x020f for 2.15 */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t setup_size;       /* bytes before the protected-mode kernel: (setup_sects + 1) * 512 */
	uint32_t header_end;       /* one past the setup header, capped at BZ_HEADER_MAX_END */
	uint64_t kernel_size;      /* protected-mode kernel bytes to load (syssize * 16) */
	uint32_t kernel_alignment; /* a power of two */
	uint64_t pref_address;     /* where the kernel would like to be loaded */
	uint32_t init_size;        /* bytes from the load address the kernel needs before it
				    * reads the memory map (>= kernel_size) */
	uint32_t cmdline_size;     /* longest command line, without the NUL */
	uint32_t initrd_addr_max;  /* highest address of the initrd's last byte */
	char kernel_version[96];   /* the image's version string ("6.1.0-… (…) #1 SMP …"), or "" */
};

/* Checks img (size bytes) is a bzImage Mica can start through the 64-bit boot protocol:
 * boot sector signature, "HdrS", protocol >= 2.12, setup and kernel inside the file,
 * LOADED_HIGH, XLF_KERNEL_64, relocatable, sane alignment, init_size, pref_address,
 * cmdline_size and initrd_addr_max. Never reads outside [img, img + size). Returns 0 with
 * *out filled, or MICA_EINVAL with a sentence in err saying what was expected and found. */
int bzimage_parse(const void *img, uint64_t size, struct bzimage_info *out, char *err,
		  size_t errlen);

#endif
