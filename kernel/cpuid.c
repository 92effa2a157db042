/* The CPUID a guest sees (the whole exit is vcpu_exit_cpuid(), kernel/virt.h): the host's,
 * minus virtualization, MONITOR and what Mica does not offer, plus Mica's own leaves, with
 * the partition's own topology. */
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/emul/fetch.h"
#include "kernel/partition.h"
#include "kernel/platform/pvclock.h"
#include "kernel/vcpu.h"
#include "kernel/virt.h"

#define LEAF1_ECX_VMX        (1u << 5)
#define LEAF1_ECX_MONITOR    (1u << 3)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define EXT1_ECX_SVM         (1u << 2)
#define LEAF1_ECX_X2APIC     (1u << 21)
#define LEAF1_ECX_OSXSAVE    (1u << 27)
#define LEAF1_ECX_EST        (1u << 7)
#define LEAF1_ECX_TM2        (1u << 8)
#define LEAF1_EDX_ACPI       (1u << 22)
#define LEAF1_EDX_TM         (1u << 29)
#define LEAF1_EDX_PBE        (1u << 31)
#define LEAF1_EDX_HTT        (1u << 28)
#define LEAF7_ECX_OSPKE      (1u << 4)
#define LEAF1_EDX_MCE        (1u << 7)
#define LEAF1_EDX_MTRR       (1u << 12)
#define LEAF1_EDX_MCA        (1u << 14)
#define EXT1_ECX_TOPOEXT     (1u << 22)
#define LEAFD1_EAX_XSAVES    (1u << 3)
#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF6_EAX_ARAT       (1u << 2)
#define LEAF7_EBX_TSC_ADJUST (1u << 1)

/* A KVM-compatible identification one hypervisor range up (0x40000100), as hypervisors
 * offering a second ABI do: Linux keeps x2APIC mode without an IOMMU only under a
 * hypervisor it knows. Offered: NOP_IO_DELAY (port 0x80 delays are pointless in a VM and
 * each would be an exit) and the paravirtual clock (kernel/platform/pvclock.h), nothing else. */
#define KVM_COMPAT_BASE      0x40000100u
#define KVM_SIG_EBX          0x4b4d564bu /* "KVMK" */
#define KVM_SIG_ECX          0x564b4d56u /* "VMKV" */
#define KVM_SIG_EDX          0x0000004du /* "M\0\0\0" */
#define KVM_FEATURE_NOP_IO_DELAY (1u << 1)
#define KVM_FEATURE_PV_EOI       (1u << 6) /* MSR 0x4b564d04: kernel/irq.c */

/* The partition's own topology, the same in every leaf that describes one: one package of
 * n cores (n = its vCPUs), one thread each, x2APIC ID = vCPU number; ID width
 * shift = ceil(log2 n). Nothing of the host's CPU count or APIC IDs shows through. */
static unsigned id_shift(unsigned n)
{
	unsigned shift = 0;
	while ((1u << shift) < n)
		shift++;
	return shift;
}

/* Leaves 0xB and 0x1F (SDM vol. 2 CPUID): level 0 SMT, level 1 core, then invalid. */
static void topology_levels(const struct vcpu *v, uint32_t sub, uint32_t r[4])
{
	unsigned n = v->part->nvcpus;

	r[3] = v->id;
	if (sub == 0) {
		r[0] = 0;
		r[1] = 1;
		r[2] = (1u << 8) | sub; /* SMT level */
	} else if (sub == 1) {
		r[0] = id_shift(n);
		r[1] = n;
		r[2] = (2u << 8) | sub; /* core level */
	} else {
		r[0] = r[1] = 0;
		r[2] = sub;
	}
}

/* Threads sharing a cache of this level, minus one: the per-core caches (L1, L2) are
 * the vCPU's own; the last level is shared by the partition. */
static uint32_t cache_sharing(uint32_t level, unsigned n)
{
	return level >= 3 ? n - 1 : 0;
}

