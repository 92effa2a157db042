/* BOOTX64.EFI: reads \mica\mica.cfg from the volume it was started from, loads the core and
 * every image and initrd the config names, records what the core needs in one struct
 * boot_info, leaves the firmware and jumps to the core. The steps below run in this order;
 * any failure ends with a message saying what to do and a return to the firmware. */
#include <stdio.h>
#include <string.h>

#include <kernel/config.h>
#include "loader.h"

#define MICA_DIR    "\\mica\\"
#define CONFIG_PATH MICA_DIR "mica.cfg"
#define CORE_PATH   MICA_DIR "core.elf"
#define BELOW_4G    0xFFFFFFFFULL
#define BELOW_640K  0x9FFFFULL /* the trampoline must be real-mode reachable (SIPI vector) */
#define ERROR_PAUSE_S 15

typedef void (*core_entry_fn)(struct boot_info *) __attribute__((sysv_abi, noreturn));

const char con_prefix[] = "mica-loader";

/* Set once at the top of efi_main; see loader.h. */
EFI_SYSTEM_TABLE *g_st;
EFI_BOOT_SERVICES *g_bs;

/* The parsed config: too big for comfort on the firmware's stack. Boot CPU only. */
static struct cfg g_cfg;

static const char *efi_error(EFI_STATUS st)
{
	static char buf[32];

	switch (st) {
	case EFI_NOT_FOUND:         return "not found";
	case EFI_OUT_OF_RESOURCES:  return "not enough free memory";
	case EFI_DEVICE_ERROR:      return "device error";
	case EFI_VOLUME_CORRUPTED:  return "file system corrupted";
	case EFI_NO_MEDIA:          return "no medium";
	case EFI_ACCESS_DENIED:     return "access denied";
	case EFI_UNSUPPORTED:       return "unsupported";
	case EFI_INVALID_PARAMETER: return "invalid parameter (path too long?)";
	case EFI_END_OF_FILE:       return "file shorter than its directory entry";
	default:
		snprintf(buf, sizeof(buf), "EFI status 0x%llx", (unsigned long long)st);
		return buf;
	}
}

static EFI_STATUS give_up(EFI_STATUS st)
{
	mica_free_all();
	con_pause(ERROR_PAUSE_S);
	return st;
}

static EFI_STATUS load_config(EFI_FILE_HANDLE root, struct boot_info *bi)
{
	struct cfg_error err = { 0 };
	void *text;
	uint64_t size;
	EFI_STATUS st = file_load(root, CONFIG_PATH, 1, &text, &size);

	if (st == EFI_NOT_FOUND) {
		con_say("no config file: looked for %s on the volume this loader came from", CONFIG_PATH);
		con_say("put the partition config there (scripts/mkesp.sh does); see docs/booting.md");
		return st;
	}
	if (st != EFI_SUCCESS) {
		con_say("cannot read %s: %s", CONFIG_PATH, efi_error(st));
		return st;
	}
	bi->config_addr = (uintptr_t)text;
	bi->config_size = size;
	memcpy(bi->config_path, CONFIG_PATH, sizeof(CONFIG_PATH));
	if (cfg_parse(text, size, &g_cfg, &err) != 0) {
		if (err.line)
			con_say("%s:%u: %s", CONFIG_PATH, err.line, err.msg);
		else
			con_say("%s: %s", CONFIG_PATH, err.msg);
		con_say("fix the config and boot again; see docs/config.md");
		return EFI_LOAD_ERROR;
	}
	return EFI_SUCCESS;
}

static EFI_STATUS load_core(EFI_FILE_HANDLE root, struct boot_info *bi, core_entry_fn *entry)
{
	struct core_layout cl;
	char why[160];
	void *img;
	uint64_t size, base, a;
	EFI_STATUS st = file_load(root, CORE_PATH, 0, &img, &size);

	if (st == EFI_NOT_FOUND) {
		con_say("no core: looked for %s on the volume this loader came from", CORE_PATH);
		con_say("build it (make core) and copy build/core.elf there; see docs/booting.md");
		return st;
	}
	if (st != EFI_SUCCESS) {
		con_say("cannot read %s: %s", CORE_PATH, efi_error(st));
		return st;
	}
	if (core_check(img, size, &cl, why, sizeof(why)) != 0) {
		con_say("%s %s", CORE_PATH, why);
		con_say("expected Mica's core (an ELF64 static PIE); rebuild it with make core");
		g_bs->FreePool(img);
		return EFI_LOAD_ERROR;
	}
	/* Over-allocate by the alignment (none for 4 KiB, what the core is linked with). */
	st = mica_alloc(AllocateMaxAddress, BELOW_4G, cl.span + cl.align - PAGE_SIZE, &a);
	if (st != EFI_SUCCESS) {
		con_say("no room for the core (%llu KiB) below 4 GiB: %s",
			(unsigned long long)cl.span / 1024, efi_error(st));
		g_bs->FreePool(img);
		return st;
	}
	base = (a + cl.align - 1) & ~(cl.align - 1);
	core_place(img, (void *)(uintptr_t)base);
	g_bs->FreePool(img);
	bi->core_base = base;
	bi->core_size = cl.span;
	*entry = (core_entry_fn)(uintptr_t)(base + cl.entry);
	return EFI_SUCCESS;
}

