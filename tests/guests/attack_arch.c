/* attack_arch: architectural corner cases (issue #17's hostile-guest suite), with
 * on_crash = restart:
 * run 0: every CPUID leaf and subleaf (vCPU 0 against vCPU 1: only the APIC-ID fields may
 *   differ, or the guest sees which host CPU it is on), the bits that must mirror the
 *   guest's own state (OSXSAVE, OSPKE, the XSAVE size of its XCR0), reserved CR0, CR4, CR8,
 *   DR6 and DR7 bits (#GP, nothing changed), WBINVD; then an IDT where only the #DF gate is
 *   present takes a #GP as a double fault, and the #DF handler loads an empty IDT and
 *   faults again: a triple fault, which must stop (restart) only this partition;
 * run 1: a GDT outside its RAM (2 GiB), and a segment load from it: stopped at that read;
 * run 2: PASS. */
#include <string.h>
#include "lib/guest.h"

#define VEC_GP 13
#define VEC_DF 8

/* --- CPUID --- */

#define MAX_RESULTS 2048
struct leaf { uint32_t leaf, sub, r[4]; };
static struct leaf results[2][MAX_RESULTS];
static unsigned nresults[2];
static volatile int swept[2];

static int has_subleaves(uint32_t l)
{
	return l == 4 || l == 7 || l == 0xb || l == 0xd || l == 0xf || l == 0x10 || l == 0x12 ||
	       l == 0x14 || l == 0x17 || l == 0x18 || l == 0x1d || l == 0x1f || l == 0x20 ||
	       l == 0x23 || l == 0x24 || l == 0x8000001d || l == 0x80000020 || l == 0x80000026;
}

static void sweep_range(unsigned vcpu, uint32_t first, uint32_t last)
{
	for (uint32_t l = first; l <= last; l++)
		for (uint32_t s = 0; s < (has_subleaves(l) ? 64u : 2u); s++) {
			if (nresults[vcpu] == MAX_RESULTS)
				return;
			struct leaf *e = &results[vcpu][nresults[vcpu]++];
			e->leaf = l, e->sub = s;
			cpuid(l, s, e->r);
			/* the fields that are the vCPU's own x2APIC ID */
			if (l == 1)
				e->r[1] &= 0x00ffffff;
			if (l == 0xb || l == 0x1f)
				e->r[3] = 0;
			if (l == 0x8000001e)
				e->r[0] = 0, e->r[1] &= ~0xffu;
		}
}

static void sweep(unsigned vcpu)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	sweep_range(vcpu, 0, r[0] < 0x40 ? r[0] : 0x40);
	cpuid(0x80000000, 0, r);
	sweep_range(vcpu, 0x80000000, r[0] < 0x80000040 ? r[0] : 0x80000040);
	sweep_range(vcpu, 0x40000000, 0x40000010);
	swept[vcpu] = 1;
}