static void topology(const struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	unsigned n = v->part->nvcpus, shift = id_shift(n);
	uint32_t m[4];

	switch (leaf) {
	case 1:
		r[1] = (r[1] & 0x0000ffffu) | (v->id << 24) | ((n & 0xff) << 16);
		r[3] = n > 1 ? r[3] | LEAF1_EDX_HTT : r[3] & ~LEAF1_EDX_HTT;
		break;
	case 4: /* Intel deterministic caches: cores per package, threads per cache */
		if (r[0] & 0x1f)
			r[0] = (r[0] & 0x3fffu) | (((1u << shift) - 1) << 26) |
			       (cache_sharing((r[0] >> 5) & 7, n) << 14);
		break;
	case 0xb:
	case 0x1f:
		cpuid_count(0, 0, m);
		if (m[0] >= leaf)
			topology_levels(v, sub, r);
		break;
	case 0x80000008: /* AMD: cores minus one, and the APIC ID bits that number them */
		r[2] = (r[2] & ~0xf0ffu) | (n - 1) | (shift << 12);
		break;
	case 0x8000001d: /* AMD cache topology */
		if (r[0] & 0x1f)
			r[0] = (r[0] & ~(0xfffu << 14)) | (cache_sharing((r[0] >> 5) & 7, n) << 14);
		break;
	case 0x8000001e: /* AMD: extended APIC ID, core ID (one thread), node 0 */
		cpuid_count(0x80000001, 0, m);
		if (m[2] & EXT1_ECX_TOPOEXT) {
			r[0] = v->id;
			r[1] = v->id & 0xff;
			r[2] = 0;
			r[3] = 0;
		}
		break;
	}
}

/* What every guest sees: the host's CPUID without virtualization and MONITOR, with the
 * hypervisor bit, Mica's leaves, and the partition's own topology. */
static inline void cpuid_common(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	if ((leaf & 0xf0000000u) == 0x40000000u) {
		r[0] = r[1] = r[2] = r[3] = 0;
		if (leaf == MICA_CPUID_SIGNATURE) {
			r[0] = MICA_CPUID_FEATURES;
			r[1] = r[2] = r[3] = MICA_SIG_EBX;
		} else if (leaf == MICA_CPUID_FEATURES) {
			r[0] = MICA_ABI_VERSION;
			r[1] = virt->hcall_insn;
			r[2] = (uint32_t)(arch_tsc_hz() / 1000);
		}
		return;
	}
	cpuid_count(leaf, sub, r);
	/* only leaves 1, 4, 0xB, 0x1F and 0x80000008, 0x8000001D/1E describe a topology */
	if ((leaf < 32 && ((1u << leaf) & 0x80000812u)) ||
	    (leaf >= 0x80000008u && leaf <= 0x8000001eu &&
	     ((1u << (leaf - 0x80000000u)) & 0x60000100u)))
		topology(v, leaf, sub, r);
	switch (leaf) {
	case 1:
		r[2] &= ~(LEAF1_ECX_VMX | LEAF1_ECX_MONITOR);
		r[2] |= LEAF1_ECX_HYPERVISOR;
		/* Without a PC platform every MTRR and machine-check MSR gets #GP: the CPUID
		 * must not promise them (found by attack_msr). */
		if (!v->irq.on)
			r[3] &= ~(LEAF1_EDX_MCE | LEAF1_EDX_MTRR | LEAF1_EDX_MCA);
		break;
	case 0x80000001:
		r[2] &= ~EXT1_ECX_SVM;
		break;
	case 0x8000000a: /* SVM features: none */
		r[0] = r[1] = r[2] = r[3] = 0;
		break;
	}
}

/* The bits that mirror the guest's own CR4: OSXSAVE (CPUID.1:ECX) and OSPKE (CPUID.7.0:ECX)
 * are the guest's, not Mica's (found by attack_arch). Leaves 1 and 7 only: reading the
 * guest's CR4 costs the hot path (leaf 0, the benchmark) nothing then. */
static void cpuid_guest_cr4(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	uint64_t cr0, cr3, cr4, efer;
	unsigned bits;

	if (leaf != 1 && (leaf != 7 || sub != 0))
		return;
	virt->get_paging(v, &cr0, &cr3, &cr4, &efer, &bits);
	if (leaf == 1)
		r[2] = (r[2] & ~LEAF1_ECX_OSXSAVE) | ((cr4 & (1ULL << 18)) ? LEAF1_ECX_OSXSAVE : 0);
	else
		r[2] = (r[2] & ~LEAF7_ECX_OSPKE) | ((cr4 & (1ULL << 22)) ? LEAF7_ECX_OSPKE : 0);
}

