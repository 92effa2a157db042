/* The few ACPI tables the core reads from firmware: RSDP -> XSDT/RSDT -> MADT (CPUs).
 * Pure logic: physical addresses are turned into pointers by acpi_phys (identity in the core,
 * plain pointers in the host unit tests). */
#ifndef MICA_HOST_ACPI_H
#define MICA_HOST_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 64

struct acpi_cpus {
	unsigned n;
	uint32_t apic_id[ACPI_MAX_CPUS]; /* enabled CPUs, MADT order */
	unsigned skipped;                /* enabled CPUs beyond ACPI_MAX_CPUS */
};

/* Finds a table by signature ("APIC", "MCFG", ...) through the RSDP. Returns its address
 * with a valid checksum, or NULL. */
const void *acpi_find_table(uint64_t rsdp, const char sig[4]);

/* Lists the enabled (or online-capable) local APICs of the MADT. Returns 0, or MICA_EINVAL
 * with a sentence in err when there is no usable RSDP or MADT. */
int acpi_madt_cpus(uint64_t rsdp, struct acpi_cpus *out, char *err, size_t errlen);

/* The GSI that ISA IRQ isa_irq arrives on (with its MPS INTI flags: polarity bits 1:0,
 * trigger bits 3:2; 0 = bus default) and the I/O APIC that has it: the one whose GSI base
 * is the highest not above it. Returns 0 or MICA_EINVAL when there is no MADT or no such
 * I/O APIC. */
int acpi_madt_ioapic(uint64_t rsdp, unsigned isa_irq, uint64_t *addr, uint32_t *gsi_base,
		     uint32_t *gsi, uint16_t *flags);

/* The serial console the firmware describes in its SPCR table (Microsoft's Serial Port
 * Console Redirection table, revision 1 and later). */
struct acpi_spcr {
	uint8_t type;   /* interface type: 0 16550, 1 16450, 0x12 16550 by GAS, ... */
	uint8_t space;  /* the base address' GAS space: 0 memory, 1 I/O */
	uint64_t addr;
	uint8_t irq;    /* the PC-AT IRQ, 0 when the table gives none */
	uint32_t baud;  /* 0: as the firmware left it */
};

/* Fills out from the SPCR. Returns 0, or MICA_EINVAL when there is none (or it is too
 * short to hold a base address). */
int acpi_spcr(uint64_t rsdp, struct acpi_spcr *out);

/* The ACPI PM timer (FADT: X_PM_TMR_BLK when it is an I/O port, else PM_TMR_BLK; flags
 * bit 8 TMR_VAL_EXT): a 3.579545 MHz counter, 24 or 32 bits wide. Returns 0 with its port
 * and width, or MICA_EINVAL when the FADT names none (hardware-reduced ACPI). */
#define ACPI_PM_TIMER_HZ 3579545ULL
int acpi_pm_timer(uint64_t rsdp, uint16_t *port, unsigned *bits);

/* NUMA: the SRAT's (ACPI 6.4, 5.2.16) enabled processor (local APIC and x2APIC) and memory
 * affinity structures: which proximity domain ("node") each CPU and each memory range is
 * in. Entries past the limits are counted in skipped. */
#define ACPI_NUMA_CPUS 256
#define ACPI_NUMA_MEMS 32
struct acpi_numa {
	unsigned ncpus, nmems, nnodes, skipped;
	struct { uint32_t apic_id, node; } cpu[ACPI_NUMA_CPUS];
	struct { uint64_t base, size; uint32_t node; } mem[ACPI_NUMA_MEMS];
	uint32_t node[ACPI_NUMA_CPUS + ACPI_NUMA_MEMS]; /* the different nodes, first seen first */
};

/* Parses an SRAT of len bytes. Returns 0, or MICA_EINVAL for a table that is not an SRAT
 * or whose structures run past its end (out is then empty). */
int acpi_srat_parse(const void *srat, size_t len, struct acpi_numa *out);
/* The same through the RSDP; MICA_EINVAL also when there is no SRAT. */
int acpi_numa(uint64_t rsdp, struct acpi_numa *out);
/* The node of the CPU with APIC ID apic_id, or -1. */
int acpi_numa_node_of(const struct acpi_numa *n, uint32_t apic_id);

/* ECAM windows of the MCFG table (PCI Firmware 3.2, 4.1.2): base of bus start_bus in
 * segment seg, buses start_bus..end_bus. */
#define ACPI_MCFG_MAX 8
struct acpi_mcfg {
	unsigned n;
	struct {
		uint64_t base;
		uint16_t seg;
		uint8_t start_bus, end_bus;
	} win[ACPI_MCFG_MAX];
};

/* Fills out from the MCFG (entries with end_bus < start_bus or a zero base are dropped).
 * Returns 0, or MICA_EINVAL when there is no MCFG. */
int acpi_mcfg(uint64_t rsdp, struct acpi_mcfg *out);

#endif