/* Loads one file the config names ("image" or "initrd", named on config line `line`) into
 * MICA memory and records it in bi->files; a path already loaded is not loaded again. */
static EFI_STATUS load_file(EFI_FILE_HANDLE root, struct boot_info *bi, const char *what,
			    const char *name, unsigned line)
{
	char path[BOOT_PATH_MAX + 16];
	struct boot_file *f;
	void *data;
	uint64_t size;
	unsigned k;
	EFI_STATUS st;

	for (k = 0; k < bi->nfiles && strcmp(bi->files[k].path, name) != 0; k++)
		;
	if (k < bi->nfiles)
		return EFI_SUCCESS; /* partitions share the file: one copy is enough */
	if (bi->nfiles == BOOT_MAX_FILES) {
		con_say("%s:%u: more than %u different files (images, initrds, disks and modules)", CONFIG_PATH,
			line, BOOT_MAX_FILES);
		con_say("let partitions share images and initrds, or boot fewer partitions");
		return EFI_LOAD_ERROR;
	}
	esp_path(MICA_DIR, name, path, sizeof(path));
	st = file_load(root, path, 1, &data, &size);
	if (st == EFI_NOT_FOUND) {
		con_say("%s:%u: %s '%s' not found on the ESP (looked for %s)", CONFIG_PATH, line,
			what, name, path);
		con_say("copy the %s there or fix the path in the config, then boot again", what);
		return st;
	}
	if (st != EFI_SUCCESS) {
		con_say("%s:%u: cannot read %s %s: %s", CONFIG_PATH, line, what, path,
			efi_error(st));
		return st;
	}
	if (size == 0) {
		con_say("%s:%u: %s %s is empty (0 bytes)", CONFIG_PATH, line, what, path);
		con_say("copy the real %s there and boot again", what);
		return EFI_LOAD_ERROR;
	}
	f = &bi->files[bi->nfiles++];
	memcpy(f->path, name, sizeof(f->path));
	f->path[sizeof(f->path) - 1] = 0;
	f->addr = (uintptr_t)data;
	f->size = size;
	return EFI_SUCCESS;
}

/* Every partition's image, then its initrd, its disk and its modules if it has them. */
static EFI_STATUS load_images(EFI_FILE_HANDLE root, struct boot_info *bi)
{
	for (unsigned i = 0; i < g_cfg.nparts; i++) {
		const struct cfg_partition *p = &g_cfg.part[i];
		EFI_STATUS st = load_file(root, bi, "image", p->image, p->image_line);

		if (st == EFI_SUCCESS && p->initrd[0])
			st = load_file(root, bi, "initrd", p->initrd, p->initrd_line);
		if (st == EFI_SUCCESS && p->disk[0])
			st = load_file(root, bi, "disk", p->disk, p->disk_line);
		for (unsigned m = 0; st == EFI_SUCCESS && m < p->nmodules; m++)
			st = load_file(root, bi, "module", p->modules[m], p->modules_line);
		if (st != EFI_SUCCESS)
			return st;
	}
	return EFI_SUCCESS;
}

static EFI_STATUS find_trampoline(struct boot_info *bi)
{
	EFI_STATUS st = mica_alloc(AllocateMaxAddress, BELOW_640K, PAGE_SIZE, &bi->trampoline);

	/* Page 0 would read as "none" to the core: keep it allocated and take another. */
	if (st == EFI_SUCCESS && bi->trampoline == 0)
		st = mica_alloc(AllocateMaxAddress, BELOW_640K, PAGE_SIZE, &bi->trampoline);
	if (st != EFI_SUCCESS) {
		con_say("no free 4 KiB page below 640 KiB for starting the other CPUs: %s",
			efi_error(st));
		con_say("the firmware uses all low memory; try disabling CSM/legacy boot options");
	}
	return st;
}

