/* kernel/platform/vlapic.c: x2APIC registers, #GP rules, priorities, IPIs and the timer. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/platform/vlapic.h"

#define TSC_HZ 3000000000ull /* 30 TSC ticks per bus tick */
#define BUS_HZ 100000000ull

static struct vlapic a;
static struct vlapic_ipi ipi;
static uint64_t now;

static void init(void)
{
	memset(&a, 0xa5, sizeof(a));
	memset(&ipi, 0, sizeof(ipi));
	now = 1000000;
	vlapic_reset(&a, 0, 1, TSC_HZ, BUS_HZ);
}

TestSuite(vlapic, .init = init);

static uint64_t rd(uint32_t msr)
{
	uint64_t v = 0xdeadbeef;
	int rc = vlapic_rdmsr(&a, msr, now, &v);

	cr_assert_eq(rc, 0, "rdmsr %#x: %d", msr, rc);
	return v;
}

static int wr(uint32_t msr, uint64_t v)
{
	return vlapic_wrmsr(&a, msr, v, now, &ipi);
}

static void enable(void)
{
	cr_assert_eq(wr(VLAPIC_REG_SVR, VLAPIC_SVR_ENABLE | 0xFF), 0);
}

/* Raises vector, injects it (IRR -> ISR) as the caller would. */
static void take(uint8_t vector)
{
	cr_assert_eq(vlapic_highest_pending(&a), vector);
	vlapic_accept(&a, vector);
}

Test(vlapic, reset_state)
{
	cr_expect_eq(rd(VLAPIC_MSR_APIC_BASE), 0xFEE00D00ull);
	cr_expect_eq(rd(VLAPIC_REG_ID), 0);
	cr_expect_eq(rd(VLAPIC_REG_VERSION), 0x00050014);
	cr_expect_eq(rd(VLAPIC_REG_TPR), 0);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0);
	cr_expect_eq(rd(VLAPIC_REG_LDR), 1);
	cr_expect_eq(rd(VLAPIC_REG_SVR), 0xFF);
	cr_expect_eq(rd(VLAPIC_REG_ESR), 0);
	cr_expect_eq(rd(VLAPIC_REG_ICR), 0);
	for (uint32_t m = VLAPIC_REG_LVT_TIMER; m <= VLAPIC_REG_LVT_ERROR; m++)
		cr_expect_eq(rd(m), VLAPIC_LVT_MASKED, "LVT %#x", m);
	for (uint32_t i = 0; i < 8; i++) {
		cr_expect_eq(rd(VLAPIC_REG_ISR0 + i), 0);
		cr_expect_eq(rd(VLAPIC_REG_TMR0 + i), 0);
		cr_expect_eq(rd(VLAPIC_REG_IRR0 + i), 0);
	}
	cr_expect_eq(rd(VLAPIC_REG_TMICT), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0);
	cr_expect_eq(rd(VLAPIC_REG_TDCR), 0);
	cr_expect_eq(rd(VLAPIC_MSR_TSC_DEADLINE), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(vlapic_eoi(&a), -1);

	vlapic_reset(&a, 5, 0, TSC_HZ, BUS_HZ);
	cr_expect_eq(rd(VLAPIC_MSR_APIC_BASE), 0xFEE00C00ull, "an AP has no BSP bit");
	cr_expect_eq(rd(VLAPIC_REG_ID), 5);
}

Test(vlapic, ldr_from_id)
{
	vlapic_reset(&a, 0x23, 0, TSC_HZ, BUS_HZ);
	cr_expect_eq(rd(VLAPIC_REG_LDR), 0x00020008);
	vlapic_reset(&a, 0x1F, 0, TSC_HZ, BUS_HZ);
	cr_expect_eq(rd(VLAPIC_REG_LDR), 0x00018000);
	vlapic_reset(&a, 0x12345, 0, TSC_HZ, BUS_HZ);
	cr_expect_eq(rd(VLAPIC_REG_LDR), 0x12340020);
}

