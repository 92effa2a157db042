/* boot/check/: the pre-flight check's rules (judge.c) and table readers (acpi_facts.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/check/chk.h"
#include "tests/acpi_sum.h"

/* Every judged line, as "LEVEL topic: found [-> todo]". */
static char lines[64][512];
static unsigned nlines;

static void collect(void *ctx, enum chk_level level, const char *topic, const char *found,
		    const char *todo)
{
	static const char *const w[] = { "OK", "WARNING", "MISSING" };
	(void)ctx;
	cr_assert_lt(nlines, 64);
	snprintf(lines[nlines++], sizeof(lines[0]), "%s %s: %s%s%s", w[level], topic, found,
		 todo ? " -> " : "", todo ? todo : "");
}

static struct chk_summary judge(const struct chk_facts *f)
{
	struct chk_summary s;
	nlines = 0;
	chk_judge(f, collect, NULL, &s);
	cr_assert_eq(s.ok + s.warning + s.missing, nlines);
	return s;
}

/* The line that starts with prefix, or NULL. */
static const char *line(const char *prefix)
{
	for (unsigned i = 0; i < nlines; i++)
		if (!strncmp(lines[i], prefix, strlen(prefix)))
			return lines[i];
	return NULL;
}

#define assert_line(prefix, text)                                                          \
	do {                                                                               \
		const char *l_ = line(prefix);                                             \
		cr_assert(l_, "no line starting '%s'", prefix);                             \
		cr_assert(strstr(l_, text), "'%s' lacks '%s'", l_, text);                   \
	} while (0)

/* A sound Intel machine: VT-x on, EPT with 2 MiB pages, UG, VPID, 4 CPUs, an IOMMU with
 * interrupt remapping, a PIT, 2 GiB. */
static void intel(struct chk_facts *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->vendor, "GenuineIntel");
	strcpy(f->brand, "Test CPU");
	f->family = 6;
	f->model = 85;
	f->max_ext = 0x80000008;
	f->l1_ecx = (1u << 5) | (1u << 21);
	f->e7_edx = 1u << 8;
	f->have_fc = 1;
	f->feature_control = 0x5;
	f->have_vmx_msrs = 1;
	f->vmx_proc = 1ULL << 63;
	f->vmx_proc2 = (1ULL << 33) | (1ULL << 37) | (1ULL << 39);
	f->vmx_ept_vpid = (1ULL << 6) | (1ULL << 14) | (1ULL << 16);
	f->apic_base = 0xfee00000 | (1u << 11);
	f->pit = 1;
	f->tsc_hz = 2000000000;
	f->secure_boot = 0;
	f->acpi.rsdp = f->acpi.madt = 1;
	f->acpi.cpus.n = 4;
	f->acpi.max_apic_id = 6;
	f->acpi.iommu = IOMMU_VTD;
	f->acpi.iommu_units = 1;
	f->acpi.iommu_flags = DMAR_FLAG_INTR_REMAP;
	f->acpi.mcfg.n = 1;
	chk_mem_add(&f->mem, 0x1000, 0x9f000);
	chk_mem_add(&f->mem, 0x100000, (2ULL << 30) - 0x100000);
}

static void amd(struct chk_facts *f)
{
	intel(f);
	strcpy(f->vendor, "AuthenticAMD");
	f->l1_ecx = 0;
	f->have_fc = f->have_vmx_msrs = 0;
	f->e1_ecx = 1u << 2;
	f->ea_edx = 1u | (1u << 3);
	f->have_vm_cr = 1;
	f->acpi.iommu = IOMMU_AMDVI;
}

