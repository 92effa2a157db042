/* mica-mb2.elf, the Multiboot2 entry: GRUB loads it with the core, the config, the images
 * and the initrds as modules, each module's string naming it ("core.elf", "mica.cfg", or
 * the path exactly as the config writes it). It builds the same struct boot_info as the
 * UEFI loader (boot/efi_main.c) and jumps to the core. Runs in long mode on entry.S's
 * identity map of the low 4 GiB, on the boot CPU only; any failure is named on COM1, then
 * the CPU stops. */
#include <stdio.h>
#include <string.h>

#include <kernel/config.h>
#include "boot/loader.h" /* core_check(), core_place(): boot/elf_core.c, shared with UEFI */
#include "lib/portio.h"
#include "mb2.h"

#define CORE_NAME   "core.elf"
#define CONFIG_NAME "mica.cfg"
#define LOW_LIMIT   0x100000ULL   /* the core and boot_info go above 1 MiB ... */
#define BELOW_4G    0x100000000ULL /* ... and below 4 GiB (entry.S maps only that) */
#define TRAMP_LO    0x1000ULL     /* not page 0: 0 means "none" to the core */
#define TRAMP_HI    0xA0000ULL    /* real-mode reachable, below the EBDA/VGA area */
#define BIOS_AREA   0xE0000ULL    /* ACPI 6.5 5.2.5.1: where the BIOS may keep the RSDP */
#define BIOS_AREA_LEN 0x20000ULL
#define EBDA_PTR    0x40EULL      /* BIOS data area: EBDA segment */
#define EBDA_SCAN   1024
#define PIC1_CMD    0x20          /* the two 8259 PICs (Intel 8259A datasheet) */
#define PIC1_DATA   0x21
#define PIC2_CMD    0xA0
#define PIC2_DATA   0xA1
#define MAX_BUSY    (MB2_MAX_MODULES + 8)
#define MAX_MICA    (BOOT_MAX_FILES + 8)

typedef void (*core_entry_fn)(struct boot_info *) __attribute__((sysv_abi, noreturn));

extern char __mb2_start[], __mb2_end[]; /* mb2.ld */

/* The stub's working state. Boot CPU only; the stub never starts another CPU. */
static struct mb2_info g_info;
static struct cfg g_cfg;
static struct boot_mem g_raw[MB2_MAX_MMAP];  /* the map as GRUB gave it, types translated */
static struct boot_mem g_map[MB2_MAX_MMAP];  /* the same, sorted and merged */
static unsigned g_nmap;
static struct mem_range g_busy[MAX_BUSY];    /* what no allocation may touch */
static unsigned g_nbusy;
static struct mem_range g_mica[MAX_MICA];    /* what the core must keep (BOOT_MEM_MICA) */
static unsigned g_nmica;

static uint64_t page_down(uint64_t a) { return a & ~(MB2_PAGE - 1); }
static uint64_t page_up(uint64_t a) { return (a + MB2_PAGE - 1) & ~(MB2_PAGE - 1); }

/* A physical address as a pointer; the laundering keeps GCC from treating a small constant
 * address (the BIOS data area) as a null pointer dereference. */
static void *phys(uint64_t a)
{
	void *p = (void *)(uintptr_t)a;

	__asm__("" : "+r"(p));
	return p;
}

static void busy(uint64_t base, uint64_t end)
{
	if (g_nbusy < MAX_BUSY)
		g_busy[g_nbusy++] = (struct mem_range){ page_down(base), page_up(end) };
}

static void keep(uint64_t base, uint64_t end)
{
	if (g_nmica < MAX_MICA)
		g_mica[g_nmica++] = (struct mem_range){ page_down(base), page_up(end) };
	busy(base, end);
}

/* Zeroed memory that stays Mica's; halts if there is none. */
static uint64_t alloc(const char *what, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi)
{
	uint64_t a = mb2_mem_find(g_map, g_nmap, g_busy, g_nbusy, page_up(size), align, lo, hi);

	if (!a) {
		con_say("no free memory for %s: %llu KiB, %llu-byte aligned, between 0x%llx and "
			"0x%llx", what, (unsigned long long)page_up(size) / 1024,
			(unsigned long long)align, (unsigned long long)lo, (unsigned long long)hi);
		con_halt("give the machine more memory below 4 GiB, or boot fewer or smaller images");
	}
	memset(phys(a), 0, page_up(size));
	keep(a, a + size);
	return a;
}