Test(vlapic, apic_base_is_fixed)
{
	uint64_t base = rd(VLAPIC_MSR_APIC_BASE);

	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base), 0);
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base & ~VLAPIC_BASE_BSP), 0, "BSP bit is ignored");
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base & ~VLAPIC_BASE_X2APIC), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base & ~(VLAPIC_BASE_X2APIC | VLAPIC_BASE_ENABLE)),
		     MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base & ~VLAPIC_BASE_ENABLE), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base + 0x1000), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_MSR_APIC_BASE, base | 1), MICA_EINVAL);
	cr_expect_eq(rd(VLAPIC_MSR_APIC_BASE), base);
}

Test(vlapic, other_msrs_are_not_ours)
{
	uint64_t v;

	cr_expect_eq(vlapic_rdmsr(&a, 0x10, now, &v), MICA_ENOSYS);
	cr_expect_eq(vlapic_rdmsr(&a, 0x7FF, now, &v), MICA_ENOSYS);
	cr_expect_eq(vlapic_rdmsr(&a, 0x900, now, &v), MICA_ENOSYS);
	cr_expect_eq(wr(0xC0000080, 0), MICA_ENOSYS);
	cr_expect_eq(wr(0x900, 0), MICA_ENOSYS);
}

Test(vlapic, gp_on_bad_reads)
{
	static const uint32_t bad[] = { 0x800, 0x801, 0x804, 0x809, 0x80B, 0x80C, 0x80E,
					0x829, 0x82F, 0x831, 0x83A, 0x83F, 0x840, 0x8FF };
	uint64_t v;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(vlapic_rdmsr(&a, bad[i], now, &v), MICA_EINVAL, "rdmsr %#x", bad[i]);
}

Test(vlapic, gp_on_bad_writes)
{
	static const uint32_t read_only[] = { 0x802, 0x803, 0x80A, 0x80D, 0x810, 0x817, 0x818,
					      0x81F, 0x820, 0x827, 0x839, 0x831, 0x80E, 0x82F };

	enable();
	for (unsigned i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
		cr_expect_eq(wr(read_only[i], 0), MICA_EINVAL, "wrmsr %#x", read_only[i]);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 1), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_ESR, 1), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0x100), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_TPR, 1ull << 32), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_SVR, 0x11FF), MICA_EINVAL, "no EOI-broadcast suppression");
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0x4), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 1ull << 32), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_SELF_IPI, 0x130), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0x100 | 0x40), MICA_EINVAL, "no delivery mode");
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_MODE | 0x40), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_LVT_ERROR, 0x400 | 0x40), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT0, 0x80000), MICA_EINVAL);
	cr_expect_eq(wr(VLAPIC_REG_LVT_THERM, 0x8000), MICA_EINVAL, "no trigger mode");
	/* Read-only LVT bits (delivery status, remote IRR) are ignored, not faulted. */
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT0, 0x5000 | 0x700), 0);
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT0), 0x700);
	/* ICR reserved bits: 12, 13, 16, 17, 20..31. */
	static const int icr_bits[] = { 12, 13, 16, 17, 20, 25, 31 };
	for (unsigned i = 0; i < sizeof(icr_bits) / sizeof(icr_bits[0]); i++)
		cr_expect_eq(wr(VLAPIC_REG_ICR, 0x40 | (1ull << icr_bits[i])), MICA_EINVAL,
			     "ICR bit %d", icr_bits[i]);
	cr_expect_eq(rd(VLAPIC_REG_TPR), 0, "failed writes change nothing");
	cr_expect_eq(rd(VLAPIC_REG_ICR), 0);
}

