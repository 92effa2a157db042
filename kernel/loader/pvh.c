/* The PVH boot protocol for guests (kernel/loader/pvh.h). */
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/loader/phys_elf.h"
#include "kernel/loader/guest_ram.h"
#include "kernel/loader/pvh.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

#define PT_NOTE   4
#define HIGH      0x100000ULL
#define FOUR_GIB  (1ULL << 32)
#define PAGE      4096ULL
#define SI_SIZE   56
#define MEMMAP_MAX 8
#define MOD_ENTRY 32

typedef unsigned long long ull;

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ULL;
}

int pvh_find_entry(const void *image, uint64_t size, uint32_t *entry)
{
	const uint8_t *img = image;

	if (size < 64 || memcmp(img, "\x7f" "ELF", 4) || img[5] != 1 || (img[4] != 1 && img[4] != 2))
		return -1;
	int is64 = img[4] == 2;
	uint64_t phoff = is64 ? rd64(img + 32) : rd32(img + 28);
	unsigned phentsize = rd16(img + (is64 ? 54 : 42)), phnum = rd16(img + (is64 ? 56 : 44));
	if (phentsize != (is64 ? 56u : 32u) || phoff > size ||
	    (uint64_t)phnum * phentsize > size - phoff)
		return -1;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		if (rd32(ph) != PT_NOTE)
			continue;
		uint64_t off = is64 ? rd64(ph + 8) : rd32(ph + 4);
		uint64_t len = is64 ? rd64(ph + 32) : rd32(ph + 16);
		if (off > size || len > size - off)
			continue;
		/* Notes: namesz, descsz, type, then name and desc, each padded to 4 bytes. */
		for (uint64_t p = off; p + 12 <= off + len;) {
			uint32_t namesz = rd32(img + p), descsz = rd32(img + p + 4);
			uint32_t type = rd32(img + p + 8);
			uint64_t name = p + 12, desc = name + align4(namesz);
			if (desc > off + len || descsz > off + len - desc)
				break;
			if (type == PVH_NOTE_ENTRY && namesz == 4 && !memcmp(img + name, "Xen", 4) &&
			    (descsz == 4 || descsz == 8)) {
				*entry = rd32(img + desc);
				return 0;
			}
			p = desc + align4(descsz);
		}
	}
	return -1;
}

struct region {
	uint64_t base, size;
	uint32_t type;
};

int pvh_load(const void *image, uint64_t size, const char *cmdline, const struct pvh_module *mods,
	     unsigned nmods, void *ram_v, uint64_t ram_size, const struct acpi_guest *acpi,
	     struct vcpu_boot_state *st, char *err, size_t errlen)
{
	const uint8_t *img = image;
	uint8_t *ram = ram_v;
	struct phys_seg segs[PHYS_SEGS_MAX];
	unsigned n = 0;
	uint64_t elf_entry;
	uint32_t entry;
	int rc;

	if (pvh_find_entry(img, size, &entry))
		return errmsg(MICA_EINVAL, err, errlen, "no PVH entry note "
			      "(XEN_ELFNOTE_PHYS32_ENTRY) in the image");
	rc = phys_elf_segments(img, size, segs, &n, &elf_entry, err, errlen);
	if (rc)
		return rc;

	/* RAM is one block from 0 and must end below the platform's MMIO. */
	uint64_t floor = acpi->ioapic_addr < ACPI_LAPIC_BASE ? acpi->ioapic_addr : ACPI_LAPIC_BASE;
	if (acpi->ecam_base && acpi->ecam_base < floor)
		floor = acpi->ecam_base;
	if (acpi->pci_mem_size && acpi->pci_mem_base < floor)
		floor = acpi->pci_mem_base;
	if (ram_size > floor)
		return errmsg(MICA_EINVAL, err, errlen, "%llu MiB of RAM would cover the platform's "
			      "devices at 0x%llx: a PVH guest can have at most %llu MiB",
			      (ull)(ram_size >> 20), (ull)floor, (ull)(floor >> 20));

