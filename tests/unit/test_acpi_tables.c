/* kernel/platform/acpi_tables.c: the guest's ACPI tables, read back field by field at the
 * offsets the ACPI spec gives (the DSDT's contents: test_acpi_dsdt.c), and cross-checked
 * with the core's own MADT reader (kernel/host/acpi.c).
 * Set MICA_ACPI_DUMP=dir to also write each table to dir/<sig>.dat (for `iasl -d`). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <mica/hypercall.h>

#include "kernel/host/acpi.h"
#include "kernel/platform/acpi_tables.h"

#include "tests/unit/acpi_fixture.h"

TestSuite(acpi_build, .init = setup, .fini = teardown);

Test(acpi_build, root_tables_and_checksums)
{
	build();
	uint64_t t[8];
	cr_assert_eq(roots(t), 2);
	table(t[0], "FACP");
	table(t[1], "APIC");
	cr_expect_null(find("MCFG"));
	cr_expect_eq(acpi_build_size(&g), (uint64_t)(r64(at(rsdp) + 24) - gpa) + 36 + 16,
		     "the XSDT should end the tables");
}

Test(acpi_build, fadt_fields)
{
	build();
	uint8_t *f = find("FACP");
	cr_assert_not_null(f);
	cr_expect_eq(r32(f + 4), 276, "FADT length (revision 6)");
	cr_expect_eq(f[8], 6, "FADT revision");
	cr_expect_eq(f[131], 0, "FADT minor version");
	cr_expect_eq(r16(f + 46), 9, "SCI_INT");
	cr_expect_eq(r32(f + 48), 0, "SMI_CMD");
	cr_expect_eq(f[52] | f[53], 0, "ACPI_ENABLE/ACPI_DISABLE");
	cr_expect_eq(r32(f + 56), 0x600, "PM1a_EVT_BLK");
	cr_expect_eq(r32(f + 60), 0, "PM1b_EVT_BLK");
	cr_expect_eq(r32(f + 64), 0x604, "PM1a_CNT_BLK");
	cr_expect_eq(r32(f + 68), 0, "PM1b_CNT_BLK");
	cr_expect_eq(r32(f + 76), 0x608, "PM_TMR_BLK");
	cr_expect_eq(r32(f + 80), 0x60c, "GPE0_BLK");
	cr_expect_eq(f[92], 4, "GPE0_BLK_LEN: 16 events");
	cr_expect_eq(f[220], 1, "X_GPE0_BLK in I/O space");
	cr_expect_eq(r64(f + 224), 0x60c, "X_GPE0_BLK address");
	cr_expect_eq(f[88], 4, "PM1_EVT_LEN");
	cr_expect_eq(f[89], 2, "PM1_CNT_LEN");
	cr_expect_eq(f[91], 4, "PM_TMR_LEN");
	cr_expect_gt(r16(f + 96), 100, "P_LVL2_LAT: C2 unsupported");
	cr_expect_gt(r16(f + 98), 1000, "P_LVL3_LAT: C3 unsupported");
	uint16_t boot = r16(f + 109);
	cr_expect_eq(boot & 1, 0, "LEGACY_DEVICES");
	cr_expect_eq(boot & 2, 0, "8042");
	cr_expect(boot & 4, "VGA not present");
	cr_expect_eq(boot & 0x20, 0, "CMOS RTC Not Present must be clear: the guest has one");
	cr_expect_eq(f[108], 0x32, "CENTURY: CMOS register 0x32");
	cr_expect_eq(boot & 0x08, 0, "MSI Not Supported must be clear: virtio-pci needs MSI-X");
	cr_expect_eq(boot & 0x10, 0, "PCIe ASPM Controls: clear, the OS may manage ASPM");
	uint32_t flags = r32(f + 112);
	cr_expect(flags & (1u << 8), "TMR_VAL_EXT");
	cr_expect(flags & (1u << 10), "RESET_REG_SUP");
	cr_expect_eq(flags & (1u << 20), 0, "HW_REDUCED_ACPI must be clear");
	/* RESET_REG: system I/O, 8 bits at 0xcf9, value 6 */
	cr_expect_eq(f[116], 1);
	cr_expect_eq(f[117], 8);
	cr_expect_eq(f[118], 0);
	cr_expect_eq(f[119], 1);
	cr_expect_eq(r64(f + 120), 0xcf9);
	cr_expect_eq(f[128], 6, "RESET_VALUE");
	/* FACS and DSDT, both through the 32-bit and the X_ fields */
	uint64_t facs = r32(f + 36), dsdt = r32(f + 40);
	cr_expect_eq(r64(f + 132), facs, "X_FIRMWARE_CTRL");
	cr_expect_eq(r64(f + 140), dsdt, "X_DSDT");
	const uint8_t *fc = at(facs);
	cr_expect(memcmp(fc, "FACS", 4) == 0);
	cr_expect_eq(r32(fc + 4), 64, "FACS length");
	cr_expect_eq(facs % 64, 0, "FACS must be 64-byte aligned");
	cr_expect_eq(fc[32], 2, "FACS version");
	table(dsdt, "DSDT");
	/* X_ blocks: GAS { space 1 (I/O), width, offset 0, access, address } */
	static const struct { unsigned off, width, access, port; } x[] = {
		{ 148, 32, 2, 0x600 }, { 172, 16, 2, 0x604 }, { 208, 32, 3, 0x608 },
	};
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *a = f + x[i].off;
		cr_expect_eq(a[0], 1, "X_ block at %u: space", x[i].off);
		cr_expect_eq(a[1], x[i].width, "X_ block at %u: width", x[i].off);
		cr_expect_eq(a[2], 0);
		cr_expect_eq(a[3], x[i].access, "X_ block at %u: access size", x[i].off);
		cr_expect_eq(r64(a + 4), x[i].port, "X_ block at %u: address", x[i].off);
	}
	for (unsigned off = 160; off < 172; off++)
		cr_expect_eq(f[off], 0, "X_PM1b_EVT_BLK must be empty");
	for (unsigned off = 244; off < 276; off++)
		cr_expect_eq(f[off], 0, "sleep registers / hypervisor ID must be 0 (byte %u)", off);
}