Test(vlapic, register_readback)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0x42), 0);
	cr_expect_eq(rd(VLAPIC_REG_TPR), 0x42);
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT0, 0x700), 0); /* ExtINT, unmasked */
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT1, 0x400), 0); /* NMI */
	cr_expect_eq(wr(VLAPIC_REG_LVT_PERF, 0x10400), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_THERM, 0xFA), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_ERROR, 0xFE), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xB), 0);
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT0), 0x700);
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT1), 0x400);
	cr_expect_eq(rd(VLAPIC_REG_LVT_PERF), 0x10400);
	cr_expect_eq(rd(VLAPIC_REG_LVT_THERM), 0xFA);
	cr_expect_eq(rd(VLAPIC_REG_LVT_ERROR), 0xFE);
	cr_expect_eq(rd(VLAPIC_REG_LVT_TIMER), VLAPIC_TIMER_PERIODIC | 0xEC);
	cr_expect_eq(rd(VLAPIC_REG_TDCR), 0xB);
	cr_expect_eq(rd(VLAPIC_REG_SVR), 0x1FF);

	vlapic_set_irq(&a, 0x21, 0);
	vlapic_set_irq(&a, 0x5F, 1);
	vlapic_set_irq(&a, 0xE0, 0);
	cr_expect_eq(rd(VLAPIC_REG_IRR0 + 1), 2);
	cr_expect_eq(rd(VLAPIC_REG_IRR0 + 2), 0x80000000u);
	cr_expect_eq(rd(VLAPIC_REG_IRR0 + 7), 1);
	cr_expect_eq(rd(VLAPIC_REG_TMR0 + 2), 0x80000000u);
	cr_expect_eq(rd(VLAPIC_REG_TMR0 + 1), 0);
	vlapic_accept(&a, 0xE0);
	cr_expect_eq(rd(VLAPIC_REG_IRR0 + 7), 0);
	cr_expect_eq(rd(VLAPIC_REG_ISR0 + 7), 1);
}

Test(vlapic, software_disable)
{
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT0, 0x700), 0);
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT0), 0x700 | VLAPIC_LVT_MASKED,
		     "mask cannot be cleared while disabled");
	cr_expect_eq(vlapic_set_irq(&a, 0x40, 0), 0, "disabled APIC accepts no fixed interrupt");
	cr_expect_eq(vlapic_highest_pending(&a), -1);

	enable();
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT0), 0x700 | VLAPIC_LVT_MASKED, "stays masked");
	cr_expect_eq(wr(VLAPIC_REG_LVT_LINT0, 0x700), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0x30), 0);
	cr_expect_eq(vlapic_set_irq(&a, 0x40, 0), 1);
	cr_expect_eq(vlapic_highest_pending(&a), 0x40);

	cr_expect_eq(wr(VLAPIC_REG_SVR, 0xFF), 0);
	cr_expect_eq(rd(VLAPIC_REG_LVT_LINT0), 0x700 | VLAPIC_LVT_MASKED);
	cr_expect_eq(rd(VLAPIC_REG_LVT_TIMER), 0x30 | VLAPIC_LVT_MASKED);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "nothing is delivered while disabled");
	cr_expect_eq(rd(VLAPIC_REG_IRR0 + 2), 1, "but IRR is held");
	enable();
	cr_expect_eq(vlapic_highest_pending(&a), 0x40);
}

Test(vlapic, priorities_nested)
{
	enable();
	cr_expect_eq(vlapic_set_irq(&a, 0x31, 0), 1);
	cr_expect_eq(vlapic_set_irq(&a, 0x45, 0), 1);
	cr_expect_eq(vlapic_set_irq(&a, 0x45, 0), 0, "merged with the pending one");
	take(0x45);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x40);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "0x31 is below the in-service class");
	vlapic_set_irq(&a, 0x4F, 0);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "same class as in-service: held");
	vlapic_set_irq(&a, 0x50, 0);
	take(0x50); /* nests */
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x50);
	cr_expect_eq(vlapic_highest_pending(&a), -1);

	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0); /* retires 0x50 */
	cr_expect_eq(rd(VLAPIC_REG_ISR0 + 2), 1u << 5);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x40);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "0x4F still blocked by 0x45");
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0); /* retires 0x45 */
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0);
	take(0x4F);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0);
	take(0x31);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0, "EOI with nothing in service is harmless");
}

Test(vlapic, tpr_and_ppr)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0x50), 0);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x50);
	vlapic_set_irq(&a, 0x5F, 0);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "class 5 does not beat TPR class 5");
	vlapic_set_irq(&a, 0x60, 0);
	take(0x60);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x60, "ISR class above TPR");
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0x7A), 0);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x7A, "TPR class above ISR: PPR = TPR");
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0x65), 0);
	cr_expect_eq(rd(VLAPIC_REG_PPR), 0x65, "equal classes: PPR = TPR");
	cr_expect_eq(wr(VLAPIC_REG_TPR, 0), 0);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0);
	cr_expect_eq(vlapic_highest_pending(&a), 0x5F, "lowering TPR releases it");
}

