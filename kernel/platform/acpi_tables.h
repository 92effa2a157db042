/* ACPI tables Mica builds for a guest (docs/guests.md, "Guest platform"): RSDP, RSDT, XSDT,
 * FADT, FACS, DSDT, MADT and, with a PCI host bridge, MCFG (and the bridge in the DSDT).
 * Pure logic.
 * The constants below describe the platform: the device models must agree with them. */
#ifndef MICA_PLATFORM_ACPI_TABLES_H
#define MICA_PLATFORM_ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* Interrupt controllers. */
#define ACPI_LAPIC_BASE       0xfee00000u /* every vCPU's local APIC (x2APIC capable) */
#define ACPI_IOAPIC_BASE      0xfec00000u /* default I/O APIC address */
#define ACPI_IOAPIC_GSI_BASE  0           /* its first pin is GSI 0 */
#define ACPI_IOAPIC_PINS      24
#define ACPI_PIT_GSI          2           /* IRQ0 (PIT) -> GSI 2 (override, edge, high) */
#define ACPI_SCI_IRQ          9           /* SCI: IRQ 9 = GSI 9, level, active high */

/* ACPI fixed hardware, in I/O space (defaults; struct acpi_guest may move them). */
#define ACPI_PM1A_EVT_PORT    0x600 /* PM1a_EVT_BLK, 4 bytes: PM1_STS (16), PM1_EN (16) */
#define ACPI_PM1A_CNT_PORT    0x604 /* PM1a_CNT_BLK, 2 bytes */
#define ACPI_PM_TMR_PORT      0x608 /* PM_TMR_BLK, 4 bytes: a 32-bit counter (TMR_VAL_EXT) */
#define ACPI_PM_TMR_HZ        3579545 /* the PM timer's fixed rate */
#define ACPI_GPE0_PORT        0x60c /* GPE0_BLK, 4 bytes: GPE0_STS (16), GPE0_EN (16) */
#define ACPI_GPE_VMGENID      0     /* the GPE whose _E00 tells of a new VM generation ID */
#define ACPI_VMGENID_LEN      16    /* the generation ID: 128 bits */
#define ACPI_RESET_PORT       0xcf9 /* RESET_REG: a byte write of ACPI_RESET_VALUE resets */
#define ACPI_RTC_CENTURY 0x32 /* CMOS register of the century (platform/vrtc.h) */
#define ACPI_RESET_VALUE      0x06

/* PM1 control register bits. There is no SMI_CMD: the platform is always in ACPI mode, so
 * PM1_CNT must read with SCI_EN set. Power off: the guest writes SLP_TYP = ACPI_SLP_TYP_S5
 * with SLP_EN (that is, 0x3400 | SCI_EN from Linux). */
#define ACPI_PM1_CNT_SCI_EN    0x0001
#define ACPI_PM1_CNT_SLP_TYP(v) (((v) & 7u) << 10)
#define ACPI_PM1_CNT_SLP_EN    0x2000
#define ACPI_SLP_TYP_S5        5 /* the _S5 package in the DSDT */

/* PCI (when a caller enables it, see struct acpi_guest): one host bridge, segment 0, bus 0
 * only, configured through ECAM; the virtio functions' 64-bit memory BARs go in a window
 * below 4 GiB. Guest RAM must end below both (kernel/loader/boot_linux.c checks). */
#define ACPI_PCI_ECAM_BASE     0xB0000000u /* bus 0's 1 MiB of ECAM */
#define ACPI_PCI_MEM_BASE      0xC0000000u /* the host bridge's memory window */
#define ACPI_PCI_MEM_SIZE      0x10000000u
#define ACPI_PCI_IO_BASE       0xC000u     /* its I/O window: clear of every legacy port */
#define ACPI_PCI_IO_SIZE       0x1000u

#define ACPI_GUEST_MAX_CPUS    1024u

struct acpi_guest {
	uint32_t ncpus;          /* vCPUs: APIC IDs and processor UIDs 0 .. ncpus-1 */
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint32_t ioapic_gsi_base;
	uint16_t pm1a_evt_port;
	uint16_t pm1a_cnt_port;
	uint16_t pm_tmr_port;
	uint16_t gpe0_port;      /* GPE0_BLK (4 bytes: 16 events), 0: none */
	/* A VM generation ID (needs gpe0_port): 16 bytes after the tables
	 * (acpi_vmgenid_offset()), \_SB.VGEN in the DSDT naming them, and GPE 0 announcing
	 * a change (Notify 0x80). The caller writes the ID. */
	int vmgenid;
	/* PCI host bridge, off when ecam_base is 0. ecam_base is bus 0's ECAM address (MCFG,
	 * segment 0, 1 MiB aligned), the bridge decodes buses ecam_bus_start..ecam_bus_end, and
	 * the ECAM range of those buses must end at or below 4 GiB. With it the DSDT describes
	 * \_SB.PCI0 (PNP0A08, _CRS: the bus range and the memory window) and \_SB.ECAM, a
	 * PNP0C02 device reserving that ECAM range, and the XSDT lists an MCFG. */
	uint64_t ecam_base;
	uint8_t ecam_bus_start, ecam_bus_end;
	/* The bridge's memory window [pci_mem_base, pci_mem_base + pci_mem_size), below 4 GiB,
	 * clear of the ECAM range and the APICs; pci_mem_size 0: none (then pci_mem_base 0). */
	uint64_t pci_mem_base, pci_mem_size;
	/* Its I/O window [pci_io_base, pci_io_base + pci_io_size), inside the 64 KiB of port
	 * space, clear of 0xCF8-0xCFF and the PM ports; pci_io_size 0: none. */
	uint32_t pci_io_base, pci_io_size;
};

/* The defaults above for ncpus vCPUs; the I/O APIC's ID follows the CPUs' (ncpus, or 0xfe
 * when that does not fit the 8-bit field: I/O APIC IDs are their own name space). PCI is
 * off; a caller enables it by setting ecam_base (ACPI_PCI_ECAM_BASE), the bus range
 * (0..0), the memory window (ACPI_PCI_MEM_BASE, ACPI_PCI_MEM_SIZE) and the I/O window
 * (ACPI_PCI_IO_BASE, ACPI_PCI_IO_SIZE). */
void acpi_guest_defaults(struct acpi_guest *g, uint32_t ncpus);

/* Where the VM generation ID lies in the buffer acpi_build() fills (16-byte aligned), or
 * 0 when g has none or is invalid. */
uint64_t acpi_vmgenid_offset(const struct acpi_guest *g);

/* Bytes acpi_build() needs for g (0 if g is invalid). */
uint64_t acpi_build_size(const struct acpi_guest *g);

/* Builds the tables into buf, the host view of guest-physical buf_gpa (64-byte aligned, the
 * tables below 4 GiB because RSDT and FADT hold 32-bit pointers). The RSDP comes first, at
 * buf_gpa, so a guest scanning 0xe0000..0xfffff finds it there too. Sets *rsdp_gpa. Returns 0
 * or MICA_EINVAL with a sentence in err (buffer too small, bad vCPU count, ...). */
int acpi_build(void *buf, uint64_t buf_gpa, uint64_t buf_size, const struct acpi_guest *g,
	       uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