Test(acpi_build, ports_follow_the_platform)
{
	g.pm1a_evt_port = 0xb000;
	g.pm1a_cnt_port = 0xb004;
	g.pm_tmr_port = 0xb008;
	build();
	uint8_t *f = find("FACP");
	cr_expect_eq(r32(f + 56), 0xb000);
	cr_expect_eq(r32(f + 64), 0xb004);
	cr_expect_eq(r32(f + 76), 0xb008);
	cr_expect_eq(r64(f + 152), 0xb000);
	cr_expect_eq(r64(f + 176), 0xb004);
	cr_expect_eq(r64(f + 212), 0xb008);
}

Test(acpi_build, dsdt_is_a_well_formed_definition_block)
{
	build();
	uint8_t *f = find("FACP");
	uint8_t *d = table(r32(f + 40), "DSDT");
	cr_expect_eq(d[8], 2, "DSDT revision 2: 64-bit integers");
	uint32_t len = r32(d + 4);
	const uint8_t *p = d + 36, *end = d + len;
	int seen_s5 = 0, seen_s0 = 0;
	while (p < end) {
		cr_assert_eq(p[0], 0x08, "expected NameOp at DSDT offset %ld", (long)(p - d));
		char name[5] = { 0 };
		memcpy(name, p + 1, 4);
		for (unsigned i = 0; i < 4; i++)
			cr_assert((name[i] >= 'A' && name[i] <= 'Z') || name[i] == '_' ||
				  (i && name[i] >= '0' && name[i] <= '9'), "bad NameSeg %s", name);
		p += 5;
		cr_assert_eq(p[0], 0x12, "expected PackageOp after %s", name);
		unsigned n;
		uint32_t plen = pkglen(p + 1, &n);
		const uint8_t *pend = p + 1 + plen;
		cr_assert(pend <= end, "package %s runs past the DSDT", name);
		unsigned count = p[1 + n];
		const uint8_t *e = p + 1 + n + 1;
		uint64_t v[8];
		cr_assert_leq(count, 8);
		for (unsigned i = 0; i < count; i++)
			e += data_object(e, &v[i]);
		cr_assert_eq(e, pend, "package %s: PkgLength %u, elements end %ld bytes off", name,
			     plen, (long)(e - pend));
		if (!strcmp(name, "_S5_")) {
			seen_s5 = 1;
			cr_expect_eq(count, 4);
			cr_expect_eq(v[0], ACPI_SLP_TYP_S5);
			cr_expect_eq(v[1], ACPI_SLP_TYP_S5);
		}
		if (!strcmp(name, "_S0_")) {
			seen_s0 = 1;
			cr_expect_eq(v[0], 0);
		}
		p = pend;
	}
	cr_expect_eq(p, end, "AML runs past the table");
	cr_expect(seen_s5, "no _S5");
	cr_expect(seen_s0, "no _S0");
}

