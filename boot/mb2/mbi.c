/* The Multiboot2 boot information (MBI): a list of tags GRUB writes before entering the
 * stub. Layouts: Multiboot2 spec 3.6 ("Boot information format"). Pure logic: every size,
 * alignment and end is checked before a field is read, so a broken MBI is named, not
 * followed. */
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "mb2.h"

#define MBI_HEADER    8        /* u32 total_size, u32 reserved */
#define MBI_MAX_SIZE  (1u << 20) /* far more than GRUB writes; a sanity bound */
#define TAG_HEADER    8        /* u32 type, u32 size */
#define MODULE_FIXED  16       /* header, u32 mod_start, u32 mod_end */
#define MMAP_FIXED    16       /* header, u32 entry_size, u32 entry_version */
#define MMAP_ENTRY_MIN 24      /* u64 base_addr, u64 length, u32 type, u32 reserved */
#define FB_FIXED      32       /* header, u64 addr, u32 pitch, width, height, u8 bpp, type, u16 */
#define FB_RGB_SIZE   (FB_FIXED + 6)
#define FB_TYPE_RGB   1
#define RSDP_V1_LEN   20
#define RSDP_V2_LEN   36

/* A NUL-terminated string filling at most len bytes at p, or NULL. */
static const char *string_in(const uint8_t *p, uint64_t len)
{
	return strnlen((const char *)p, len) < len ? (const char *)p : NULL;
}

int mb_fb_format(uint8_t bpp, uint8_t type, uint32_t pitch, const uint8_t c[6])
{
	if (type != FB_TYPE_RGB || bpp != 32 || pitch % 4 || c[1] != 8 || c[3] != 8 ||
	    c[5] != 8 || c[2] != 8)
		return 0; /* EGA text, indexed colour or an odd layout: the core gets none */
	if (c[0] == 0 && c[4] == 16)
		return 1; /* bytes R, G, B, X */
	if (c[0] == 16 && c[4] == 0)
		return 2; /* bytes B, G, R, X */
	return 0;
}

static void framebuffer(const uint8_t *t, uint32_t size, struct boot_framebuffer *fb)
{
	uint32_t pitch = rd32(t + 16);

	if (size < FB_RGB_SIZE)
		return;
	fb->format = (uint32_t)mb_fb_format(t[28], t[29], pitch, t + FB_FIXED);
	if (!fb->format)
		return;
	fb->base = rd64(t + 8);
	fb->width = rd32(t + 20);
	fb->height = rd32(t + 24);
	fb->pitch = pitch / 4;
}