static const struct mb2_module *module(const char *name)
{
	for (unsigned i = 0; i < g_info.nmodules; i++)
		if (!strcmp(g_info.modules[i].string, name))
			return &g_info.modules[i];
	return NULL;
}

static void list_modules(void)
{
	if (!g_info.nmodules)
		con_say("the boot loader passed no modules at all");
	for (unsigned i = 0; i < g_info.nmodules; i++)
		con_say("  module %u: '%s', %llu bytes", i, g_info.modules[i].string,
			(unsigned long long)(g_info.modules[i].end - g_info.modules[i].start));
}

static void read_mbi(uint32_t magic, uint32_t mbi)
{
	static char names[MB2_MAX_MODULES][BOOT_PATH_MAX];
	const struct mb1_view low4g = { phys(0), 0, BELOW_4G };
	char err[200];
	int rc;

	if (magic == MB2_BOOT_MAGIC)
		rc = mbi_parse(phys(mbi), mbi, &g_info, err, sizeof(err));
	else if (magic == MB1_BOOT_MAGIC)
		rc = mbi1_parse(&low4g, mbi, &g_info, names, err, sizeof(err));
	else {
		con_say("started with EAX = 0x%x; expected the Multiboot2 magic 0x%x or the "
			"Multiboot magic 0x%x", magic, MB2_BOOT_MAGIC, MB1_BOOT_MAGIC);
		con_halt("boot mica-mb2.elf with GRUB 2 ('multiboot2'), or a Multiboot loader "
			 "(QEMU -kernel, iPXE, syslinux); see docs/booting.md");
	}
	if (rc) {
		con_say("broken boot information from the boot loader: %s", err);
		con_halt("use GRUB 2 (grub-mkrescue, or 'multiboot2' in grub.cfg) or another "
			 "Multiboot loader; see docs/booting.md");
	}
	if (magic == MB1_BOOT_MAGIC)
		busy(mbi, mbi + g_info.total_size);
	else
		busy(mbi, mbi + g_info.total_size);
	busy((uintptr_t)__mb2_start, (uintptr_t)__mb2_end);
	for (unsigned i = 0; i < g_info.nmodules; i++) {
		const struct mb2_module *m = &g_info.modules[i];

		if (m->start % MB2_PAGE) {
			con_say("module '%s' starts at 0x%llx; expected a page-aligned address", m->string,
				(unsigned long long)m->start);
			con_halt("use a boot loader that honours the stub's module alignment request "
				 "(GRUB 2, QEMU, iPXE, syslinux do)");
		}
		busy(m->start, m->end);
	}
	if ((!g_info.mb1 && !g_info.mmap) || !g_info.mmap_count) {
		con_say("the boot loader passed no memory map (Multiboot2 tag 6, Multiboot flag 6)");
		con_halt("use GRUB 2 on a BIOS machine; see docs/booting.md");
	}
	for (unsigned i = 0; i < g_info.mmap_count; i++)
		g_raw[i] = mbi_mmap_entry(&g_info, i);
	int n = mb2_mmap_build(g_raw, g_info.mmap_count, NULL, 0, g_map, MB2_MAX_MMAP);
	if (n <= 0) {
		con_say("the memory map (%u entries) has %s", g_info.mmap_count,
			n ? "too many distinct ranges" : "no entries with a size");
		con_halt("check the firmware's memory settings");
	}
	g_nmap = (unsigned)n;
}

static void load_config(struct boot_info *bi)
{
	const struct mb2_module *m = module(CONFIG_NAME);
	struct cfg_error err = { 0 };

	if (!m) {
		con_say("no config: expected a module named '" CONFIG_NAME "'; the boot loader passed:");
		list_modules();
		con_halt(g_info.mb1 ? "pass the config as a module named " CONFIG_NAME " (QEMU: "
			 "-initrd 'core.elf,my.cfg " CONFIG_NAME ",...'); see docs/booting.md" :
			 "add 'module2 /mica/mica.cfg " CONFIG_NAME "' to grub.cfg (scripts/mkiso.sh "
			 "does); see docs/booting.md");
	}
	bi->config_addr = m->start;
	bi->config_size = m->end - m->start;
	memcpy(bi->config_path, CONFIG_NAME, sizeof(CONFIG_NAME));
	keep(m->start, m->end);
	if (cfg_parse(phys(m->start), m->end - m->start, &g_cfg, &err) != 0) {
		if (err.line)
			con_say(CONFIG_NAME ":%u: %s", err.line, err.msg);
		else
			con_say(CONFIG_NAME ": %s", err.msg);
		con_halt("fix the config and boot again; see docs/config.md");
	}
}

