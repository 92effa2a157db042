/* The Multiboot boot protocol for guests (kernel/loader/multiboot.h). */
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/loader/multiboot.h"
#include "kernel/loader/guest_ram.h"
#include "kernel/loader/phys_elf.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

#define FOUR_GIB     (1ULL << 32)
#define HOLE_START   0xA0000ULL  /* legacy video memory, option ROMs and the BIOS ... */
#define HOLE_END     0x100000ULL /* ... up to 1 MiB: no RAM a kernel may be loaded into */
#define EBDA         0x9FC00ULL  /* the last KiB under 640 KiB, reserved as on a PC */
#define PAGE         4096ULL
#define LOADER_NAME  "Mica"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

long mb_find_header(const void *img, uint64_t img_size)
{
	const uint8_t *p = img;
	uint64_t end = img_size < MB_SEARCH ? img_size : MB_SEARCH;

	for (uint64_t off = 0; off + 12 <= end; off += 4) {
		uint32_t magic = rd32(p + off), flags = rd32(p + off + 4), sum = rd32(p + off + 8);
		if (magic == MB_HEADER_MAGIC && (uint32_t)(magic + flags + sum) == 0)
			return (long)off;
	}
	return -1;
}

/* The a.out kludge: the header says where the file goes (Multiboot 3.1.3). */
static int aout_pieces(const uint8_t *img, uint64_t size, uint64_t hdr, struct phys_seg *pc,
		       unsigned *n, uint64_t *entry, char *err, size_t errlen)
{
	if (hdr + 32 > size)
		return errmsg(MICA_EINVAL, err, errlen, "the Multiboot header's address fields "
			      "(flag 16) run past the end of the image");
	uint32_t header_addr = rd32(img + hdr + 12), load_addr = rd32(img + hdr + 16);
	uint32_t load_end = rd32(img + hdr + 20), bss_end = rd32(img + hdr + 24);
	*entry = rd32(img + hdr + 28);
	if (load_addr > header_addr || header_addr - load_addr > hdr)
		return errmsg(MICA_EINVAL, err, errlen, "Multiboot load_addr 0x%x and header_addr "
			      "0x%x put the file's start before its first byte", load_addr, header_addr);
	uint64_t off = hdr - (header_addr - load_addr);
	uint64_t filesz = load_end ? (uint64_t)load_end - load_addr : size - off;
	if (load_end && load_end < load_addr)
		return errmsg(MICA_EINVAL, err, errlen, "Multiboot load_end_addr 0x%x is below "
			      "load_addr 0x%x", load_end, load_addr);
	if (filesz > size - off)
		return errmsg(MICA_EINVAL, err, errlen, "Multiboot load_end_addr 0x%x asks for %lu "
			      "bytes but the image has %lu from there", load_end,
			      (unsigned long)filesz, (unsigned long)(size - off));
	uint64_t memsz = filesz;
	if (bss_end) {
		if (bss_end < load_addr + filesz)
			return errmsg(MICA_EINVAL, err, errlen, "Multiboot bss_end_addr 0x%x is below "
				      "the end of the loaded file (0x%lx)", bss_end,
				      (unsigned long)(load_addr + filesz));
		memsz = (uint64_t)bss_end - load_addr;
	}
	pc[0] = (struct phys_seg){ off, filesz, load_addr, load_addr, memsz };
	*n = 1;
	return 0;
}

/* The information structure's fields (Multiboot 3.3). */
#define MBI_FLAGS       0
#define MBI_MEM_LOWER   4
#define MBI_MEM_UPPER   8
#define MBI_BOOT_DEVICE 12
#define MBI_CMDLINE     16
#define MBI_MODS_COUNT  20
#define MBI_MODS_ADDR   24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR   48
#define MBI_LOADER_NAME 64
#define MBI_SIZE        120
#define MMAP_ENTRY      24 /* size field (20), base, length, type */
#define MMAP_ENTRIES    4

/* Copies s (NUL included) to ram + *at, advancing *at; returns its address. */
static uint32_t put_str(uint8_t *ram, uint64_t *at, const char *s)
{
	uint64_t a = *at, n = strlen(s) + 1;
	if (ram)
		memcpy(ram + a, s, n);
	*at += n;
	return (uint32_t)a;
}

