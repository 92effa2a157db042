/* The pre-flight check's eyes: reads the machine under UEFI, before anything is changed.
 * Every MSR is read only where CPUID says it exists (a missing one would fault into the
 * firmware); nothing is written but the PIT's channel 2 (the PC speaker's timer, gated
 * off again) and port 0xCF8 for PCI functions without an ECAM window. */
#include <string.h>

#include "boot/check/chk.h"
#include "boot/check/probe.h"
#include "boot/loader.h"
#include "lib/portio.h"

#define MSR_APIC_BASE   0x1b
#define MSR_FC          0x3a
#define MSR_VMX_BASIC   0x480
#define MSR_VMX_PROC    0x482
#define MSR_VMX_PROC2   0x48b
#define MSR_VMX_EPT     0x48c
#define MSR_VMX_TRUE_PROC 0x48e
#define MSR_VM_CR       0xc0010114
#define VMX_BASIC_TRUE  (1ULL << 55)
#define L1_ECX_VMX      (1u << 5)
#define L1_ECX_SMX      (1u << 6)
#define L1_ECX_HV       (1u << 31)
#define E1_ECX_SVM      (1u << 2)
#define PROC_SECONDARY  (1ULL << (32 + 31))

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void probe_cpu(struct chk_facts *f)
{
	uint32_t r[4];

	cpuid(0, r);
	f->max_leaf = r[0];
	memcpy(f->vendor, &r[1], 4);
	memcpy(f->vendor + 4, &r[3], 4);
	memcpy(f->vendor + 8, &r[2], 4);
	cpuid(1, r);
	f->l1_ecx = r[2];
	f->l1_edx = r[3];
	f->family = (r[0] >> 8) & 0xf;
	f->model = (r[0] >> 4) & 0xf;
	f->stepping = r[0] & 0xf;
	if (f->family == 0xf)
		f->family += (r[0] >> 20) & 0xff;
	if (f->family >= 6)
		f->model |= ((r[0] >> 16) & 0xf) << 4;
	if (f->l1_ecx & L1_ECX_HV) {
		cpuid(0x40000000, r);
		memcpy(f->hypervisor_sig, &r[1], 12);
	}
	cpuid(0x80000000, r);
	f->max_ext = r[0];
	if (f->max_ext >= 0x80000001) {
		cpuid(0x80000001, r);
		f->e1_ecx = r[2];
		f->e1_edx = r[3];
	}
	if (f->max_ext >= 0x80000004) {
		for (uint32_t i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, r);
			memcpy(f->brand + 16 * i, r, 16);
		}
		/* Trim the padding some CPUs put in front of and behind the name. */
		char *b = f->brand;
		while (*b == ' ')
			b++;
		memmove(f->brand, b, strlen(b) + 1);
		for (size_t n = strlen(f->brand); n && f->brand[n - 1] == ' '; n--)
			f->brand[n - 1] = 0;
	}
	if (f->max_ext >= 0x80000007) {
		cpuid(0x80000007, r);
		f->e7_edx = r[3];
	}
	if (f->max_ext >= 0x8000000a && (f->e1_ecx & E1_ECX_SVM)) {
		cpuid(0x8000000a, r);
		f->ea_edx = r[3];
	}
}

static void probe_msrs(struct chk_facts *f)
{
	int intel = !strcmp(f->vendor, "GenuineIntel");

	f->apic_base = rdmsr(MSR_APIC_BASE);
	/* SDM vol. 4: IA32_FEATURE_CONTROL exists if CPUID.1:ECX has VMX or SMX. */
	if (intel && (f->l1_ecx & (L1_ECX_VMX | L1_ECX_SMX))) {
		f->have_fc = 1;
		f->feature_control = rdmsr(MSR_FC);
	}
	if (intel && (f->l1_ecx & L1_ECX_VMX)) {
		f->have_vmx_msrs = 1;
		f->vmx_basic = rdmsr(MSR_VMX_BASIC);
		f->vmx_proc = rdmsr((f->vmx_basic & VMX_BASIC_TRUE) ? MSR_VMX_TRUE_PROC : MSR_VMX_PROC);
		if (f->vmx_proc & PROC_SECONDARY) {
			f->vmx_proc2 = rdmsr(MSR_VMX_PROC2);
			f->vmx_ept_vpid = rdmsr(MSR_VMX_EPT);
		}
	}
	if (!intel && (f->e1_ecx & E1_ECX_SVM)) {
		f->have_vm_cr = 1;
		f->vm_cr = rdmsr(MSR_VM_CR);
	}
}

/* As the core's arch/x86/tsc.c: PIT channel 2, mode 0, gated through port 0x61; 20 ms.
 * Returns the TSC's rate; 0 if OUT2 was high before we looked (no PIT, or this CPU was
 * away for the whole window: tried again), ~0 if the count never ran out. */
static uint64_t pit_window(void)
{
	const uint64_t latch = 1193182ULL * 20 / 1000;
	uint64_t t0, t1, spin;

	outb(0x43, 0xb0);
	outb(0x42, (uint8_t)latch);
	t0 = rdtsc(); /* before the count starts: a delay only lengthens the window */
	outb(0x42, (uint8_t)(latch >> 8));
	if (inb(0x61) & 0x20)
		return 0; /* mode 0 holds OUT low until the count runs out */
	for (spin = 0; !(inb(0x61) & 0x20); spin++)
		if (spin > 100000000ULL)
			return ~0ULL;
	t1 = rdtsc();
	return t1 > t0 ? (t1 - t0) * 1000 / 20 : 0;
}