Test(vlapic, eoi_reports_level_vectors)
{
	enable();
	vlapic_set_irq(&a, 0x61, 1);
	vlapic_set_irq(&a, 0x30, 0);
	take(0x61);
	cr_expect_eq(rd(VLAPIC_REG_TMR0 + 3), 2);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), VLAPIC_WR_EOI);
	cr_expect_eq(ipi.vector, 0x61);
	take(0x30);
	cr_expect_eq(wr(VLAPIC_REG_EOI, 0), 0, "edge vector: nothing to report");
	cr_expect_eq(vlapic_eoi(&a), -1);

	/* The same vector arriving edge later clears its TMR bit. */
	vlapic_set_irq(&a, 0x61, 0);
	cr_expect_eq(rd(VLAPIC_REG_TMR0 + 3), 0);
	take(0x61);
	cr_expect_eq(vlapic_eoi(&a), -1);
}

Test(vlapic, illegal_vectors_and_esr)
{
	enable();
	cr_expect_eq(vlapic_set_irq(&a, 15, 0), 0);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(rd(VLAPIC_REG_ESR), 0, "not latched before an ESR write");
	cr_expect_eq(wr(VLAPIC_REG_ESR, 0), 0);
	cr_expect_eq(rd(VLAPIC_REG_ESR), VLAPIC_ESR_RECV_ILLEGAL);
	cr_expect_eq(wr(VLAPIC_REG_ESR, 0), 0);
	cr_expect_eq(rd(VLAPIC_REG_ESR), 0, "cleared by the next write");

	/* With the error LVT unmasked, an error raises its vector. */
	cr_expect_eq(wr(VLAPIC_REG_LVT_ERROR, 0xFE), 0);
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x000000000000000Bull), 0, "fixed vector 11: not sent");
	cr_expect_eq(vlapic_highest_pending(&a), 0xFE);
	cr_expect_eq(wr(VLAPIC_REG_ESR, 0), 0);
	cr_expect_eq(rd(VLAPIC_REG_ESR), VLAPIC_ESR_SEND_ILLEGAL);
	cr_expect_eq(wr(VLAPIC_REG_SELF_IPI, 3), 0);
	cr_expect_eq(wr(VLAPIC_REG_ESR, 0), 0);
	cr_expect_eq(rd(VLAPIC_REG_ESR), VLAPIC_ESR_SEND_ILLEGAL);
}

Test(vlapic, ipi_encoding)
{
	enable();
	/* Fixed, physical, no shorthand. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000700000041ull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.vector, 0x41);
	cr_expect_eq(ipi.mode, VLAPIC_DM_FIXED);
	cr_expect_eq(ipi.logical, 0);
	cr_expect_eq(ipi.shorthand, VLAPIC_SH_NONE);
	cr_expect_eq(ipi.dest, 7);
	cr_expect_eq(rd(VLAPIC_REG_ICR), 0x0000000700000041ull);

	/* Logical, lowest priority, cluster 1 CPUs 0 and 2. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0001000500000942ull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.mode, VLAPIC_DM_LOWEST);
	cr_expect_eq(ipi.logical, 1);
	cr_expect_eq(ipi.dest, 0x00010005);

	/* Every shorthand. */
	static const uint8_t sh[] = { VLAPIC_SH_NONE, VLAPIC_SH_SELF, VLAPIC_SH_ALL,
				      VLAPIC_SH_OTHERS };
	for (unsigned i = 0; i < 4; i++) {
		cr_expect_eq(wr(VLAPIC_REG_ICR, (uint64_t)sh[i] << 18 | 0xF3), VLAPIC_WR_IPI);
		cr_expect_eq(ipi.shorthand, sh[i]);
		cr_expect_eq(ipi.vector, 0xF3);
	}

	/* NMI (Linux: APIC_DM_NMI, vector field 0). */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000300000400ull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.mode, VLAPIC_DM_NMI);
	cr_expect_eq(ipi.dest, 3);

	/* INIT assert (level, assert), then the de-assert Linux still sends: dropped. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x000000020000C500ull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.mode, VLAPIC_DM_INIT);
	cr_expect_eq(ipi.level_trig, 1);
	cr_expect_eq(ipi.dest, 2);
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000200008500ull), 0);
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000200000500ull), VLAPIC_WR_IPI, "edge INIT");

	/* STARTUP with start page 0x9A. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x000000020000069Aull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.mode, VLAPIC_DM_STARTUP);
	cr_expect_eq(ipi.vector, 0x9A);

	/* SMI and reserved modes: accepted, nothing sent. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000100000200ull), 0);
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000100000340ull), 0);
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0x0000000100000740ull), 0);
	cr_expect_eq(rd(VLAPIC_REG_ICR), 0x0000000100000740ull);

	/* Broadcast to all but self. */
	cr_expect_eq(wr(VLAPIC_REG_ICR, 0xFFFFFFFF000C00FDull), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.shorthand, VLAPIC_SH_OTHERS);
}