static void cpuid_checks(unsigned nvcpus)
{
	char line[160];
	uint32_t r[4];

	if (nvcpus > 1) {
		while (!swept[1])
			cpu_relax();
		int same = nresults[0] == nresults[1];
		unsigned i;
		for (i = 0; same && i < nresults[0]; i++)
			same = !memcmp(&results[0][i], &results[1][i], sizeof(results[0][i]));
		snprintf(line, sizeof(line), "%u CPUID leaves and subleaves: vCPU 0 and vCPU 1 see "
			 "the same but for their APIC IDs", nresults[0]);
		check(same, line);
		if (!same && i && i <= nresults[0]) {
			struct leaf *a = &results[0][i - 1], *b = &results[1][i - 1];
			printf("attack_arch: leaf 0x%x.%u differs: %x %x %x %x / %x %x %x %x\n",
			       a->leaf, a->sub, a->r[0], a->r[1], a->r[2], a->r[3], b->r[0], b->r[1],
			       b->r[2], b->r[3]);
		}
	} else {
		printf("attack_arch: one vCPU: the per-vCPU comparison is skipped\n");
	}
	cpuid(1, 0, r);
	check(!(r[2] & (1u << 5)) && (r[2] & (1u << 31)), "CPUID.1: VMX 0, hypervisor 1");
	int xsave = r[2] & (1u << 26);
	cpuid(0x80000001, 0, r);
	check(!(r[2] & (1u << 2)), "CPUID.80000001h: SVM 0");
	cpuid(0x8000000a, 0, r);
	check(!(r[0] | r[1] | r[2] | r[3]), "CPUID.8000000Ah (SVM features) is all zero");

	/* What mirrors the guest's CR4 must be the guest's CR4, not Mica's. */
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cpuid(7, 0, r);
	check(!(r[2] & (1u << 4)) || (cr4 & (1u << 22)),
	      "CPUID.7:ECX.OSPKE follows the guest's CR4.PKE (0)");
	if (!xsave) {
		printf("attack_arch: no XSAVE: the OSXSAVE and XSAVE-size checks are skipped\n");
		return;
	}
	cpuid(1, 0, r);
	check(!(r[2] & (1u << 27)) == !(cr4 & (1u << 18)),
	      "CPUID.1:ECX.OSXSAVE follows the guest's CR4.OSXSAVE (off)");
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 18)) : "memory");
	cpuid(1, 0, r);
	check(r[2] & (1u << 27), "CPUID.1:ECX.OSXSAVE follows the guest's CR4.OSXSAVE (on)");
	__asm__ volatile("xsetbv" : : "a"(3), "d"(0), "c"(0) : "memory"); /* x87, SSE */
	cpuid(0xd, 0, r);
	snprintf(line, sizeof(line), "CPUID.0Dh.0:EBX is the XSAVE size of the guest's XCR0 "
		 "(x87|SSE: 576, saw %u)", r[1]);
	check(r[1] == 576, line);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
}

/* --- control and debug registers --- */

/* Does MOV to CR0 or CR4 (cr) of v get #GP and leave the register as it was? */
static uint64_t read_cr(int cr)
{
	uint64_t v;
	if (cr == 0)
		__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	else
		__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static int cr_refused(int cr, uint64_t v)
{
	uint64_t before = read_cr(cr);
	trap_expect(3);
	if (cr == 0)
		__asm__ volatile("mov %%rax, %%cr0" : : "a"(v) : "memory");
	else
		__asm__ volatile("mov %%rax, %%cr4" : : "a"(v) : "memory");
	int vec = trap_taken();
	return vec == VEC_GP && read_cr(cr) == before;
}

static void register_checks(void)
{
	char line[120];
	uint64_t cr0, cr4;
	uint32_t r[4];
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));

	if (hcall_vmmcall) {
		/* Mica's SVM backend intercepts no CR or DR write: the CPU checks them itself,
		 * and QEMU 7.2's TCG takes reserved CR0, CR4 and CR8 bits from an SVM guest
		 * without #GP (a CR4 one makes the next VMRUN refuse the VMCB: the partition
		 * stops; docs/security.md). */
		printf("attack_arch: CR0, CR4, CR8, DR6 and DR7 are the CPU's on SVM: not swept\n");
	} else {
		int bad = -1;
		for (int b = 26; b < 64 && bad < 0; b++)
			if (!cr_refused(4, cr4 | (1ULL << b)))
				bad = b;
		snprintf(line, sizeof(line), "CR4 reserved bits 26-63 get #GP, CR4 unchanged%s",
			 bad < 0 ? "" : " (a bit was taken)");
		check(bad < 0, line);
		if (bad >= 0)
			printf("attack_arch: CR4 bit %d was taken\n", bad);
		check(cr_refused(4, cr4 | (1u << 13)), "CR4.VMXE gets #GP (no VMX in CPUID)");
		cpuid(1, 0, r);
		if (!(r[2] & (1u << 6)))
			check(cr_refused(4, cr4 | (1u << 14)), "CR4.SMXE gets #GP (no SMX in CPUID)");
		bad = -1;
		for (int b = 32; b < 64 && bad < 0; b++)
			if (!cr_refused(0, cr0 | (1ULL << b)))
				bad = b;
		check(bad < 0, "CR0 bits 32-63 get #GP, CR0 unchanged");
		check(cr_refused(0, (cr0 | (1u << 29)) & ~(1ULL << 30)),
		      "CR0.NW without CR0.CD gets #GP");
		check(cr_refused(0, cr0 & ~1ULL), "CR0.PE = 0 with CR0.PG = 1 gets #GP");
		trap_expect(3);
		__asm__ volatile("mov %%rax, %%db7" : : "a"(1ULL << 40) : "memory");
		check(trap_taken() == VEC_GP, "DR7 bit 40 gets #GP");
		trap_expect(3);
		__asm__ volatile("mov %%rax, %%db6" : : "a"(1ULL << 40) : "memory");
		check(trap_taken() == VEC_GP, "DR6 bit 40 gets #GP");
		trap_expect(4);
		__asm__ volatile("mov %%rax, %%cr8" : : "a"(16ULL) : "memory"); /* 44 0f 22 c0 */
		check(trap_taken() == VEC_GP, "CR8 = 16 gets #GP");
	}

	trap_expect(2);
	__asm__ volatile("wbinvd" ::: "memory");
	check(trap_taken() < 0, "WBINVD runs and raises nothing");
}

