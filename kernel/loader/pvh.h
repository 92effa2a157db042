/* The PVH boot protocol for guests (Xen's "HVM direct boot" ABI, which Linux's vmlinux,
 * FreeBSD and several unikernels carry): an ELF image with the note
 * XEN_ELFNOTE_PHYS32_ENTRY names a 32-bit entry point; the kernel is entered in flat 32-bit
 * protected mode, paging off, with EBX = a struct hvm_start_info (magic 0x336ec578,
 * version 1) giving the memory map, the command line, the modules and the ACPI RSDP. Pure
 * logic (host unit tested): ram is the host view of guest-physical 0.
 *
 * Layout (all below 1 MiB rebuilt on every load): a flat GDT at PVH_GDT, the start-info,
 * its memory map and module list at PVH_START_INFO, module strings after them, the command
 * line at PVH_CMDLINE, ACPI tables at PVH_ACPI; the kernel's segments at their physical
 * addresses (at or above 1 MiB); the modules (a Linux kernel takes the first as its
 * initrd) page aligned at the top of RAM below 4 GiB, the first highest. */
#ifndef MICA_LOADER_PVH_H
#define MICA_LOADER_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/platform/acpi_tables.h"
#include "kernel/virt.h"

#define PVH_GDT          0x7000ULL
#define PVH_START_INFO   0x10000ULL
#define PVH_MEMMAP       0x10100ULL
#define PVH_MODLIST      0x10400ULL
#define PVH_STRINGS      0x11000ULL /* module strings, up to PVH_CMDLINE */
#define PVH_CMDLINE      0x20000ULL
#define PVH_CMDLINE_MAX  0x10000ULL
#define PVH_LOW_END      0x9f000ULL /* memory map: [0, here) RAM, [here, 1 MiB) reserved */
#define PVH_ACPI         0xe0000ULL
#define PVH_ACPI_SIZE    0x20000ULL
#define PVH_MODULES_MAX  9

#define PVH_START_MAGIC  0x336ec578u
#define PVH_NOTE_ENTRY   18         /* XEN_ELFNOTE_PHYS32_ENTRY */
#define PVH_SEL_CODE     0x08
#define PVH_SEL_DATA     0x10

struct pvh_module {
	const void *data;   /* NULL with ram == NULL: only sizes checked */
	uint64_t size;
	const char *string; /* the module's command line: its path */
};

/* The PVH entry point of an ELF image (its PT_NOTE segments): 0 with *entry, or -1 when
 * the image is not ELF or has no such note. */
int pvh_find_entry(const void *img, uint64_t size, uint32_t *entry);

/* Loads a PVH kernel into ram (NULL: checks only) for a guest with ram_size bytes and the
 * platform acpi describes (its tables are built at PVH_ACPI; RAM must end below its MMIO),
 * with cmdline (may be empty) and mods in order. Fills st with vCPU 0's entry state.
 * Returns 0 or MICA_EINVAL with a sentence in err. */
int pvh_load(const void *img, uint64_t size, const char *cmdline, const struct pvh_module *mods,
	     unsigned nmods, void *ram, uint64_t ram_size, const struct acpi_guest *acpi,
	     struct vcpu_boot_state *st, char *err, size_t errlen);

#endif