Test(vlapic, self_ipi)
{
	vlapic_reset(&a, 9, 0, TSC_HZ, BUS_HZ);
	enable();
	cr_expect_eq(wr(VLAPIC_REG_SELF_IPI, 0xD1), VLAPIC_WR_IPI);
	cr_expect_eq(ipi.vector, 0xD1);
	cr_expect_eq(ipi.mode, VLAPIC_DM_FIXED);
	cr_expect_eq(ipi.shorthand, VLAPIC_SH_SELF);
	cr_expect_eq(ipi.dest, 9);
	cr_expect_eq(ipi.level_trig, 0);
	cr_expect_eq(rd(VLAPIC_REG_ICR), 0, "SELF_IPI does not touch ICR");
}

Test(vlapic, destinations)
{
	vlapic_reset(&a, 0x23, 0, TSC_HZ, BUS_HZ);
	cr_expect(vlapic_accepts(&a, 0x23, 0));
	cr_expect(!vlapic_accepts(&a, 0x22, 0));
	cr_expect(!vlapic_accepts(&a, 0x123, 0));
	cr_expect(vlapic_accepts(&a, VLAPIC_BROADCAST, 0));
	cr_expect(vlapic_accepts(&a, VLAPIC_BROADCAST, 1));
	cr_expect(vlapic_accepts(&a, 0x00020008, 1));
	cr_expect(vlapic_accepts(&a, 0x0002FFFF, 1), "whole cluster");
	cr_expect(vlapic_accepts(&a, 0x0002000C, 1));
	cr_expect(!vlapic_accepts(&a, 0x00020004, 1), "other CPU of the cluster");
	cr_expect(!vlapic_accepts(&a, 0x00010008, 1), "other cluster");
	cr_expect(!vlapic_accepts(&a, 0x00000008, 1));

	vlapic_reset(&a, 3, 0, TSC_HZ, BUS_HZ);
	cr_expect(vlapic_accepts(&a, 0x0F, 1), "cluster 0, low bits (an IOAPIC's 8-bit dest)");
	cr_expect(!vlapic_accepts(&a, 0xF7, 1));
	cr_expect(vlapic_accepts(&a, rd(VLAPIC_REG_LDR), 1), "its own LDR");
}

/* Timer: one-shot, divide by 1: 30 TSC ticks per count. */
Test(vlapic, timer_oneshot)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xB), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xEC), 0);
	uint64_t start = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 1000), 0);
	cr_expect_eq(vlapic_timer_next(&a), start + 30000);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 1000);
	now = start + 29;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 1000, "less than one count");
	now = start + 30;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 999);
	now = start + 15000;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 500);
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "not yet");
	now = start + 29999;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 1);
	now = start + 30000;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0, "reads 0 at expiry, before the update");
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEC);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMICT), 1000, "initial count is kept");
	take(0xEC);
	vlapic_eoi(&a);
	now += 1000000;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1, "one-shot fires once");
}

Test(vlapic, timer_masked_still_counts)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_LVT_MASKED | 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 10), 0); /* divide by 2: 600 TSC ticks */
	cr_expect_eq(vlapic_timer_next(&a), now + 600);
	now += 600;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(vlapic_timer_next(&a), 0, "expired without an interrupt");
}

