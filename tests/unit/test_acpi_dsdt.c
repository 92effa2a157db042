/* kernel/platform/acpi_tables.c: the guest's DSDT, walked as AML (the subset Mica writes:
 * Name, Scope, Device, Method, Package, Buffer, String, integers): the PCI host bridge
 * with its resources, and the VM generation ID device with its GPE method. */
#include "tests/unit/acpi_fixture.h"

TestSuite(acpi_dsdt, .init = setup, .fini = teardown);

/* The named objects of a DSDT, by absolute path ("\_SB_.PCI0._HID"), each with a pointer
 * to its value's encoding. The walker knows the subset Mica writes: Name, Scope, Device. */
struct aml_obj {
	char path[40];
	const uint8_t *value;
	const uint8_t *end; /* a Method's: where its code ends */
};
static struct aml_obj objs[32];
static unsigned nobjs;

/* A NameString: a NameSeg, optionally after a root prefix. */
static unsigned name_string(const uint8_t *p, const char *scope, char *path, size_t len)
{
	char seg[5] = { 0 };
	unsigned n = 0;
	if (p[0] == '\\') {
		scope = "\\";
		n = 1;
	}
	memcpy(seg, p + n, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert((seg[i] >= 'A' && seg[i] <= 'Z') || seg[i] == '_' ||
			  (i && seg[i] >= '0' && seg[i] <= '9'), "bad NameSeg %s", seg);
	snprintf(path, len, "%s%s%s", scope, strcmp(scope, "\\") ? "." : "", seg);
	return n + 4;
}

/* Bytes a data object takes: an integer, a String, or a Package or Buffer with its
 * PkgLength. */
static unsigned object_size(const uint8_t *p)
{
	unsigned n;
	uint64_t v;
	if (p[0] == 0x12 || p[0] == 0x11)
		return 1 + pkglen(p + 1, &n);
	if (p[0] == 0x0d)
		return 2 + (unsigned)strlen((const char *)p + 1);
	return data_object(p, &v);
}

static void walk(const uint8_t *p, const uint8_t *end, const char *scope)
{
	while (p < end) {
		char path[40];
		unsigned n, op = p[0] == 0x5b ? 2 : 1;
		if (p[0] == 0x08) {
			p += 1 + name_string(p + 1, scope, path, sizeof(path));
			cr_assert_lt(nobjs, 32);
			strcpy(objs[nobjs].path, path);
			objs[nobjs].end = NULL;
			objs[nobjs++].value = p;
			p += object_size(p);
			cr_assert_leq(p, end, "%s runs past its scope", path);
			continue;
		}
		if (p[0] == 0x14) {
			/* A Method: its value is its MethodFlags byte and the code after it. */
			const uint8_t *body = p + 1, *pend = body + pkglen(body, &n);
			cr_assert_leq(pend, end, "a method runs past %s", scope);
			body += n;
			body += name_string(body, scope, path, sizeof(path));
			cr_assert_lt(nobjs, 32);
			strcpy(objs[nobjs].path, path);
			objs[nobjs].value = body;
			objs[nobjs++].end = pend;
			p = pend;
			continue;
		}
		cr_assert(p[0] == 0x10 || (p[0] == 0x5b && p[1] == 0x82),
			  "unexpected AML opcode 0x%02x in %s", p[0], scope);
		const uint8_t *body = p + op, *pend = body + pkglen(body, &n);
		cr_assert_leq(pend, end, "scope or device runs past %s", scope);
		body += n;
		body += name_string(body, scope, path, sizeof(path));
		walk(body, pend, path);
		p = pend;
	}
	cr_assert_eq(p, end, "AML of %s ends %ld bytes off", scope, (long)(p - end));
}

/* Builds, checks the DSDT's checksum and walks it. */
static const uint8_t *walk_dsdt(uint32_t *len)
{
	build();
	uint8_t *d = table(r32(find("FACP") + 40), "DSDT");
	*len = r32(d + 4);
	nobjs = 0;
	walk(d + 36, d + *len, "\\");
	return d;
}

static const uint8_t *obj(const char *path)
{
	for (unsigned i = 0; i < nobjs; i++)
		if (!strcmp(objs[i].path, path))
			return objs[i].value;
	return NULL;
}

static uint64_t int_obj(const char *path)
{
	const uint8_t *v = obj(path);
	uint64_t x;
	cr_assert_not_null(v, "no %s", path);
	data_object(v, &x);
	return x;
}

/* EisaId values are DWordPrefix integers: "PNP0A08" is the bytes 41 d0 0a 08. */
#define EISA_PNP0A08 0x080AD041u
#define EISA_PNP0A03 0x030AD041u
#define EISA_PNP0C02 0x020CD041u

static void expect_eisa_id(const char *path, uint32_t id)
{
	const uint8_t *v = obj(path);
	cr_assert_not_null(v, "no %s", path);
	cr_expect_eq(v[0], 0x0c, "%s: an EisaId is a DWordPrefix integer", path);
	cr_expect_eq(r32(v + 1), id, "%s: 0x%08x, expected 0x%08x", path, r32(v + 1), id);
}

/* A _CRS Buffer's resource descriptors: sets items[] to each descriptor, returns how many
 * come before the end tag (which must end the buffer). */
static unsigned crs(const char *path, const uint8_t **items, unsigned max)
{
	const uint8_t *v = obj(path);
	cr_assert_not_null(v, "no %s", path);
	cr_assert_eq(v[0], 0x11, "%s is not a Buffer", path);
	unsigned n;
	const uint8_t *end = v + 1 + pkglen(v + 1, &n);
	uint64_t size;
	const uint8_t *p = v + 1 + n;
	p += data_object(p, &size);
	cr_assert_eq(p + size, end, "%s: BufferSize %llu, PkgLength says %ld", path,
		     (unsigned long long)size, (long)(end - p));
	unsigned count = 0;
	while (p < end) {
		unsigned len = p[0] & 0x80 ? 3u + r16(p + 1) : 1u + (p[0] & 7);
		cr_assert_leq(p + len, end, "%s: descriptor runs past the buffer", path);
		if (p[0] == 0x79) {
			cr_assert_eq(p + 2, end, "%s: the end tag is not last", path);
			cr_expect_eq(p[1], 0, "%s: end tag checksum", path);
			return count;
		}
		cr_assert_lt(count, max);
		items[count++] = p;
		p += len;
	}
	cr_assert_fail("%s: no end tag", path);
	return 0;
}

static void expect_pci_device(uint8_t bus_start, uint8_t bus_end, uint64_t mem_base,
			      uint64_t mem_size, uint32_t io_base, uint32_t io_size)
{
	uint32_t len;
	const uint8_t *d = walk_dsdt(&len);
	cr_assert_not_null(obj("\\_S0_"), "_S0 still there");
	cr_assert_not_null(obj("\\_S5_"), "_S5 still there");
	cr_expect_eq(obj("\\_S5_")[0], 0x12, "_S5 is a Package");
	expect_eisa_id("\\_SB_.PCI0._HID", EISA_PNP0A08);
	expect_eisa_id("\\_SB_.PCI0._CID", EISA_PNP0A03);
	cr_expect_eq(int_obj("\\_SB_.PCI0._UID"), 0);
	cr_expect_eq(int_obj("\\_SB_.PCI0._SEG"), 0);
	cr_expect_eq(int_obj("\\_SB_.PCI0._BBN"), bus_start);
	cr_expect_null(obj("\\_SB_.PCI0._OSC"));
	cr_expect_null(obj("\\_SB_.PCI0._PRT"));

	const uint8_t *r[4];
	unsigned n = crs("\\_SB_.PCI0._CRS", r, 4);
	cr_assert_eq(n, 1 + !!mem_size + !!io_size, "PCI0._CRS: %u descriptors", n);
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...) */
	const uint8_t *w = r[0];
	cr_expect_eq(w[0], 0x88, "Word Address Space Descriptor");
	cr_expect_eq(r16(w + 1), 13);
	cr_expect_eq(w[3], 2, "bus number range");
	cr_expect_eq(w[4], 0x0c, "MaxFixed, MinFixed, PosDecode, producer");
	cr_expect_eq(w[5], 0);
	cr_expect_eq(r16(w + 6), 0, "granularity");
	cr_expect_eq(r16(w + 8), bus_start);
	cr_expect_eq(r16(w + 10), bus_end);
	cr_expect_eq(r16(w + 12), 0, "translation");
	cr_expect_eq(r16(w + 14), bus_end - bus_start + 1, "length");
	if (mem_size) {
		/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,
		 * ReadWrite, ...) */
		const uint8_t *m = r[1];
		cr_expect_eq(m[0], 0x87, "DWord Address Space Descriptor");
		cr_expect_eq(r16(m + 1), 23);
		cr_expect_eq(m[3], 0, "memory range");
		cr_expect_eq(m[4], 0x0c, "MaxFixed, MinFixed, PosDecode, producer");
		cr_expect_eq(m[5], 0x01, "ReadWrite, NonCacheable, AddressRangeMemory, TypeStatic");
		cr_expect_eq(r32(m + 6), 0, "granularity");
		cr_expect_eq(r32(m + 10), mem_base);
		cr_expect_eq(r32(m + 14), mem_base + mem_size - 1);
		cr_expect_eq(r32(m + 18), 0, "translation");
		cr_expect_eq(r32(m + 22), mem_size);
	}
	if (io_size) {
		/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...) */
		const uint8_t *io = r[mem_size ? 2 : 1];
		cr_expect_eq(io[0], 0x88, "Word Address Space Descriptor");
		cr_expect_eq(r16(io + 1), 13);
		cr_expect_eq(io[3], 1, "I/O range");
		cr_expect_eq(io[4], 0x0c, "MaxFixed, MinFixed, PosDecode, producer");
		cr_expect_eq(io[5], 0x03, "EntireRange");
		cr_expect_eq(r16(io + 6), 0, "granularity");
		cr_expect_eq(r16(io + 8), io_base);
		cr_expect_eq(r16(io + 10), io_base + io_size - 1);
		cr_expect_eq(r16(io + 12), 0, "translation");
		cr_expect_eq(r16(io + 14), io_size);
	}

	/* The ECAM range of the bridge's buses, reserved as a motherboard resource. */
	expect_eisa_id("\\_SB_.ECAM._HID", EISA_PNP0C02);
	n = crs("\\_SB_.ECAM._CRS", r, 4);
	cr_assert_eq(n, 1);
	cr_expect_eq(r[0][0], 0x86, "Memory32Fixed");
	cr_expect_eq(r16(r[0] + 1), 9);
	cr_expect_eq(r[0][3], 1, "ReadWrite");
	cr_expect_eq(r32(r[0] + 4), g.ecam_base + ((uint64_t)bus_start << 20));
	cr_expect_eq(r32(r[0] + 8), (uint64_t)(bus_end - bus_start + 1) << 20);

	/* The MCFG covers the same buses. */
	uint8_t *mc = find("MCFG");
	cr_assert_not_null(mc);
	cr_expect_eq(r64(mc + 44), g.ecam_base);
	cr_expect_eq(mc[54], bus_start);
	cr_expect_eq(mc[55], bus_end);
	cr_expect_eq(nobjs, 10, "_S0, _S5, six names in PCI0, two in ECAM");
	cr_expect(memcmp(d + 36, "\x08_S0_", 5) == 0, "the sleep states come first, as without PCI");
}