/* UEFI 2.10 7.4.6: the map key must be current, so nothing may allocate between the last
 * GetMemoryMap and ExitBootServices (printing can). The buffer gets slack beforehand. */
static EFI_STATUS leave_firmware(EFI_HANDLE image, struct boot_info *bi)
{
	UINTN map_size = 0, buf_size, key, desc_size;
	UINT32 desc_ver;
	void *map = NULL;
	EFI_STATUS st;

	st = g_bs->GetMemoryMap(&map_size, NULL, &key, &desc_size, &desc_ver);
	if (st != EFI_BUFFER_TOO_SMALL) {
		con_say("cannot read the memory map: %s", efi_error(st));
		return st;
	}
	buf_size = map_size + 32 * desc_size; /* the pool allocation may split entries */
	st = g_bs->AllocatePool(EfiLoaderData, buf_size, &map);
	if (st != EFI_SUCCESS) {
		con_say("no memory for the memory map (%llu bytes): %s",
			(unsigned long long)buf_size, efi_error(st));
		return st;
	}
	con_say("core %llu KiB at 0x%llx, %u images, %u initrds, %u disks, starting Mica",
		(unsigned long long)bi->core_size / 1024, (unsigned long long)bi->core_base,
		cfg_count_files(&g_cfg, CFG_FILE_IMAGE), cfg_count_files(&g_cfg, CFG_FILE_INITRD),
		cfg_count_files(&g_cfg, CFG_FILE_DISK));

	for (int attempt = 0; attempt < 2; attempt++) {
		map_size = buf_size;
		st = g_bs->GetMemoryMap(&map_size, map, &key, &desc_size, &desc_ver);
		if (st != EFI_SUCCESS)
			break;
		st = g_bs->ExitBootServices(image, key);
		if (st == EFI_SUCCESS)
			break;
	}
	if (st != EFI_SUCCESS) {
		/* Boot services may be half gone (UEFI 2.10 7.4.6): only COM1 is safe now. */
		con_boot_services_gone();
		con_say("ExitBootServices failed twice (%s); cannot start Mica", efi_error(st));
		con_say("the firmware is in an unknown state: power the machine off and on");
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	bi->nmmap = mmap_translate(map, map_size, desc_size, bi->mmap, BOOT_MAX_MMAP);
	return EFI_SUCCESS;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st_in)
{
	EFI_FILE_HANDLE root;
	struct boot_info *bi;
	core_entry_fn entry;
	uint64_t bi_addr;
	EFI_STATUS st;

	g_st = st_in;
	g_bs = st_in->BootServices;
	con_init();
	con_say("Mica UEFI loader");

	st = file_open_root(image, &root);
	if (st != EFI_SUCCESS) {
		con_say("cannot open the file system this loader was started from: %s", efi_error(st));
		con_say("start BOOTX64.EFI from a FAT volume (the ESP or a USB stick)");
		return give_up(st);
	}
	st = mica_alloc(AllocateMaxAddress, BELOW_4G, sizeof(*bi), &bi_addr);
	if (st != EFI_SUCCESS) {
		con_say("no memory for the boot information: %s", efi_error(st));
		return give_up(st);
	}
	bi = (struct boot_info *)(uintptr_t)bi_addr;
	bi->magic = BOOT_INFO_MAGIC;
	bi->version = BOOT_INFO_VERSION;
	bi->size = sizeof(*bi);
	memcpy(bi->loader, "uefi", sizeof("uefi"));

	if ((st = load_config(root, bi)) != EFI_SUCCESS ||
	    (st = load_core(root, bi, &entry)) != EFI_SUCCESS ||
	    (st = load_images(root, bi)) != EFI_SUCCESS ||
	    (st = find_trampoline(bi)) != EFI_SUCCESS)
		return give_up(st);
	root->Close(root);
	bi->acpi_rsdp = efi_acpi_rsdp();
	efi_framebuffer(&bi->fb);

	st = leave_firmware(image, bi);
	if (st != EFI_SUCCESS)
		return give_up(st);
	/* From here on the firmware is gone: no UEFI calls, no console. */
	__asm__ volatile("cli");
	entry(bi);
}