Test(vlapic, timer_stop_and_restart)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100), 0);
	cr_expect_neq(vlapic_timer_next(&a), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 0), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0, "initial count 0 stops the timer");
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0);
	now += 1000000;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1);

	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100), 0);
	now += 3000;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 50);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 100, "a write restarts the count");
	cr_expect_eq(vlapic_timer_next(&a), now + 6000);
}

Test(vlapic, timer_divide_values)
{
	static const struct { uint32_t tdcr, div; } tab[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xA, 128 }, { 0xB, 1 },
	};

	enable();
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xEC), 0);
	for (unsigned i = 0; i < 8; i++) {
		cr_expect_eq(wr(VLAPIC_REG_TDCR, tab[i].tdcr), 0);
		cr_expect_eq(wr(VLAPIC_REG_TMICT, 1000), 0);
		cr_expect_eq(vlapic_timer_next(&a), now + 1000ull * tab[i].div * 30,
			     "tdcr %#x", tab[i].tdcr);
		uint64_t t0 = now;
		now = t0 + 30ull * tab[i].div * 250 - 1;
		cr_expect_eq(rd(VLAPIC_REG_TMCCT), 751, "tdcr %#x", tab[i].tdcr);
		now = t0 + 30ull * tab[i].div * 250;
		cr_expect_eq(rd(VLAPIC_REG_TMCCT), 750, "tdcr %#x", tab[i].tdcr);
	}
}

/* Expiry n of a periodic run from origin: the first TSC at which n * period bus ticks
 * have elapsed, computed independently with 128-bit arithmetic. */
static uint64_t nth_expiry(uint64_t origin, uint64_t n, uint64_t period_bus, uint64_t tsc_hz,
			   uint64_t bus_hz)
{
	unsigned __int128 x = (unsigned __int128)n * period_bus * tsc_hz;

	return origin + (uint64_t)((x + bus_hz - 1) / bus_hz);
}

Test(vlapic, timer_periodic_no_drift)
{
	/* A ratio that is not an integer: every period has a fractional TSC length. */
	const uint64_t tsc_hz = 2999999999ull, bus_hz = 133333333ull;

	vlapic_reset(&a, 0, 1, tsc_hz, bus_hz);
	enable();
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0x3), 0); /* 16 */
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	uint64_t origin = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 12345), 0);
	for (uint64_t n = 1; n <= 200000; n++) {
		uint64_t want = nth_expiry(origin, n, 12345ull * 16, tsc_hz, bus_hz);
		uint64_t next = vlapic_timer_next(&a);
		if (next != want)
			cr_assert_fail("period %llu: next %llu, expected %llu", (unsigned long long)n,
				       (unsigned long long)next, (unsigned long long)want);
		now = next - 1;
		vlapic_timer_update(&a, now);
		if (vlapic_highest_pending(&a) != -1)
			cr_assert_fail("period %llu fired early", (unsigned long long)n);
		now = next;
		vlapic_timer_update(&a, now);
		if (vlapic_highest_pending(&a) != 0xEC)
			cr_assert_fail("period %llu did not fire", (unsigned long long)n);
		vlapic_accept(&a, 0xEC);
		vlapic_eoi(&a);
	}
}

Test(vlapic, timer_periodic_late_and_current_count)
{
	/* 30 TSC ticks per bus tick as elsewhere, but a bus slow enough that a period of 100
	 * ticks (1 ms) is above the 200 us minimum. */
	vlapic_reset(&a, 0, 1, 3000000, 100000);
	enable();
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xB), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	uint64_t origin = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100), 0); /* 3000 TSC ticks per period */
	now = origin + 2999;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 1);
	now = origin + 3000;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 100, "reloaded");
	now = origin + 3030;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 99);

	/* The caller is 10.5 periods late: one interrupt, next at the 11th boundary. */
	now = origin + 31500;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 50);
	vlapic_timer_update(&a, now);
	take(0xEC);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(vlapic_timer_next(&a), origin + 33000);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 50, "count unchanged by the update");
	vlapic_eoi(&a);
	now = origin + 33000;
	vlapic_timer_update(&a, now);
	take(0xEC);
	cr_expect_eq(vlapic_timer_next(&a), origin + 36000);

	/* Current count never increases within a period. */
	uint32_t last = 101;
	for (now = origin + 36000; now < origin + 39000; now += 7) {
		uint32_t c = (uint32_t)rd(VLAPIC_REG_TMCCT);
		cr_assert(c <= last && c >= 1 && c <= 100, "count %u after %u", c, last);
		last = c;
	}
}