static void probe_pit(struct chk_facts *f)
{
	uint8_t b = inb(0x61);
	uint64_t best = 0, hz;

	outb(0x61, (uint8_t)((b & ~0x02) | 0x01));
	for (int i = 0, good = 0; i < 10 && good < 3; i++) {
		hz = pit_window();
		if (hz == ~0ULL)
			break; /* no count: do not wait again */
		if (hz < 1000000ULL)
			continue; /* too late, or a TSC below 1 MHz: no measurement (Bochs: ~50 MHz) */
		good++;
		if (!best || hz < best)
			best = hz;
	}
	outb(0x61, b);
	if (best) {
		f->pit = 1;
		f->tsc_hz = best;
	}
}

static void probe_memory(struct chk_facts *f)
{
	static struct boot_mem out[BOOT_MAX_MMAP];
	UINTN size = 0, key, desc_size;
	UINT32 ver;
	void *map = NULL;
	unsigned n;

	if (g_bs->GetMemoryMap(&size, NULL, &key, &desc_size, &ver) != EFI_BUFFER_TOO_SMALL)
		return;
	size += 16 * desc_size;
	if (g_bs->AllocatePool(EfiLoaderData, size, &map) != EFI_SUCCESS)
		return;
	if (g_bs->GetMemoryMap(&size, map, &key, &desc_size, &ver) == EFI_SUCCESS) {
		n = mmap_translate(map, size, desc_size, out, BOOT_MAX_MMAP);
		for (unsigned i = 0; i < n; i++)
			if (out[i].type == BOOT_MEM_USABLE)
				chk_mem_add(&f->mem, out[i].base, out[i].size);
	}
	g_bs->FreePool(map);
}

static void probe_firmware(struct chk_facts *f)
{
	static EFI_GUID global = EFI_GLOBAL_VARIABLE;
	uint8_t v;
	UINTN len = 1;

	f->secure_boot = -1;
	if (g_st->RuntimeServices->GetVariable(L"SecureBoot", &global, NULL, &len, &v) ==
	    EFI_SUCCESS && len == 1)
		f->secure_boot = v ? 1 : 0;
	len = 1;
	if (g_st->RuntimeServices->GetVariable(L"SetupMode", &global, NULL, &len, &v) ==
	    EFI_SUCCESS && len == 1)
		f->setup_mode = v ? 1 : 0;
}

/* The vendor ID of a PCI function: through its ECAM window, or mechanism #1 on segment 0. */
static uint16_t pci_vendor(const struct acpi_mcfg *m, const struct cfg_pci *d)
{
	for (unsigned w = 0; w < m->n; w++)
		if (m->win[w].seg == d->seg && d->bus >= m->win[w].start_bus &&
		    d->bus <= m->win[w].end_bus)
			return *(volatile uint16_t *)(uintptr_t)(m->win[w].base +
				((uint64_t)(d->bus - m->win[w].start_bus) << 20 |
				 (uint64_t)d->dev << 15 | (uint64_t)d->fn << 12));
	if (d->seg != 0 || d->dev > 31 || d->fn > 7)
		return 0xffff;
	outl(0xcf8, 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 |
	     (uint32_t)d->fn << 8);
	return (uint16_t)inl(0xcfc);
}

static void note_file(EFI_FILE_HANDLE root, struct chk_config *c, const char *name,
		      unsigned line, char seen[][BOOT_PATH_MAX], unsigned *nseen)
{
	char path[BOOT_PATH_MAX + 16];

	if (!name[0])
		return;
	for (unsigned i = 0; i < *nseen; i++)
		if (!strcmp(seen[i], name))
			return;
	if (*nseen < CFG_MAX_PARTS * (CFG_MODULES_MAX + 3))
		memcpy(seen[(*nseen)++], name, BOOT_PATH_MAX);
	c->nfiles++;
	esp_path("\\mica\\", name, path, sizeof(path));
	if (file_exists(root, path) == EFI_SUCCESS || c->nmissing == CHK_FILES_MAX)
		return;
	memcpy(c->missing[c->nmissing].path, name, BOOT_PATH_MAX);
	c->missing[c->nmissing++].line = line;
}

static void probe_config(EFI_FILE_HANDLE root, struct chk_facts *f, struct cfg *cfg)
{
	static char seen[CFG_MAX_PARTS * (CFG_MODULES_MAX + 3)][BOOT_PATH_MAX];
	struct chk_config *c = &f->config;
	unsigned nseen = 0;
	void *text;
	uint64_t size;

	if (!root || file_load(root, "\\mica\\mica.cfg", 0, &text, &size) != EFI_SUCCESS)
		return;
	c->found = 1;
	c->cfg = cfg;
	c->parsed = cfg_parse(text, size, cfg, &c->err) == 0;
	g_bs->FreePool(text);
	if (!c->parsed)
		return;
	for (unsigned i = 0; i < cfg->nparts; i++) {
		const struct cfg_partition *p = &cfg->part[i];

		note_file(root, c, p->image, p->image_line, seen, &nseen);
		note_file(root, c, p->initrd, p->initrd_line, seen, &nseen);
		note_file(root, c, p->disk, p->disk_line, seen, &nseen);
		for (unsigned m = 0; m < p->nmodules; m++)
			note_file(root, c, p->modules[m], p->modules_line, seen, &nseen);
		for (unsigned k = 0; k < p->npci; k++)
			c->pci_present[i][k] = pci_vendor(&f->acpi.mcfg, &p->pci[k]) != 0xffff;
	}
}

void chk_probe(EFI_FILE_HANDLE root, struct chk_facts *f, struct cfg *cfg)
{
	memset(f, 0, sizeof(*f));
	probe_cpu(f);
	probe_msrs(f);
	probe_pit(f);
	chk_acpi_read(efi_acpi_rsdp(), &f->acpi);
	probe_memory(f);
	probe_firmware(f);
	efi_framebuffer(&f->fb);
	probe_config(root, f, cfg);
}
