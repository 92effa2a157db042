/* kernel/platform/vpm.c: PM timer from the TSC, PM1 status/enable/control, sleep and reset. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/platform/vpm.h"

#define TSC_HZ 2494331007ull

static struct vpm pm;
static uint64_t now;

static void init(void)
{
	memset(&pm, 0xa5, sizeof(pm));
	now = 987654321;
	vpm_reset(&pm, ACPI_PM1A_EVT_PORT, ACPI_PM1A_CNT_PORT, ACPI_PM_TMR_PORT, TSC_HZ, now);
}

TestSuite(vpm, .init = init);

static uint32_t in(uint16_t port, unsigned size)
{
	return vpm_read(&pm, port, size, now);
}

static int out(uint16_t port, unsigned size, uint32_t v)
{
	return vpm_write(&pm, port, size, v, now);
}

static uint64_t pm_ticks(uint64_t dt)
{
	return (uint64_t)((unsigned __int128)dt * ACPI_PM_TMR_HZ / TSC_HZ);
}

static uint64_t tsc_after(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * TSC_HZ + ACPI_PM_TMR_HZ - 1) /
			  ACPI_PM_TMR_HZ);
}

Test(vpm, reset_state)
{
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 2), 0);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT + 2, 2), 0);
	cr_expect_eq(in(ACPI_PM1A_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN);
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), 0);
	cr_expect_eq(in(ACPI_RESET_PORT, 1), 0);
	cr_expect_eq(vpm_sci_level(&pm), 0);
	cr_expect_eq(vpm_next_event(&pm), 0);
}

Test(vpm, claims)
{
	cr_expect(vpm_claims(&pm, 0x600, 2));
	cr_expect(vpm_claims(&pm, 0x600, 4));
	cr_expect(vpm_claims(&pm, 0x602, 2));
	cr_expect(vpm_claims(&pm, 0x603, 1));
	cr_expect(!vpm_claims(&pm, 0x603, 2), "straddles into PM1_CNT");
	cr_expect(vpm_claims(&pm, 0x604, 2));
	cr_expect(!vpm_claims(&pm, 0x604, 4));
	cr_expect(!vpm_claims(&pm, 0x606, 1));
	cr_expect(vpm_claims(&pm, 0x608, 4));
	cr_expect(vpm_claims(&pm, 0x60a, 2));
	cr_expect(!vpm_claims(&pm, 0x60c, 1));
	cr_expect(!vpm_claims(&pm, 0x608, 3));
	cr_expect(vpm_claims(&pm, 0xcf9, 1));
	cr_expect(!vpm_claims(&pm, 0xcf8, 4), "PCI CONFIG_ADDRESS");
	cr_expect(!vpm_claims(&pm, 0xcf9, 2));
	cr_expect_eq(in(0x606, 2), 0xffff);
	cr_expect_eq(in(0xcf8, 4), 0xffffffff);
	cr_expect_eq(out(0xcf8, 4, 0x80000000), VPM_NONE);
}

Test(vpm, timer_follows_tsc)
{
	uint64_t t0 = now;
	uint32_t prev = 0;

	for (int i = 0; i < 10000; i++) {
		uint32_t v;

		now += 1234567; /* ~0.5 ms */
		v = in(ACPI_PM_TMR_PORT, 4);
		cr_assert_eq(v, (uint32_t)pm_ticks(now - t0));
		cr_assert_gt(v, prev);
		prev = v;
	}
	/* One second of TSC is exactly 3579545 counts. */
	now = t0 + TSC_HZ;
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), ACPI_PM_TMR_HZ);
	/* Narrow reads see the same value's bytes. */
	uint32_t v = in(ACPI_PM_TMR_PORT, 4);
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 2), v & 0xffff);
	cr_expect_eq(in(ACPI_PM_TMR_PORT + 2, 2), v >> 16);
	cr_expect_eq(in(ACPI_PM_TMR_PORT + 3, 1), v >> 24);
	/* Writes do nothing. */
	cr_expect_eq(out(ACPI_PM_TMR_PORT, 4, 0), VPM_NONE);
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), v);
}