Test(vlapic, timer_mode_switch_disarms)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 1000), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xED), 0, "same mode: still armed");
	cr_expect_neq(vlapic_timer_next(&a), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMICT), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0);

	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now + 500), 0);
	cr_expect_eq(vlapic_timer_next(&a), now + 500);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, 0xEC), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0, "leaving deadline mode disarms");
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xEC), 0);
	cr_expect_eq(rd(VLAPIC_MSR_TSC_DEADLINE), 0, "and the old deadline is gone");
}

Test(vlapic, tsc_deadline)
{
	enable();
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now + 100), 0, "ignored outside deadline mode");
	cr_expect_eq(rd(VLAPIC_MSR_TSC_DEADLINE), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0);

	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_DEADLINE | 0xEF), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 1000), 0, "ignored in deadline mode");
	cr_expect_eq(rd(VLAPIC_REG_TMICT), 0);
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0);

	uint64_t dl = now + 123456;
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, dl), 0);
	cr_expect_eq(rd(VLAPIC_MSR_TSC_DEADLINE), dl);
	cr_expect_eq(vlapic_timer_next(&a), dl);
	vlapic_timer_update(&a, dl - 1);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	now = dl + 5;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEF);
	cr_expect_eq(rd(VLAPIC_MSR_TSC_DEADLINE), 0, "reads 0 once fired");
	cr_expect_eq(vlapic_timer_next(&a), 0);
	take(0xEF);
	vlapic_eoi(&a);

	/* A deadline already in the past fires on the write. */
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now - 1), 0);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEF);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	take(0xEF);
	vlapic_eoi(&a);
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, 1), 0);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEF);
	take(0xEF);
	vlapic_eoi(&a);

	/* Writing 0 disarms; re-arming replaces the deadline. */
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now + 10), 0);
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, 0), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	vlapic_timer_update(&a, now + 1000);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now + 10), 0);
	cr_expect_eq(wr(VLAPIC_MSR_TSC_DEADLINE, now + 20), 0);
	cr_expect_eq(vlapic_timer_next(&a), now + 20);

	/* Masked: the deadline passes without an interrupt. */
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_DEADLINE | VLAPIC_LVT_MASKED | 0xEF),
		     0);
	vlapic_timer_update(&a, now + 20);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	cr_expect_eq(vlapic_timer_next(&a), 0);
}

Test(vlapic, timer_large_values)
{
	/* Longest run (2^32-1 counts, divide by 128) at a high TSC rate, late in TSC time. */
	const uint64_t tsc_hz = 5000000000ull, bus_hz = 1000000000ull;

	vlapic_reset(&a, 0, 1, tsc_hz, bus_hz);
	enable();
	now = 0xF000000000000000ull;
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xA), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	uint64_t origin = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 0xFFFFFFFF), 0);
	uint64_t period = 0xFFFFFFFFull * 128 * 5;
	cr_expect_eq(vlapic_timer_next(&a), origin + period);
	now = origin + period / 2;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 0xFFFFFFFFull - (period / 2) / 5 / 128);
	now = origin + 1000 * period + 7;
	vlapic_timer_update(&a, now);
	take(0xEC);
	cr_expect_eq(vlapic_timer_next(&a), origin + 1001 * period);

	/* A bus clock faster than the TSC, and a ratio that leaves a remainder. */
	vlapic_reset(&a, 0, 1, 1000000007ull, 3000000000ull);
	enable();
	now = 0x7FFFFFFFFFFFFFFFull;
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xB), 0);
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	origin = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 0x80000000u), 0);
	for (uint64_t n = 1; n <= 1000; n++) {
		uint64_t want = nth_expiry(origin, n, 0x80000000ull, 1000000007ull, 3000000000ull);
		cr_assert_eq(vlapic_timer_next(&a), want, "period %llu", (unsigned long long)n);
		now = want;
		vlapic_timer_update(&a, now);
		vlapic_accept(&a, 0xEC);
		vlapic_eoi(&a);
	}
	now = 0xFFFFFFFFFFFFFF00ull;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 0xFFFFFFFF), 0);
	cr_expect_eq(vlapic_timer_next(&a), UINT64_MAX, "saturates instead of wrapping");
}

