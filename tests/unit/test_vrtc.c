/* kernel/platform/vrtc.c: the CMOS clock as Linux reads and sets it (BCD and binary, 12 and
 * 24 hours, SET, UIP), register C's flags, CMOS memory sizes, and the date arithmetic. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vrtc.h"
#include "lib/date.h"

#define HZ 1000000000ULL /* a 1 GHz TSC: one tick per nanosecond */
#define T0 5000ULL       /* the TSC at reset */
/* 2026-12-06 10:59:58 UTC, a Sunday */
#define UNIX 1796554798LL

static struct vrtc r;

static void setup(void)
{
	vrtc_reset(&r, UNIX, T0, HZ, 256ULL << 20);
}

TestSuite(vrtc, .init = setup);

static uint8_t rd(unsigned reg, uint64_t now)
{
	vrtc_write(&r, VRTC_PORT_INDEX, (uint8_t)reg, now);
	return vrtc_read(&r, VRTC_PORT_DATA, now);
}

static void wr(unsigned reg, uint8_t v, uint64_t now)
{
	vrtc_write(&r, VRTC_PORT_INDEX, (uint8_t)reg, now);
	vrtc_write(&r, VRTC_PORT_DATA, v, now);
}

Test(vrtc, dates)
{
	struct date tm;
	date_from_unix(0, &tm);
	cr_expect(tm.year == 1970 && tm.month == 1 && tm.mday == 1 && tm.wday == 4);
	date_from_unix(UNIX, &tm);
	cr_expect(tm.year == 2026 && tm.month == 12 && tm.mday == 6, "%u-%u-%u", tm.year,
		  tm.month, tm.mday);
	cr_expect(tm.hour == 10 && tm.min == 59 && tm.sec == 58 && tm.wday == 0);
	date_from_unix(951782400, &tm); /* 2000-02-29: a leap day in a year divisible by 400 */
	cr_expect(tm.year == 2000 && tm.month == 2 && tm.mday == 29);
	date_from_unix(4107542400LL, &tm); /* 2100-03-01: 2100 is not a leap year */
	cr_expect(tm.year == 2100 && tm.month == 3 && tm.mday == 1);
	for (int64_t t = 0; t < 4102444800LL; t += 86400 * 37 + 3601) {
		date_from_unix(t, &tm);
		cr_assert_eq(date_to_unix(&tm), t);
	}
}

Test(vrtc, reads_the_host_time_in_bcd_24h)
{
	cr_expect_eq(rd(VRTC_SEC, T0), 0x58);
	cr_expect_eq(rd(VRTC_MIN, T0), 0x59);
	cr_expect_eq(rd(VRTC_HOUR, T0), 0x10);
	cr_expect_eq(rd(VRTC_WDAY, T0), 1, "Sunday is 1");
	cr_expect_eq(rd(VRTC_MDAY, T0), 0x06);
	cr_expect_eq(rd(VRTC_MONTH, T0), 0x12);
	cr_expect_eq(rd(VRTC_YEAR, T0), 0x26);
	cr_expect_eq(rd(VRTC_CENTURY, T0), 0x20);
	/* Three seconds later the minute and the hour have rolled over. */
	cr_expect_eq(rd(VRTC_SEC, T0 + 3 * HZ), 0x01);
	cr_expect_eq(rd(VRTC_MIN, T0 + 3 * HZ), 0x00);
	cr_expect_eq(rd(VRTC_HOUR, T0 + 3 * HZ), 0x11);
	cr_expect_eq(rd(VRTC_D, T0), 0x80);
	cr_expect_eq(rd(VRTC_A, T0), 0x26);
	cr_expect_eq(rd(VRTC_B, T0), 0x02);
}

Test(vrtc, binary_and_12_hour)
{
	wr(VRTC_B, VRTC_B_DM, T0); /* binary, 12-hour */
	cr_expect_eq(rd(VRTC_HOUR, T0), 10, "10 am");
	cr_expect_eq(rd(VRTC_YEAR, T0), 26);
	cr_expect_eq(rd(VRTC_MONTH, T0), 12);
	cr_expect_eq(rd(VRTC_HOUR, T0 + 2 * 3600 * HZ), 0x80 | 12, "12 pm: bit 7 and 12");
	cr_expect_eq(rd(VRTC_HOUR, T0 + 3 * 3600 * HZ), 0x80 | 1, "1 pm");
	wr(VRTC_B, 0, T0); /* BCD, 12-hour */
	cr_expect_eq(rd(VRTC_HOUR, T0 + 14 * 3600 * HZ), 0x12, "0:59 is 12 am");
}

