/* The one hand-over from a boot path (UEFI loader, Multiboot2 entry) to the core.
 * Versioned: the core refuses a boot_info whose magic or version it does not know. */
#ifndef MICA_BOOT_INFO_H
#define MICA_BOOT_INFO_H

#include <stdint.h>

#define BOOT_INFO_MAGIC   0x4f464e4941434d49ULL /* "IMCAINFO" little-endian */
#define BOOT_INFO_VERSION 1

#define BOOT_MAX_FILES 32
#define BOOT_MAX_MMAP  512
#define BOOT_PATH_MAX  128

/* Memory types after translation from the firmware's map. */
enum boot_mem_type {
	BOOT_MEM_USABLE = 1,   /* free for the core once it runs (conventional, boot services, loader) */
	BOOT_MEM_RESERVED = 2, /* firmware, MMIO, runtime services, unusable: never handed out */
	BOOT_MEM_ACPI = 3,     /* ACPI tables (reclaimable, but kept: partitions may need them) */
	BOOT_MEM_ACPI_NVS = 4,
	BOOT_MEM_MICA = 5,     /* what the boot path loaded for Mica: core, files, boot_info, trampoline */
};

struct boot_mem {
	uint64_t base;
	uint64_t size;
	uint32_t type; /* enum boot_mem_type */
	uint32_t reserved;
};

/* A file the config named, loaded by the boot path. path is as written in the config. */
struct boot_file {
	char path[BOOT_PATH_MAX];
	uint64_t addr;
	uint64_t size;
};

struct boot_framebuffer {
	uint64_t base;
	uint32_t width, height, pitch; /* pitch in pixels */
	uint32_t format;               /* 0 none, 1 RGBX 8:8:8:8, 2 BGRX 8:8:8:8 */
};

struct boot_info {
	uint64_t magic;
	uint32_t version;
	uint32_t size;          /* sizeof(struct boot_info) as the boot path built it */
	char loader[32];        /* "uefi" or "multiboot2", for the banner */
	uint64_t acpi_rsdp;     /* physical address of the RSDP, 0 if none */
	uint64_t core_base;     /* where the core image lies, and its size */
	uint64_t core_size;
	uint64_t trampoline;    /* 4 KiB page below 1 MiB for starting APs (BOOT_MEM_MICA) */
	uint64_t config_addr;   /* the config file text, as read */
	uint64_t config_size;
	char config_path[BOOT_PATH_MAX];
	uint32_t nfiles;
	uint32_t nmmap;
	struct boot_file files[BOOT_MAX_FILES];
	struct boot_mem mmap[BOOT_MAX_MMAP]; /* sorted by base, not overlapping */
	struct boot_framebuffer fb;
};

#endif