Test(vlapic, timer_periodic_has_a_minimum_period)
{
	const uint64_t min_tsc = TSC_HZ / 1000000 * VLAPIC_MIN_PERIOD_US;

	enable();
	cr_expect_eq(wr(VLAPIC_REG_TDCR, 0xB), 0); /* divide by 1 */
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	uint64_t origin = now;
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 1), 0); /* the review's livelock: one tick */
	cr_expect_eq(vlapic_timer_next(&a), origin + min_tsc, "stretched to 200 us");
	now = origin + min_tsc / 2;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 1, "reads as counting from TMICT");
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), -1);
	now = origin + min_tsc;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEC);

	/* A count long enough keeps its own period. */
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 40000), 0); /* 400 us at 100 MHz */
	cr_expect_eq(vlapic_timer_next(&a), 0, "vector still pending: nothing to arm");
	take(0xEC);
	vlapic_eoi(&a);
	cr_expect_eq(vlapic_timer_next(&a), now + 40000 * 30);
	now += 20000 * 30;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT), 20000);
}

Test(vlapic, timer_periodic_not_rearmed_while_pending)
{
	enable();
	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100000), 0); /* divide by 2: 2 ms */
	uint64_t first = vlapic_timer_next(&a);
	now = first;
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_highest_pending(&a), 0xEC);
	cr_expect_eq(vlapic_timer_next(&a), 0, "the guest has interrupts off: no re-arming");
	now += 10 * (first - 1000000); /* ten periods later, still not taken */
	vlapic_timer_update(&a, now);
	cr_expect_eq(vlapic_timer_next(&a), 0);
	take(0xEC);
	cr_expect_gt(vlapic_timer_next(&a), now, "taken: the next period is armed again");

	cr_expect_eq(wr(VLAPIC_REG_LVT_TIMER, VLAPIC_LVT_MASKED | VLAPIC_TIMER_PERIODIC | 0xEC), 0);
	cr_expect_eq(wr(VLAPIC_REG_TMICT, 100000), 0);
	cr_expect_eq(vlapic_timer_next(&a), 0, "masked periodic: nothing to arm");
	now += 1000000000;
	cr_expect_eq(rd(VLAPIC_REG_TMCCT) <= 100000, 1, "but it counts");
}

/* KVM's PV EOI: only a lone, edge-triggered vector in service with nothing pending may be
 * ended by the guest without an EOI write. */
Test(vlapic, lazy_eoi_only_for_a_lone_edge_vector)
{
	enable();
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "nothing in service");
	vlapic_set_irq(&a, 0x41, 0);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "pending, not in service");
	vlapic_accept(&a, 0x41);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 1);
	vlapic_set_irq(&a, 0x30, 0);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "something pending behind it");
	vlapic_accept(&a, 0x30);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "two in service (nested)");
	cr_expect_eq(vlapic_eoi(&a), -1);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 1, "0x41 retired: 0x30 alone");
	cr_expect_eq(vlapic_eoi(&a), -1);

	vlapic_set_irq(&a, 0x91, 1);
	vlapic_accept(&a, 0x91);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "level-triggered: the IOAPIC needs the EOI");
	cr_expect_eq(vlapic_eoi(&a), 0x91);
	vlapic_set_irq(&a, 0xff, 0);
	vlapic_accept(&a, 0xff);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 1, "the last word's last bit");
	vlapic_set_irq(&a, 0x20, 0);
	vlapic_accept(&a, 0x20);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "0x20 and 0xff: two words");
	cr_expect_eq(vlapic_eoi(&a), -1);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 1, "0x20 alone, the first vector of its word");
	vlapic_set_irq(&a, 0x21, 0);
	vlapic_accept(&a, 0x21);
	cr_expect_eq(vlapic_lazy_eoi_ok(&a), 0, "0x20 and 0x21: the same word");
}
