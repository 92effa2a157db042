/* Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol";
 * zero page layout: Documentation/arch/x86/zero-page.rst). Everything is checked and placed
 * first; only then is guest RAM written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/boot_linux.h"
#include "kernel/loader/guest_ram.h"
#include "kernel/loader/bzimage.h"
#include "kernel/platform/acpi_tables.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

typedef unsigned long long ull;

/* struct boot_params fields outside the setup header. */
#define ZP_ACPI_RSDP_ADDR     0x070 /* u64 */
#define ZP_EXT_RAMDISK_IMAGE  0x0c0 /* u32: bits 63:32 of ramdisk_image */
#define ZP_EXT_RAMDISK_SIZE   0x0c4 /* u32 */
#define ZP_EXT_CMD_LINE_PTR   0x0c8 /* u32 */
#define ZP_E820_ENTRIES       0x1e8 /* u8 */
#define ZP_HARDWARE_SUBARCH   0x23c /* u32: 0 = PC */
#define ZP_E820_TABLE         0x2d0 /* 128 entries of { u64 addr, u64 size, u32 type } */
#define ZP_E820_MAX           128
#define E820_ENTRY_SIZE       20

#define P  1ULL
#define W  2ULL
#define PS 0x80ULL

#define MiB (1ULL << 20)

struct placement {
	uint64_t load;        /* the protected-mode kernel */
	uint64_t initrd;      /* 0 when there is none */
	uint64_t cmdline_len;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The PCI ECAM range Linux will use: buses start..end from a base that stands for bus 0. */
static void ecam_range(const struct acpi_guest *g, uint64_t *lo, uint64_t *hi)
{
	*lo = g->ecam_base + ((uint64_t)g->ecam_bus_start << 20);
	*hi = g->ecam_base + (((uint64_t)g->ecam_bus_end + 1) << 20);
}

/* RAM is one block from guest-physical 0: it must stop below every MMIO range. */
static int check_ram(uint64_t ram_size, const struct acpi_guest *g, char *err, size_t errlen)
{
	uint64_t floor = ACPI_LAPIC_BASE;
	const char *what = "local APIC";

	if (g->ioapic_addr < floor) {
		floor = g->ioapic_addr;
		what = "I/O APIC";
	}
	if (g->ecam_base) {
		uint64_t lo, hi;
		ecam_range(g, &lo, &hi);
		if (lo < floor) {
			floor = lo;
			what = "PCI ECAM window";
		}
	}
	if (g->pci_mem_size && g->pci_mem_base < floor) {
		floor = g->pci_mem_base;
		what = "PCI memory window";
	}
	if (ram_size > floor)
		return errmsg(MICA_EINVAL, err, errlen, "%llu MiB of RAM would cover the %s at 0x%llx: a Linux "
			    "guest can have at most %llu MiB", (ull)(ram_size / MiB), what,
			    (ull)floor, (ull)(floor / MiB));
	return 0;
}

static int place(const struct bzimage_info *bz, uint64_t isize, const char *cmdline,
		 uint64_t ram_size, struct placement *pl, char *err, size_t errlen)
{
	pl->cmdline_len = cmdline ? strnlen(cmdline, BOOT_LINUX_CMDLINE_MAX) : 0;
	if (pl->cmdline_len >= BOOT_LINUX_CMDLINE_MAX)
		return errmsg(MICA_EINVAL, err, errlen, "the command line is longer than Mica's %llu-byte area",
			    (ull)BOOT_LINUX_CMDLINE_MAX - 1);
	if (pl->cmdline_len > bz->cmdline_size)
		return errmsg(MICA_EINVAL, err, errlen, "the command line is %llu bytes, the kernel takes at most %u",
			    (ull)pl->cmdline_len, bz->cmdline_size);

	/* The kernel needs init_size bytes from its load address, not just its file size. */
	pl->load = bz->pref_address;
	if (pl->load + bz->init_size > ram_size) {
		uint64_t alt = align_up(BOOT_LINUX_KERNEL_ALT, bz->kernel_alignment);
		if (alt + bz->init_size > ram_size)
			return errmsg(MICA_EINVAL, err, errlen, "the kernel needs %llu MiB (init_size 0x%x) from 0x%llx, "
				    "RAM ends at %llu MiB", (ull)((bz->init_size + MiB - 1) / MiB),
				    bz->init_size, (ull)(pl->load < alt ? pl->load : alt),
				    (ull)(ram_size / MiB));
		pl->load = alt;
	}

	pl->initrd = 0;
	if (!isize)
		return 0;
	/* Highest page-aligned spot below the limit, above the kernel's area or else below it. */
	uint64_t limit = (uint64_t)bz->initrd_addr_max + 1;
	uint64_t kend = pl->load + bz->init_size;
	if (limit > ram_size)
		limit = ram_size;
	if (isize <= limit && ((limit - isize) & ~0xfffULL) >= kend) {
		pl->initrd = (limit - isize) & ~0xfffULL;
		return 0;
	}
	uint64_t top = pl->load < limit ? pl->load : limit;
	if (isize <= top && ((top - isize) & ~0xfffULL) >= BOOT_LINUX_HIGH) {
		pl->initrd = (top - isize) & ~0xfffULL;
		return 0;
	}
	return errmsg(MICA_EINVAL, err, errlen, "the initrd (%llu bytes) does not fit: the kernel takes "
		    "[0x%llx, 0x%llx) and the initrd must end below 0x%llx (%s)", (ull)isize,
		    (ull)pl->load, (ull)kend, (ull)limit,
		    limit == ram_size ? "end of RAM" : "initrd_addr_max");
}

static void build_page_tables(uint8_t *r)
{
	uint64_t *pml4 = (uint64_t *)(r + BOOT_LINUX_PML4);
	uint64_t *pdpt = (uint64_t *)(r + BOOT_LINUX_PDPT);
	uint64_t *pd = (uint64_t *)(r + BOOT_LINUX_PD);

	pml4[0] = BOOT_LINUX_PDPT | P | W;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_LINUX_PD + 0x1000 * i) | P | W;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | P | W | PS;