int mbi_parse(const void *mbi, uint64_t addr, struct mb2_info *out, char *err, size_t errlen)
{
	const uint8_t *m = mbi;
	uint32_t total;
	uint64_t off = MBI_HEADER;

	memset(out, 0, sizeof(*out));
	if (addr % 8) {
		snprintf(err, errlen, "the boot information is at 0x%llx; expected an 8-byte aligned "
			 "address", (unsigned long long)addr);
		return -1;
	}
	total = rd32(m);
	if (total < MBI_HEADER + TAG_HEADER || total > MBI_MAX_SIZE) {
		snprintf(err, errlen, "the boot information at 0x%llx says it is %u bytes long; "
			 "expected %u to %u", (unsigned long long)addr, total,
			 MBI_HEADER + TAG_HEADER, MBI_MAX_SIZE);
		return -1;
	}
	out->total_size = total;
	for (;;) {
		const uint8_t *t = m + off;
		uint32_t type, size;

		if (total - off < TAG_HEADER) {
			snprintf(err, errlen, "the boot information (%u bytes) has no end tag: the tag "
				 "list runs out at offset %llu", total, (unsigned long long)off);
			return -1;
		}
		type = rd32(t);
		size = rd32(t + 4);
		if (size < TAG_HEADER || size > total - off) {
			snprintf(err, errlen, "boot information tag %u at offset %llu has size %u; "
				 "expected 8 to %llu (the bytes left)", type, (unsigned long long)off,
				 size, (unsigned long long)(total - off));
			return -1;
		}
		switch (type) {
		case MB2_TAG_END:
			if (size != TAG_HEADER) {
				snprintf(err, errlen, "the end tag at offset %llu has size %u; expected 8",
					 (unsigned long long)off, size);
				return -1;
			}
			return 0;
		case MB2_TAG_CMDLINE:
			out->cmdline = string_in(t + TAG_HEADER, size - TAG_HEADER);
			if (!out->cmdline) {
				snprintf(err, errlen, "the command line tag at offset %llu is not a "
					 "NUL-terminated string", (unsigned long long)off);
				return -1;
			}
			break;
		case MB2_TAG_MODULE: {
			struct mb2_module *mod = &out->modules[out->nmodules];

			if (size <= MODULE_FIXED) {
				snprintf(err, errlen, "module tag at offset %llu has size %u; expected "
					 "more than %u", (unsigned long long)off, size, MODULE_FIXED);
				return -1;
			}
			if (out->nmodules == MB2_MAX_MODULES) {
				snprintf(err, errlen, "more than %u modules; expected the core, the "
					 "config and at most %u images and initrds", MB2_MAX_MODULES,
					 BOOT_MAX_FILES);
				return -1;
			}
			mod->start = rd32(t + 8);
			mod->end = rd32(t + 12);
			mod->string = string_in(t + MODULE_FIXED, size - MODULE_FIXED);
			if (!mod->string || mod->end < mod->start) {
				snprintf(err, errlen, "module %u (tag at offset %llu) is broken: start "
					 "0x%llx, end 0x%llx, %s", out->nmodules, (unsigned long long)off,
					 (unsigned long long)mod->start, (unsigned long long)mod->end,
					 mod->string ? "end below start" : "string not NUL-terminated");
				return -1;
			}
			out->nmodules++;
			break;
		}
		case MB2_TAG_MMAP: {
			uint32_t esize = size >= MMAP_FIXED ? rd32(t + 8) : 0;

			if (out->mmap)
				break; /* only the first map counts */
			if (size < MMAP_FIXED || esize < MMAP_ENTRY_MIN || esize % 8 ||
			    (size - MMAP_FIXED) % esize) {
				snprintf(err, errlen, "the memory map tag at offset %llu (size %u) has "
					 "entries of %u bytes; expected a multiple of 8, at least %u, "
					 "dividing the %d bytes after its header", (unsigned long long)off,
					 size, esize, MMAP_ENTRY_MIN, (int)size - MMAP_FIXED);
				return -1;
			}
			if ((size - MMAP_FIXED) / esize > MB2_MAX_MMAP) {
				snprintf(err, errlen, "the memory map has %u entries; at most %u are "
					 "supported", (size - MMAP_FIXED) / esize, MB2_MAX_MMAP);
				return -1;
			}
			out->mmap = t + MMAP_FIXED;
			out->mmap_entry_size = esize;
			out->mmap_count = (size - MMAP_FIXED) / esize;
			break;
		}
		case MB2_TAG_FRAMEBUFFER:
			if (size < FB_FIXED) {
				snprintf(err, errlen, "the framebuffer tag at offset %llu has size %u; "
					 "expected at least %u", (unsigned long long)off, size, FB_FIXED);
				return -1;
			}
			framebuffer(t, size, &out->fb);
			break;
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW: {
			uint32_t need = type == MB2_TAG_ACPI_NEW ? RSDP_V2_LEN : RSDP_V1_LEN;

			if (size - TAG_HEADER < need) {
				snprintf(err, errlen, "the ACPI %s RSDP tag at offset %llu has size %u; "
					 "expected at least %u", type == MB2_TAG_ACPI_NEW ? "2.0" : "1.0",
					 (unsigned long long)off, size, TAG_HEADER + need);
				return -1;
			}
			if (type == MB2_TAG_ACPI_NEW || !out->rsdp ||
			    out->rsdp_len < RSDP_V2_LEN) { /* the ACPI 2.0 copy wins */
				out->rsdp = t + TAG_HEADER;
				out->rsdp_len = size - TAG_HEADER;
			}
			break;
		}
		default:
			break; /* tags Mica does not need */
		}
		off += (size + 7) & ~7u; /* spec 3.6.1: tags are padded to 8 bytes */
		if (off > total) {
			snprintf(err, errlen, "the boot information (%u bytes) has no end tag: the "
				 "last tag's padding runs past its end", total);
			return -1;
		}
	}
}

struct boot_mem mbi_mmap_entry(const struct mb2_info *info, unsigned i)
{
	struct boot_mem b;
	uint32_t type;

	if (info->mb1) {
		b = info->mb1_mmap[i];
		type = b.type;
	} else {
		const uint8_t *e = info->mmap + (uint64_t)i * info->mmap_entry_size;

		b = (struct boot_mem){ .base = rd64(e), .size = rd64(e + 8) };
		type = rd32(e + 16);
	}
	/* The same types in Multiboot (v1) and Multiboot2. */
	switch (type) {
	case MB2_MEM_AVAILABLE: b.type = BOOT_MEM_USABLE; break;
	case MB2_MEM_ACPI:      b.type = BOOT_MEM_ACPI; break;
	case MB2_MEM_NVS:       b.type = BOOT_MEM_ACPI_NVS; break;
	default:                b.type = BOOT_MEM_RESERVED; break; /* reserved, bad RAM, ... */
	}
	return b;
}