Test(acpi_dsdt, pci_host_bridge_in_the_dsdt)
{
	enable_pci();
	expect_pci_device(0, 0, ACPI_PCI_MEM_BASE, ACPI_PCI_MEM_SIZE, ACPI_PCI_IO_BASE,
			  ACPI_PCI_IO_SIZE);
}

Test(acpi_dsdt, pci_host_bridge_other_buses_and_window)
{
	g.ecam_base = 0x80000000;
	g.ecam_bus_start = 16;
	g.ecam_bus_end = 255;
	g.pci_mem_base = 0xe0000000;
	g.pci_mem_size = 0x1ec00000; /* up to the I/O APIC */
	g.pci_io_base = 0x1000;
	g.pci_io_size = 0xef00;      /* up to the end of port space */
	expect_pci_device(16, 255, 0xe0000000, 0x1ec00000, 0x1000, 0xef00);
}

Test(acpi_dsdt, pci_host_bridge_without_a_memory_window)
{
	enable_pci();
	g.pci_mem_base = 0;
	g.pci_mem_size = 0;
	expect_pci_device(0, 0, 0, 0, ACPI_PCI_IO_BASE, ACPI_PCI_IO_SIZE);
}

Test(acpi_dsdt, pci_host_bridge_without_windows)
{
	enable_pci();
	g.pci_mem_base = g.pci_mem_size = 0;
	g.pci_io_base = g.pci_io_size = 0;
	expect_pci_device(0, 0, 0, 0, 0, 0);
}