	uint64_t *gdt = (uint64_t *)(r + BOOT_LINUX_GDT);
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[BOOT_LINUX_CS / 8] = 0x00af9b000000ffffULL; /* 64-bit code, flat */
	gdt[BOOT_LINUX_DS / 8] = 0x00cf93000000ffffULL; /* data, flat 4 GiB */
}

static unsigned add_e820(uint8_t *zp, unsigned n, uint64_t start, uint64_t end, uint32_t type)
{
	uint8_t *e = zp + ZP_E820_TABLE + n * E820_ENTRY_SIZE;
	put64(e, start);
	put64(e + 8, end - start);
	put32(e + 16, type);
	return n + 1;
}

static void build_zero_page(uint8_t *zp, const uint8_t *kernel, const struct bzimage_info *bz,
			    const struct placement *pl, uint64_t isize, uint64_t ram_size,
			    const struct acpi_guest *g, uint64_t rsdp)
{
	/* The setup header as the image has it, then what the loader fills in. */
	memcpy(zp + BZ_SETUP_SECTS, kernel + BZ_SETUP_SECTS, bz->header_end - BZ_SETUP_SECTS);
	put8(zp + BZ_TYPE_OF_LOADER, 0xff);          /* no assigned loader ID */
	put8(zp + BZ_LOADFLAGS, bz->loadflags & ~BZ_CAN_USE_HEAP);
	put16(zp + BZ_HEAP_END_PTR, 0);
	put32(zp + BZ_CODE32_START, (uint32_t)pl->load);
	put32(zp + BZ_RAMDISK_IMAGE, (uint32_t)pl->initrd);
	put32(zp + BZ_RAMDISK_SIZE, (uint32_t)isize);
	put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(pl->initrd >> 32));
	put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(isize >> 32));
	put32(zp + BZ_CMD_LINE_PTR, (uint32_t)BOOT_LINUX_CMDLINE);
	put32(zp + ZP_EXT_CMD_LINE_PTR, (uint32_t)(BOOT_LINUX_CMDLINE >> 32));
	put32(zp + ZP_HARDWARE_SUBARCH, 0);
	put64(zp + BZ_SETUP_DATA, 0);
	put64(zp + ZP_ACPI_RSDP_ADDR, rsdp);

	/* Exactly the partition's RAM, with the legacy hole (ACPI tables live there). */
	unsigned n = 0;
	n = add_e820(zp, n, 0, BOOT_LINUX_LOW_END, BOOT_LINUX_E820_RAM);
	n = add_e820(zp, n, BOOT_LINUX_LOW_END, BOOT_LINUX_HIGH, BOOT_LINUX_E820_RESERVED);
	n = add_e820(zp, n, BOOT_LINUX_HIGH, ram_size, BOOT_LINUX_E820_RAM);
	if (g->ecam_base) {
		/* Linux only trusts an MCFG window that the firmware marks reserved. */
		uint64_t lo, hi;
		ecam_range(g, &lo, &hi);
		n = add_e820(zp, n, lo, hi, BOOT_LINUX_E820_RESERVED);
	}
	put8(zp + ZP_E820_ENTRIES, (uint8_t)n);
}