static void check_madt(uint32_t ncpus)
{
	acpi_guest_defaults(&g, ncpus);
	build();
	uint8_t *m = find("APIC");
	cr_assert_not_null(m);
	cr_expect_eq(r32(m + 36), 0xfee00000, "local APIC address");
	cr_expect_eq(r32(m + 40) & 1, 0, "PCAT_COMPAT must be clear: no 8259");
	uint32_t len = r32(m + 4), lapics = 0, x2apics = 0, ioapics = 0, isos = 0;
	int pit = 0, sci = 0;
	const uint8_t *e = m + 44;
	while (e < m + len) {
		cr_assert_geq(e[1], 2);
		cr_assert_leq(e + e[1], m + len, "entry runs past the MADT");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_expect_eq(e[2], lapics, "processor UID");
			cr_expect_eq(e[3], lapics, "APIC ID");
			cr_expect_eq(r32(e + 4), 1, "enabled");
			cr_expect_eq(x2apics, 0, "x2APIC entries come after the local APIC ones");
			lapics++;
			break;
		case 9:
			cr_assert_eq(e[1], 16);
			cr_expect_eq(r32(e + 4), 255 + x2apics, "x2APIC ID");
			cr_expect_eq(r32(e + 8), 1, "enabled");
			cr_expect_eq(r32(e + 12), 255 + x2apics, "processor UID");
			x2apics++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_expect_eq(e[2], ncpus < 255 ? ncpus : 0xfe, "I/O APIC ID");
			cr_expect_eq(r32(e + 4), 0xfec00000);
			cr_expect_eq(r32(e + 8), 0, "GSI base");
			ioapics++;
			break;
		case 2:
			cr_assert_eq(e[1], 10);
			cr_expect_eq(e[2], 0, "bus ISA");
			if (e[3] == 0) {
				cr_expect_eq(r32(e + 4), 2);
				cr_expect_eq(r16(e + 8), 0);
				pit = 1;
			} else if (e[3] == 9) {
				cr_expect_eq(r32(e + 4), 9);
				cr_expect_eq(r16(e + 8), 0xd, "SCI: level, active high");
				sci = 1;
			}
			isos++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
		e += e[1];
	}
	cr_expect_eq(e, m + len);
	cr_expect_eq(lapics + x2apics, ncpus);
	cr_expect_eq(lapics, ncpus < 255 ? ncpus : 255);
	cr_expect_eq(ioapics, 1);
	cr_expect_eq(isos, 2);
	cr_expect(pit && sci);

	/* The core's own MADT reader sees the same CPUs (it keeps at most ACPI_MAX_CPUS). */
	struct acpi_cpus cpus;
	cr_assert_eq(acpi_madt_cpus(rsdp, &cpus, err, sizeof(err)), 0, "%s", err);
	uint32_t shown = ncpus < ACPI_MAX_CPUS ? ncpus : ACPI_MAX_CPUS;
	cr_expect_eq(cpus.n, shown);
	cr_expect_eq(cpus.skipped, ncpus - shown);
	for (unsigned i = 0; i < cpus.n; i++)
		cr_expect_eq(cpus.apic_id[i], i);
}

Test(acpi_build, madt_1_vcpu) { check_madt(1); }
Test(acpi_build, madt_2_vcpus) { check_madt(2); }
Test(acpi_build, madt_64_vcpus) { check_madt(64); }
Test(acpi_build, madt_300_vcpus_uses_x2apic_entries) { check_madt(300); }
Test(acpi_build, madt_max_vcpus) { check_madt(ACPI_GUEST_MAX_CPUS); }

Test(acpi_build, mcfg_with_a_pci_host_bridge)
{
	g.ecam_base = 0xe0000000;
	g.ecam_bus_start = 0;
	g.ecam_bus_end = 15;
	build();
	uint64_t t[8];
	cr_assert_eq(roots(t), 3);
	uint8_t *m = find("MCFG");
	cr_assert_not_null(m);
	cr_expect_eq(r32(m + 4), 60);
	cr_expect_eq(r64(m + 36), 0, "reserved");
	cr_expect_eq(r64(m + 44), 0xe0000000);
	cr_expect_eq(r16(m + 52), 0, "segment");
	cr_expect_eq(m[54], 0);
	cr_expect_eq(m[55], 15);
	cr_expect_eq(acpi_find_table(rsdp, "MCFG"), m, "kernel/host/acpi.c finds it too");
}