static int contains(const uint8_t *p, size_t n, const uint8_t *b, size_t bn)
{
	for (size_t i = 0; i + bn <= n; i++)
		if (!memcmp(p + i, b, bn))
			return 1;
	return 0;
}

/* The encodings a reader of the raw bytes (and iasl -d) expects, for the platform's bridge. */
Test(acpi_dsdt, pci_aml_bytes)
{
	enable_pci();
	uint32_t len;
	const uint8_t *d = walk_dsdt(&len);
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t mb[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	static const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00 };
	static const uint8_t mem[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xcf,
				       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x79,
				       0x00 };
	static const uint8_t io[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00,
				      0xc0, 0xff, 0xcf, 0x00, 0x00, 0x00, 0x10, 0x79, 0x00 };
	static const uint8_t ecam[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xb0,
					0x00, 0x00, 0x10, 0x00, 0x79, 0x00 };
	static const struct { const uint8_t *b; size_t n; const char *what; } want[] = {
		{ hid, sizeof(hid), "Name (_HID, EisaId (\"PNP0A08\"))" },
		{ cid, sizeof(cid), "Name (_CID, EisaId (\"PNP0A03\"))" },
		{ mb, sizeof(mb), "Name (_HID, EisaId (\"PNP0C02\"))" },
		{ bus, sizeof(bus), "WordBusNumber 0-0" },
		{ mem, sizeof(mem) - 2, "DWordMemory 0xC0000000-0xCFFFFFFF" },
		{ io, sizeof(io), "WordIO 0xC000-0xCFFF, EndTag" },
		{ ecam, sizeof(ecam), "Memory32Fixed 0xB0000000, 1 MiB, EndTag" },
	};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(contains(d + 36, len - 36, want[i].b, want[i].n), "no %s", want[i].what);
	/* Scope (\_SB) after the 26 bytes of _S0/_S5, with a two-byte PkgLength (its
	 * contents are over 63 bytes): lead byte 0x40 | low nibble, then the rest. */
	const uint8_t *sc = d + 36 + 26;
	cr_assert_eq(sc[0], 0x10, "ScopeOp");
	cr_expect_eq(sc[1] >> 6, 1, "two-byte PkgLength");
	cr_expect_eq(sc[1] & 0x30, 0, "reserved PkgLength bits");
	cr_expect_eq(((uint32_t)sc[2] << 4 | (sc[1] & 0xf)), len - 36 - 26 - 1,
		     "Scope's PkgLength reaches the end of the DSDT");
	cr_expect(memcmp(sc + 3, "\\_SB_", 5) == 0);
	cr_expect(memcmp(sc + 8, "\x5b\x82", 2) == 0, "DeviceOp");
	cr_expect_eq(sc[10] >> 6, 1, "Device (PCI0) has a two-byte PkgLength too");
	cr_expect(memcmp(sc + 12, "PCI0", 4) == 0);
}

