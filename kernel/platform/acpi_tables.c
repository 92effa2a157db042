/* Builds a guest's ACPI tables. Layout and field offsets: ACPI 6.4 section 5.2 (RSDP 5.2.5,
 * RSDT/XSDT 5.2.7-8, FADT 5.2.9, FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12), AML grammar 20.2,
 * resource descriptors 6.4; MCFG and the ECAM reservation: PCI Firmware Specification 3.2,
 * 4.1.2. Everything is written with byte offsets into a zeroed buffer, so the layout is
 * visible here and checked by tests/unit/test_acpi_tables.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/platform/acpi_tables.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

typedef unsigned long long ull;

#define SDT_HEADER    36
#define RSDP_SIZE     36
#define FACS_SIZE     64
#define FADT_SIZE     276 /* revision 6 */
#define FADT_REVISION 6
#define MADT_FIXED    44  /* header + local APIC address + flags */
#define MCFG_SIZE     60  /* header + 8 reserved + one allocation */

#define MADT_LAPIC        0
#define MADT_IOAPIC       1
#define MADT_ISO          2
#define MADT_X2APIC       9
#define MADT_LAPIC_LEN    8
#define MADT_IOAPIC_LEN   12
#define MADT_ISO_LEN      10
#define MADT_X2APIC_LEN   16
#define MADT_CPU_ENABLED  1
#define XAPIC_MAX_ID      254  /* 0xff is the broadcast ID: higher IDs need x2APIC entries */

/* MPS INTI flags (MADT 5.2.12.5): polarity bits 1:0, trigger mode bits 3:2. */
#define INTI_HIGH  0x1
#define INTI_LEVEL 0xc

/* FADT flags (5.2.9, table 5.10). */
#define FADT_WBINVD        (1u << 0)
#define FADT_PROC_C1       (1u << 2)
#define FADT_PWR_BUTTON    (1u << 4)  /* no fixed power button */
#define FADT_SLP_BUTTON    (1u << 5)  /* no fixed sleep button */
#define FADT_FIX_RTC       (1u << 6)  /* no RTC wake status in the fixed registers */
#define FADT_TMR_VAL_EXT   (1u << 8)  /* the PM timer is 32 bits wide */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HEADLESS      (1u << 12)
/* IA-PC boot architecture flags (5.2.9.3). LEGACY_DEVICES and 8042 stay clear: no ISA
 * devices to enumerate and no keyboard controller. So do MSI_NOT_SUPPORTED (bit 3: Linux
 * would turn MSI and MSI-X off, and the virtio functions only interrupt through MSI-X) and
 * PCIE_ASPM_CONTROLS (bit 4: the OS may manage ASPM; without an _OSC Linux leaves it off). */
#define BOOT_ARCH_NO_VGA      (1u << 2)

/* Generic Address Structure (5.2.3.2). */
#define GAS_SYSTEM_IO 1
#define GAS_BYTE      1
#define GAS_WORD      2
#define GAS_DWORD     3

/* The DSDT's AML: two sleep-state packages in the root scope. Linux powers off by writing
 * the first element of _S5 to SLP_TYP in PM1a_CNT (with SLP_EN); _S0 is the working state.
 * Package encoding (20.2.5.4): PackageOp PkgLength NumElements elements, where a one-byte
 * PkgLength counts itself, NumElements and the elements. */
static const uint8_t dsdt_aml[] = {
	/* Name (_S0, Package () { 0, 0, 0, 0 }) */
	0x08, '_', 'S', '0', '_', /* NameOp, NameSeg "_S0_" */
	0x12, 0x06, 0x04,         /* PackageOp, PkgLength 6, NumElements 4 */
	0x00, 0x00, 0x00, 0x00,   /* ZeroOp x 4 */
	/* Name (_S5, Package () { 5, 5, 0, 0 }) */
	0x08, '_', 'S', '5', '_', /* NameOp, NameSeg "_S5_" */
	0x12, 0x08, 0x04,         /* PackageOp, PkgLength 8, NumElements 4 */
	0x0a, ACPI_SLP_TYP_S5,    /* BytePrefix 5: SLP_TYPa */
	0x0a, ACPI_SLP_TYP_S5,    /* BytePrefix 5: SLP_TYPb */
	0x00, 0x00,               /* ZeroOp x 2: reserved */
};

