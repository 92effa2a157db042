/* The pre-flight check's rules: every fact against what Mica needs (the same conditions
 * the core's vmx_probe/svm_probe, passthrough and boot path apply), one line each. A
 * MISSING line means Mica will not run here (or not run this config); a WARNING means it
 * runs with something less; each says what to do. Pure logic. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot/check/chk.h"
#include "kernel/host/fbcon.h"

/* CPUID bits (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3, appendix E). */
#define L1_ECX_VMX     (1u << 5)
#define L1_ECX_SMX     (1u << 6)
#define L1_ECX_X2APIC  (1u << 21)
#define L1_ECX_HV      (1u << 31)
#define E1_ECX_SVM     (1u << 2)
#define E1_EDX_1G      (1u << 26)
#define E7_EDX_INVTSC  (1u << 8)
#define EA_EDX_NPT     (1u << 0)
#define EA_EDX_NRIPS   (1u << 3)
#define EA_EDX_DECODE  (1u << 7)
/* MSR bits (SDM vol. 3 appendix A; APM vol. 2 15.30). */
#define FC_LOCK        (1ULL << 0)
#define FC_VMX_IN_SMX  (1ULL << 1)
#define FC_VMX_OUTSIDE (1ULL << 2)
#define PROC_SECONDARY (1ULL << (32 + 31)) /* allowed-1 half */
#define PROC2_EPT      (1ULL << (32 + 1))
#define PROC2_VPID     (1ULL << (32 + 5))
#define PROC2_UG       (1ULL << (32 + 7))
#define EPT_WALK4      (1ULL << 6)
#define EPT_WB         (1ULL << 14)
#define EPT_2M         (1ULL << 16)
#define EPT_1G         (1ULL << 17)
#define VM_CR_LOCK     (1ULL << 3)
#define VM_CR_SVMDIS   (1ULL << 4)
#define APIC_BASE_EXTD (1ULL << 10)
#define APIC_BASE_EN   (1ULL << 11)
#define DMAR_X2APIC_OPT_OUT 0x02
#define FADT_HW_REDUCED (1u << 20)

struct judge {
	chk_emit_fn emit;
	void *ctx;
	struct chk_summary *sum;
};