Test(check, sound_intel_machine_has_nothing_missing)
{
	struct chk_facts f;
	intel(&f);
	struct chk_summary s = judge(&f);
	cr_assert_eq(s.missing, 0);
	cr_assert_eq(s.warning, 2, "only the missing config and screen warn: %u", s.warning);
	assert_line("OK vt-x:", "turned on by the firmware (IA32_FEATURE_CONTROL = 0x5)");
	assert_line("OK ept:", "2 MiB pages yes, 1 GiB pages no");
	assert_line("OK unrestricted guest:", "yes");
	assert_line("OK vpid:", "yes");
	assert_line("OK cpus:", "4 CPUs in the MADT, APIC IDs up to 6");
	assert_line("OK iommu:", "Intel VT-d (DMAR), 1 unit(s), interrupt remapping");
	assert_line("OK memory:", "636 KiB below 1 MiB, 2047 MiB from 1 MiB to 4 GiB");
	assert_line("WARNING config:", "no \\mica\\mica.cfg here");
}

Test(check, vmx_locked_off_is_missing_with_what_to_do)
{
	struct chk_facts f;
	intel(&f);
	f.feature_control = 0x1; /* locked, VMX outside SMX off */
	struct chk_summary s = judge(&f);
	cr_assert_eq(s.missing, 1);
	assert_line("MISSING vt-x:", "locked off by the firmware (IA32_FEATURE_CONTROL = 0x1");
	assert_line("MISSING vt-x:", "-> turn on 'Intel Virtualization Technology'");
}

Test(check, vmx_unlocked_is_fine)
{
	struct chk_facts f;
	intel(&f);
	f.feature_control = 0;
	judge(&f);
	assert_line("OK vt-x:", "unlocked (0x0): Mica turns it on");
}

Test(check, no_vmx_in_cpuid_is_missing_and_skips_the_vmx_details)
{
	struct chk_facts f;
	intel(&f);
	f.l1_ecx &= ~(1u << 5);
	judge(&f);
	assert_line("MISSING vt-x:", "no VMX");
	cr_assert_null(line("OK ept:"));
}

Test(check, vmx_without_ept_ug_or_vpid)
{
	struct chk_facts f;
	intel(&f);
	f.vmx_proc2 = 1ULL << 33; /* EPT only */
	f.vmx_ept_vpid = (1ULL << 6) | (1ULL << 14);
	struct chk_summary s = judge(&f);
	cr_assert_eq(s.missing, 0);
	assert_line("WARNING ept:", "without 2 MiB pages");
	assert_line("WARNING unrestricted guest:", "no");
	assert_line("WARNING vpid:", "no");
	f.vmx_proc2 = 0;
	judge(&f);
	assert_line("MISSING ept:", "VMX without EPT");
	f.vmx_proc2 = 1ULL << 33;
	f.vmx_ept_vpid = 1ULL << 16; /* no 4-level walk, no WB */
	judge(&f);
	assert_line("MISSING ept:", "without 4-level walks");
}

Test(check, sound_amd_machine)
{
	struct chk_facts f;
	amd(&f);
	struct chk_summary s = judge(&f);
	cr_assert_eq(s.missing, 0);
	assert_line("OK svm:", "SVM present and enabled");
	assert_line("OK npt:", "1 GiB pages no");
	assert_line("OK nrips:", "yes");
	assert_line("OK iommu:", "AMD-Vi (IVRS)");
}

Test(check, svm_disabled_by_firmware_or_without_npt_or_nrips)
{
	struct chk_facts f;
	amd(&f);
	f.vm_cr = (1u << 4) | (1u << 3);
	judge(&f);
	assert_line("MISSING svm:", "SVMDIS set, locked");
	assert_line("MISSING svm:", "-> turn on 'SVM Mode'");
	cr_assert_null(line("OK npt:"));
	amd(&f);
	f.ea_edx = 0;
	judge(&f);
	assert_line("MISSING npt:", "without nested paging");
	assert_line("WARNING nrips:", "decodes each intercepted instruction");
	amd(&f);
	f.e1_ecx = 0;
	judge(&f);
	assert_line("MISSING svm:", "no SVM");
}

Test(check, other_vendors_cannot_run_mica)
{
	struct chk_facts f;
	intel(&f);
	strcpy(f.vendor, "CentaurHauls");
	judge(&f);
	assert_line("MISSING virtualization:", "'CentaurHauls' CPU");
}