/* With a PCI host bridge the DSDT goes on, after the sleep-state packages, with
 *
 *   Scope (\_SB) {
 *       Device (PCI0) {                      the host bridge (PCI Firmware 3.2, 4.1.1)
 *           Name (_HID, EisaId ("PNP0A08"))  PCI Express root bridge
 *           Name (_CID, EisaId ("PNP0A03"))  PCI root bridge
 *           Name (_UID, 0)
 *           Name (_SEG, 0)
 *           Name (_BBN, ecam_bus_start)
 *           Name (_CRS, ResourceTemplate () {
 *               WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
 *                              0, ecam_bus_start, ecam_bus_end, 0, buses)
 *               DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 *                            NonCacheable, ReadWrite, 0, base, base + size - 1, 0, size)
 *               WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
 *                       0, io, io + io_size - 1, 0, io_size)
 *           })                                (DWordMemory, WordIO: only with that window)
 *       }
 *       Device (ECAM) {                      the ECAM range as a motherboard resource
 *           Name (_HID, EisaId ("PNP0C02"))
 *           Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, lo, hi - lo) })
 *       }
 *   }
 *
 * No _OSC (Linux keeps native PCIe hot-plug, AER, PME and ASPM off), no _PRT (the devices
 * use MSI-X). The I/O window holds the virtio functions' notify BARs (vpci/bus.h). The
 * ECAM device is what lets Linux use the MCFG at all: it accepts an MCFG range only once
 * it finds it in a PNP0C01/PNP0C02 _CRS (arch/x86/pci/mmconfig-shared.c,
 * pci_mmcfg_check_reserved(); the e820 entry only counts when 0xCF8 works). */
#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_NAME        0x08
#define AML_BYTE        0x0a
#define AML_WORD        0x0b
#define AML_DWORD       0x0c
#define AML_QWORD       0x0e
#define AML_SCOPE       0x10
#define AML_BUFFER      0x11
#define AML_EXT         0x5b /* ExtOpPrefix: DeviceOp is 0x5b 0x82 */
#define AML_DEVICE      0x82
#define AML_ROOT        0x5c /* '\' */
#define AML_STRING      0x0d
#define AML_PACKAGE     0x12
#define AML_METHOD      0x14
#define AML_NOTIFY      0x86
#define AML_DUAL_NAME   0x2e /* DualNamePrefix: two NameSegs follow */

/* Resource descriptors (6.4): large items are tag, 16-bit length of what follows, data;
 * the _LEN values are whole descriptors. */
#define RES_MEM32_FIXED     0x86
#define RES_DWORD_ADDR      0x87
#define RES_WORD_ADDR       0x88
#define RES_MEM32_FIXED_LEN 12
#define RES_DWORD_ADDR_LEN  26
#define RES_WORD_ADDR_LEN   16
#define RES_END             0x79 /* small item, 1 byte of checksum (0: none) */
#define RES_ADDR_MEMORY     0    /* address space descriptor: resource type */
#define RES_ADDR_IO         1
#define RES_ADDR_BUS        2
#define RES_ADDR_FIXED      0x0c /* _MAF | _MIF; _DEC = 0 (positive), bit 0 = 0 (producer) */
#define RES_MEM_RW          0x01 /* type-specific: _RW; _MEM = 0 (non-cacheable), static */
#define RES_IO_ENTIRE       0x03 /* type-specific for I/O: _RNG = ISA and non-ISA ports */

#define GiB4 0x100000000ULL

/* AML being written: to p when p is non-NULL, always counted in n. */
struct aml {
	uint8_t *p;
	uint32_t n;
};

static void aml_bytes(struct aml *a, const void *src, uint32_t len)
{
	if (a->p)
		memcpy(a->p + a->n, src, len);
	a->n += len;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

static void aml_u16(struct aml *a, uint16_t v)
{
	uint8_t b[2];
	put16(b, v);
	aml_bytes(a, b, 2);
}

static void aml_u32(struct aml *a, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	aml_bytes(a, b, 4);
}

/* An Integer in its shortest encoding (20.2.3). */
static void aml_int(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_u16(a, (uint16_t)v);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_u32(a, (uint32_t)v);
	} else {
		uint8_t b[8];
		put64(b, v);
		aml_byte(a, AML_QWORD);
		aml_bytes(a, b, 8);
	}
}

/* EisaId ("PNP0A08"): three letters in 5 bits each, then four hex digits, stored big-endian
 * as a DWord (so PNP0A08 is the bytes 41 d0 0a 08). Always a DWordPrefix, as iasl writes. */
static void aml_eisa_id(struct aml *a, const char id[8])
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16;
	for (unsigned i = 3; i < 7; i++)
		v |= (uint32_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10) << (4 * (6 - i));
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	aml_byte(a, AML_DWORD);
	aml_bytes(a, b, 4);
}