	uint64_t kend = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = segs[i].paddr, e = a + segs[i].memsz;
		if (a < HIGH || e < a || e > ram_size)
			return errmsg(MICA_EINVAL, err, errlen, "the kernel's segment at [0x%llx, 0x%llx) "
				      "does not lie in the partition's RAM above 1 MiB (%llu MiB)",
				      (ull)a, (ull)e, (ull)(ram_size >> 20));
		kend = e > kend ? e : kend;
	}
	int in_kernel = 0;
	for (unsigned i = 0; i < n; i++)
		in_kernel |= entry >= segs[i].paddr && entry - segs[i].paddr < segs[i].memsz;
	if (!in_kernel)
		return errmsg(MICA_EINVAL, err, errlen, "the PVH entry point 0x%x lies outside the "
			      "kernel's segments", entry);

	size_t clen = cmdline ? strlen(cmdline) : 0;
	if (clen >= PVH_CMDLINE_MAX)
		return errmsg(MICA_EINVAL, err, errlen, "the command line is longer than %llu bytes",
			      (ull)PVH_CMDLINE_MAX - 1);
	if (nmods > PVH_MODULES_MAX)
		return errmsg(MICA_EINVAL, err, errlen, "%u modules; at most %u", nmods, PVH_MODULES_MAX);
	uint64_t strings = 0;
	for (unsigned i = 0; i < nmods; i++)
		strings += strlen(mods[i].string) + 1;
	if (strings > PVH_CMDLINE - PVH_STRINGS)
		return errmsg(MICA_EINVAL, err, errlen, "the module names take %llu bytes, more than "
			      "Mica's %llu", (ull)strings, (ull)(PVH_CMDLINE - PVH_STRINGS));

	/* Modules from the top of RAM below 4 GiB down, the first highest. */
	uint64_t top = ram_size < FOUR_GIB ? ram_size : FOUR_GIB, at[PVH_MODULES_MAX];
	for (unsigned i = 0; i < nmods; i++) {
		if (mods[i].size > top || ((top - mods[i].size) & ~(PAGE - 1)) < kend)
			return errmsg(MICA_EINVAL, err, errlen, "module '%s' (%llu bytes) does not fit "
				      "between the kernel (ending at 0x%llx) and the end of RAM below "
				      "4 GiB", mods[i].string, (ull)mods[i].size, (ull)kend);
		at[i] = (top - mods[i].size) & ~(PAGE - 1);
		top = at[i];
	}
	uint64_t acpi_size = acpi_build_size(acpi);
	if (!acpi_size)
		return acpi_build(NULL, PVH_ACPI, PVH_ACPI_SIZE, acpi, NULL, err, errlen);
	if (acpi_size > PVH_ACPI_SIZE)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI tables for %u vCPUs need %llu bytes, "
			      "more than the %llu at 0x%llx", acpi->ncpus, (ull)acpi_size,
			      (ull)PVH_ACPI_SIZE, (ull)PVH_ACPI);
	if (!ram || !st)
		return 0;

	/* Everything checked: build. */
	uint64_t rsdp;
	guest_ram_prepare(ram, 0, HIGH);
	memset(ram, 0, HIGH);
	rc = acpi_build(ram + PVH_ACPI, PVH_ACPI, PVH_ACPI_SIZE, acpi, &rsdp, err, errlen);
	if (rc)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		guest_ram_prepare(ram, segs[i].paddr, segs[i].memsz);
		memset(ram + segs[i].paddr, 0, segs[i].memsz);
		memcpy(ram + segs[i].paddr, img + segs[i].off, segs[i].filesz);
	}
	put64(ram + PVH_GDT + PVH_SEL_CODE, 0x00CF9B000000FFFFULL);
	put64(ram + PVH_GDT + PVH_SEL_DATA, 0x00CF93000000FFFFULL);
	memcpy(ram + PVH_CMDLINE, cmdline ? cmdline : "", clen);
	ram[PVH_CMDLINE + clen] = 0;

	uint64_t sp = PVH_STRINGS;
	for (unsigned i = 0; i < nmods; i++) {
		uint8_t *m = ram + PVH_MODLIST + (uint64_t)i * MOD_ENTRY;
		size_t sl = strlen(mods[i].string) + 1;
		guest_ram_prepare(ram, at[i], mods[i].size);
		memcpy(ram + at[i], mods[i].data, mods[i].size);
		memcpy(ram + sp, mods[i].string, sl);
		put64(m, at[i]);
		put64(m + 8, mods[i].size);
		put64(m + 16, sp);
		sp += sl;
	}

	struct region map[MEMMAP_MAX];
	unsigned nmap = 0;
	map[nmap++] = (struct region){ 0, PVH_LOW_END, 1 };
	map[nmap++] = (struct region){ PVH_LOW_END, HIGH - PVH_LOW_END, 2 };
	map[nmap++] = (struct region){ HIGH, ram_size - HIGH, 1 };
	if (acpi->ecam_base) /* Linux takes an MCFG range only where the map reserves it */
		map[nmap++] = (struct region){ acpi->ecam_base + ((uint64_t)acpi->ecam_bus_start << 20),
					       (uint64_t)(acpi->ecam_bus_end - acpi->ecam_bus_start + 1)
						       << 20, 2 };
	for (unsigned i = 0; i < nmap; i++) {
		uint8_t *e = ram + PVH_MEMMAP + 24ULL * i;
		put64(e, map[i].base);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}

	uint8_t *si = ram + PVH_START_INFO;
	put32(si, PVH_START_MAGIC);
	put32(si + 4, 1);                 /* version: with the memory map */
	put32(si + 8, 0);                 /* flags */
	put32(si + 12, nmods);
	put64(si + 16, nmods ? PVH_MODLIST : 0);
	put64(si + 24, PVH_CMDLINE);
	put64(si + 32, rsdp);
	put64(si + 40, PVH_MEMMAP);
	put32(si + 48, nmap);

	memset(st, 0, sizeof(*st));
	st->mode = VCPU_MODE_PROT32;
	st->rip = entry;
	st->rbx = PVH_START_INFO;
	st->cr0 = 0x11; /* PE, ET; paging off */
	st->gdt_base = PVH_GDT;
	st->gdt_limit = PVH_SEL_DATA + 7;
	st->code_sel = PVH_SEL_CODE;
	st->data_sel = PVH_SEL_DATA;
	return 0;
}