/* Finds the module for one file the config names ("image" or "initrd", named on config
 * line `line`) and records it in bi->files; a path already recorded is not added again. */
static void find_file(struct boot_info *bi, const char *what, const char *name, unsigned line)
{
	const struct mb2_module *m;
	struct boot_file *f;
	unsigned k;

	for (k = 0; k < bi->nfiles && strcmp(bi->files[k].path, name) != 0; k++)
		;
	if (k < bi->nfiles)
		return; /* partitions share the file: one copy is enough */
	m = module(name);
	if (!m) {
		con_say(CONFIG_NAME ":%u: %s '%s' has no module (expected a module named '%s')",
			line, what, name, name);
		con_halt(g_info.mb1 ? "pass the file as a module named as in the config (QEMU: "
			 "-initrd '...,path/to/file <name>'), or fix the config" :
			 "add 'module2 /mica/<file> <name as in the config>' to grub.cfg, or fix "
			 "the config");
	}
	if (bi->nfiles == BOOT_MAX_FILES) {
		con_say(CONFIG_NAME ":%u: more than %u different files (images, initrds, disks and modules)", line,
			BOOT_MAX_FILES);
		con_halt("let partitions share images and initrds, or boot fewer partitions");
	}
	if (m->end == m->start) {
		con_say(CONFIG_NAME ":%u: %s module '%s' is empty (0 bytes)", line, what, name);
		con_halt("put the real file on the boot medium and boot again");
	}
	f = &bi->files[bi->nfiles++];
	memcpy(f->path, name, sizeof(f->path));
	f->path[sizeof(f->path) - 1] = 0;
	f->addr = m->start;
	f->size = m->end - m->start;
	keep(m->start, m->end);
}

/* Every partition's image, then its initrd, its disk and its modules if it has them. */
static void find_images(struct boot_info *bi)
{
	for (unsigned i = 0; i < g_cfg.nparts; i++) {
		const struct cfg_partition *p = &g_cfg.part[i];

		find_file(bi, "image", p->image, p->image_line);
		if (p->initrd[0])
			find_file(bi, "initrd", p->initrd, p->initrd_line);
		if (p->disk[0])
			find_file(bi, "disk", p->disk, p->disk_line);
		for (unsigned m = 0; m < p->nmodules; m++)
			find_file(bi, "module", p->modules[m], p->modules_line);
	}
}

static core_entry_fn load_core(struct boot_info *bi)
{
	const struct mb2_module *m = module(CORE_NAME);
	struct core_layout cl;
	char why[160];
	uint64_t base;

	if (!m) {
		con_say("no core: expected a module named '" CORE_NAME "'; the boot loader passed:");
		list_modules();
		con_halt(g_info.mb1 ? "pass the core as a module named " CORE_NAME " (QEMU: -initrd "
			 "'build/core.elf,...'); see docs/booting.md" :
			 "add 'module2 /mica/core.elf " CORE_NAME "' to grub.cfg (scripts/mkiso.sh "
			 "does); see docs/booting.md");
	}
	if (core_check(phys(m->start), m->end - m->start, &cl, why, sizeof(why)) != 0) {
		con_say("module " CORE_NAME " %s", why);
		con_halt("expected Mica's core (an ELF64 static PIE); rebuild it with make core");
	}
	base = alloc("the core", cl.span, cl.align, LOW_LIMIT, BELOW_4G);
	core_place(phys(m->start), phys(base));
	bi->core_base = base;
	bi->core_size = cl.span;
	return (core_entry_fn)phys(base + cl.entry);
}

/* GRUB's tag holds a copy of the RSDP: copy it again into a page of Mica's (the MBI is
 * gone once the core runs). Without a good tag, look where the BIOS keeps it. */