/* Name (seg, Integer): a NameOp with a 4-character NameSeg. */
static void aml_name_int(struct aml *a, const char seg[5], uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, 4);
	aml_int(a, v);
}

static void aml_name_eisa_id(struct aml *a, const char seg[5], const char id[8])
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, 4);
	aml_eisa_id(a, id);
}

/* Opens something with a PkgLength (Scope, Device, Buffer): a byte is held for the length,
 * and close() writes it once the contents are known. Returns where it goes. */
static uint32_t aml_open(struct aml *a)
{
	return a->n++;
}

/* PkgLength (20.2.4) counts itself and what follows it: one byte up to 63, else a lead byte
 * (count of following bytes in bits 7:6, the length's low nibble in bits 3:0) and 1-3 bytes
 * with the rest of the length. A longer one moves the contents up. */
static void aml_close(struct aml *a, uint32_t at)
{
	uint32_t body = a->n - at - 1;
	uint32_t bytes = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	uint32_t len = body + bytes;

	if (a->p) {
		memmove(a->p + at + bytes, a->p + at + 1, body);
		if (bytes == 1) {
			a->p[at] = (uint8_t)len;
		} else {
			a->p[at] = (uint8_t)((bytes - 1) << 6 | (len & 0xf));
			for (uint32_t i = 1; i < bytes; i++)
				a->p[at + i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
		}
	}
	a->n += bytes - 1;
}

/* Name (_CRS, ResourceTemplate () { ... }) with size bytes of descriptors before the end tag:
 * a Buffer (20.2.5.4: BufferOp PkgLength BufferSize bytes). Returns what aml_crs_end() needs. */
static uint32_t aml_crs_begin(struct aml *a, uint32_t size)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, "_CRS", 4);
	aml_byte(a, AML_BUFFER);
	uint32_t at = aml_open(a);
	aml_int(a, size + 2);
	return at;
}

static void aml_crs_end(struct aml *a, uint32_t at)
{
	aml_byte(a, RES_END);
	aml_byte(a, 0);
	aml_close(a, at);
}

/* The ECAM range Linux uses: buses start..end, from a base that stands for bus 0. */
static void ecam_range(const struct acpi_guest *g, uint64_t *lo, uint64_t *hi)
{
	*lo = g->ecam_base + ((uint64_t)g->ecam_bus_start << 20);
	*hi = g->ecam_base + (((uint64_t)g->ecam_bus_end + 1) << 20);
}

/* A Word Address Space Descriptor (6.4.3.5.3) for the fixed range [min, min + len) of
 * resource type type (bus numbers, I/O ports), produced by the bridge. */
static void aml_word_range(struct aml *a, uint8_t type, uint8_t type_flags, uint16_t min,
			   uint16_t len)
{
	aml_byte(a, RES_WORD_ADDR);
	aml_u16(a, RES_WORD_ADDR_LEN - 3);
	aml_byte(a, type);
	aml_byte(a, RES_ADDR_FIXED);
	aml_byte(a, type_flags);
	aml_u16(a, 0);                         /* granularity */
	aml_u16(a, min);                       /* minimum */
	aml_u16(a, (uint16_t)(min + len - 1)); /* maximum */
	aml_u16(a, 0);                         /* translation offset */
	aml_u16(a, len);                       /* length */
}

/* Scope (\seg) { and Device (seg) {: each returns what aml_close() needs. */
static uint32_t aml_root_scope(struct aml *a, const char seg[5])
{
	aml_byte(a, AML_SCOPE);
	uint32_t at = aml_open(a);
	aml_byte(a, AML_ROOT);
	aml_bytes(a, seg, 4);
	return at;
}

static uint32_t aml_device(struct aml *a, const char seg[5])
{
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	uint32_t at = aml_open(a);
	aml_bytes(a, seg, 4);
	return at;
}