int boot_linux_load(const void *kernel, uint64_t ksize, const void *initrd, uint64_t isize,
		    const char *cmdline, void *ram, uint64_t ram_size,
		    const struct boot_linux_platform *plat, struct vcpu_boot_state *st, char *err,
		    size_t errlen)
{
	struct bzimage_info bz;
	struct placement pl = { 0 };
	uint8_t *r = ram;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!ram || !plat || !st)
		return errmsg(MICA_EINVAL, err, errlen, "no RAM, platform or vCPU state to load Linux into");
	if (ram_size < BOOT_LINUX_MIN_RAM)
		return errmsg(MICA_EINVAL, err, errlen, "a Linux guest needs at least %llu MiB of RAM, the partition "
			    "has %llu KiB", (ull)(BOOT_LINUX_MIN_RAM / MiB), (ull)(ram_size >> 10));
	rc = check_ram(ram_size, &plat->acpi, err, errlen);
	if (rc)
		return rc;
	uint64_t acpi_size = acpi_build_size(&plat->acpi);
	if (!acpi_size) /* invalid: let acpi_build() say why, it checks before writing */
		return acpi_build(NULL, BOOT_LINUX_ACPI, BOOT_LINUX_ACPI_SIZE, &plat->acpi, NULL,
				  err, errlen);
	if (acpi_size > BOOT_LINUX_ACPI_SIZE)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI tables for %u vCPUs need %llu bytes, more than the "
			    "%llu at 0x%llx", plat->acpi.ncpus, (ull)acpi_size,
			    (ull)BOOT_LINUX_ACPI_SIZE, (ull)BOOT_LINUX_ACPI);
	if (isize && !initrd)
		return errmsg(MICA_EINVAL, err, errlen, "an initrd of %llu bytes but no data", (ull)isize);
	rc = bzimage_parse(kernel, ksize, &bz, err, errlen);
	if (rc)
		return rc;
	rc = place(&bz, isize, cmdline, ram_size, &pl, err, errlen);
	if (rc)
		return rc;

	/* Everything checked: build. */
	uint64_t rsdp;
	guest_ram_prepare(ram, 0, BOOT_LINUX_HIGH);
	memset(r, 0, BOOT_LINUX_HIGH);
	rc = acpi_build(r + BOOT_LINUX_ACPI, BOOT_LINUX_ACPI, BOOT_LINUX_ACPI_SIZE, &plat->acpi,
			&rsdp, err, errlen);
	if (rc)
		return rc;
	build_page_tables(r);
	build_zero_page(r + BOOT_LINUX_ZERO_PAGE, kernel, &bz, &pl, isize, ram_size, &plat->acpi,
			rsdp);
	if (pl.cmdline_len)
		memcpy(r + BOOT_LINUX_CMDLINE, cmdline, pl.cmdline_len);
	r[BOOT_LINUX_CMDLINE + pl.cmdline_len] = '\0';

	const uint8_t *k = kernel;
	guest_ram_prepare(ram, pl.load, bz.init_size);
	memcpy(r + pl.load, k + bz.setup_size, bz.kernel_size);
	memset(r + pl.load + bz.kernel_size, 0, bz.init_size - bz.kernel_size);
	if (isize) {
		guest_ram_prepare(ram, pl.initrd, isize);
		memcpy(r + pl.initrd, initrd, isize);
	}

	/* 64-bit boot protocol: long mode, paging on with the kernel, zero page and command
	 * line identity-mapped, __BOOT_CS/__BOOT_DS flat, interrupts off, RSI = zero page. */
	memset(st, 0, sizeof(*st));
	st->mode = VCPU_MODE_LONG64;
	st->rip = pl.load + BZ_ENTRY64_OFFSET;
	st->rsi = BOOT_LINUX_ZERO_PAGE;
	st->rsp = BOOT_LINUX_STACK_TOP;
	st->cr0 = 0x80010033ULL; /* PG | WP | NE | ET | MP | PE */
	st->cr3 = BOOT_LINUX_PML4;
	st->cr4 = 0x20;          /* PAE */
	st->efer = 0x500;        /* LME | LMA */
	st->gdt_base = BOOT_LINUX_GDT;
	st->gdt_limit = (BOOT_LINUX_DS + 8) - 1;
	st->code_sel = BOOT_LINUX_CS;
	st->data_sel = BOOT_LINUX_DS;
	return 0;
}

void boot_linux_ap_state(struct vcpu_boot_state *st)
{
	memset(st, 0, sizeof(*st));
	st->mode = VCPU_MODE_WAIT_SIPI;
}
