/* The Multiboot2 entry (build/mica-mb2.elf): GRUB loads it, it builds the same struct
 * boot_info as the UEFI loader and jumps to the core. Only files under boot/mb2/ and their
 * unit tests include this. The pure parts (mbi.c, memmap.c, rsdp.c) also build on the host. */
#ifndef MICA_BOOT_MB2_H
#define MICA_BOOT_MB2_H

#include <stddef.h>
#include <stdint.h>
#include <mica/boot_info.h>
#include "boot/say.h"

/* Multiboot2 spec 3.2: what a Multiboot2 boot loader leaves in EAX. */
#define MB2_BOOT_MAGIC 0x36d76289u

/* Multiboot2 spec 3.6: boot information tag types this entry reads. */
#define MB2_TAG_END         0
#define MB2_TAG_CMDLINE     1
#define MB2_TAG_MODULE      3
#define MB2_TAG_MMAP        6
#define MB2_TAG_FRAMEBUFFER 8
#define MB2_TAG_ACPI_OLD    14
#define MB2_TAG_ACPI_NEW    15

/* Multiboot2 spec 3.6.8: memory map entry types. */
#define MB2_MEM_AVAILABLE 1
#define MB2_MEM_ACPI      3
#define MB2_MEM_NVS       4

#define MB2_MAX_MODULES 64  /* core, config and up to BOOT_MAX_FILES images, with room */
#define MB2_MAX_MMAP    BOOT_MAX_MMAP
#define MB2_PAGE        4096ULL

struct mb2_module {
	uint64_t start, end;  /* [start, end) as GRUB loaded it */
	const char *string;   /* the module's command line: its name for Mica */
};

/* What mbi_parse (or mbi1_parse) found. Pointers point into the MBI. */
struct mb2_info {
	uint64_t total_size;
	int mb1;                       /* Multiboot (v1): the map is in mb1_mmap */
	struct boot_mem mb1_mmap[MB2_MAX_MMAP]; /* v1 entries, types as the loader gave them */
	const char *cmdline;           /* NULL if no tag 1 */
	unsigned nmodules;
	struct mb2_module modules[MB2_MAX_MODULES];
	const uint8_t *mmap;           /* first entry, NULL if no tag 6 */
	uint32_t mmap_entry_size;
	unsigned mmap_count;
	const uint8_t *rsdp;           /* tag 15 (preferred) or 14: a copy of the RSDP */
	uint32_t rsdp_len;
	struct boot_framebuffer fb;    /* format 0 if none or not 32-bit RGB/BGR */
};

/* mbi.c: checks every tag's size, alignment and end against total_size and fills out.
 * mbi is the MBI's first byte; addr its physical address (only for messages). On error
 * writes a sentence (what was expected, what was found) to err and returns -1. */
int mbi_parse(const void *mbi, uint64_t addr, struct mb2_info *out, char *err, size_t errlen);
/* Entry i of the memory map tag as a boot_mem with the type translated (1 -> USABLE,
 * 3 -> ACPI, 4 -> ACPI_NVS, anything else -> RESERVED). */
struct boot_mem mbi_mmap_entry(const struct mb2_info *info, unsigned i);

/* A framebuffer's format for boot_info (1 RGBX, 2 BGRX; 0: none Mica can draw on) from the
 * fields both Multiboot versions give: bits per pixel, type (1 = RGB), pitch in bytes and
 * the six colour bytes (red position, size, green ..., blue ...). */
int mb_fb_format(uint8_t bpp, uint8_t type, uint32_t pitch, const uint8_t c[6]);

/* Multiboot spec 0.6.96 3.2: what a Multiboot (v1) boot loader leaves in EAX. */
#define MB1_BOOT_MAGIC 0x2badb002u

/* mbi1.c: the memory a Multiboot (v1) information structure may point into: physical
 * [start, end) is at base (identity in the stub, an array in the unit tests). */
struct mb1_view {
	const uint8_t *base;
	uint64_t start, end;
};
/* p's pointer for physical [a, a + len), or NULL when that is not all inside the view. */
const void *mb1_ptr(const struct mb1_view *v, uint64_t a, uint64_t len);
/* Fills out from the Multiboot (v1) information at physical addr, the way mbi_parse does
 * for Multiboot2: command line, modules (named by mb1_module_name into names[i]), memory
 * map, framebuffer. Every array and string is checked to lie inside v. On error writes a
 * sentence to err and returns -1. */
int mbi1_parse(const struct mb1_view *v, uint32_t addr, struct mb2_info *out,
	       char names[][BOOT_PATH_MAX], char *err, size_t errlen);
/* A v1 module's name for Mica: the last word of its string ("build/core.elf core.elf" ->
 * "core.elf"); a string of one word is a path, named by its last part
 * ("/srv/mica/core.elf" -> "core.elf", as QEMU's -initrd passes file names). */
const char *mb1_module_name(const char *string, char *buf, size_t len);

/* memmap.c: a half-open physical range [base, end). */
struct mem_range {
	uint64_t base, end;
};

/* Builds boot_info's map from the firmware's entries `in` (any order, may overlap or touch)
 * and the ranges Mica keeps (`mica`, any order): sorted by base, not overlapping, touching
 * entries of one type merged. Where entries overlap, the less usable type wins:
 * USABLE < MICA < ACPI < ACPI_NVS < RESERVED; a MICA range only takes what the firmware
 * called usable (never a hole or a reserved range). With more than max entries, reserved
 * neighbours swallow the hole between them, then the smallest usable ranges are left out.
 * Returns the number of entries written to out, or -1 if even that does not fit (then
 * out holds max entries and a MICA range may be missing). */
int mb2_mmap_build(const struct boot_mem *in, unsigned nin, const struct mem_range *mica,
		   unsigned nmica, struct boot_mem *out, unsigned max);

/* The highest address a with a % align == 0, lo <= a, a + size <= hi, [a, a + size) inside
 * one USABLE entry of the sorted, merged `map` (as mb2_mmap_build makes it) and touching no
 * range in busy. Returns 0 if there is none (lo must be above 0). */
uint64_t mb2_mem_find(const struct boot_mem *map, unsigned n, const struct mem_range *busy,
		      unsigned nbusy, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi);

/* rsdp.c: ACPI 6.5 5.2.5.3. Length of the valid RSDP at p (20 for revision 0, else its
 * length field, checked against both checksums), or 0 if p, avail bytes long, holds none. */
uint32_t rsdp_check(const void *p, uint64_t avail);
/* ACPI 6.5 5.2.5.1: the first valid RSDP on a 16-byte boundary in [mem, mem + len);
 * returns its offset from mem, or -1. */
int64_t rsdp_scan(const void *mem, uint64_t len);

/* console.c (stub only): COM1, 115200 8N1; every line starts "mica-mb2: ". */
void con_init(void);
/* Says a last line about what to do, then stops this CPU for good. */
void __attribute__((noreturn)) con_halt(const char *todo);

#endif