Test(vrtc, set_stops_the_clock_and_moves_only_this_guest)
{
	/* Linux's mc146818_set_time: SET, write the fields, clear SET. */
	wr(VRTC_B, VRTC_B_SET | VRTC_B_24H, T0);
	cr_expect_eq(rd(VRTC_SEC, T0 + 5 * HZ), 0x58, "stopped while SET");
	cr_expect_eq(rd(VRTC_A, T0 + HZ - 1), 0x26, "no UIP while SET");
	wr(VRTC_YEAR, 0x30, T0);
	wr(VRTC_MONTH, 0x01, T0);
	wr(VRTC_MDAY, 0x02, T0);
	wr(VRTC_HOUR, 0x03, T0);
	wr(VRTC_MIN, 0x04, T0);
	wr(VRTC_SEC, 0x05, T0);
	wr(VRTC_B, VRTC_B_24H, T0 + 10 * HZ);
	cr_expect_eq(vrtc_time(&r, T0 + 10 * HZ), 1893553445LL, "2030-01-02 03:04:05");
	cr_expect_eq(rd(VRTC_SEC, T0 + 12 * HZ), 0x07, "runs on from there");
	cr_expect_eq(rd(VRTC_YEAR, T0 + 12 * HZ), 0x30);

	/* A field written while it runs takes effect at once. */
	wr(VRTC_MIN, 0x30, T0 + 12 * HZ);
	cr_expect_eq(rd(VRTC_MIN, T0 + 12 * HZ), 0x30);
	cr_expect_eq(rd(VRTC_SEC, T0 + 12 * HZ), 0x07);

	/* Nonsense left in the fields when SET is cleared changes nothing. */
	int64_t before = vrtc_time(&r, T0 + 20 * HZ);
	wr(VRTC_B, VRTC_B_SET | VRTC_B_24H, T0 + 20 * HZ);
	wr(VRTC_MONTH, 0x13, T0 + 20 * HZ);
	wr(VRTC_B, VRTC_B_24H, T0 + 20 * HZ);
	cr_expect_eq(vrtc_time(&r, T0 + 20 * HZ), before);
}

Test(vrtc, uip_before_each_second)
{
	cr_expect_eq(rd(VRTC_A, T0 + HZ - 245000) & VRTC_A_UIP, 0);
	cr_expect_eq(rd(VRTC_A, T0 + HZ - 243000) & VRTC_A_UIP, VRTC_A_UIP);
	cr_expect_eq(rd(VRTC_A, T0 + HZ) & VRTC_A_UIP, 0, "the second has turned");
	wr(VRTC_A, 0xFF, T0);
	cr_expect_eq(rd(VRTC_A, T0), 0x7F, "UIP is not writable");
	cr_expect_eq(rd(VRTC_A, T0 + HZ - 1) & VRTC_A_UIP, 0, "divider not running: no update");
}