Test(check, apic_ids_over_254_need_x2apic)
{
	struct chk_facts f;
	intel(&f);
	f.acpi.max_apic_id = 300;
	judge(&f);
	assert_line("OK x2apic:", "supported: Mica uses it");
	f.l1_ecx &= ~(1u << 21);
	judge(&f);
	assert_line("MISSING x2apic:", "APIC IDs up to 300 need x2APIC");
}

Test(check, more_cpus_than_mica_takes_and_no_madt)
{
	struct chk_facts f;
	intel(&f);
	f.acpi.cpus.n = 64;
	f.acpi.cpus.skipped = 8;
	judge(&f);
	assert_line("WARNING cpus:", "72 CPUs in the MADT, more than Mica's 64: 8 are left idle");
	f.acpi.madt = 0;
	strcpy(f.acpi.madt_err, "no valid ACPI MADT");
	judge(&f);
	assert_line("WARNING cpus:", "no valid ACPI MADT: Mica will run on the boot CPU only");
}

Test(check, iommu_variants)
{
	struct chk_facts f;
	intel(&f);
	f.acpi.iommu_flags = DMAR_FLAG_INTR_REMAP | DMAR_FLAG_X2APIC_OPT_OUT;
	judge(&f);
	assert_line("WARNING iommu:", "X2APIC_OPT_OUT");
	f.acpi.iommu_flags = 0;
	judge(&f);
	assert_line("WARNING iommu:", "without interrupt remapping");
	f.acpi.iommu_bad = 1;
	strcpy(f.acpi.iommu_err, "DMAR is 20 bytes");
	judge(&f);
	assert_line("WARNING iommu:", "does not parse: DMAR is 20 bytes");
	f.acpi.iommu = IOMMU_NONE;
	judge(&f);
	assert_line("WARNING iommu:", "no DMAR or IVRS table");
}

Test(check, tables_timers_and_serial)
{
	struct chk_facts f;
	intel(&f);
	f.acpi.srat = 1;
	f.acpi.srat_nodes = 2;
	f.acpi.srat_cpu_nodes = 2;
	f.acpi.mcfg.n = 0;
	f.pit = 0;
	f.e7_edx = 0;
	f.acpi.spcr = 1;
	f.acpi.serial.space = 0; /* memory-mapped: Mica cannot drive it */
	f.acpi.serial.addr = 0xfe030000;
	f.acpi.fadt = 1;
	f.acpi.fadt_flags = 1u << 20;
	struct chk_summary s = judge(&f);
	assert_line("WARNING numa:", "SRAT: 2 nodes, 2 with CPUs");
	assert_line("WARNING mcfg:", "no MCFG");
	assert_line("WARNING pit:", "neither PIT channel 2 nor an ACPI PM timer counts");
	assert_line("WARNING tsc:", "not invariant");
	assert_line("WARNING serial:", "cannot drive (memory 0xfe030000, type 0x0); Mica tries COM1");
	assert_line("WARNING acpi:", "hardware-reduced");
	cr_assert_eq(s.missing, 0);
	f.acpi.pm_timer = 1;
	f.acpi.pm_port = 0x608;
	f.acpi.pm_bits = 24;
	judge(&f);
	assert_line("WARNING pit:", "against the ACPI PM timer (port 0x608, 24 bits) instead");
	f.acpi.serial.space = 1;
	f.acpi.serial.addr = 0x2f8;
	f.acpi.serial.irq = 3;
	f.acpi.serial.baud = 115200;
	judge(&f);
	assert_line("OK serial:", "I/O port 0x2f8, IRQ 3, 115200 baud: the SPCR table's");
	f.acpi.spcr = 0;
	judge(&f);
	assert_line("OK serial:", "no SPCR table: Mica writes COM1");
	assert_line("WARNING screen:", "no framebuffer Mica can draw on");
	f.fb.format = 2;
	f.fb.width = 1280;
	f.fb.height = 800;
	judge(&f);
	assert_line("OK screen:", "1280x800 framebuffer: Mica's console shows there (106x40 characters)");
}

Test(check, no_low_page_is_missing)
{
	struct chk_facts f;
	intel(&f);
	memset(&f.mem, 0, sizeof(f.mem));
	chk_mem_add(&f.mem, 0x100000, 1ULL << 30);
	judge(&f);
	assert_line("MISSING memory:", "no free 4 KiB page below 640 KiB");
}