static void say(struct judge *j, enum chk_level lvl, const char *topic, const char *todo,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void say(struct judge *j, enum chk_level lvl, const char *topic, const char *todo,
		const char *fmt, ...)
{
	char found[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(found, sizeof(found), fmt, ap);
	va_end(ap);
	if (lvl == CHK_OK)
		j->sum->ok++, todo = NULL;
	else if (lvl == CHK_WARNING)
		j->sum->warning++;
	else
		j->sum->missing++;
	j->emit(j->ctx, lvl, topic, found, todo);
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static void size_text(uint64_t bytes, char *buf, unsigned len)
{
	cfg_format_size(bytes, buf, len);
}

static int is_intel(const struct chk_facts *f)
{
	return !strcmp(f->vendor, "GenuineIntel");
}

static int is_amd(const struct chk_facts *f)
{
	return !strcmp(f->vendor, "AuthenticAMD");
}

static void judge_cpu(struct judge *j, const struct chk_facts *f)
{
	say(j, CHK_OK, "cpu", NULL, "%s family %u model %u stepping %u%s%s", f->vendor, f->family,
	    f->model, f->stepping, f->brand[0] ? ": " : "", f->brand);
	if (f->l1_ecx & L1_ECX_HV) {
		char sig[13];
		memcpy(sig, f->hypervisor_sig, 12);
		sig[12] = 0;
		say(j, CHK_OK, "cpu", NULL,
		    "runs under a hypervisor ('%s'): Mica will run nested in it", sig);
	}
	if (!is_intel(f) && !is_amd(f))
		say(j, CHK_MISSING, "virtualization",
		    "Mica runs on Intel CPUs with VT-x and AMD CPUs with SVM only",
		    "a '%s' CPU: neither Intel nor AMD", f->vendor);
}

static void judge_vmx(struct judge *j, const struct chk_facts *f)
{
	uint64_t fc = f->feature_control;

	if (!(f->l1_ecx & L1_ECX_VMX)) {
		say(j, CHK_MISSING, "vt-x",
		    "turn on 'Intel Virtualization Technology' in the firmware setup (some "
		    "firmwares hide VT-x from CPUID while it is off); a CPU without VT-x cannot run Mica",
		    "the CPU reports no VMX (CPUID.1:ECX[5] clear)");
		return;
	}
	if (!f->have_fc)
		say(j, CHK_WARNING, "vt-x", "report this machine (docs/hardware.md)",
		    "VMX present, IA32_FEATURE_CONTROL not readable");
	else if ((fc & FC_LOCK) && !(fc & FC_VMX_OUTSIDE))
		say(j, CHK_MISSING, "vt-x",
		    "turn on 'Intel Virtualization Technology' (VT-x) in the firmware setup, "
		    "save, and power the machine off and on",
		    "VMX present but locked off by the firmware (IA32_FEATURE_CONTROL = 0x%llx: "
		    "locked, VMX outside SMX off)", (unsigned long long)fc);
	else if (fc & FC_LOCK)
		say(j, CHK_OK, "vt-x", NULL,
		    "VMX present and turned on by the firmware (IA32_FEATURE_CONTROL = 0x%llx)",
		    (unsigned long long)fc);
	else
		say(j, CHK_OK, "vt-x", NULL,
		    "VMX present; IA32_FEATURE_CONTROL unlocked (0x%llx): Mica turns it on",
		    (unsigned long long)fc);
	if (f->l1_ecx & L1_ECX_SMX)
		say(j, CHK_OK, "txt", NULL, "SMX (Intel TXT) present, VMX inside SMX %s: Mica "
		    "does not use TXT and starts outside SMX", (fc & FC_VMX_IN_SMX) ? "on" : "off");
	else
		say(j, CHK_OK, "txt", NULL, "no SMX (Intel TXT): Mica does not use it");
	if (!f->have_vmx_msrs)
		return;
	if (!(f->vmx_proc & PROC_SECONDARY) || !(f->vmx_proc2 & PROC2_EPT)) {
		say(j, CHK_MISSING, "ept", "Mica needs EPT: an Intel CPU from 2008 (Nehalem) or later",
		    "VMX without EPT (extended page tables)");
		return;
	}
	if (!(f->vmx_ept_vpid & EPT_WALK4) || !(f->vmx_ept_vpid & EPT_WB))
		say(j, CHK_MISSING, "ept", "Mica needs 4-level EPT with write-back tables",
		    "EPT without 4-level walks or write-back paging structures "
		    "(IA32_VMX_EPT_VPID_CAP = 0x%llx)", (unsigned long long)f->vmx_ept_vpid);
	else if (!(f->vmx_ept_vpid & EPT_2M))
		say(j, CHK_WARNING, "ept", "nothing to do; expect more TLB misses than on other CPUs",
		    "EPT without 2 MiB pages: partitions' RAM is mapped 4 KiB at a time");
	else
		say(j, CHK_OK, "ept", NULL, "EPT, 4-level, 2 MiB pages yes, 1 GiB pages %s",
		    yes(!!(f->vmx_ept_vpid & EPT_1G)));
	if (f->vmx_proc2 & PROC2_UG)
		say(j, CHK_OK, "unrestricted guest", NULL, "yes: partitions may run in real mode");
	else
		say(j, CHK_WARNING, "unrestricted guest",
		    "use guests that start in 32- or 64-bit mode (Linux, ELF, Multiboot, PVH do) "
		    "and never return to real mode",
		    "no: a partition cannot run with paging off or in real mode");
	if (f->vmx_proc2 & PROC2_VPID)
		say(j, CHK_OK, "vpid", NULL, "yes: exits keep the guest's TLB entries");
	else
		say(j, CHK_WARNING, "vpid", "nothing to do; exits cost more than on newer CPUs",
		    "no: every exit and entry flushes the TLB");
}

static void judge_svm(struct judge *j, const struct chk_facts *f)
{
	if (!(f->e1_ecx & E1_ECX_SVM)) {
		say(j, CHK_MISSING, "svm",
		    "turn on 'SVM Mode' (AMD-V) in the firmware setup; a CPU without SVM cannot run Mica",
		    "the CPU reports no SVM (CPUID 0x80000001:ECX[2] clear)");
		return;
	}
	if (f->have_vm_cr && (f->vm_cr & VM_CR_SVMDIS)) {
		say(j, CHK_MISSING, "svm",
		    "turn on 'SVM Mode' (AMD-V) in the firmware setup, save, and power the "
		    "machine off and on",
		    "SVM present but disabled by the firmware (VM_CR = 0x%llx: SVMDIS set%s)",
		    (unsigned long long)f->vm_cr, (f->vm_cr & VM_CR_LOCK) ? ", locked" : "");
		return;
	}
	say(j, CHK_OK, "svm", NULL, "SVM present and enabled (VM_CR = 0x%llx)",
	    (unsigned long long)f->vm_cr);
	if (!(f->ea_edx & EA_EDX_NPT))
		say(j, CHK_MISSING, "npt", "Mica needs nested paging: an AMD CPU from 2008 or later",
		    "SVM without nested paging (NPT)");
	else
		say(j, CHK_OK, "npt", NULL, "nested paging, 2 MiB pages yes, 1 GiB pages %s",
		    yes(!!(f->e1_edx & E1_EDX_1G)));
	if (f->ea_edx & EA_EDX_NRIPS)
		say(j, CHK_OK, "nrips", NULL, "yes: exits report the next instruction's address");
	else
		say(j, CHK_WARNING, "nrips",
		    "nothing to do (every AMD CPU since 2010 has it; emulators may not)",
		    "no: Mica decodes each intercepted instruction to find its length "
		    "(about 100 instructions more per exit)");
	say(j, CHK_OK, "decode assists", NULL, "%s (Mica does not need them)",
	    yes(!!(f->ea_edx & EA_EDX_DECODE)));
}

static void judge_apic(struct judge *j, const struct chk_facts *f)
{
	const struct chk_acpi *a = &f->acpi;
	int x2 = !!(f->l1_ecx & L1_ECX_X2APIC);

	if (!a->madt) {
		say(j, CHK_WARNING, "cpus",
		    "turn on ACPI in the firmware setup if the machine has more CPUs",
		    "%s: Mica will run on the boot CPU only", a->madt_err);
	} else if (a->cpus.skipped) {
		say(j, CHK_WARNING, "cpus", "partitions can use only the first 64 CPUs",
		    "%u CPUs in the MADT, more than Mica's %u: %u are left idle",
		    a->cpus.n + a->cpus.skipped, ACPI_MAX_CPUS, a->cpus.skipped);
	} else {
		say(j, CHK_OK, "cpus", NULL, "%u CPU%s in the MADT, APIC IDs up to %u (%u x2APIC "
		    "entries)", a->cpus.n, a->cpus.n == 1 ? "" : "s", a->max_apic_id,
		    a->x2apic_entries);
	}
	if (a->madt && a->max_apic_id > 254 && !x2)
		say(j, CHK_MISSING, "x2apic", "turn on x2APIC in the firmware setup",
		    "APIC IDs up to %u need x2APIC, which the CPU does not report", a->max_apic_id);
	else
		say(j, CHK_OK, "x2apic", NULL, "%s; the firmware left the APIC in %s mode",
		    x2 ? "supported: Mica uses it" : "not supported: Mica uses the xAPIC",
		    !(f->apic_base & APIC_BASE_EN) ? "disabled" :
		    (f->apic_base & APIC_BASE_EXTD) ? "x2APIC" : "xAPIC");
}

static void judge_iommu(struct judge *j, const struct chk_facts *f)
{
	const struct chk_acpi *a = &f->acpi;
	const char *name = a->iommu == IOMMU_VTD ? "Intel VT-d (DMAR)" : "AMD-Vi (IVRS)";

	if (a->iommu == IOMMU_NONE) {
		say(j, CHK_WARNING, "iommu",
		    "turn on VT-d / AMD-Vi (\"IOMMU\") in the firmware setup if partitions are to "
		    "drive PCI devices; everything else works without",
		    "no DMAR or IVRS table: no IOMMU, so no PCI passthrough");
		return;
	}
	if (a->iommu_bad) {
		say(j, CHK_WARNING, "iommu",
		    "update the firmware, or report the machine (docs/hardware.md); passthrough is refused",
		    "%s table does not parse: %s", name, a->iommu_err);
		return;
	}
	if (a->iommu == IOMMU_VTD && !(a->iommu_flags & DMAR_FLAG_INTR_REMAP))
		say(j, CHK_WARNING, "iommu",
		    "turn on interrupt remapping in the firmware setup; Mica refuses passthrough without it",
		    "%s, %u unit(s), without interrupt remapping (DMAR flags 0x%x)", name,
		    a->iommu_units, a->iommu_flags);
	else
		say(j, CHK_OK, "iommu", NULL, "%s, %u unit(s)%s (flags 0x%x): passthrough possible",
		    name, a->iommu_units,
		    a->iommu == IOMMU_VTD ? ", interrupt remapping" : "", a->iommu_flags);
	if (a->iommu == IOMMU_VTD && (a->iommu_flags & DMAR_X2APIC_OPT_OUT))
		say(j, CHK_WARNING, "iommu",
		    "if a passed-through device's interrupts go astray, report the machine "
		    "(docs/hardware.md)",
		    "the firmware asks the OS not to use x2APIC with interrupt remapping "
		    "(DMAR X2APIC_OPT_OUT); Mica uses x2APIC where the CPU has it");
}

static void judge_tables(struct judge *j, const struct chk_facts *f)
{
	const struct chk_acpi *a = &f->acpi;

	if (a->mcfg.n)
		say(j, CHK_OK, "mcfg", NULL, "%u ECAM window(s), the first at 0x%llx (segment %u, "
		    "buses %u-%u)", a->mcfg.n, (unsigned long long)a->mcfg.win[0].base,
		    a->mcfg.win[0].seg, a->mcfg.win[0].start_bus, a->mcfg.win[0].end_bus);
	else
		say(j, CHK_WARNING, "mcfg",
		    "nothing to do unless you pass a PCI Express device through",
		    "no MCFG: PCI configuration space through ports 0xCF8/0xCFC only (256 bytes "
		    "per function, segment 0)");
	if (!a->srat || a->srat_nodes <= 1)
		say(j, CHK_OK, "numa", NULL, "%s", a->srat ? "SRAT: one memory node" :
		    "no SRAT: one memory node");
	else
		say(j, CHK_WARNING, "numa",
		    "give each partition CPUs of one node; its RAM may still come from another",
		    "SRAT: %u nodes, %u with CPUs: Mica does not place partitions' RAM by node yet",
		    a->srat_nodes, a->srat_cpu_nodes);
	say(j, CHK_OK, "hpet", NULL, "%s (Mica does not use the HPET)",
	    a->hpet ? "present" : "none");
	if (a->reset_reg)
		say(j, CHK_OK, "reset", NULL, "FADT reset register: %s 0x%llx, value 0x%x",
		    a->reset_space == 1 ? "I/O port" : a->reset_space == 0 ? "memory" : "PCI config",
		    (unsigned long long)a->reset_addr, a->reset_value);
	else
		say(j, CHK_OK, "reset", NULL, "%s", a->fadt ? "the FADT names no reset register" :
		    "no FADT");
	if (a->fadt && (a->fadt_flags & FADT_HW_REDUCED))
		say(j, CHK_WARNING, "acpi", "report the machine (docs/hardware.md)",
		    "hardware-reduced ACPI (FADT flags 0x%x): legacy devices such as the PIT may "
		    "be missing", a->fadt_flags);
}

/* Where Mica's console will go: the serial port (the config's [mica] serial =, else an
 * I/O-port 16550 the SPCR names, else COM1) and the screen (a GOP framebuffer). */
static void judge_console(struct judge *j, const struct chk_facts *f)
{
	const struct acpi_spcr *sp = &f->acpi.serial;
	const struct cfg_host *h = f->config.parsed ? &f->config.cfg->host : NULL;
	int spcr_ok = f->acpi.spcr && sp->space == 1 && sp->addr && sp->addr <= 0xfff8 &&
		      (sp->type == 0 || sp->type == 1 || sp->type == 0x12);

	if (h && h->serial_given && !h->serial_port)
		say(j, CHK_OK, "serial", NULL, "none: the config says serial = none");
	else if (h && h->serial_given)
		say(j, CHK_OK, "serial", NULL, "I/O port 0x%x, IRQ %u: the config's serial =",
		    h->serial_port, h->serial_irq);
	else if (spcr_ok)
		say(j, CHK_OK, "serial", NULL, "I/O port 0x%llx, IRQ %u, %u baud: the SPCR table's, "
		    "which Mica uses", (unsigned long long)sp->addr, sp->irq, sp->baud);
	else if (f->acpi.spcr)
		say(j, CHK_WARNING, "serial",
		    "set serial = in the config's [mica] section, or read Mica on the screen",
		    "the SPCR names a console Mica cannot drive (%s 0x%llx, type 0x%x); Mica tries "
		    "COM1 (0x3F8)", sp->space == 0 ? "memory" : "space",
		    (unsigned long long)sp->addr, sp->type);
	else
		say(j, CHK_OK, "serial", NULL, "no SPCR table: Mica writes COM1 (0x3F8) if a UART "
		    "answers there");
	if (h && h->screen == CFG_SCREEN_OFF)
		say(j, CHK_OK, "screen", NULL, "off: the config says screen = off");
	else if (f->fb.format)
		say(j, CHK_OK, "screen", NULL, "%ux%u framebuffer: Mica's console shows there "
		    "(%ux%u characters)", f->fb.width, f->fb.height, f->fb.width / FBCON_CELL_W,
		    f->fb.height / FBCON_CELL_H);
	else
		say(j, CHK_WARNING, "screen", "use the serial port, or a graphics card whose UEFI "
		    "driver gives a linear framebuffer",
		    "no framebuffer Mica can draw on: its console goes to the serial port only");
}

static void judge_timers(struct judge *j, const struct chk_facts *f)
{
	if (f->pit)
		say(j, CHK_OK, "pit", NULL, "PIT channel 2 counts; the TSC runs at %llu MHz against it",
		    (unsigned long long)(f->tsc_hz / 1000000));
	else if (f->acpi.pm_timer)
		say(j, CHK_WARNING, "pit", "nothing to do; the 8254 timer (\"8254 clock gating\" "
		    "off in the firmware setup) would be the first choice",
		    "PIT channel 2 does not count: Mica measures the TSC against the ACPI PM timer "
		    "(port 0x%x, %u bits) instead", f->acpi.pm_port, f->acpi.pm_bits);
	else
		say(j, CHK_WARNING, "pit",
		    "turn on the 8254 timer in the firmware setup (\"8254 clock gating\" off, "
		    "legacy devices on), or expect guests' timers to be off",
		    "neither PIT channel 2 nor an ACPI PM timer counts: Mica will assume the TSC's "
		    "rate from CPUID");
	if (f->max_ext >= 0x80000007 && (f->e7_edx & E7_EDX_INVTSC))
		say(j, CHK_OK, "tsc", NULL, "invariant: it runs at one rate in every power state");
	else
		say(j, CHK_WARNING, "tsc", "turn off deep C-states in the firmware setup if guests' "
		    "clocks drift", "not invariant (CPUID 0x80000007:EDX[8] clear): its rate may "
		    "change with power states");
	judge_console(j, f);
}

static void judge_memory(struct judge *j, const struct chk_facts *f)
{
	const struct chk_mem *m = &f->mem;
	char low[24], mid[24], high[24], big[24];

	size_text(m->below_1m, low, sizeof(low));
	size_text(m->below_4g, mid, sizeof(mid));
	size_text(m->above_4g, high, sizeof(high));
	size_text(m->largest, big, sizeof(big));
	say(j, CHK_OK, "memory", NULL, "usable: %s below 1 MiB, %s from 1 MiB to 4 GiB, %s above "
	    "4 GiB; the largest block %s", low, mid, high, big);
	if (m->low_free < 4096)
		say(j, CHK_MISSING, "memory",
		    "turn off CSM / legacy boot options that keep low memory in the firmware setup",
		    "no free 4 KiB page below 640 KiB: Mica needs one to start the other CPUs");
}

static void judge_firmware(struct judge *j, const struct chk_facts *f)
{
	if (f->secure_boot == 1)
		say(j, CHK_OK, "secure boot", NULL, "on: this check was signed with a key the "
		    "firmware trusts; BOOTX64.EFI needs the same (docs/booting.md)");
	else if (f->secure_boot == 0)
		say(j, CHK_OK, "secure boot", NULL, "off%s", f->setup_mode == 1 ?
		    " (setup mode: no platform key enrolled)" : "");
	else
		say(j, CHK_OK, "secure boot", NULL, "off (the firmware has no SecureBoot variable)");
}

static void judge_config(struct judge *j, const struct chk_facts *f)
{
	const struct chk_config *c = &f->config;
	struct cfg_error err = { 0 };
	uint64_t usable = f->mem.below_1m + f->mem.below_4g + f->mem.above_4g;
	unsigned ncpus = f->acpi.madt ? f->acpi.cpus.n : 1;
	char total[24];
	uint64_t need = 0;

	if (!c->found) {
		say(j, CHK_WARNING, "config",
		    "put your config at \\mica\\mica.cfg on this volume (make usb-image does) and "
		    "run the check again", "no \\mica\\mica.cfg here: the config was not checked");
		return;
	}
	if (!c->parsed) {
		if (c->err.line)
			say(j, CHK_MISSING, "config", "fix the config (docs/config.md)",
			    "\\mica\\mica.cfg:%u: %s", c->err.line, c->err.msg);
		else
			say(j, CHK_MISSING, "config", "fix the config (docs/config.md)",
			    "\\mica\\mica.cfg: %s", c->err.msg);
		return;
	}
	for (unsigned i = 0; i < c->cfg->nparts; i++)
		need += c->cfg->part[i].memory;
	size_text(need, total, sizeof(total));
	if (cfg_check_machine(c->cfg, 0, ncpus, usable, &err) != 0)
		say(j, CHK_MISSING, "config", "change the config to fit this machine (docs/config.md)",
		    "\\mica\\mica.cfg:%u: %s", err.line, err.msg);
	else
		say(j, CHK_OK, "config", NULL, "%u partition(s), %s of RAM, CPUs within the %u "
		    "this machine has", c->cfg->nparts, total, ncpus);
	for (unsigned i = 0; i < c->nmissing; i++)
		say(j, CHK_MISSING, "config", "copy the file there, or fix the path in the config",
		    "\\mica\\mica.cfg:%u: '%s' is not on this volume", c->missing[i].line,
		    c->missing[i].path);
	if (!c->nmissing)
		say(j, CHK_OK, "config", NULL, "all %u file(s) it names are on this volume",
		    c->nfiles);
	for (unsigned i = 0; i < c->cfg->nparts; i++) {
		const struct cfg_partition *p = &c->cfg->part[i];

		for (unsigned k = 0; k < p->npci; k++) {
			const struct cfg_pci *d = &p->pci[k];
			if (!c->pci_present[i][k])
				say(j, CHK_MISSING, "config", "fix the pci = line (lspci on Linux "
				    "lists the machine's devices)",
				    "\\mica\\mica.cfg:%u: partition '%s': no PCI function at "
				    "%04x:%02x:%02x.%x", p->pci_line, p->name, d->seg, d->bus,
				    d->dev, d->fn);
			else if (f->acpi.iommu == IOMMU_NONE || f->acpi.iommu_bad)
				say(j, CHK_MISSING, "config", "turn on the IOMMU in the firmware "
				    "setup, or remove the pci = line",
				    "\\mica\\mica.cfg:%u: partition '%s' passes %04x:%02x:%02x.%x "
				    "through, but there is no usable IOMMU", p->pci_line, p->name,
				    d->seg, d->bus, d->dev, d->fn);
			else
				say(j, CHK_OK, "config", NULL, "partition '%s': PCI %04x:%02x:%02x.%x "
				    "is there", p->name, d->seg, d->bus, d->dev, d->fn);
		}
	}
}

void chk_judge(const struct chk_facts *f, chk_emit_fn emit, void *ctx, struct chk_summary *sum)
{
	struct judge j = { emit, ctx, sum };

	memset(sum, 0, sizeof(*sum));
	judge_cpu(&j, f);
	if (is_intel(f))
		judge_vmx(&j, f);
	else if (is_amd(f))
		judge_svm(&j, f);
	judge_apic(&j, f);
	judge_iommu(&j, f);
	judge_tables(&j, f);
	judge_timers(&j, f);
	judge_memory(&j, f);
	judge_firmware(&j, f);
	judge_config(&j, f);
}