Test(vrtc, register_c_flags)
{
	cr_expect_eq(rd(VRTC_C, T0 + 10), 0, "nothing yet");
	cr_expect_eq(rd(VRTC_C, T0 + HZ), VRTC_C_UF | VRTC_C_PF, "an update and 1024 Hz ticks");
	cr_expect_eq(rd(VRTC_C, T0 + HZ), 0, "cleared by the read");
	wr(VRTC_B, VRTC_B_24H | VRTC_B_UIE, T0 + HZ);
	cr_expect_eq(rd(VRTC_C, T0 + 2 * HZ), VRTC_C_IRQF | VRTC_C_UF | VRTC_C_PF);

	/* The alarm at 11:00:05 (the clock reads 10:59:58 at T0); minutes don't care. */
	wr(VRTC_A, 0x20, T0); /* no periodic rate */
	wr(VRTC_HOUR_ALARM, 0x11, T0);
	wr(VRTC_MIN_ALARM, 0xC0, T0);
	wr(VRTC_SEC_ALARM, 0x05, T0);
	wr(VRTC_B, VRTC_B_24H | VRTC_B_AIE, T0);
	cr_expect_eq(rd(VRTC_C, T0 + 3 * HZ), VRTC_C_UF, "11:00:01: no alarm yet");
	cr_expect_eq(rd(VRTC_C, T0 + 9 * HZ), VRTC_C_UF | VRTC_C_AF | VRTC_C_IRQF, "11:00:07");
	cr_expect_eq(rd(VRTC_C, T0 + 30 * HZ), VRTC_C_UF);
	cr_expect_eq(rd(VRTC_C, T0 + 67 * HZ), VRTC_C_UF | VRTC_C_AF | VRTC_C_IRQF,
		     "11:01:05 matches too: minutes don't care");
	wr(VRTC_C, 0xFF, T0);
	wr(VRTC_D, 0, T0);
	cr_expect_eq(rd(VRTC_D, T0), 0x80, "C and D are read-only");
}

Test(vrtc, cmos_memory_and_index)
{
	cr_expect_eq(rd(0x15, T0) | rd(0x16, T0) << 8, 640);
	cr_expect_eq(rd(0x17, T0) | rd(0x18, T0) << 8, 0xFFFF, "255 MiB in KiB: capped");
	cr_expect_eq(rd(0x34, T0) | rd(0x35, T0) << 8, (240 << 20) >> 16);
	vrtc_reset(&r, UNIX, T0, HZ, 32ULL << 20);
	cr_expect_eq(rd(0x17, T0) | rd(0x18, T0) << 8, 31 * 1024);
	cr_expect_eq(rd(0x30, T0) | rd(0x31, T0) << 8, 31 * 1024);
	cr_expect_eq(rd(0x34, T0) | rd(0x35, T0) << 8, (16 << 20) >> 16);
	cr_expect_eq(rd(0x5B, T0), 0);
	vrtc_reset(&r, UNIX, T0, HZ, 6ULL << 30);
	cr_expect_eq(rd(0x30, T0) | rd(0x31, T0) << 8, 0xFFFF, "capped");
	cr_expect_eq(rd(0x5B, T0) | rd(0x5C, T0) << 8 | rd(0x5D, T0) << 16, (2ULL << 30) >> 16);
	wr(0x40, 0xAB, T0);
	cr_expect_eq(rd(0x40, T0), 0xAB, "CMOS RAM keeps what is written");
	vrtc_write(&r, VRTC_PORT_INDEX, 0x80 | VRTC_MONTH, T0);
	cr_expect_eq(r.nmi_masked, 1);
	cr_expect_eq(vrtc_read(&r, VRTC_PORT_DATA, T0), 0x12, "bit 7 of the index is the NMI mask");
	cr_expect(vrtc_claims(0x70) && vrtc_claims(0x71) && !vrtc_claims(0x72));
}