Test(acpi_build, buffer_too_small)
{
	uint64_t need = acpi_build_size(&g);
	cr_assert_gt(need, 0);
	for (uint64_t size = 0; size < need; size++) {
		memset(buf, 0xcc, BUF_SIZE);
		cr_assert_eq(acpi_build(buf, gpa, size, &g, &rsdp, err, sizeof(err)), MICA_EINVAL);
		for (unsigned i = 0; i < BUF_SIZE; i += 64)
			cr_assert_eq(buf[i], 0xcc, "written although too small");
	}
	char want[200];
	snprintf(want, sizeof(want), "ACPI tables for 2 vCPUs need %llu bytes, the buffer has 100",
		 (unsigned long long)need);
	acpi_build(buf, gpa, 100, &g, &rsdp, err, sizeof(err));
	cr_expect_str_eq(err, want);
	cr_expect_eq(acpi_build(buf, gpa, need, &g, &rsdp, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(buf[need], 0xcc, "wrote past the tables");
}

Test(acpi_build, errors)
{
	g.ncpus = 0;
	expect_error("0 vCPUs: the ACPI tables describe 1 to 1024");
	g.ncpus = 1025;
	expect_error("1025 vCPUs: the ACPI tables describe 1 to 1024");
	g.ioapic_addr = 0xfec00800;
	expect_error("I/O APIC address 0xfec00800 is not a non-zero multiple of 4 KiB");
	g.pm_tmr_port = 0;
	expect_error("ACPI PM ports must be non-zero (PM1a_EVT 0x600, PM1a_CNT 0x604, PM_TMR 0x0)");
	g.ecam_base = 0xe0080000;
	expect_error("PCI ECAM base 0xe0080000 is not 1 MiB aligned");
	g.ecam_base = 0xe0000000;
	g.ecam_bus_start = 2;
	g.ecam_bus_end = 1;
	expect_error("PCI bus range 2-1 is empty");
	g.ecam_base = 0x100000000ULL;
	expect_error("PCI ECAM base 0x100000000: the ECAM range of buses 0-0 must end at or below "
		     "4 GiB");
	g.ecam_base = 0xf8000000;
	g.ecam_bus_end = 255;
	expect_error("PCI ECAM base 0xf8000000: the ECAM range of buses 0-255 must end at or below "
		     "4 GiB");

	cr_expect_eq(acpi_build(buf, gpa + 16, BUF_SIZE - 16, &g, &rsdp, err, sizeof(err)),
		     MICA_EINVAL);
	cr_expect(strstr(err, "64-byte aligned"), "%s", err);
	cr_expect_eq(acpi_build(buf, 0xffffff00ULL, BUF_SIZE, &g, &rsdp, err, sizeof(err)),
		     MICA_EINVAL);
	cr_expect(strstr(err, "below 4 GiB"), "%s", err);
	cr_expect_eq(acpi_build(buf, gpa, BUF_SIZE, NULL, &rsdp, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "no platform description");
	cr_expect_eq(acpi_build_size(NULL), 0);
	/* No room for a message: still an error, nothing written */
	g.ncpus = 0;
	cr_expect_eq(acpi_build(buf, gpa, BUF_SIZE, &g, &rsdp, NULL, 0), MICA_EINVAL);
}

/* MICA_ACPI_DUMP=dir: every table to dir/<sig>.dat, for `iasl -d` (scripts, not CI). */
Test(acpi_build, dump_for_iasl)
{
	const char *dir = getenv("MICA_ACPI_DUMP");
	if (!dir)
		cr_skip_test("MICA_ACPI_DUMP not set");
	enable_pci();
	build();
	uint64_t t[8];
	unsigned n = roots(t);
	const uint8_t *f = find("FACP");
	t[n++] = r32(f + 40);
	t[n++] = r32(f + 36);
	t[n++] = r64(at(rsdp) + 24);
	t[n++] = r32(at(rsdp) + 16);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = at(t[i]);
		char path[512];
		snprintf(path, sizeof(path), "%s/%.4s.dat", dir, (const char *)p);
		FILE *fp = fopen(path, "wb");
		cr_assert_not_null(fp, "%s", path);
		fwrite(p, 1, r32(p + 4), fp);
		fclose(fp);
	}
}