/* Appends the PCI part of the DSDT (the comment above) when there is a host bridge. */
static void aml_pci(struct aml *a, const struct acpi_guest *g)
{
	uint32_t scope, dev, crs;
	uint64_t lo, hi;

	if (!g->ecam_base)
		return;
	scope = aml_root_scope(a, "_SB_");
	dev = aml_device(a, "PCI0");
	aml_name_eisa_id(a, "_HID", "PNP0A08");
	aml_name_eisa_id(a, "_CID", "PNP0A03");
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", g->ecam_bus_start);
	crs = aml_crs_begin(a, RES_WORD_ADDR_LEN + (g->pci_mem_size ? RES_DWORD_ADDR_LEN : 0) +
			       (g->pci_io_size ? RES_WORD_ADDR_LEN : 0));
	aml_word_range(a, RES_ADDR_BUS, 0, g->ecam_bus_start,
		       (uint16_t)(g->ecam_bus_end - g->ecam_bus_start + 1));
	if (g->pci_mem_size) {
		aml_byte(a, RES_DWORD_ADDR);
		aml_u16(a, RES_DWORD_ADDR_LEN - 3);
		aml_byte(a, RES_ADDR_MEMORY);
		aml_byte(a, RES_ADDR_FIXED);
		aml_byte(a, RES_MEM_RW);
		aml_u32(a, 0);                           /* granularity */
		aml_u32(a, (uint32_t)g->pci_mem_base);   /* minimum */
		aml_u32(a, (uint32_t)(g->pci_mem_base + g->pci_mem_size - 1)); /* maximum */
		aml_u32(a, 0);                           /* translation offset */
		aml_u32(a, (uint32_t)g->pci_mem_size);   /* length (check(): < 4 GiB) */
	}
	if (g->pci_io_size) /* check(): the window fits 16 bits */
		aml_word_range(a, RES_ADDR_IO, RES_IO_ENTIRE, (uint16_t)g->pci_io_base,
			       (uint16_t)g->pci_io_size);
	aml_crs_end(a, crs);
	aml_close(a, dev);

	ecam_range(g, &lo, &hi);
	dev = aml_device(a, "ECAM");
	aml_name_eisa_id(a, "_HID", "PNP0C02");
	crs = aml_crs_begin(a, RES_MEM32_FIXED_LEN);
	aml_byte(a, RES_MEM32_FIXED);
	aml_u16(a, RES_MEM32_FIXED_LEN - 3);
	aml_byte(a, RES_MEM_RW);
	aml_u32(a, (uint32_t)lo);
	aml_u32(a, (uint32_t)(hi - lo));
	aml_crs_end(a, crs);
	aml_close(a, dev);

	aml_close(a, scope);
}

static void aml_name_string(struct aml *a, const char seg[5], const char *str)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, 4);
	aml_byte(a, AML_STRING);
	aml_bytes(a, str, (uint32_t)strlen(str) + 1);
}

/* With a VM generation ID (g->vmgenid) the DSDT also holds
 *
 *   Scope (\_SB) {
 *       Device (VGEN) {                      Microsoft's "Virtual Machine Generation ID"
 *           Name (_HID, "MICA0001")
 *           Name (_CID, "VM_Gen_Counter")    what guests' drivers look for
 *           Name (_DDN, "VM_Gen_Counter")
 *           Name (ADDR, Package () { lo, hi })  where the 16-byte ID is
 *       }
 *   }
 *   Scope (\_GPE) {
 *       Method (_E00) { Notify (\_SB.VGEN, 0x80) }  GPE 0: the ID changed
 *   }
 *
 * (ACPICA makes _CID upper case, so Linux's vmgenid matches it as VM_GEN_COUNTER.) */
static void aml_vmgenid(struct aml *a, uint64_t id_gpa)
{
	uint32_t scope, dev, pkg, method;

	scope = aml_root_scope(a, "_SB_");
	dev = aml_device(a, "VGEN");
	aml_name_string(a, "_HID", "MICA0001");
	aml_name_string(a, "_CID", "VM_Gen_Counter");
	aml_name_string(a, "_DDN", "VM_Gen_Counter");
	aml_byte(a, AML_NAME);
	aml_bytes(a, "ADDR", 4);
	aml_byte(a, AML_PACKAGE);
	pkg = aml_open(a);
	aml_byte(a, 2); /* NumElements */
	aml_int(a, id_gpa & 0xffffffffu);
	aml_int(a, id_gpa >> 32);
	aml_close(a, pkg);
	aml_close(a, dev);
	aml_close(a, scope);

	scope = aml_root_scope(a, "_GPE");
	aml_byte(a, AML_METHOD);
	method = aml_open(a);
	aml_bytes(a, "_E00", 4);
	aml_byte(a, 0); /* MethodFlags: no arguments, not serialized */
	aml_byte(a, AML_NOTIFY);
	aml_byte(a, AML_ROOT);
	aml_byte(a, AML_DUAL_NAME);
	aml_bytes(a, "_SB_VGEN", 8);
	aml_int(a, 0x80);
	aml_close(a, method);
	aml_close(a, scope);
}

/* Where each table goes, as offsets from the start of the buffer. */
struct layout {
	uint64_t rsdp, facs, fadt, dsdt, madt, mcfg, rsdt, xsdt, vgid, end;
	uint32_t dsdt_len, madt_len, n_lapic, n_x2apic, n_tables;
};

