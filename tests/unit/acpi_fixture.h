/* The fixture of the ACPI table tests (test_acpi_tables.c, test_acpi_dsdt.c): a buffer
 * below 4 GiB where acpi_build() writes, the platform description g, and readers for
 * what it wrote (tables by signature with their checksums, AML package lengths and data
 * objects). Each test file has its own copy (static). */
#ifndef MICA_TEST_ACPI_FIXTURE_H
#define MICA_TEST_ACPI_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <mica/hypercall.h>

#include "kernel/platform/acpi_tables.h"

#define BUF_SIZE 0x20000

static uint8_t *buf;    /* below 4 GiB (MAP_32BIT): gpa == host address, so acpi.c can read it */
static uint64_t gpa;
static uint64_t rsdp;
static char err[200];
static struct acpi_guest g;

static __attribute__((unused)) void setup(void)
{
	buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		   -1, 0);
	cr_assert(buf != MAP_FAILED);
	gpa = (uint64_t)(uintptr_t)buf;
	memset(buf, 0xcc, BUF_SIZE);
	acpi_guest_defaults(&g, 2);
}

static __attribute__((unused)) void teardown(void)
{
	munmap(buf, BUF_SIZE);
}

static __attribute__((unused)) uint16_t r16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static __attribute__((unused)) uint32_t r32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static __attribute__((unused)) uint64_t r64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static __attribute__((unused)) uint8_t sum(const uint8_t *p, uint64_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static __attribute__((unused)) uint8_t *at(uint64_t a)
{
	cr_assert(a >= gpa && a < gpa + BUF_SIZE, "address 0x%llx outside the buffer",
		  (unsigned long long)a);
	return buf + (a - gpa);
}

static __attribute__((unused)) void build(void)
{
	int rc = acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(rsdp, gpa);
}

/* A table the RSDT/XSDT names: checks header, length bounds and checksum. */
static __attribute__((unused)) uint8_t *table(uint64_t a, const char *sig)
{
	uint8_t *t = at(a);
	cr_assert(memcmp(t, sig, 4) == 0, "expected %s at 0x%llx, found %.4s", sig,
		  (unsigned long long)a, (const char *)t);
	uint32_t len = r32(t + 4);
	cr_assert(len >= 36 && a + len <= gpa + BUF_SIZE, "%s length %u", sig, len);
	cr_assert_eq(sum(t, len), 0, "%s checksum", sig);
	cr_assert(memcmp(t + 10, "MICA  ", 6) == 0, "%s OEMID", sig);
	cr_assert_eq(a % 16, 0, "%s not 16-byte aligned", sig);
	return t;
}

/* The XSDT's entries (and the RSDT's, which must match). */
static __attribute__((unused)) unsigned roots(uint64_t *out)
{
	const uint8_t *r = at(rsdp);
	cr_assert(memcmp(r, "RSD PTR ", 8) == 0);
	cr_assert_eq(sum(r, 20), 0, "RSDP 1.0 checksum");
	cr_assert_eq(r[15], 2, "RSDP revision");
	cr_assert_eq(r32(r + 20), 36, "RSDP length");
	cr_assert_eq(sum(r, 36), 0, "RSDP extended checksum");
	uint8_t *x = table(r64(r + 24), "XSDT");
	uint8_t *t = table(r32(r + 16), "RSDT");
	unsigned n = (r32(x + 4) - 36) / 8;
	cr_assert_eq(r32(x + 4), 36 + 8 * n);
	cr_assert_eq(r32(t + 4), 36 + 4 * n, "RSDT and XSDT list different numbers of tables");
	for (unsigned i = 0; i < n; i++) {
		out[i] = r64(x + 36 + 8 * i);
		cr_assert_eq(r32(t + 36 + 4 * i), out[i], "RSDT entry %u differs from the XSDT", i);
	}
	return n;
}

static __attribute__((unused)) uint8_t *find(const char *sig)
{
	uint64_t t[8];
	unsigned n = roots(t);
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(at(t[i]), sig, 4))
			return table(t[i], sig);
	return NULL;
}

/* AML PkgLength (20.2.4): returns the length, sets *n to the bytes it took. */
static __attribute__((unused)) uint32_t pkglen(const uint8_t *p, unsigned *n)
{
	unsigned follow = p[0] >> 6;
	*n = follow + 1;
	if (!follow)
		return p[0] & 0x3f;
	uint32_t v = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

/* One data object inside a package: ZeroOp, OneOp, BytePrefix, WordPrefix, DWordPrefix. */
static __attribute__((unused)) unsigned data_object(const uint8_t *p, uint64_t *value)
{
	switch (p[0]) {
	case 0x00: *value = 0; return 1;
	case 0x01: *value = 1; return 1;
	case 0x0a: *value = p[1]; return 2;
	case 0x0b: *value = r16(p + 1); return 3;
	case 0x0c: *value = r32(p + 1); return 5;
	}
	cr_assert_fail("unexpected AML opcode 0x%02x in a package", p[0]);
	return 0;
}

static __attribute__((unused)) void expect_error(const char *msg)
{
	memset(buf, 0xcc, BUF_SIZE);
	cr_assert_eq(acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, err, sizeof(err)), MICA_EINVAL,
		     "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
	cr_expect_eq(buf[0], 0xcc);
	acpi_guest_defaults(&g, 2);
}

/* The PCI host bridge as the platform has it: bus 0, the virtio BAR window. */
static __attribute__((unused)) void enable_pci(void)
{
	g.ecam_base = ACPI_PCI_ECAM_BASE;
	g.ecam_bus_start = 0;
	g.ecam_bus_end = 0;
	g.pci_mem_base = ACPI_PCI_MEM_BASE;
	g.pci_mem_size = ACPI_PCI_MEM_SIZE;
	g.pci_io_base = ACPI_PCI_IO_BASE;
	g.pci_io_size = ACPI_PCI_IO_SIZE;
}

#endif