static const char good_cfg[] =
	"[partition a]\ncpus = 1\nmemory = 64M\nimage = a.elf\n"
	"[partition b]\ncpus = 2-3\nmemory = 1G\nimage = b.elf\npci = 00:03.0\n";

static void with_config(struct chk_facts *f, struct cfg *c, const char *text)
{
	f->config.found = 1;
	f->config.cfg = c;
	f->config.parsed = cfg_parse(text, strlen(text), c, &f->config.err) == 0;
	f->config.nfiles = 2;
}

Test(check, config_that_fits)
{
	static struct cfg c;
	struct chk_facts f;
	intel(&f);
	with_config(&f, &c, good_cfg);
	f.config.pci_present[1][0] = 1;
	struct chk_summary s = judge(&f);
	cr_assert_eq(s.missing, 0);
	assert_line("OK config:", "2 partition(s), 1088 MiB of RAM, CPUs within the 4");
	assert_line("OK config: all 2 file(s)", "on this volume");
	assert_line("OK config: partition 'b'", "PCI 0000:00:03.0 is there");
}

Test(check, config_that_does_not_fit)
{
	static struct cfg c;
	struct chk_facts f;
	intel(&f);
	f.acpi.cpus.n = 2; /* CPUs 2-3 are not there */
	with_config(&f, &c, good_cfg);
	f.config.nmissing = 1;
	strcpy(f.config.missing[0].path, "b.elf");
	f.config.missing[0].line = 8;
	struct chk_summary s = judge(&f);
	assert_line("MISSING config:", "\\mica\\mica.cfg:6: partition 'b' wants CPU 2");
	assert_line("MISSING config: \\mica\\mica.cfg:8: 'b.elf'", "not on this volume");
	assert_line("MISSING config: \\mica\\mica.cfg:9: partition 'b': no PCI function",
		    "0000:00:03.0");
	cr_assert_eq(s.missing, 3);
	/* The device is there but the IOMMU is not. */
	f.config.pci_present[1][0] = 1;
	f.acpi.iommu = IOMMU_NONE;
	judge(&f);
	assert_line("MISSING config: \\mica\\mica.cfg:9: partition 'b' passes", "no usable IOMMU");
}

Test(check, the_configs_console_wins)
{
	static struct cfg c;
	struct chk_facts f;
	intel(&f);
	f.acpi.spcr = 1;
	f.acpi.serial.space = 1;
	f.acpi.serial.addr = 0x3f8;
	f.fb.format = 1;
	with_config(&f, &c, "[mica]\nserial = com2\nscreen = off\n" "[partition a]\ncpus = 1\n"
		    "memory = 64M\nimage = a.elf\n");
	judge(&f);
	assert_line("OK serial:", "I/O port 0x2f8, IRQ 3: the config's serial =");
	assert_line("OK screen:", "off: the config says screen = off");
	with_config(&f, &c, "[mica]\nserial = none\n[partition a]\ncpus = 1\nmemory = 64M\n"
		    "image = a.elf\n");
	judge(&f);
	assert_line("OK serial:", "none: the config says serial = none");
}

Test(check, config_that_does_not_parse)
{
	static struct cfg c;
	struct chk_facts f;
	intel(&f);
	with_config(&f, &c, "[partition a]\ncpus = 1\nmemory = 3M\nimage = a.elf\n");
	cr_assert_not(f.config.parsed);
	judge(&f);
	assert_line("MISSING config: \\mica\\mica.cfg:3:", "-> fix the config");
}

/* --- acpi_facts.c ---------------------------------------------------------------------- */

static void header(uint8_t *t, const char *sig, uint32_t len)
{
	memset(t, 0, 36);
	memcpy(t, sig, 4);
	memcpy(t + 4, &len, 4);
	t[8] = 1;
}

static uint32_t srat_add(uint8_t *t, uint32_t at, const uint8_t *e, unsigned n)
{
	memcpy(t + at, e, n);
	return at + n;
}