static uint64_t align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int check(const struct acpi_guest *g, char *err, size_t errlen)
{
	if (!g)
		return errmsg(MICA_EINVAL, err, errlen, "no platform description");
	if (!g->ncpus || g->ncpus > ACPI_GUEST_MAX_CPUS)
		return errmsg(MICA_EINVAL, err, errlen, "%u vCPUs: the ACPI tables describe 1 to %u",
				g->ncpus, ACPI_GUEST_MAX_CPUS);
	if (!g->ioapic_addr || (g->ioapic_addr & 0xfff))
		return errmsg(MICA_EINVAL, err, errlen, "I/O APIC address 0x%x is not a non-zero multiple of "
				"4 KiB", g->ioapic_addr);
	if (g->vmgenid && !g->gpe0_port)
		return errmsg(MICA_EINVAL, err, errlen, "a VM generation ID needs a GPE block to "
			      "announce changes (GPE0 port 0)");
	if (!g->pm1a_evt_port || !g->pm1a_cnt_port || !g->pm_tmr_port)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI PM ports must be non-zero (PM1a_EVT 0x%x, "
				"PM1a_CNT 0x%x, PM_TMR 0x%x)", g->pm1a_evt_port,
				g->pm1a_cnt_port, g->pm_tmr_port);
	if (g->ecam_base) {
		if (g->ecam_base & 0xfffff)
			return errmsg(MICA_EINVAL, err, errlen, "PCI ECAM base 0x%llx is not 1 MiB aligned",
					(ull)g->ecam_base);
		if (g->ecam_bus_start > g->ecam_bus_end)
			return errmsg(MICA_EINVAL, err, errlen, "PCI bus range %u-%u is empty",
					g->ecam_bus_start, g->ecam_bus_end);
		/* The ECAM reservation is a Memory32Fixed; and Linux ignores an MCFG entry above
		 * 4 GiB from firmware without an SMBIOS BIOS date (acpi_mcfg_check_entry()). */
		uint64_t lo, hi;
		ecam_range(g, &lo, &hi);
		if (g->ecam_base >= GiB4 || hi > GiB4)
			return errmsg(MICA_EINVAL, err, errlen, "PCI ECAM base 0x%llx: the ECAM range of "
					"buses %u-%u must end at or below 4 GiB", (ull)g->ecam_base,
					g->ecam_bus_start, g->ecam_bus_end);
	}
	if (g->pci_mem_base || g->pci_mem_size) {
		uint64_t base = g->pci_mem_base, size = g->pci_mem_size, lo, hi;
		if (!g->ecam_base)
			return errmsg(MICA_EINVAL, err, errlen, "a PCI memory window at 0x%llx but no PCI "
					"host bridge (ECAM base 0)", (ull)base);
		if (!size)
			return errmsg(MICA_EINVAL, err, errlen, "the PCI memory window at 0x%llx is empty",
					(ull)base);
		if (base >= GiB4 || size > GiB4 - base)
			return errmsg(MICA_EINVAL, err, errlen, "the PCI memory window of 0x%llx bytes at "
					"0x%llx must lie below 4 GiB (a DWordMemory descriptor)",
					(ull)size, (ull)base);
		ecam_range(g, &lo, &hi);
		static const char *const what[] = { "PCI ECAM range", "I/O APIC", "local APIC" };
		uint64_t from[] = { lo, g->ioapic_addr, ACPI_LAPIC_BASE };
		uint64_t to[] = { hi, g->ioapic_addr + 0x1000ULL, ACPI_LAPIC_BASE + 0x1000ULL };
		for (unsigned i = 0; i < 3; i++)
			if (base < to[i] && from[i] < base + size)
				return errmsg(MICA_EINVAL, err, errlen, "the PCI memory window [0x%llx, "
						"0x%llx) overlaps the %s at [0x%llx, 0x%llx)",
						(ull)base, (ull)(base + size), what[i],
						(ull)from[i], (ull)to[i]);
	}
	if (g->pci_io_base || g->pci_io_size) {
		uint32_t base = g->pci_io_base, end = g->pci_io_base + g->pci_io_size;
		if (!g->ecam_base)
			return errmsg(MICA_EINVAL, err, errlen, "a PCI I/O window at 0x%x but no PCI "
					"host bridge (ECAM base 0)", base);
		if (!g->pci_io_size || base > 0xffff || g->pci_io_size > 0x10000 - base)
			return errmsg(MICA_EINVAL, err, errlen, "the PCI I/O window of 0x%x ports at "
					"0x%x must be non-empty and inside ports 0-0xffff",
					g->pci_io_size, base);
		static const char *const what[] = { "PCI configuration ports", "ACPI PM ports",
						    "ACPI GPE block" };
		uint32_t from[] = { 0xcf8, g->pm1a_evt_port, g->gpe0_port };
		uint32_t to[] = { 0xd00, g->pm_tmr_port + 4u, g->gpe0_port + 4u };
		for (unsigned i = 0; i < (g->gpe0_port ? 3u : 2u); i++)
			if (base < to[i] && from[i] < end)
				return errmsg(MICA_EINVAL, err, errlen, "the PCI I/O window [0x%x, "
						"0x%x) overlaps the %s at [0x%x, 0x%x)", base, end,
						what[i], from[i], to[i]);
	}
	return 0;
}

