/* The Multiboot (version 0.6.96) boot protocol for guests: kernels that QEMU, GRUB and most
 * RTOS and teaching kernels boot with `-kernel`. Pure logic (host unit tested): every field
 * of the image is checked before use.
 *
 * The image carries a header in its first 8 KiB (32-bit aligned: magic 0x1BADB002, flags,
 * checksum). With flag 16 the header's address fields say where the file goes (the a.out
 * kludge); otherwise the image is an ELF32 or ELF64 executable loaded by its program
 * headers' physical addresses. The kernel is entered in flat 32-bit protected mode, paging
 * off, interrupts off, EAX = 0x2BADB002 and EBX = the information structure: memory sizes
 * and map, command line ("<image> <cmdline>", as GRUB and QEMU give it), modules (each
 * page aligned after the kernel, its string its path) and the boot loader's name. */
#ifndef MICA_LOADER_MULTIBOOT_H
#define MICA_LOADER_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#define MB_HEADER_MAGIC     0x1BADB002u
#define MB_BOOT_MAGIC       0x2BADB002u /* in EAX at entry */
#define MB_SEARCH           8192u       /* the header lies in the image's first 8 KiB */
#define MB_MODULES_MAX      16u

/* Header flags (bits 0-15 are requirements a loader must meet or refuse). */
#define MB_HF_PAGE_ALIGN    (1u << 0)   /* modules page aligned: Mica always does */
#define MB_HF_MEMORY        (1u << 1)   /* mem_lower/upper and the map: always given */
#define MB_HF_VIDEO         (1u << 2)   /* a video mode: none is set (text console) */
#define MB_HF_AOUT_KLUDGE   (1u << 16)  /* the address fields below are valid */
#define MB_HF_KNOWN         (MB_HF_PAGE_ALIGN | MB_HF_MEMORY | MB_HF_VIDEO)

/* Information structure flags Mica sets. */
#define MB_INFO_MEMORY      (1u << 0)
#define MB_INFO_CMDLINE     (1u << 2)
#define MB_INFO_MODS        (1u << 3)
#define MB_INFO_MMAP        (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)

/* Where the information goes: the first page boundary past the kernel and its modules. */
#define MB_GDT_SEL_CODE     0x08        /* the flat GDT Mica gives the kernel at entry */
#define MB_GDT_SEL_DATA     0x10

struct mb_module {
	const void *data;   /* the file's bytes (NULL with ram == NULL: only sizes checked) */
	uint64_t size;
	const char *string; /* its path as the config names it */
};

struct mb_boot {
	uint32_t entry;     /* EIP at entry */
	uint32_t info;      /* EBX: guest-physical address of the information structure */
	uint32_t gdt;       /* a flat GDT (null, 32-bit code 0x08, data 0x10): base ... */
	uint16_t gdt_limit; /* ... and limit for GDTR */
	uint64_t lowest, highest; /* the kernel's bytes: [lowest, highest) */
	uint64_t end;       /* one past the last byte Mica wrote (kernel, modules, info) */
};

/* Finds a valid Multiboot header (magic and checksum) in the first 8 KiB of img: its
 * offset, or -1 when there is none (the image is not a Multiboot kernel). */
long mb_find_header(const void *img, uint64_t img_size);

/* Loads a Multiboot kernel for a guest with ram_size bytes of RAM at guest-physical 0 (ram:
 * the host view of it; NULL checks everything and writes nothing). name is the image's
 * path, cmdline the config's (may be empty), mods the modules in order. Refuses header
 * flags Mica cannot honour, images and segments that do not fit, anything in the PC's
 * hole at 640 KiB - 1 MiB, and an entry point outside what was loaded. Returns 0 with
 * *out, or MICA_EINVAL with a sentence in err. */
int mb_load(const void *img, uint64_t img_size, void *ram, uint64_t ram_size, const char *name,
	    const char *cmdline, const struct mb_module *mods, unsigned nmods, struct mb_boot *out,
	    char *err, size_t errlen);

#endif