Test(check, srat_counts_nodes_with_cpus_and_memory)
{
	uint8_t t[256] = { 0 };
	uint32_t n = 48;
	uint8_t cpu0[16] = { 0, 16, 0, 0, 1 };            /* domain 0, enabled */
	uint8_t cpu1[16] = { 0, 16, 1, 1, 1 };            /* domain 1 */
	uint8_t cpuoff[16] = { 0, 16, 7, 2, 0 };          /* disabled: not counted */
	uint8_t x2[24] = { 2, 24, 0, 0, 1, 0, 0, 0 };     /* domain 1 again */
	uint8_t mem2[40] = { 1, 40, 2 };                  /* domain 2, 1 GiB, enabled */
	uint8_t bad[4] = { 5, 0 };
	unsigned cpus;

	x2[12] = 1;
	mem2[19] = 0x40; /* length 1 GiB at byte 16 */
	mem2[28] = 1;
	n = srat_add(t, n, cpu0, 16);
	n = srat_add(t, n, cpu1, 16);
	n = srat_add(t, n, cpuoff, 16);
	n = srat_add(t, n, x2, 24);
	n = srat_add(t, n, mem2, 40);
	header(t, "SRAT", n);
	cr_assert_eq(chk_srat_nodes(t, n, &cpus), 3);
	cr_assert_eq(cpus, 2);
	/* A structure of length 0 or one that runs past the end is refused. */
	srat_add(t, n, bad, 4);
	header(t, "SRAT", n + 4);
	cr_assert_eq(chk_srat_nodes(t, n + 4, &cpus), -1);
	header(t, "SRAT", n);
	t[48 + 1] = 200;
	cr_assert_eq(chk_srat_nodes(t, n, &cpus), -1);
	header(t, "APIC", n);
	cr_assert_eq(chk_srat_nodes(t, n, &cpus), -1);
	cr_assert_eq(chk_srat_nodes(t, 20, &cpus), -1);
}

Test(check, fadt_reset_register)
{
	uint8_t t[276] = { 0 };
	uint8_t space, value;
	uint64_t addr;
	uint32_t flags = 1u << 10;

	header(t, "FACP", sizeof(t));
	t[116] = 1;        /* I/O */
	t[120] = 0xf9;
	t[121] = 0x0c;     /* 0xCF9 */
	t[128] = 6;
	cr_assert_eq(chk_fadt_reset(t, sizeof(t), &space, &addr, &value), 0, "no RESET_REG_SUP");
	memcpy(t + 112, &flags, 4);
	cr_assert_eq(chk_fadt_reset(t, sizeof(t), &space, &addr, &value), 1);
	cr_assert_eq(space, 1);
	cr_assert_eq(addr, 0xcf9);
	cr_assert_eq(value, 6);
	cr_assert_eq(chk_fadt_reset(t, 100, &space, &addr, &value), 0, "too short");
	t[116] = 9;
	cr_assert_eq(chk_fadt_reset(t, sizeof(t), &space, &addr, &value), 0, "odd space");
}

Test(check, memory_is_split_at_1m_and_4g_and_runs_merge)
{
	struct chk_mem m = { 0 };

	chk_mem_add(&m, 0, 0xa0000);
	chk_mem_add(&m, 0x100000, 0x100000);
	chk_mem_add(&m, 0x200000, 0x300000);              /* touches: one 4 MiB run */
	chk_mem_add(&m, 0xf0000000, 0x20000000);          /* crosses 4 GiB */
	cr_assert_eq(m.below_1m, 0xa0000);
	cr_assert_eq(m.low_free, 0x9f000);
	cr_assert_eq(m.below_4g, 0x400000 + 0x10000000);
	cr_assert_eq(m.above_4g, 0x10000000);
	cr_assert_eq(m.largest, 0x20000000);
	cr_assert_eq(m.top, 0x110000000);
	chk_mem_add(&m, 0x110000000, 0x30000000);         /* extends the last run */
	cr_assert_eq(m.largest, 0x50000000);
	chk_mem_add(&m, 0x200000000, 0);                  /* nothing */
	cr_assert_eq(m.top, 0x140000000);
}