static void plan(const struct acpi_guest *g, struct layout *l)
{
	l->n_lapic = g->ncpus <= XAPIC_MAX_ID + 1 ? g->ncpus : XAPIC_MAX_ID + 1;
	l->n_x2apic = g->ncpus - l->n_lapic;
	struct aml pci = { NULL, 0 };
	aml_pci(&pci, g);
	if (g->vmgenid)
		aml_vmgenid(&pci, 0xffffffffffffffffull); /* the longest encoding: sizes only */
	l->dsdt_len = SDT_HEADER + sizeof(dsdt_aml) + pci.n;
	l->madt_len = MADT_FIXED + l->n_lapic * MADT_LAPIC_LEN + l->n_x2apic * MADT_X2APIC_LEN +
		      MADT_IOAPIC_LEN + 2 * MADT_ISO_LEN;
	l->n_tables = g->ecam_base ? 3 : 2; /* FADT, MADT (, MCFG) */

	l->rsdp = 0;
	l->facs = align(RSDP_SIZE, 64); /* FACS: 64-byte aligned */
	l->fadt = align(l->facs + FACS_SIZE, 16);
	l->dsdt = align(l->fadt + FADT_SIZE, 16);
	l->madt = align(l->dsdt + l->dsdt_len, 16);
	l->mcfg = align(l->madt + l->madt_len, 16);
	l->rsdt = g->ecam_base ? align(l->mcfg + MCFG_SIZE, 16) : l->mcfg;
	l->xsdt = align(l->rsdt + SDT_HEADER + 4 * l->n_tables, 16);
	l->end = l->xsdt + SDT_HEADER + 8 * l->n_tables;
	l->vgid = 0;
	if (g->vmgenid) {
		l->vgid = align(l->end, 16);
		l->end = l->vgid + ACPI_VMGENID_LEN;
	}
}

uint64_t acpi_vmgenid_offset(const struct acpi_guest *g)
{
	struct layout l;
	if (check(g, NULL, 0))
		return 0;
	plan(g, &l);
	return l.vgid;
}

uint64_t acpi_build_size(const struct acpi_guest *g)
{
	struct layout l;
	if (check(g, NULL, 0))
		return 0;
	plan(g, &l);
	return l.end;
}

void acpi_guest_defaults(struct acpi_guest *g, uint32_t ncpus)
{
	memset(g, 0, sizeof(*g));
	g->ncpus = ncpus;
	g->ioapic_id = ncpus < 0xff ? (uint8_t)ncpus : 0xfe;
	g->ioapic_addr = ACPI_IOAPIC_BASE;
	g->ioapic_gsi_base = ACPI_IOAPIC_GSI_BASE;
	g->pm1a_evt_port = ACPI_PM1A_EVT_PORT;
	g->pm1a_cnt_port = ACPI_PM1A_CNT_PORT;
	g->pm_tmr_port = ACPI_PM_TMR_PORT;
	g->gpe0_port = ACPI_GPE0_PORT;
}

static uint8_t checksum(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;
	while (len--)
		s += *p++;
	return (uint8_t)-s;
}

static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	put8(t + 8, rev);
	memcpy(t + 10, "MICA  ", 6);    /* OEMID */
	memcpy(t + 16, "MICAPLAT", 8);  /* OEM table ID */
	put32(t + 24, 1);               /* OEM revision */
	memcpy(t + 28, "MICA", 4);      /* creator ID */
	put32(t + 32, 1);               /* creator revision */
}

static void seal(uint8_t *t)
{
	uint32_t len;
	memcpy(&len, t + 4, 4);
	t[9] = 0;
	t[9] = checksum(t, len);
}

static void gas(uint8_t *p, uint8_t width, uint8_t access, uint64_t port)
{
	put8(p, GAS_SYSTEM_IO);
	put8(p + 1, width);
	put8(p + 2, 0);      /* bit offset */
	put8(p + 3, access);
	put64(p + 4, port);
}