Test(vpm, timer_wraps_at_2_32)
{
	uint64_t t0 = now, wrap = t0 + tsc_after(1ull << 32);

	now = wrap - 1;
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), 0xffffffffu);
	now = wrap;
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), 0);
	now = wrap + tsc_after(10);
	cr_expect_eq(in(ACPI_PM_TMR_PORT, 4), (uint32_t)pm_ticks(now - t0));
	/* Monotonic modulo 2^32 across several wraps (20 minutes of TSC time). */
	uint32_t prev = in(ACPI_PM_TMR_PORT, 4);
	for (int i = 0; i < 1200; i++) {
		uint32_t v;

		now += TSC_HZ;
		v = in(ACPI_PM_TMR_PORT, 4);
		cr_assert_eq((uint32_t)(v - prev), (uint32_t)(pm_ticks(now - t0) -
							     pm_ticks(now - TSC_HZ - t0)));
		prev = v;
	}
}

Test(vpm, tmr_sts_and_sci)
{
	uint64_t t0 = now, half = t0 + tsc_after(1ull << 31);

	cr_expect_eq(out(ACPI_PM1A_EVT_PORT + 2, 2, VPM_STS_TMR), VPM_NONE); /* TMR_EN */
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT + 2, 2), VPM_STS_TMR);
	cr_expect_eq(vpm_next_event(&pm), half);
	vpm_update(&pm, half - 1);
	cr_expect_eq(vpm_sci_level(&pm), 0);
	vpm_update(&pm, half);
	cr_expect_eq(vpm_sci_level(&pm), 1);
	cr_expect_eq(vpm_next_event(&pm), 0, "already set");
	now = half + 5;
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 2), VPM_STS_TMR);
	/* Write one to clear; writing zero leaves it. */
	out(ACPI_PM1A_EVT_PORT, 2, 0);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 2), VPM_STS_TMR);
	out(ACPI_PM1A_EVT_PORT, 2, VPM_STS_TMR);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 2), 0);
	cr_expect_eq(vpm_sci_level(&pm), 0);
	cr_expect_eq(vpm_next_event(&pm), t0 + tsc_after(2ull << 31));
	/* A late update still sets it once; disabled, it sets status but no SCI. */
	out(ACPI_PM1A_EVT_PORT + 2, 2, 0);
	now = t0 + tsc_after(5ull << 31);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 2), VPM_STS_TMR);
	cr_expect_eq(vpm_sci_level(&pm), 0);
	cr_expect_eq(vpm_next_event(&pm), 0);
	/* A 32-bit write covers both: clear TMR_STS and enable GBL/PWRBTN. */
	out(ACPI_PM1A_EVT_PORT, 4, (uint32_t)(VPM_STS_PWRBTN | VPM_STS_GBL) << 16 | 0xffff);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT, 4), (uint32_t)(VPM_STS_PWRBTN | VPM_STS_GBL) << 16);
	/* Reserved enable bits do not stick. */
	out(ACPI_PM1A_EVT_PORT + 2, 2, 0xffff);
	cr_expect_eq(in(ACPI_PM1A_EVT_PORT + 2, 2), VPM_EN_MASK);
}

Test(vpm, pm1_cnt)
{
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT, 2, 0), VPM_NONE);
	cr_expect_eq(in(ACPI_PM1A_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN, "SCI_EN always reads 1");
	out(ACPI_PM1A_CNT_PORT, 2, 0xffff & ~ACPI_PM1_CNT_SLP_EN);
	cr_expect_eq(in(ACPI_PM1A_CNT_PORT, 2), 0x1C03, "BM_RLD and SLP_TYP kept");
	cr_expect_eq(in(ACPI_PM1A_CNT_PORT + 1, 1), 0x1C);
}

Test(vpm, poweroff_s5)
{
	/* Linux: SLP_TYP first, then SLP_TYP | SLP_EN, on top of the value read. */
	uint16_t cnt = (uint16_t)in(ACPI_PM1A_CNT_PORT, 2);

	cnt |= ACPI_PM1_CNT_SLP_TYP(ACPI_SLP_TYP_S5);
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT, 2, cnt), VPM_NONE);
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT, 2, cnt | ACPI_PM1_CNT_SLP_EN), VPM_POWEROFF);
	cr_expect_eq(cnt | ACPI_PM1_CNT_SLP_EN, 0x3401);
	cr_expect_eq(pm.sleep_type, 5);
	cr_expect_eq(in(ACPI_PM1A_CNT_PORT, 2) & ACPI_PM1_CNT_SLP_EN, 0, "SLP_EN write-only");
	/* A byte write of the high half carries SLP_TYP and SLP_EN together. */
	init();
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT + 1, 1, 0x34), VPM_POWEROFF);
}