/* RSDP -> XSDT -> MADT, SPCR, HPET, FACP through chk_acpi_read(). */
Test(check, acpi_read_through_the_rsdp)
{
	uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	cr_assert_neq(mem, MAP_FAILED);
	memset(mem, 0, 4096);
	uint8_t *rsdp = mem, *xsdt = mem + 64, *madt = mem + 256, *spcr = mem + 512,
		*hpet = mem + 640, *fadt = mem + 768;
	struct chk_acpi a;

	/* MADT: local APIC 0 and x2APIC 300, both enabled. */
	uint8_t lapic[8] = { 0, 8, 0, 0, 1 }, x2[16] = { 9, 16, 0, 0, 0x2c, 1, 0, 0, 1 };
	memcpy(madt + 44, lapic, 8);
	memcpy(madt + 52, x2, 16);
	header(madt, "APIC", 68);
	acpi_fix_sum(madt, 68, 9);
	header(spcr, "SPCR", 80);
	spcr[36] = 0;
	spcr[40] = 1;
	spcr[44] = 0xf8;
	spcr[45] = 0x02;
	spcr[52] = 1;
	spcr[53] = 3;
	spcr[58] = 7;
	acpi_fix_sum(spcr, 80, 9);
	header(hpet, "HPET", 56);
	acpi_fix_sum(hpet, 56, 9);
	header(fadt, "FACP", 244);
	fadt[76] = 0x08;
	fadt[77] = 0x06;      /* PM_TMR_BLK 0x608 */
	fadt[113] = 1;        /* flags bit 8: TMR_VAL_EXT, 32 bits */
	acpi_fix_sum(fadt, 244, 9);
	uint64_t tabs[4] = { (uintptr_t)madt, (uintptr_t)spcr, (uintptr_t)hpet, (uintptr_t)fadt };
	header(xsdt, "XSDT", 36 + 32);
	memcpy(xsdt + 36, tabs, 32);
	acpi_fix_sum(xsdt, 68, 9);
	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = 2;
	uint32_t len = 36;
	uint64_t x = (uintptr_t)xsdt;
	memcpy(rsdp + 20, &len, 4);
	memcpy(rsdp + 24, &x, 8);
	acpi_fix_sum(rsdp, 20, 8);
	acpi_fix_sum(rsdp, 36, 32);

	chk_acpi_read((uintptr_t)rsdp, &a);
	cr_assert(a.rsdp && a.madt);
	cr_assert_eq(a.cpus.n, 2);
	cr_assert_eq(a.max_apic_id, 300);
	cr_assert_eq(a.x2apic_entries, 1);
	cr_assert(a.spcr);
	cr_assert_eq(a.serial.addr, 0x2f8);
	cr_assert_eq(a.serial.space, 1);
	cr_assert_eq(a.serial.baud, 115200);
	cr_assert_eq(a.serial.irq, 3);
	cr_assert(a.hpet);
	cr_assert(a.fadt);
	cr_assert(a.pm_timer);
	cr_assert_eq(a.pm_port, 0x608);
	cr_assert_eq(a.pm_bits, 32);
	/* X_PM_TMR_BLK, an I/O-port GAS, wins over PM_TMR_BLK. */
	fadt[208] = 1;
	fadt[212] = 0x08;
	fadt[213] = 0xb0;
	fadt[113] = 0;
	acpi_fix_sum(fadt, 244, 9);
	chk_acpi_read((uintptr_t)rsdp, &a);
	cr_assert_eq(a.pm_port, 0xb008);
	cr_assert_eq(a.pm_bits, 24);
	cr_assert_not(a.reset_reg);
	cr_assert_eq(a.iommu, IOMMU_NONE);
	cr_assert_not(a.srat);
	cr_assert_eq(a.mcfg.n, 0);

	chk_acpi_read(0, &a);
	cr_assert_not(a.rsdp);
	cr_assert_not(a.madt);
	cr_assert(strstr(a.madt_err, "no ACPI tables"));
	munmap(mem, 4096);
}
