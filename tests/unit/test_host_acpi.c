/* kernel/host/acpi.c: finding the CPUs through RSDP -> XSDT/RSDT -> MADT, with broken tables. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <mica/hypercall.h>
#include "kernel/host/acpi.h"
#include "tests/acpi_sum.h"

/* Below 4 GiB (MAP_32BIT), so that the RSDT's 32-bit pointers can reach it. */
static uint8_t *mem;
#define MEM_SIZE 8192
static uint8_t *rsdp, *xsdt, *rsdt, *madt;

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

#define fix_sum acpi_fix_sum

static void header(uint8_t *t, const char *sig, uint32_t len)
{
	memcpy(t, sig, 4);
	memcpy(t + 4, &len, 4);
	t[8] = 1;
}

static uint32_t madt_len;

static void madt_add(const uint8_t *e, unsigned n)
{
	memcpy(madt + madt_len, e, n);
	madt_len += n;
}

static void lapic(uint8_t id, uint32_t flags)
{
	uint8_t e[8] = { 0, 8, id, id };
	memcpy(e + 4, &flags, 4);
	madt_add(e, 8);
}

static void x2apic(uint32_t id, uint32_t flags)
{
	uint8_t e[16] = { 9, 16 };
	memcpy(e + 4, &id, 4);
	memcpy(e + 8, &flags, 4);
	madt_add(e, 16);
}

/* Finishes the tables: MADT (with its entries), XSDT and RSDT pointing at it, RSDP v2. */
static void seal(int revision)
{
	header(madt, "APIC", madt_len);
	fix_sum(madt, madt_len, 9);

	uint64_t m = addr(madt);
	header(xsdt, "XSDT", 36 + 8);
	memcpy(xsdt + 36, &m, 8);
	fix_sum(xsdt, 44, 9);

	uint32_t m32 = (uint32_t)m;
	header(rsdt, "RSDT", 36 + 4);
	memcpy(rsdt + 36, &m32, 4);
	fix_sum(rsdt, 40, 9);

	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = (uint8_t)revision;
	uint32_t r32 = (uint32_t)addr(rsdt), len = 36;
	uint64_t x = addr(xsdt);
	memcpy(rsdp + 16, &r32, 4);
	memcpy(rsdp + 20, &len, 4);
	memcpy(rsdp + 24, &x, 8);
	fix_sum(rsdp, 20, 8);
	fix_sum(rsdp, 36, 32);
}

static void setup(void)
{
	if (!mem) {
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		cr_assert(mem != MAP_FAILED);
	}
	memset(mem, 0, MEM_SIZE);
	rsdp = mem;
	xsdt = mem + 64;
	rsdt = mem + 256;
	madt = mem + 1024;
	madt_len = 44;
}

TestSuite(acpi, .init = setup);

Test(acpi, lists_enabled_and_online_capable_cpus_in_order)
{
	lapic(0, 1);
	lapic(1, 0);      /* disabled: not listed */
	lapic(4, 2);      /* online capable */
	x2apic(300, 1);
	lapic(4, 1);      /* duplicate ID: listed once */
	seal(2);
	struct acpi_cpus c;
	char err[100];
	cr_assert_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.n, 3);
	cr_expect_eq(c.apic_id[0], 0);
	cr_expect_eq(c.apic_id[1], 4);
	cr_expect_eq(c.apic_id[2], 300);
}

Test(acpi, rsdp_revision_0_uses_the_rsdt)
{
	lapic(2, 1);
	seal(0);
	memset(xsdt, 0, 44); /* an XSDT must not be needed */
	struct acpi_cpus c;
	char err[100];
	cr_assert_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.n, 1);
	cr_expect_eq(c.apic_id[0], 2);
}

Test(acpi, bad_checksums_and_missing_tables_are_errors)
{
	struct acpi_cpus c;
	char err[100];
	lapic(0, 1);
	seal(2);
	madt[20] ^= 1;
	cr_expect_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "MADT") != NULL, "message: %s", err);
	setup();
	lapic(0, 1);
	seal(2);
	rsdp[0] = 'X';
	cr_expect_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(acpi_madt_cpus(0, &c, err, sizeof(err)), MICA_EINVAL);
}

Test(acpi, malformed_entries_end_the_walk_safely)
{
	lapic(0, 1);
	uint8_t bad[2] = { 0, 0 }; /* zero length would loop for ever */
	madt_add(bad, 2);
	lapic(1, 1);
	seal(2);
	struct acpi_cpus c;
	char err[100];
	cr_assert_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), 0);
	cr_expect_eq(c.n, 1);
	/* An entry claiming to run past the table's end is not read. */
	setup();
	lapic(0, 1);
	uint8_t over[8] = { 0, 200, 7, 7, 1, 0, 0, 0 };
	madt_add(over, 8);
	seal(2);
	cr_assert_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), 0);
	cr_expect_eq(c.n, 1);
}

Test(acpi, no_enabled_cpu_is_an_error)
{
	lapic(0, 0);
	seal(2);
	struct acpi_cpus c;
	char err[100];
	cr_expect_eq(acpi_madt_cpus(addr(rsdp), &c, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "no enabled CPU") != NULL, "message: %s", err);
}

static void ioapic(uint8_t id, uint32_t address, uint32_t gsi_base)
{
	uint8_t e[12] = { 1, 12, id, 0 };
	memcpy(e + 4, &address, 4);
	memcpy(e + 8, &gsi_base, 4);
	madt_add(e, 12);
}

static void override(uint8_t irq, uint32_t gsi, uint16_t flags)
{
	uint8_t e[10] = { 2, 10, 0, irq };
	memcpy(e + 4, &gsi, 4);
	memcpy(e + 8, &flags, 2);
	madt_add(e, 10);
}

/* Found by tests/fuzz/fuzz_host_acpi: the first I/O APIC listed was taken whatever its GSI
 * base, so on a machine listing the one for GSIs 24.. first, ISA IRQ 4 came back as pin
 * 4 - 24 of the wrong I/O APIC. The one whose base is the highest not above the GSI is the
 * right one; none at all is an error. */
Test(acpi, ioapic_is_the_one_whose_gsis_cover_the_irq)
{
	uint64_t address;
	uint32_t base, gsi;
	uint16_t flags;

	lapic(0, 1);
	ioapic(9, 0xfec01000, 24);
	ioapic(8, 0xfec00000, 0);
	override(4, 4, 0x000d);
	override(9, 30, 0x000f);
	seal(2);
	cr_assert_eq(acpi_madt_ioapic(addr(rsdp), 4, &address, &base, &gsi, &flags), 0);
	cr_expect_eq(address, 0xfec00000u);
	cr_expect_eq(base, 0);
	cr_expect_eq(gsi, 4);
	cr_expect_eq(flags, 0x000d);
	cr_assert_eq(acpi_madt_ioapic(addr(rsdp), 9, &address, &base, &gsi, &flags), 0);
	cr_expect_eq(address, 0xfec01000u, "GSI 30: the second I/O APIC");
	cr_expect_eq(base, 24);
	cr_expect_eq(gsi, 30);
}

Test(acpi, no_ioapic_covering_the_irq_is_an_error)
{
	uint64_t address;
	uint32_t base, gsi;
	uint16_t flags;

	lapic(0, 1);
	ioapic(9, 0xfec01000, 24);
	seal(2);
	cr_expect_eq(acpi_madt_ioapic(addr(rsdp), 4, &address, &base, &gsi, &flags), MICA_EINVAL);
}