Test(vpm, other_sleep_types)
{
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT, 2, ACPI_PM1_CNT_SLP_TYP(3) | ACPI_PM1_CNT_SLP_EN),
		     VPM_SLEEP_UNSUPPORTED);
	cr_expect_eq(pm.sleep_type, 3);
	cr_expect_eq(out(ACPI_PM1A_CNT_PORT, 2, ACPI_PM1_CNT_SLP_EN), VPM_SLEEP_UNSUPPORTED);
	cr_expect_eq(pm.sleep_type, 0);
}

Test(vpm, reset_register)
{
	cr_expect_eq(out(ACPI_RESET_PORT, 1, 0x02), VPM_NONE);
	cr_expect_eq(in(ACPI_RESET_PORT, 1), 0x02);
	cr_expect_eq(out(ACPI_RESET_PORT, 1, ACPI_RESET_VALUE), VPM_RESET);
	cr_expect_eq(in(ACPI_RESET_PORT, 1), 0x06);
	cr_expect_eq(out(ACPI_RESET_PORT, 1, 0x0E), VPM_RESET);
	cr_expect_eq(out(ACPI_RESET_PORT, 1, 0x0A), VPM_NONE);
	cr_expect_eq(in(ACPI_RESET_PORT, 1), 0x0A);
}

Test(vpm, moved_ports)
{
	vpm_reset(&pm, 0xb000, 0xb004, 0xb008, TSC_HZ, now);
	cr_expect(!vpm_claims(&pm, ACPI_PM_TMR_PORT, 4));
	cr_expect(vpm_claims(&pm, 0xb008, 4));
	now += TSC_HZ;
	cr_expect_eq(in(0xb008, 4), pm_ticks(TSC_HZ));
	cr_expect_eq(out(0xb004, 2, 0x3400 | ACPI_PM1_CNT_SCI_EN), VPM_POWEROFF);
}

/* --- the GPE block ------------------------------------------------------------------- */

Test(vpm, gpe_block_absent_until_added)
{
	cr_expect_not(vpm_claims(&pm, ACPI_GPE0_PORT, 2));
	vpm_gpe_raise(&pm, 0);
	cr_expect_not(vpm_sci_level(&pm), "no block: nothing can rise");
	vpm_gpe_block(&pm, ACPI_GPE0_PORT);
	cr_expect(vpm_claims(&pm, ACPI_GPE0_PORT, 4));
	cr_expect(vpm_claims(&pm, ACPI_GPE0_PORT + 2, 2));
	cr_expect(vpm_claims(&pm, ACPI_GPE0_PORT + 3, 1));
	cr_expect_not(vpm_claims(&pm, ACPI_GPE0_PORT + 2, 4), "runs past the block");
	cr_expect_eq(in(ACPI_GPE0_PORT, 4), 0, "clear and disabled after the reset");
}

Test(vpm, gpe_raise_enable_clear)
{
	vpm_gpe_block(&pm, ACPI_GPE0_PORT);
	vpm_gpe_raise(&pm, ACPI_GPE_VMGENID);
	cr_expect_eq(in(ACPI_GPE0_PORT, 2), 1, "status set");
	cr_expect_not(vpm_sci_level(&pm), "not enabled: no SCI");
	cr_expect_eq(out(ACPI_GPE0_PORT + 2, 2, 1), VPM_NONE);
	cr_expect_eq(in(ACPI_GPE0_PORT + 2, 2), 1, "enable reads back");
	cr_expect(vpm_sci_level(&pm), "enabled and set: SCI");
	/* Writing zero to the status changes nothing; writing one clears it. */
	out(ACPI_GPE0_PORT, 2, 0);
	cr_expect(vpm_sci_level(&pm));
	out(ACPI_GPE0_PORT, 1, 1);
	cr_expect_eq(in(ACPI_GPE0_PORT, 4), 0x10000, "status clear, enable kept");
	cr_expect_not(vpm_sci_level(&pm));
	/* A dword write sets the enables and clears the statuses in one go. */
	vpm_gpe_raise(&pm, 3);
	vpm_gpe_raise(&pm, 15);
	vpm_gpe_raise(&pm, 16); /* no such event: ignored */
	cr_expect_eq(in(ACPI_GPE0_PORT, 2), 0x8008);
	out(ACPI_GPE0_PORT, 4, 0x80000008u);
	cr_expect_eq(in(ACPI_GPE0_PORT, 4), 0x80008000u);
	cr_expect(vpm_sci_level(&pm), "GPE 15 set and enabled");
	/* A byte write to the enable's high byte leaves the low byte. */
	out(ACPI_GPE0_PORT + 3, 1, 0);
	cr_expect_eq(in(ACPI_GPE0_PORT + 2, 2), 0);
	cr_expect_not(vpm_sci_level(&pm));
}