Test(vrtc, irq8_when_an_enabled_flag_sets)
{
	cr_expect_eq(vrtc_next_irq(&r, T0), 0, "nothing enabled");
	cr_expect_eq(vrtc_irq_update(&r, T0 + 5 * HZ), 0);

	/* Update-ended interrupts: one per second, the line up until C is read. */
	wr(VRTC_B, VRTC_B_24H | VRTC_B_UIE, T0 + 10);
	cr_expect_eq(vrtc_next_irq(&r, T0 + 10), T0 + HZ);
	cr_expect_eq(vrtc_irq_update(&r, T0 + HZ - 1), 0, "not yet");
	cr_expect_eq(vrtc_irq_update(&r, T0 + HZ), 1, "the second turned");
	cr_expect_eq(vrtc_irq_update(&r, T0 + 2 * HZ), 0, "once until C is read");
	cr_expect_eq(vrtc_next_irq(&r, T0 + 2 * HZ), 0);
	cr_expect_eq(rd(VRTC_C, T0 + 2 * HZ) & (VRTC_C_IRQF | VRTC_C_UF), VRTC_C_IRQF | VRTC_C_UF);
	cr_expect_eq(vrtc_next_irq(&r, T0 + 2 * HZ), T0 + 3 * HZ);

	/* The alarm at 11:00:05: the clock reads 10:59:58 at T0. */
	wr(VRTC_HOUR_ALARM, 0x11, T0);
	wr(VRTC_MIN_ALARM, 0x00, T0);
	wr(VRTC_SEC_ALARM, 0x05, T0);
	wr(VRTC_B, VRTC_B_24H | VRTC_B_AIE, T0 + 2 * HZ);
	cr_expect_eq(vrtc_next_irq(&r, T0 + 2 * HZ), T0 + 7 * HZ);
	cr_expect_eq(vrtc_irq_update(&r, T0 + 7 * HZ), 1);
	cr_expect_eq(rd(VRTC_C, T0 + 7 * HZ), VRTC_C_IRQF | VRTC_C_AF | VRTC_C_UF | VRTC_C_PF,
		     "PF too: the 1024 Hz rate runs, only not enabled");
	cr_expect_eq(vrtc_next_irq(&r, T0 + 7 * HZ), T0 + 7 * HZ + 86400 * HZ, "tomorrow");

	/* Periodic at 2 Hz (rate 15: 2^14 / 32768 s). */
	wr(VRTC_A, 0x2F, T0);
	wr(VRTC_B, VRTC_B_24H | VRTC_B_PIE, T0 + 8 * HZ);
	rd(VRTC_C, T0 + 8 * HZ + 1);
	cr_expect_eq(vrtc_next_irq(&r, T0 + 8 * HZ + 1), T0 + 8 * HZ + HZ / 2);
	cr_expect_eq(vrtc_irq_update(&r, T0 + 8 * HZ + HZ / 2), 1);
}

Test(vrtc, alarms_that_cannot_match_and_sparse_alarms)
{
	/* An hour of 0x25 never comes: no interrupt is ever due, and no AF. */
	wr(VRTC_A, 0x20, T0);
	wr(VRTC_HOUR_ALARM, 0x25, T0);
	wr(VRTC_MIN_ALARM, 0xC0, T0);
	wr(VRTC_SEC_ALARM, 0xC0, T0);
	wr(VRTC_B, VRTC_B_24H | VRTC_B_AIE, T0);
	cr_expect_eq(vrtc_next_irq(&r, T0), 0);
	cr_expect_eq(rd(VRTC_C, T0 + 3 * 86400 * HZ) & VRTC_C_AF, 0);

	/* 10:59:57, one second before T0's 10:59:58: next match tomorrow. */
	wr(VRTC_HOUR_ALARM, 0x10, T0);
	wr(VRTC_MIN_ALARM, 0x59, T0);
	wr(VRTC_SEC_ALARM, 0x57, T0);
	cr_expect_eq(vrtc_next_irq(&r, T0), T0 + (86400 - 1) * HZ);
	/* Hours don't care, minute 0, second 30: 11:00:30, 32 s after T0. */
	wr(VRTC_HOUR_ALARM, 0xFF, T0);
	wr(VRTC_MIN_ALARM, 0x00, T0);
	wr(VRTC_SEC_ALARM, 0x30, T0);
	cr_expect_eq(vrtc_next_irq(&r, T0), T0 + 32 * HZ);
	cr_expect_eq(vrtc_next_irq(&r, T0 + 33 * HZ), T0 + 32 * HZ + 3600 * HZ, "12:00:30");
	/* Only the hour: 13:xx:xx starts 2 h 2 s after T0 (a fresh clock: C was read later). */
	vrtc_reset(&r, UNIX, T0, HZ, 256ULL << 20);
	wr(VRTC_A, 0x20, T0);
	wr(VRTC_B, VRTC_B_24H | VRTC_B_AIE, T0);
	wr(VRTC_HOUR_ALARM, 0x13, T0);
	wr(VRTC_MIN_ALARM, 0xC0, T0);
	wr(VRTC_SEC_ALARM, 0xC0, T0);
	cr_expect_eq(vrtc_next_irq(&r, T0), T0 + 7202 * HZ);
	cr_expect_eq(rd(VRTC_C, T0 + 7202 * HZ) & VRTC_C_AF, VRTC_C_AF);
}
