/* attack_msr: the MSR surface (issue #17's hostile-guest suite). Sweeps RDMSR over the
 * architectural, hypervisor, AMD and Intel ranges and WRMSR of all ones (then the value it
 * read, or 0) over the same; then checks the MSRs that would hand a guest the host: EFER.SVME,
 * VM_HSAVE_PA, VM_CR, FEATURE_CONTROL, APIC_BASE (relocate, disable), MTRRs, PAT, SYSCFG,
 * microcode and SMM. Every answer must be #GP or a value, never another exception, and a
 * refused write must leave the MSR as it was. Run plain and with a local APIC. */
#include "lib/guest.h"

#define VEC_GP 13

/* RDMSR: 1 with *v on success, 0 on #GP; any other exception is a FAIL (vector in *vec). */
static int rd(uint32_t msr, uint64_t *v, int *vec)
{
	trap_expect(2);
	*v = rdmsr(msr);
	*vec = trap_taken();
	return *vec < 0;
}

static int wr(uint32_t msr, uint64_t v, int *vec)
{
	trap_expect(2);
	wrmsr(msr, v);
	*vec = trap_taken();
	return *vec < 0;
}

static const struct { uint32_t first, count; const char *name; } ranges[] = {
	{ 0x00000000, 0x2000, "architectural and Intel 0-0x1fff" },
	{ 0x40000000, 0x0200, "hypervisor 0x40000000-0x400001ff" },
	{ 0x4b564d00, 0x0010, "KVM 0x4b564d00-0x4b564d0f" },
	{ 0xc0000000, 0x0200, "AMD64 0xc0000000-0xc00001ff" },
	{ 0xc0010000, 0x2000, "AMD 0xc0010000-0xc0011fff" },
};

/* The guest's own live state and its own interrupt controller's registers: a write of
 * all ones that the CPU accepts would stop this guest, not the hypervisor (EFER, the
 * x2APIC's ICR sending IPIs is attack_irq's). They are still read. */
static int own_state(uint32_t m)
{
	return (m >= 0x800 && m <= 0x8ff) || m == 0x6e0;
}

static void sweep(void)
{
	char line[160];
	for (unsigned r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		unsigned readable = 0, writable = 0, odd = 0, changed = 0;
		uint32_t odd_msr = 0;
		int odd_vec = 0;
		for (uint32_t i = 0; i < ranges[r].count; i++) {
			uint32_t m = ranges[r].first + i;
			uint64_t v, after;
			int vec;
			int ok = rd(m, &v, &vec);
			if (vec >= 0 && vec != VEC_GP) {
				odd++, odd_msr = m, odd_vec = vec;
				continue;
			}
			readable += ok;
			if (own_state(m))
				continue;
			if (wr(m, ~0ULL, &vec))
				writable++;
			else if (vec != VEC_GP)
				odd++, odd_msr = m, odd_vec = vec;
			else if (ok && (!rd(m, &after, &vec) || after != v) && m != 0x10)
				changed++, odd_msr = m; /* refused, yet the MSR moved (the TSC moves) */
			wr(m, ok ? v : 0, &vec); /* put back what was there */
		}
		snprintf(line, sizeof(line), "MSR sweep %s: %u readable, %u took all ones, "
			 "the rest #GP, no other vector", ranges[r].name, readable, writable);
		check(!odd, line);
		if (odd)
			printf("attack_msr: MSR 0x%x raised vector %d\n", odd_msr, odd_vec);
		snprintf(line, sizeof(line), "MSR sweep %s: a refused write leaves the MSR as it "
			 "was", ranges[r].name);
		check(!changed, line);
		if (changed)
			printf("attack_msr: MSR 0x%x changed after #GP\n", odd_msr);
	}
}

/* Must be refused both ways (or, read, give what a CPU without the feature gives). */
static void refused(uint32_t msr, const char *what)
{
	uint64_t v;
	int vec;
	char line[120];
	int r = rd(msr, &v, &vec);
	int w = wr(msr, 0x1000, &vec) || wr(msr, 0, &vec);
	snprintf(line, sizeof(line), "%s (MSR 0x%x): %s", what, msr,
		 r ? "read gives a value but writes get #GP" : "read and write get #GP");
	check(!w, line);
}

#define MSR_APIC_BASE  0x1b
#define MSR_FEAT_CTL   0x3a
#define MSR_PAT        0x277
#define MSR_EFER       0xc0000080
#define MSR_VM_CR      0xc0010114
#define MSR_HSAVE_PA   0xc0010117
#define EFER_SVME      (1ULL << 12)

