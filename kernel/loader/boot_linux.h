/* The Linux boot protocol (docs/guests.md): lays out an unmodified x86-64 bzImage, its initrd
 * and command line in a partition's RAM with a zero page (struct boot_params), an e820 map,
 * ACPI tables, identity page tables and a GDT, and gives vCPU 0 the 64-bit entry state.
 * Pure logic: ram is the host view of guest-physical 0. */
#ifndef MICA_LOADER_BOOT_LINUX_H
#define MICA_LOADER_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/platform/acpi_tables.h"
#include "kernel/virt.h"

/* Guest-physical layout below 1 MiB (all of it rebuilt on every load). */
#define BOOT_LINUX_PML4        0x1000ULL
#define BOOT_LINUX_PDPT        0x2000ULL
#define BOOT_LINUX_PD          0x3000ULL  /* four PDs, 0x3000..0x6fff: [0, 4 GiB) in 2 MiB pages */
#define BOOT_LINUX_GDT         0x7000ULL
#define BOOT_LINUX_STACK_TOP   0x10000ULL /* RSP at entry (the kernel sets its own at once) */
#define BOOT_LINUX_ZERO_PAGE   0x10000ULL /* struct boot_params, 4 KiB; RSI at entry */
#define BOOT_LINUX_CMDLINE     0x20000ULL
#define BOOT_LINUX_CMDLINE_MAX 0x10000ULL /* bytes for the command line with its NUL */
#define BOOT_LINUX_LOW_END     0x9f000ULL /* e820: [0, here) usable, [here, 1 MiB) reserved */
#define BOOT_LINUX_ACPI        0xe0000ULL /* ACPI tables, RSDP first, in the reserved hole */
#define BOOT_LINUX_ACPI_SIZE   0x20000ULL
#define BOOT_LINUX_HIGH        0x100000ULL
#define BOOT_LINUX_KERNEL_ALT  0x1000000ULL /* 16 MiB: kernel here if pref_address won't do */
#define BOOT_LINUX_MIN_RAM     (64ULL << 20)

/* Selectors the 64-bit boot protocol asks for (__BOOT_CS, __BOOT_DS). */
#define BOOT_LINUX_CS 0x10
#define BOOT_LINUX_DS 0x18

/* e820 types */
#define BOOT_LINUX_E820_RAM      1
#define BOOT_LINUX_E820_RESERVED 2

/* What the guest platform looks like: described to Linux by the ACPI tables (at
 * BOOT_LINUX_ACPI) and, for PCI ECAM, a reserved e820 range. Fill acpi with
 * acpi_guest_defaults(&plat.acpi, vcpus) and change what differs. */
struct boot_linux_platform {
	struct acpi_guest acpi;
};

/* Loads kernel (a bzImage of ksize bytes), the initrd (isize bytes, or none when isize is 0)
 * and cmdline (NULL: empty) into ram. RAM must be at least 64 MiB and end below the lowest
 * MMIO address of the platform (I/O APIC, local APIC, PCI ECAM). Nothing is written until
 * every check has passed. Fills st with vCPU 0's state; the other vCPUs get
 * boot_linux_ap_state() and are started by Linux with INIT/SIPI. Returns 0 or MICA_EINVAL
 * with a sentence in err. */
int boot_linux_load(const void *kernel, uint64_t ksize, const void *initrd, uint64_t isize,
		    const char *cmdline, void *ram, uint64_t ram_size,
		    const struct boot_linux_platform *plat, struct vcpu_boot_state *st, char *err,
		    size_t errlen);

/* An application processor: waits for the guest's SIPI. */
void boot_linux_ap_state(struct vcpu_boot_state *st);

#endif