Test(acpi_dsdt, pci_tables_and_sizes)
{
	uint64_t no_pci = acpi_build_size(&g);
	uint32_t base_len;
	walk_dsdt(&base_len);
	cr_expect_eq(base_len, 36 + 26, "header, _S0 and _S5 without PCI");

	enable_pci();
	uint64_t size = acpi_build_size(&g);
	cr_assert_gt(size, no_pci);
	uint32_t len;
	walk_dsdt(&len);
	cr_expect_gt(len, base_len);
	uint64_t t[8];
	cr_assert_eq(roots(t), 3);
	table(t[0], "FACP");
	table(t[1], "APIC");
	table(t[2], "MCFG");
	cr_expect_eq(size, (uint64_t)(r64(at(rsdp) + 24) - gpa) + 36 + 3 * 8,
		     "the XSDT should end the tables");

	/* The memory window is one 26-byte descriptor more, the I/O window one of 16. */
	g.pci_mem_base = g.pci_mem_size = 0;
	uint32_t no_window;
	walk_dsdt(&no_window);
	cr_expect_eq(len - no_window, 26);
	g.pci_io_base = g.pci_io_size = 0;
	walk_dsdt(&no_window);
	cr_expect_eq(len - no_window, 26 + 16);

	/* acpi_build_size() is exact: one byte less is refused, nothing written past it. */
	enable_pci();
	memset(buf, 0xcc, BUF_SIZE);
	cr_expect_eq(acpi_build(buf, gpa, size - 1, &g, &rsdp, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(buf[0], 0xcc);
	cr_expect_eq(acpi_build(buf, gpa, size, &g, &rsdp, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(buf[size], 0xcc, "wrote past the tables");
}

Test(acpi_dsdt, pci_window_errors)
{
	enable_pci();
	g.pci_mem_base = 0x100000000ULL;
	expect_error("the PCI memory window of 0x10000000 bytes at 0x100000000 must lie below "
		     "4 GiB (a DWordMemory descriptor)");
	enable_pci();
	g.pci_mem_base = 0xf8000000;
	g.pci_mem_size = 0x10000000;
	expect_error("the PCI memory window of 0x10000000 bytes at 0xf8000000 must lie below "
		     "4 GiB (a DWordMemory descriptor)");
	enable_pci();
	g.pci_mem_size = 0xffffffffffff0000ULL;
	expect_error("the PCI memory window of 0xffffffffffff0000 bytes at 0xc0000000 must lie "
		     "below 4 GiB (a DWordMemory descriptor)");
	enable_pci();
	g.ecam_base = 0;
	expect_error("a PCI memory window at 0xc0000000 but no PCI host bridge (ECAM base 0)");
	enable_pci();
	g.pci_mem_size = 0;
	expect_error("the PCI memory window at 0xc0000000 is empty");
	enable_pci();
	g.pci_mem_base = 0xa8000000;
	expect_error("the PCI memory window [0xa8000000, 0xb8000000) overlaps the PCI ECAM range "
		     "at [0xb0000000, 0xb0100000)");
	enable_pci();
	g.pci_mem_base = 0xf0000000;
	g.pci_mem_size = 0x0f000000;
	expect_error("the PCI memory window [0xf0000000, 0xff000000) overlaps the I/O APIC at "
		     "[0xfec00000, 0xfec01000)");
	enable_pci();
	g.pci_mem_base = 0xfee00000;
	g.pci_mem_size = 0x1000;
	expect_error("the PCI memory window [0xfee00000, 0xfee01000) overlaps the local APIC at "
		     "[0xfee00000, 0xfee01000)");

	enable_pci();
	g.pci_io_base = 0xf000;
	g.pci_io_size = 0x1001;
	expect_error("the PCI I/O window of 0x1001 ports at 0xf000 must be non-empty and inside "
		     "ports 0-0xffff");
	enable_pci();
	g.pci_io_size = 0;
	expect_error("the PCI I/O window of 0x0 ports at 0xc000 must be non-empty and inside "
		     "ports 0-0xffff");
	enable_pci();
	g.ecam_base = 0;
	g.pci_mem_base = g.pci_mem_size = 0;
	expect_error("a PCI I/O window at 0xc000 but no PCI host bridge (ECAM base 0)");
	enable_pci();
	g.pci_io_base = 0x0c00;
	expect_error("the PCI I/O window [0xc00, 0x1c00) overlaps the PCI configuration ports at "
		     "[0xcf8, 0xd00)");
	enable_pci();
	g.pci_io_base = 0x0000;
	expect_error("the PCI I/O window [0x0, 0x1000) overlaps the PCI configuration ports at "
		     "[0xcf8, 0xd00)");
	enable_pci();
	g.pci_io_base = 0x0400;
	g.pci_io_size = 0x0400;
	expect_error("the PCI I/O window [0x400, 0x800) overlaps the ACPI PM ports at "
		     "[0x600, 0x60c)");

	/* Touching is fine: right below the ECAM range, and up to 4 GiB exactly. */
	enable_pci();
	g.pci_mem_base = 0xa0000000;
	build();
	g.pci_mem_base = 0xfef00000;
	g.pci_mem_size = 0x100000;
	build();
}

/* --- the VM generation ID ----------------------------------------------------------- */

static void expect_string(const char *path, const char *want)
{
	const uint8_t *v = obj(path);
	cr_assert_not_null(v, "no %s", path);
	cr_assert_eq(v[0], 0x0d, "%s is not a String", path);
	cr_expect_str_eq((const char *)v + 1, want, "%s", path);
}

static const struct aml_obj *method(const char *path)
{
	for (unsigned i = 0; i < nobjs; i++)
		if (!strcmp(objs[i].path, path) && objs[i].end)
			return &objs[i];
	return NULL;
}

Test(acpi_dsdt, vmgenid_device_and_gpe_method)
{
	g.vmgenid = 1;
	uint32_t len;
	walk_dsdt(&len);
	expect_string("\\_SB_.VGEN._HID", "MICA0001");
	expect_string("\\_SB_.VGEN._CID", "VM_Gen_Counter");
	expect_string("\\_SB_.VGEN._DDN", "VM_Gen_Counter");
	/* ADDR: Package (2) { low 32 bits, high 32 bits } of where the 16 bytes are. */
	const uint8_t *v = obj("\\_SB_.VGEN.ADDR");
	cr_assert_not_null(v);
	cr_assert_eq(v[0], 0x12, "ADDR is a Package");
	unsigned n;
	const uint8_t *pend = v + 1 + pkglen(v + 1, &n), *p = v + 1 + n;
	cr_assert_eq(*p++, 2, "two elements");
	uint64_t lo, hi;
	p += data_object(p, &lo);
	p += data_object(p, &hi);
	cr_expect_eq(p, pend, "the package ends after its two integers");
	uint64_t off = acpi_vmgenid_offset(&g);
	cr_assert_neq(off, 0);
	cr_expect_eq(off % 16, 0);
	cr_expect_eq(lo | hi << 32, gpa + off);
	cr_expect_eq(off + 16, acpi_build_size(&g), "the ID ends the buffer's used part");
	for (unsigned i = 0; i < 16; i++)
		cr_expect_eq(buf[off + i], 0, "acpi_build() leaves the ID zero for the caller");
	cr_expect_gt(off, (uint64_t)(r64(at(rsdp) + 24) - gpa), "after the XSDT");
	/* \_GPE._E00: Notify (\_SB.VGEN, 0x80), nothing else. */
	const struct aml_obj *m = method("\\_GPE._E00");
	cr_assert_not_null(m, "no \\_GPE._E00");
	static const uint8_t code[] = { 0x00, 0x86, 0x5c, 0x2e, '_', 'S', 'B', '_',
					'V', 'G', 'E', 'N', 0x0a, 0x80 };
	cr_assert_eq((size_t)(m->end - m->value), sizeof(code));
	cr_expect_eq(memcmp(m->value, code, sizeof(code)), 0, "_E00's flags and code");
}

Test(acpi_dsdt, vmgenid_with_pci_and_high_address)
{
	/* With the PCI bridge too, and the tables placed where ADDR needs a DWord: the
	 * walker still finds every object and the checksum holds. */
	g.vmgenid = 1;
	enable_pci();
	uint32_t len;
	walk_dsdt(&len);
	cr_expect_not_null(obj("\\_SB_.PCI0._HID"));
	cr_expect_not_null(obj("\\_SB_.VGEN.ADDR"));
	cr_expect_not_null(method("\\_GPE._E00"));
}

Test(acpi_dsdt, vmgenid_needs_a_gpe_block)
{
	g.vmgenid = 1;
	g.gpe0_port = 0;
	cr_expect_eq(acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "GPE block"), "%s", err);
	cr_expect_eq(acpi_vmgenid_offset(&g), 0);
	g.vmgenid = 0;
	cr_expect_eq(acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(r32(find("FACP") + 80), 0, "no GPE0_BLK");
	cr_expect_eq(acpi_vmgenid_offset(&g), 0);
}

Test(acpi_dsdt, pci_io_window_over_gpe_block)
{
	enable_pci();
	g.pci_io_base = 0x600;
	g.pci_io_size = 0x10;
	g.pm1a_evt_port = 0x700;
	g.pm1a_cnt_port = 0x704;
	g.pm_tmr_port = 0x708;
	cr_expect_eq(acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "GPE block"), "%s", err);
}