static void special(int have_apic)
{
	uint64_t v, w;
	int vec;

	rd(MSR_EFER, &v, &vec);
	check(!(v & EFER_SVME), "EFER.SVME reads 0: the guest has no SVM");
	check(!wr(MSR_EFER, v | EFER_SVME, &vec) && vec == VEC_GP && rd(MSR_EFER, &w, &vec) &&
	      w == v, "EFER.SVME = 1 gets #GP, EFER unchanged");
	refused(MSR_HSAVE_PA, "VM_HSAVE_PA");
	check(!rd(MSR_HSAVE_PA, &v, &vec), "VM_HSAVE_PA read gets #GP");
	/* VM_CR: #GP, or a value that says SVM is locked off. */
	int r = rd(MSR_VM_CR, &v, &vec);
	check(!r || (v & (1u << 4)), "VM_CR read gets #GP or says SVMDIS");
	check(!wr(MSR_VM_CR, 0, &vec) && !wr(MSR_VM_CR, 1u << 3, &vec), "VM_CR writes get #GP");
	r = rd(MSR_FEAT_CTL, &v, &vec);
	check(!r || ((v & 1) && !(v & 6)), "FEATURE_CONTROL read gets #GP or says locked, "
	      "VMX off");
	check(!wr(MSR_FEAT_CTL, 5, &vec) && !wr(MSR_FEAT_CTL, 0, &vec),
	      "FEATURE_CONTROL writes (VMX on, unlock) get #GP");
	refused(0xc0010010, "SYSCFG");
	refused(0xc0010111, "SMM_BASE");
	refused(0xc0010112, "SMM_ADDR");
	refused(0xc0010113, "SMM_MASK");
	refused(0xc0010116, "SMM_CTL");
	refused(0xc0010115, "IGNNE");
	refused(0xc0010118, "SVM_KEY");
	refused(0x9e, "SMBASE");
	refused(0xc0010020, "PATCH_LOADER (AMD microcode)");
	/* Microcode: BIOS_UPDT_TRIG is dropped or #GP; the signature reads 0 or #GP. */
	int t = wr(0x79, 0x100000, &vec);
	check(t || vec == VEC_GP, "BIOS_UPDT_TRIG (Intel microcode) write is dropped or #GP");
	check(!rd(0x8b, &v, &vec) || v == 0, "BIOS_SIGN_ID reads 0 (no microcode) or #GP");
	/* MTRRs: none, or all-write-back with none to program. */
	uint32_t c[4];
	cpuid(1, 0, c);
	int mtrr = rd(0xfe, &v, &vec);
	check(!mtrr || (v & 0x5ff) == 0, "MTRRCAP reads no variable or fixed ranges, or #GP");
	check(mtrr || !(c[3] & (1u << 12)), "CPUID.1:EDX.MTRR is 0 when MTRRCAP gets #GP");
	int mw = 0;
	for (uint32_t m = 0x200; m < 0x210; m++)
		mw |= wr(m, 0x6, &vec);
	mw |= wr(0x250, 0x0606060606060606ULL, &vec) | wr(0x2ff, 0xc06, &vec);
	check(!mw, "MTRR base/mask, fixed and MTRRdefType writes get #GP");
	/* PAT: a good value is kept, a reserved type gets #GP and changes nothing. */
	if (rd(MSR_PAT, &v, &vec)) {
		check(wr(MSR_PAT, 0x0007040600070406ULL, &vec) && rd(MSR_PAT, &w, &vec) &&
		      w == 0x0007040600070406ULL, "PAT takes a valid value and reads it back");
		check(!wr(MSR_PAT, 0x0007040600070402ULL, &vec) && vec == VEC_GP &&
		      rd(MSR_PAT, &w, &vec) && w == 0x0007040600070406ULL,
		      "PAT with reserved type 2 gets #GP, PAT unchanged");
		wr(MSR_PAT, v, &vec);
	} else {
		check(!(c[3] & (1u << 16)), "CPUID.1:EDX.PAT is 0 when PAT gets #GP");
	}
	/* APIC_BASE: no relocation, no disable, the x2APIC stays where it is. */
	if (have_apic) {
		rd(MSR_APIC_BASE, &v, &vec);
		check(!wr(MSR_APIC_BASE, (v & 0xfff) | 0xfed00000u, &vec) && vec == VEC_GP &&
		      rd(MSR_APIC_BASE, &w, &vec) && w == v,
		      "APIC_BASE relocation gets #GP, APIC_BASE unchanged");
		check(!wr(MSR_APIC_BASE, v & ~(3ULL << 10), &vec) && rd(MSR_APIC_BASE, &w, &vec) &&
		      w == v, "APIC_BASE disable gets #GP, the APIC stays on");
		check(rd(0x802, &w, &vec) && (uint32_t)w == 0,
		      "the x2APIC still answers: its ID reads 0");
	} else {
		check(!rd(MSR_APIC_BASE, &v, &vec) || !wr(MSR_APIC_BASE, 0, &vec),
		      "APIC_BASE without a local APIC: #GP");
	}
}

int main(unsigned vcpu)
{
	struct mica_self_info info;

	trap_install();
	self_info(&info);
	printf("attack_msr: start in '%s'\n", info.name);
	uint64_t v;
	int vec;
	int have_apic = rd(0x802, &v, &vec); /* the x2APIC's ID register */
	sweep();
	special(have_apic);
	/* And the guest itself still works: its own MSRs are what it left. */
	check(rd(0xc0000080, &v, &vec) && (v & (1u << 8)), "EFER.LME still set: the guest "
	      "runs on");
	if (check_failures)
		printf("FAIL: attack_msr, %d checks failed\n", check_failures);
	else
		printf("PASS: attack_msr\n");
	guest_exit(check_failures ? 1 : 0);
}