static void find_rsdp(struct boot_info *bi, uint64_t page)
{
	uint32_t len = g_info.rsdp ? rsdp_check(g_info.rsdp, g_info.rsdp_len) : 0;
	uint16_t ebda_seg;
	uint64_t ebda;
	int64_t off;

	if (len) {
		uint8_t *copy = phys(page);

		memcpy(copy, g_info.rsdp, len);
		if (len == 20 && copy[15] != 0) {
			/* Only the ACPI 1.0 part was passed: present it as revision 0. */
			copy[15] = 0;
			copy[8] = 0;
			for (unsigned i = 0, s = 0; i < 20; i++, copy[8] = (uint8_t)-s)
				s += i == 8 ? 0 : copy[i];
		}
		bi->acpi_rsdp = page;
		return;
	}
	if (g_info.rsdp)
		con_say("the ACPI RSDP copy from the boot loader is invalid (bad signature, checksum "
			"or length); searching the BIOS areas instead");
	memcpy(&ebda_seg, phys(EBDA_PTR), sizeof(ebda_seg));
	ebda = (uint64_t)ebda_seg << 4;
	if (ebda >= 0x80000 && ebda + EBDA_SCAN <= TRAMP_HI &&
	    (off = rsdp_scan(phys(ebda), EBDA_SCAN)) >= 0) {
		bi->acpi_rsdp = ebda + (uint64_t)off;
		return;
	}
	off = rsdp_scan(phys(BIOS_AREA), BIOS_AREA_LEN);
	if (off >= 0) {
		bi->acpi_rsdp = BIOS_AREA + (uint64_t)off;
		return;
	}
	con_say("no ACPI RSDP: none from the boot loader, none in the EBDA or at 0xE0000-0xFFFFF");
	con_say("Mica will run on the boot CPU only");
}

/* The BIOS leaves the 8259 PICs unmasked with IRQ 0-7 on vectors 8-15, where the timer
 * would arrive as a double fault once the core enables interrupts. UEFI firmware leaves
 * them masked; do the same: move them to vectors 0x20-0x2F (harmless even as spurious
 * interrupts) and mask every line. */
static void quiet_legacy_pic(void)
{
	outb(PIC1_CMD, 0x11);  /* ICW1: initialise, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20); /* ICW2: vector base */
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04); /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xFF); /* OCW1: mask all */
	outb(PIC2_DATA, 0xFF);
}

void mb2_main(uint32_t magic, uint32_t mbi)
{
	struct boot_info *bi;
	core_entry_fn entry;
	uint64_t bi_addr, bi_pages = page_up(sizeof(*bi));
	int n;

	con_init();
	con_say(magic == MB1_BOOT_MAGIC ? "Mica Multiboot entry" : "Mica Multiboot2 entry");
	read_mbi(magic, mbi);

	/* boot_info and one page after it for the RSDP copy. */
	bi_addr = alloc("the boot information", bi_pages + MB2_PAGE, MB2_PAGE, LOW_LIMIT, BELOW_4G);
	bi = phys(bi_addr);
	bi->magic = BOOT_INFO_MAGIC;
	bi->version = BOOT_INFO_VERSION;
	bi->size = sizeof(*bi);
	if (magic == MB1_BOOT_MAGIC)
		memcpy(bi->loader, "multiboot", sizeof("multiboot"));
	else
		memcpy(bi->loader, "multiboot2", sizeof("multiboot2"));

	load_config(bi);
	entry = load_core(bi);
	find_images(bi);
	bi->trampoline = alloc("starting the other CPUs (one page below 640 KiB)", MB2_PAGE,
			       MB2_PAGE, TRAMP_LO, TRAMP_HI);
	find_rsdp(bi, bi_addr + bi_pages);
	bi->fb = g_info.fb;

	n = mb2_mmap_build(g_raw, g_info.mmap_count, g_mica, g_nmica, bi->mmap, BOOT_MAX_MMAP);
	if (n < 0) {
		con_say("the memory map does not fit in %u entries", BOOT_MAX_MMAP);
		con_halt("check the firmware's memory settings");
	}
	bi->nmmap = (unsigned)n;
	con_say("core %llu KiB at 0x%llx, %u images, %u initrds, %u disks, starting Mica",
		(unsigned long long)bi->core_size / 1024, (unsigned long long)bi->core_base,
		cfg_count_files(&g_cfg, CFG_FILE_IMAGE), cfg_count_files(&g_cfg, CFG_FILE_INITRD),
		cfg_count_files(&g_cfg, CFG_FILE_DISK));
	quiet_legacy_pic();
	entry(bi);
}
