/* The Multiboot (v1) boot information, as QEMU's -kernel, iPXE, syslinux's mboot.c32 and
 * GRUB's 'multiboot' command leave it (Multiboot spec 0.6.96, 3.3), turned into the same
 * struct mb2_info the Multiboot2 path fills, so that everything after is shared. Pure
 * logic: the structure is fixed-size, but every array it points to (modules, memory map,
 * strings) is checked against the memory the caller says is there before it is read. */
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "mb2.h"

#define F_MEM      (1u << 0)
#define F_CMDLINE  (1u << 2)
#define F_MODS     (1u << 3)
#define F_MMAP     (1u << 6)
#define F_FB       (1u << 12)
#define MBI1_SIZE  116          /* through the framebuffer colour info */
#define MOD_SIZE   16           /* u32 mod_start, mod_end, string, reserved */
#define MMAP_MIN   20           /* u64 base, u64 length, u32 type (after the u32 size) */
#define STRING_MAX 4096

/* The NUL-terminated string at physical address a, or NULL if it runs past STRING_MAX
 * bytes or the memory the caller can read. */
static const char *string_at(const struct mb1_view *v, uint32_t a)
{
	const uint8_t *p = mb1_ptr(v, a, 1);
	uint64_t room = p ? v->end - a : 0;

	if (!p)
		return NULL;
	if (room > STRING_MAX)
		room = STRING_MAX;
	return strnlen((const char *)p, room) < room ? (const char *)p : NULL;
}

const void *mb1_ptr(const struct mb1_view *v, uint64_t a, uint64_t len)
{
	if (a < v->start || a > v->end || len > v->end - a)
		return NULL;
	return v->base + (a - v->start);
}

const char *mb1_module_name(const char *string, char *buf, size_t len)
{
	const char *s = string, *end = string + strlen(string), *w;

	while (*s == ' ')
		s++;
	while (end > s && end[-1] == ' ')
		end--;
	for (w = end; w > s && w[-1] != ' '; w--)
		;
	if (w == s) {
		/* One word: a path; its name is what follows the last '/'. */
		for (const char *p = w; p < end; p++)
			if (*p == '/')
				w = p + 1;
	}
	size_t n = (size_t)(end - w) < len - 1 ? (size_t)(end - w) : len - 1;

	memcpy(buf, w, n);
	buf[n] = 0;
	return buf;
}

/* Multiboot spec 3.3: address at 88, pitch 96, width 100, height 104, bpp 108, type 109,
 * the colour layout from 110. */
static void framebuffer(const uint8_t *m, struct boot_framebuffer *fb)
{
	uint32_t pitch = rd32(m + 96);

	fb->format = (uint32_t)mb_fb_format(m[108], m[109], pitch, m + 110);
	if (!fb->format)
		return;
	fb->base = rd64(m + 88);
	fb->width = rd32(m + 100);
	fb->height = rd32(m + 104);
	fb->pitch = pitch / 4;
}

int mbi1_parse(const struct mb1_view *v, uint32_t addr, struct mb2_info *out,
	       char names[][BOOT_PATH_MAX], char *err, size_t errlen)
{
	const uint8_t *m = mb1_ptr(v, addr, MBI1_SIZE);
	uint32_t flags;

	memset(out, 0, sizeof(*out));
	if (!m) {
		snprintf(err, errlen, "the boot information at 0x%x is not in memory the stub can "
			 "read", addr);
		return -1;
	}
	flags = rd32(m);
	out->total_size = MBI1_SIZE;
	if (flags & F_CMDLINE) {
		out->cmdline = string_at(v, rd32(m + 16));
		if (!out->cmdline) {
			snprintf(err, errlen, "the command line at 0x%x is not a NUL-terminated string "
				 "of at most %u bytes", rd32(m + 16), STRING_MAX);
			return -1;
		}
	}
	if (flags & F_MODS) {
		uint32_t n = rd32(m + 20), at = rd32(m + 24);
		const uint8_t *mods = mb1_ptr(v, at, (uint64_t)n * MOD_SIZE);

		if (n > MB2_MAX_MODULES) {
			snprintf(err, errlen, "%u modules; the stub takes at most %u", n,
				 MB2_MAX_MODULES);
			return -1;
		}
		if (n && !mods) {
			snprintf(err, errlen, "the module list (%u entries at 0x%x) is not in memory "
				 "the stub can read", n, at);
			return -1;
		}
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e = mods + i * MOD_SIZE;
			struct mb2_module *mod = &out->modules[i];
			const char *s = string_at(v, rd32(e + 8));

			mod->start = rd32(e);
			mod->end = rd32(e + 4);
			if (mod->end < mod->start) {
				snprintf(err, errlen, "module %u ends (0x%llx) before it starts (0x%llx)",
					 i, (unsigned long long)mod->end,
					 (unsigned long long)mod->start);
				return -1;
			}
			mod->string = mb1_module_name(s ? s : "", names[i], BOOT_PATH_MAX);
		}
		out->nmodules = n;
	}
	if (flags & F_MMAP) {
		uint32_t len = rd32(m + 44), at = rd32(m + 48), off = 0, count = 0;
		const uint8_t *map = mb1_ptr(v, at, len);

		if (!map) {
			snprintf(err, errlen, "the memory map (%u bytes at 0x%x) is not in memory the "
				 "stub can read", len, at);
			return -1;
		}
		/* Entries are u32 size (not counting itself), then base, length, type. */
		while (off + 4 <= len) {
			uint32_t size = rd32(map + off);

			if (size < MMAP_MIN || size > len - off - 4) {
				snprintf(err, errlen, "memory map entry %u has size %u; expected %u to "
					 "%u", count, size, MMAP_MIN, len - off - 4);
				return -1;
			}
			if (count == MB2_MAX_MMAP) {
				snprintf(err, errlen, "the memory map has more than %u entries",
					 MB2_MAX_MMAP);
				return -1;
			}
			out->mb1_mmap[count].base = rd64(map + off + 4);
			out->mb1_mmap[count].size = rd64(map + off + 12);
			out->mb1_mmap[count].type = rd32(map + off + 20);
			count++;
			off += size + 4;
		}
		out->mmap_count = count;
		out->mb1 = 1;
	}
	if (flags & F_FB)
		framebuffer(m, &out->fb);
	return 0;
}