/* A guest with a PC platform (Linux) also learns about its x2APIC and TSC-deadline timer,
 * its topology, the KVM-compatible leaves, and loses what the platform does not offer. */
static void cpuid_platform(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	switch (leaf) {
	case KVM_COMPAT_BASE:
		r[0] = KVM_COMPAT_BASE + 1;
		r[1] = KVM_SIG_EBX;
		r[2] = KVM_SIG_ECX;
		r[3] = KVM_SIG_EDX;
		break;
	case KVM_COMPAT_BASE + 1:
		r[0] = KVM_FEATURE_NOP_IO_DELAY | KVM_FEATURE_CLOCKSOURCE2 |
		       KVM_FEATURE_CLOCKSOURCE_STABLE | KVM_FEATURE_PV_EOI;
		break;
	case 1:
		r[2] |= LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE;
		r[2] &= ~(LEAF1_ECX_EST | LEAF1_ECX_TM2);
		r[3] &= ~(LEAF1_EDX_ACPI | LEAF1_EDX_TM | LEAF1_EDX_PBE); /* no thermal MSRs */
		break;
	case 0xd:
		if (sub == 1)
			r[0] &= ~LEAFD1_EAX_XSAVES; /* IA32_XSS is not offered */
		break;
	case 6: /* no thermal or power MSRs: only "the APIC timer never stops in C-states" */
		r[0] = LEAF6_EAX_ARAT;
		r[1] = r[2] = r[3] = 0;
		break;
	case 7:
		if (sub == 0)
			r[1] &= ~LEAF7_EBX_TSC_ADJUST; /* the guest's TSC is the host's */
		break;
	case 0xa: /* no performance counters: their MSRs are not offered */
		r[0] = r[1] = r[2] = r[3] = 0;
		break;
	}
}

static void set_result(struct vcpu *v, const uint32_t r[4], unsigned insn_len)
{
	v->regs.gpr[REG_RAX] = r[0];
	v->regs.gpr[REG_RBX] = r[1];
	v->regs.gpr[REG_RCX] = r[2];
	v->regs.gpr[REG_RDX] = r[3];
	v->regs.rip += insn_len;
}

static void __attribute__((noinline)) exit_cpuid_platform(struct vcpu *v, unsigned insn_len)
{
	uint32_t leaf = (uint32_t)v->regs.gpr[REG_RAX], sub = (uint32_t)v->regs.gpr[REG_RCX];
	uint32_t r[4];

	cpuid_common(v, leaf, sub, r);
	cpuid_guest_cr4(v, leaf, sub, r);
	cpuid_platform(v, leaf, sub, r);
	set_result(v, r, insn_len);
}

/* Leaves 1 and 7 (and 3, 5) of a guest without a PC platform: the common answer, then the
 * guest's CR4. */
static void __attribute__((noinline)) exit_cpuid_cr4(struct vcpu *v, unsigned insn_len)
{
	uint32_t leaf = (uint32_t)v->regs.gpr[REG_RAX], sub = (uint32_t)v->regs.gpr[REG_RCX];
	uint32_t r[4];

	cpuid_common(v, leaf, sub, r);
	cpuid_guest_cr4(v, leaf, sub, r);
	set_result(v, r, insn_len);
}

/* The hot path (a tiny guest's CPUID is the benchmark) stays free of the platform's work. */
void vcpu_exit_cpuid(struct vcpu *v, unsigned insn_len)
{
	uint32_t r[4];

	v->exits[EXIT_CPUID]++;
	if (__builtin_expect(!insn_len, 0))
		insn_len = vcpu_insn_len(v, INSN_CPUID, 2);
	if (v->irq.on) {
		exit_cpuid_platform(v, insn_len);
		return;
	}
	uint32_t leaf = (uint32_t)v->regs.gpr[REG_RAX];
	/* Leaves 1, 3, 5 and 7 in one test (1 and 7 mirror CR4; 3 and 5 lose nothing there) */
	if (__builtin_expect(((leaf - 1) & ~6u) == 0, 0)) {
		exit_cpuid_cr4(v, insn_len);
		return;
	}
	cpuid_common(v, leaf, (uint32_t)v->regs.gpr[REG_RCX], r);
	set_result(v, r, insn_len);
	/* no partition_check(): the backend's vcpu_may_enter() looks before the entry */
}