static void build_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt, const struct acpi_guest *g)
{
	header(t, "FACP", FADT_SIZE, FADT_REVISION);
	put32(t + 36, (uint32_t)facs);           /* FIRMWARE_CTRL */
	put32(t + 40, (uint32_t)dsdt);           /* DSDT */
	put8(t + 45, 0);                         /* Preferred_PM_Profile: unspecified */
	put16(t + 46, ACPI_SCI_IRQ);             /* SCI_INT */
	put32(t + 48, 0);                        /* SMI_CMD: none, always in ACPI mode */
	put32(t + 56, g->pm1a_evt_port);         /* PM1a_EVT_BLK */
	put32(t + 64, g->pm1a_cnt_port);         /* PM1a_CNT_BLK */
	put32(t + 76, g->pm_tmr_port);           /* PM_TMR_BLK */
	put8(t + 88, 4);                         /* PM1_EVT_LEN */
	put8(t + 89, 2);                         /* PM1_CNT_LEN */
	put8(t + 91, 4);                         /* PM_TMR_LEN */
	if (g->gpe0_port) {
		put32(t + 80, g->gpe0_port);     /* GPE0_BLK */
		put8(t + 92, 4);                 /* GPE0_BLK_LEN: 16 events */
		gas(t + 220, 32, GAS_BYTE, g->gpe0_port); /* X_GPE0_BLK */
	}
	put16(t + 96, 101);                      /* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 1001);                     /* P_LVL3_LAT > 1000: no C3 */
	put8(t + 108, ACPI_RTC_CENTURY);         /* CENTURY: the CMOS register holding it */
	put16(t + 109, BOOT_ARCH_NO_VGA);        /* IAPC_BOOT_ARCH: a CMOS RTC is present */
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
		       FADT_FIX_RTC | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP | FADT_HEADLESS);
	gas(t + 116, 8, GAS_BYTE, ACPI_RESET_PORT); /* RESET_REG */
	put8(t + 128, ACPI_RESET_VALUE);         /* RESET_VALUE */
	put8(t + 131, 0);                        /* FADT minor version: 6.0 */
	put64(t + 132, facs);                    /* X_FIRMWARE_CTRL */
	put64(t + 140, dsdt);                    /* X_DSDT */
	gas(t + 148, 32, GAS_WORD, g->pm1a_evt_port);  /* X_PM1a_EVT_BLK: two 16-bit registers */
	gas(t + 172, 16, GAS_WORD, g->pm1a_cnt_port);  /* X_PM1a_CNT_BLK */
	gas(t + 208, 32, GAS_DWORD, g->pm_tmr_port);   /* X_PM_TMR_BLK */
	seal(t);
}

static void build_facs(uint8_t *t)
{
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_SIZE);
	put8(t + 32, 2); /* version; no waking vector, no global lock, no checksum */
}

static void build_madt(uint8_t *t, const struct layout *l, const struct acpi_guest *g)
{
	header(t, "APIC", l->madt_len, 5);
	put32(t + 36, ACPI_LAPIC_BASE);
	put32(t + 40, 0); /* flags: no PCAT_COMPAT, there is no 8259 */
	uint8_t *e = t + MADT_FIXED;
	for (uint32_t i = 0; i < l->n_lapic; i++, e += MADT_LAPIC_LEN) {
		put8(e, MADT_LAPIC);
		put8(e + 1, MADT_LAPIC_LEN);
		put8(e + 2, (uint8_t)i);             /* ACPI processor UID */
		put8(e + 3, (uint8_t)i);             /* APIC ID */
		put32(e + 4, MADT_CPU_ENABLED);
	}
	for (uint32_t i = l->n_lapic; i < g->ncpus; i++, e += MADT_X2APIC_LEN) {
		put8(e, MADT_X2APIC);
		put8(e + 1, MADT_X2APIC_LEN);
		put32(e + 4, i);                     /* x2APIC ID */
		put32(e + 8, MADT_CPU_ENABLED);
		put32(e + 12, i);                    /* ACPI processor UID */
	}
	put8(e, MADT_IOAPIC);
	put8(e + 1, MADT_IOAPIC_LEN);
	put8(e + 2, g->ioapic_id);
	put32(e + 4, g->ioapic_addr);
	put32(e + 8, g->ioapic_gsi_base);
	e += MADT_IOAPIC_LEN;
	/* ISA IRQ 0 (the PIT) arrives at GSI 2, as on every PC with an I/O APIC. */
	put8(e, MADT_ISO);
	put8(e + 1, MADT_ISO_LEN);
	put8(e + 2, 0);                              /* bus: ISA */
	put8(e + 3, 0);
	put32(e + 4, ACPI_PIT_GSI);
	put16(e + 8, 0);                             /* conforms to the bus: edge, high */
	e += MADT_ISO_LEN;
	/* The SCI is level-triggered, active high (not the ISA default of edge). */
	put8(e, MADT_ISO);
	put8(e + 1, MADT_ISO_LEN);
	put8(e + 2, 0);
	put8(e + 3, ACPI_SCI_IRQ);
	put32(e + 4, ACPI_SCI_IRQ);
	put16(e + 8, INTI_HIGH | INTI_LEVEL);
	seal(t);
}

