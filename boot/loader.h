/* The UEFI loader's own interfaces (BOOTX64.EFI). Only files under boot/ include this. */
#ifndef MICA_BOOT_LOADER_H
#define MICA_BOOT_LOADER_H

#include <efi.h>
#include <stddef.h>
#include <stdint.h>
#include <mica/boot_info.h>
#include "boot/say.h"

/* Memory the loader hands to Mica: an OS-defined UEFI memory type (UEFI 2.10 7.2.1,
 * 0x80000000..0xFFFFFFFF). It survives ExitBootServices and becomes BOOT_MEM_MICA. */
#define MICA_MEMORY_TYPE ((EFI_MEMORY_TYPE)0x80000000u)

#define PAGE_SIZE 4096ULL
#define PAGES(bytes) (((bytes) + PAGE_SIZE - 1) / PAGE_SIZE)

/* Set by efi_main before anything else; the firmware owns what they point to. */
extern EFI_SYSTEM_TABLE *g_st;
extern EFI_BOOT_SERVICES *g_bs;

/* mica_mem.c: zeroed MICA pages (at least one); how/max as for AllocatePages. */
EFI_STATUS mica_alloc(EFI_ALLOCATE_TYPE how, uint64_t max, uint64_t bytes, uint64_t *addr);
/* Gives back every MICA page allocated so far (a boot that failed part-way). */
void mica_free_all(void);

/* console.c: every line goes to ConOut and, unless ConOut already drives a UART, to COM1. */
void con_init(void);
/* After ExitBootServices only COM1 is left: later lines go there directly. */
void con_boot_services_gone(void);
/* After an error: gives a person at the screen time to read it (a key or a timeout). */
void con_pause(unsigned seconds);

/* efi_file.c: the file system the loader itself was read from. */
EFI_STATUS file_open_root(EFI_HANDLE image, EFI_FILE_HANDLE *root);
/* Reads a whole file. path is ASCII with '\' separators, from the volume root.
 * mica != 0: the data goes into MICA pages (kept for the core); else into pool memory the
 * caller frees with FreePool. Returns EFI_NOT_FOUND if there is no such file. */
EFI_STATUS file_load(EFI_FILE_HANDLE root, const char *path, int mica, void **data,
		     uint64_t *size);

/* Is there a file (not a folder) at path? EFI_SUCCESS, EFI_NOT_FOUND or another error. */
EFI_STATUS file_exists(EFI_FILE_HANDLE root, const char *path);
/* A path from the config ("guests/hello.elf") as a path on the volume: under dir
 * ("\\mica\\"), or from the volume root if it starts with a separator; '/' becomes '\\'. */
void esp_path(const char *dir, const char *name, char *out, size_t len);

/* efi_tables.c: the ACPI RSDP from the firmware's configuration table (ACPI 2.0 preferred;
 * 0 if none), and the GOP's framebuffer (format 0 if there is none Mica can draw on). */
uint64_t efi_acpi_rsdp(void);
void efi_framebuffer(struct boot_framebuffer *fb);

/* elf_core.c: the core image, an ELF64 static PIE linked at 0. Pure logic. */
struct core_layout {
	uint64_t span;  /* bytes from vaddr 0 to the end of the last PT_LOAD, page-rounded */
	uint64_t align; /* the largest PT_LOAD alignment, at least 4 KiB */
	uint64_t entry; /* e_entry: offset from the load base */
};
/* Checks every header field the loader relies on; on error writes a sentence to err. */
int core_check(const void *img, uint64_t size, struct core_layout *out, char *err, size_t errlen);
/* Copies the segments to base + p_vaddr; base must be zeroed, span bytes long. */
void core_place(const void *img, void *base);

/* efi_mmap.c: turns the firmware's map into boot_info's. Pure logic. Uses the descriptor
 * buffer as scratch (it is destroyed). Returns the number of entries written to out. */
unsigned mmap_translate(void *desc, uint64_t map_size, uint64_t desc_size,
			struct boot_mem *out, unsigned max);

#endif