/* --- the double fault, then the triple fault --- */

static struct idt_gate df_idt[32] __attribute__((aligned(16)));

void df_handler_c(void);
void df_handler_c(void)
{
	printf("PASS: a #GP with no gate present became a double fault\n");
	printf("attack_arch: now an empty IDT and a #UD: a triple fault\n");
	idt_load(NULL, 0); /* limit 0: no vector fits */
	__asm__ volatile("ud2");
	printf("FAIL: the triple fault did not stop the partition\n");
	guest_exit(1);
}

__asm__(".text\n"
	"df_entry:\n"
	"  and $-16, %rsp\n"
	"  call df_handler_c\n"
	"1: hlt\n"
	"  jmp 1b\n");
extern const char df_entry[];

static void double_fault(void)
{
	df_idt[VEC_DF] = idt_gate(df_entry);
	printf("attack_arch: an IDT with only #DF present, and a #GP\n");
	/* A null-selector load into SS in 64-bit mode at CPL 0 is allowed; a selector past
	 * the GDT's limit is not: #GP, whose gate is absent: #NP, then #DF. */
	idt_load(df_idt, sizeof(df_idt));
	__asm__ volatile("mov %0, %%ds" : : "r"((uint16_t)0xfff8) : "memory");
	printf("FAIL: the bad selector raised nothing\n");
	guest_exit(1);
}

/* --- run 1: a GDT outside RAM --- */

static void bogus_gdt(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr =
		{ 0xffff, 0x80000000ULL }; /* 2 GiB: mapped by the boot map, not RAM */
	printf("attack_arch: a GDT at guest-physical 0x80000000 and a reload of DS from it\n");
	__asm__ volatile("lgdt %0\n\tmov %1, %%ds" : : "m"(gdtr), "r"((uint16_t)0x10) : "memory");
	printf("FAIL: the GDT read outside RAM was not stopped\n");
	guest_exit(1);
}

int main(unsigned vcpu)
{
	struct mica_self_info info;
	self_info(&info);
	if (vcpu) {
		if (info.restarts == 0)
			sweep(vcpu);
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	if (info.restarts == 1)
		bogus_gdt();
	if (info.restarts >= 2) {
		printf("PASS: attack_arch\n");
		return 0;
	}
	trap_install();
	printf("attack_arch: start in '%s', %u vCPUs\n", info.name, info.vcpu_count);
	sweep(0);
	cpuid_checks(info.vcpu_count);
	register_checks();
	if (check_failures) {
		printf("FAIL: attack_arch, %d checks failed\n", check_failures);
		return 1;
	}
	double_fault();
	return 1;
}