static void build_mcfg(uint8_t *t, const struct acpi_guest *g)
{
	header(t, "MCFG", MCFG_SIZE, 1);
	uint8_t *e = t + SDT_HEADER + 8;
	put64(e, g->ecam_base);
	put16(e + 8, 0);                             /* PCI segment group */
	put8(e + 10, g->ecam_bus_start);
	put8(e + 11, g->ecam_bus_end);
	seal(t);
}

int acpi_build(void *buf, uint64_t buf_gpa, uint64_t buf_size, const struct acpi_guest *g,
	       uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct layout l;
	uint8_t *b = buf;

	if (err && errlen)
		err[0] = '\0';
	int rc = check(g, err, errlen);
	if (rc)
		return rc;
	plan(g, &l);
	if (buf_gpa & 63)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI tables at 0x%llx: need a 64-byte aligned address",
				(ull)buf_gpa);
	if (buf_size < l.end)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI tables for %u vCPUs need %llu bytes, the buffer "
				"has %llu", g->ncpus, (ull)l.end, (ull)buf_size);
	if (buf_gpa > 0xffffffffULL || l.end > 0x100000000ULL - buf_gpa)
		return errmsg(MICA_EINVAL, err, errlen, "ACPI tables at 0x%llx (%llu bytes) must lie below 4 GiB "
				"(RSDT and FADT hold 32-bit addresses)", (ull)buf_gpa, (ull)l.end);
	if (!b)
		return errmsg(MICA_EINVAL, err, errlen, "no buffer for the ACPI tables");

	memset(b, 0, l.end);
	build_facs(b + l.facs);
	build_fadt(b + l.fadt, buf_gpa + l.facs, buf_gpa + l.dsdt, g);
	header(b + l.dsdt, "DSDT", l.dsdt_len, 2); /* revision 2: 64-bit AML integers */
	memcpy(b + l.dsdt + SDT_HEADER, dsdt_aml, sizeof(dsdt_aml));
	struct aml pci = { b + l.dsdt + SDT_HEADER + sizeof(dsdt_aml), 0 };
	aml_pci(&pci, g);
	if (g->vmgenid)
		aml_vmgenid(&pci, buf_gpa + l.vgid);
	/* The planned length holds the ADDR package's longest encoding: the table is as
	 * long as what was written (the bytes after it stay zero, inside the buffer). */
	put32(b + l.dsdt + 4, SDT_HEADER + sizeof(dsdt_aml) + pci.n);
	seal(b + l.dsdt);
	build_madt(b + l.madt, &l, g);
	if (g->ecam_base)
		build_mcfg(b + l.mcfg, g);

	uint64_t tables[3] = { buf_gpa + l.fadt, buf_gpa + l.madt, buf_gpa + l.mcfg };
	header(b + l.rsdt, "RSDT", SDT_HEADER + 4 * l.n_tables, 1);
	header(b + l.xsdt, "XSDT", SDT_HEADER + 8 * l.n_tables, 1);
	for (uint32_t i = 0; i < l.n_tables; i++) {
		put32(b + l.rsdt + SDT_HEADER + 4 * i, (uint32_t)tables[i]);
		put64(b + l.xsdt + SDT_HEADER + 8 * i, tables[i]);
	}
	seal(b + l.rsdt);
	seal(b + l.xsdt);

	uint8_t *r = b + l.rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "MICA  ", 6);
	put8(r + 15, 2);                              /* revision: ACPI 2.0+, has an XSDT */
	put32(r + 16, (uint32_t)(buf_gpa + l.rsdt));
	put32(r + 20, RSDP_SIZE);
	put64(r + 24, buf_gpa + l.xsdt);
	r[8] = checksum(r, 20);                       /* covers the ACPI 1.0 part */
	r[32] = checksum(r, RSDP_SIZE);               /* covers all 36 bytes */
	if (rsdp_gpa)
		*rsdp_gpa = buf_gpa + l.rsdp;
	return 0;
}