static uint32_t put_str2(uint8_t *ram, uint64_t *at, const char *a, const char *b)
{
	uint64_t s = *at, na = strlen(a), nb = strlen(b);
	if (ram) {
		memcpy(ram + s, a, na);
		if (nb) {
			ram[s + na] = ' ';
			memcpy(ram + s + na + 1, b, nb);
		}
		ram[s + na + (nb ? nb + 1 : 0)] = 0;
	}
	*at += na + (nb ? nb + 1 : 0) + 1;
	return (uint32_t)s;
}

static void put_mmap(uint8_t *e, uint64_t base, uint64_t len, uint32_t type)
{
	put32(e, 20);
	put64(e + 4, base);
	put64(e + 12, len);
	put32(e + 20, type);
}

static uint64_t info_size(const char *name, const char *cmdline, const struct mb_module *mods,
			  unsigned nmods)
{
	uint64_t n = MBI_SIZE + MMAP_ENTRY * MMAP_ENTRIES + 16ULL * nmods + 24 + 8;
	n += strlen(name) + 1 + strlen(cmdline) + 1 + sizeof(LOADER_NAME);
	for (unsigned i = 0; i < nmods; i++)
		n += strlen(mods[i].string) + 1;
	return n;
}

int mb_load(const void *image, uint64_t size, void *ram_v, uint64_t ram_size, const char *name,
	    const char *cmdline, const struct mb_module *mods, unsigned nmods, struct mb_boot *out,
	    char *err, size_t errlen)
{
	const uint8_t *img = image;
	uint8_t *ram = ram_v;
	struct phys_seg pc[PHYS_SEGS_MAX];
	unsigned n = 0;
	uint64_t entry = 0;
	uint64_t limit = ram_size < FOUR_GIB ? ram_size : FOUR_GIB;
	long hdr = mb_find_header(img, size);
	int rc;

	if (nmods > MB_MODULES_MAX)
		return errmsg(MICA_EINVAL, err, errlen, "%u modules; at most %u are supported", nmods,
			      MB_MODULES_MAX);
	if (hdr < 0)
		return errmsg(MICA_EINVAL, err, errlen, "no Multiboot header (magic 0x%x with a "
			      "valid checksum) in the image's first %u bytes", MB_HEADER_MAGIC,
			      MB_SEARCH);
	uint32_t flags = rd32(img + hdr + 4);
	if (flags & 0xFFFFu & ~MB_HF_KNOWN)
		return errmsg(MICA_EINVAL, err, errlen, "the Multiboot header requires features 0x%x "
			      "(flag bits 3-15) that no Multiboot loader knows", flags & 0xFFF8u);
	if (!(flags & MB_HF_AOUT_KLUDGE) && (size < 4 || memcmp(img, "\x7f" "ELF", 4)))
		return errmsg(MICA_EINVAL, err, errlen, "a Multiboot kernel without the address "
			      "fields (flag 16) must be an ELF executable, and this is not one");
	rc = (flags & MB_HF_AOUT_KLUDGE) ? aout_pieces(img, size, (uint64_t)hdr, pc, &n, &entry,
						       err, errlen)
					 : phys_elf_segments(img, size, pc, &n, &entry, err, errlen);
	if (rc)
		return rc;

	uint64_t lowest = ~0ULL, highest = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = pc[i].paddr, e = a + pc[i].memsz;
		if (e < a || e > limit)
			return errmsg(MICA_EINVAL, err, errlen, "the kernel's bytes at [0x%lx, 0x%lx) do "
				      "not fit the partition's %lu MiB of RAM below 4 GiB",
				      (unsigned long)a, (unsigned long)e, (unsigned long)(limit >> 20));
		if (a < HOLE_END && e > HOLE_START)
			return errmsg(MICA_EINVAL, err, errlen, "the kernel's bytes at [0x%lx, 0x%lx) "
				      "fall into the PC's hole at 640 KiB - 1 MiB, which is not RAM",
				      (unsigned long)a, (unsigned long)e);
		lowest = a < lowest ? a : lowest;
		highest = e > highest ? e : highest;
	}
	if (phys_elf_entry(pc, n, entry, &out->entry))
		return errmsg(MICA_EINVAL, err, errlen, "the entry point 0x%lx lies outside "
			      "everything the kernel loads", (unsigned long)entry);

	/* Modules, each on its own page after the kernel, never in the hole (a kernel below
	 * 640 KiB has them from 1 MiB); then the information. */
	uint64_t at = align_up(highest, PAGE), mod_at[MB_MODULES_MAX];
	if (at < HOLE_END)
		at = HOLE_END;
	for (unsigned i = 0; i < nmods; i++) {
		mod_at[i] = at;
		if (mods[i].size > limit || at > limit - mods[i].size)
			return errmsg(MICA_EINVAL, err, errlen, "module '%s' (%lu bytes) does not fit "
				      "after the kernel in the partition's RAM below 4 GiB",
				      mods[i].string, (unsigned long)mods[i].size);
		at = align_up(at + mods[i].size, PAGE);
	}
	uint64_t info = at, need = info_size(name, cmdline, mods, nmods);
	if (info > limit || need > limit - info)
		return errmsg(MICA_EINVAL, err, errlen, "the Multiboot information (%lu bytes) does "
			      "not fit after the kernel and its modules in the partition's RAM",
			      (unsigned long)need);
	out->lowest = lowest;
	out->highest = highest;
	out->info = (uint32_t)info;
	out->end = info + need;
	if (!ram)
		return 0;

	for (unsigned i = 0; i < n; i++) {
		guest_ram_prepare(ram, pc[i].paddr, pc[i].memsz);
		memset(ram + pc[i].paddr, 0, pc[i].memsz);
		memcpy(ram + pc[i].paddr, img + pc[i].off, pc[i].filesz);
	}
	for (unsigned i = 0; i < nmods; i++) {
		guest_ram_prepare(ram, mod_at[i], mods[i].size);
		memcpy(ram + mod_at[i], mods[i].data, mods[i].size);
	}

	uint8_t *mbi = ram + info;
	uint64_t p = info + MBI_SIZE;
	guest_ram_prepare(ram, info, need);
	memset(mbi, 0, need);
	put32(mbi + MBI_FLAGS, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP |
				       MB_INFO_LOADER_NAME | (nmods ? MB_INFO_MODS : 0));
	put32(mbi + MBI_MEM_LOWER, (uint32_t)(EBDA >> 10));
	put32(mbi + MBI_MEM_UPPER, (uint32_t)((limit - HOLE_END) >> 10));
	put32(mbi + MBI_BOOT_DEVICE, 0xFFFFFFFFu); /* not booted from a BIOS disk */
	put32(mbi + MBI_MMAP_ADDR, (uint32_t)p);
	put32(mbi + MBI_MMAP_LENGTH, MMAP_ENTRY * MMAP_ENTRIES);
	put_mmap(ram + p, 0, EBDA, 1);
	put_mmap(ram + p + MMAP_ENTRY, EBDA, HOLE_START - EBDA, 2);
	put_mmap(ram + p + 2 * MMAP_ENTRY, 0xF0000, HOLE_END - 0xF0000, 2);
	put_mmap(ram + p + 3 * MMAP_ENTRY, HOLE_END, ram_size - HOLE_END, 1);
	p += MMAP_ENTRY * MMAP_ENTRIES;
	put32(mbi + MBI_MODS_ADDR, (uint32_t)p);
	put32(mbi + MBI_MODS_COUNT, nmods);
	uint64_t list = p;
	p += 16ULL * nmods;
	p = align_up(p, 8);
	out->gdt = (uint32_t)p;
	out->gdt_limit = 23;
	put64(ram + p + 8, 0x00CF9B000000FFFFULL);  /* 0x08: 32-bit code, base 0, 4 GiB */
	put64(ram + p + 16, 0x00CF93000000FFFFULL); /* 0x10: data, base 0, 4 GiB */
	p += 24;
	put32(mbi + MBI_CMDLINE, put_str2(ram, &p, name, cmdline));
	put32(mbi + MBI_LOADER_NAME, put_str(ram, &p, LOADER_NAME));
	for (unsigned i = 0; i < nmods; i++) {
		uint8_t *m = ram + list + 16ULL * i;
		put32(m, (uint32_t)mod_at[i]);
		put32(m + 4, (uint32_t)(mod_at[i] + mods[i].size));
		put32(m + 8, put_str(ram, &p, mods[i].string));
	}
	return 0;
}
