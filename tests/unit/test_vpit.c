/* kernel/platform/vpit.c: Linux's two PIT calibrations, latch and read-back, gate, modes, IRQ0. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/platform/vpit.h"

#define TSC_HZ 2494331007ull /* deliberately not a multiple of the PIT clock */

static struct vpit p;
static uint64_t now;

static void init(void)
{
	memset(&p, 0xa5, sizeof(p));
	vpit_reset(&p, TSC_HZ);
	now = 123456789;
}

TestSuite(vpit, .init = init);

static void out(uint16_t port, uint8_t v)
{
	vpit_write(&p, port, v, now);
}

static uint8_t in(uint16_t port)
{
	return vpit_read(&p, port, now);
}

/* PIT clocks in dt TSC ticks, and the first TSC offset at which `ticks` clocks passed. */
static uint64_t clocks(uint64_t dt)
{
	return (uint64_t)((unsigned __int128)dt * VPIT_HZ / TSC_HZ);
}

static uint64_t tsc_after(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * TSC_HZ + VPIT_HZ - 1) / VPIT_HZ);
}

static uint16_t read_word(uint16_t port)
{
	uint8_t lo = in(port);

	return (uint16_t)(in(port) << 8 | lo);
}

static void ch2_mode0(uint16_t count)
{
	out(0x61, (uint8_t)((in(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
	out(0x43, 0xb0);                                 /* ch2, LSB then MSB, mode 0, binary */
	out(0x42, count & 0xff);
	out(0x42, count >> 8);
}

Test(vpit, reset_state)
{
	cr_expect_eq(in(0x61) & ~VPIT_P61_REFRESH, 0);
	cr_expect_eq(vpit_next_irq0(&p), 0);
	cr_expect_eq(vpit_irq0_update(&p, now + TSC_HZ), 0);
	cr_expect_eq(in(0x43), 0xff);
	cr_expect(vpit_claims(0x40) && vpit_claims(0x43) && vpit_claims(0x61));
	cr_expect(!vpit_claims(0x44) && !vpit_claims(0x60));
	/* Read-back status of channel 2: mode 0, LSB/MSB, OUT low, null count. */
	out(0x43, 0xC0 | VPIT_RB_NOCOUNT | 0x08);
	cr_expect_eq(in(0x42), VPIT_ST_NULL | 0x30);
}

/* quick_pit_calibrate(): after loading 0xFFFF, unlatched LSB/MSB pairs follow the TSC
 * exactly, and the MSB walks down by one every 256 clocks. */
Test(vpit, quick_pit_calibrate)
{
	uint64_t t0;
	unsigned msb_prev = 0xff;

	ch2_mode0(0xffff);
	t0 = now;
	for (int i = 0; i < 5000; i++) {
		uint16_t expect = (uint16_t)(0xffff - clocks(now - t0));
		uint8_t lsb = in(0x42), msb = in(0x42);

		cr_assert_eq((unsigned)(msb << 8 | lsb), expect, "read %d at +%llu", i,
			     (unsigned long long)(now - t0));
		cr_assert(msb <= msb_prev && msb_prev - msb <= 1);
		msb_prev = msb;
		now += 24943; /* ~10 us between pairs */
	}
	/* After ~50 ms the count has passed 0xFFFF - 0xE8xx: MSB went down steadily. */
	cr_expect_lt(msb_prev, 0x18);
}

/* The MSB changes at exactly the TSC that corresponds to 256 PIT clocks. */
Test(vpit, quick_pit_msb_edges)
{
	uint64_t t0;

	ch2_mode0(0xffff);
	t0 = now;
	for (unsigned k = 1; k < 20; k++) {
		uint64_t edge = t0 + tsc_after(256 * k - 1); /* count reaches 0x..FF - 255 */

		now = edge - 1;
		in(0x42);
		cr_assert_eq(in(0x42), 0xff - (k - 1));
		now = edge;
		in(0x42);
		cr_assert_eq(in(0x42), 0xff - (k - 1));
		now = t0 + tsc_after(256 * k);
		in(0x42);
		cr_assert_eq(in(0x42), 0xff - k);
	}
}

/* pit_calibrate_tsc(): mode 0 with a 10 ms count; port 0x61 bit 5 rises exactly N clocks of
 * TSC time after the MSB was written. */
Test(vpit, pit_calibrate_tsc)
{
	const uint16_t latch = VPIT_HZ / (1000 / 10);
	uint64_t t0, edge;

	ch2_mode0(latch);
	t0 = now;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	edge = t0 + tsc_after(latch);
	now = edge - 1;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	now = edge;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	cr_expect_eq(in(0x61) & 0x0f, 0x01);
	/* N / 1193182 s of TSC, to the tick. */
	cr_expect_eq(edge - t0, tsc_after(latch));
	cr_expect_lt((double)(edge - t0) - (double)latch * TSC_HZ / VPIT_HZ, 1.0);
	/* OUT stays high in mode 0 while the count wraps on. */
	now = edge + TSC_HZ / 10;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	/* A new count drops OUT again. */
	ch2_mode0(latch);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
}

Test(vpit, mode0_first_byte_stops_count)
{
	ch2_mode0(1000);
	now += tsc_after(100);
	out(0x42, 0x20); /* LSB only: counting stops, OUT low */
	now += tsc_after(5000);
	cr_expect_eq(read_word(0x42), 900);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	out(0x42, 0x01); /* 0x0120 loaded */
	now += tsc_after(0x120);
	cr_expect_eq(read_word(0x42), 0);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
}

Test(vpit, gate_pauses_mode0)
{
	out(0x61, 0x00); /* gate low */
	out(0x43, 0xb0);
	out(0x42, 0x00);
	out(0x42, 0x10); /* 0x1000 */
	now += TSC_HZ;
	cr_expect_eq(read_word(0x42), 0x1000, "a low gate holds the count");
	out(0x61, 0x01);
	now += tsc_after(0x100);
	cr_expect_eq(read_word(0x42), 0x0f00);
	out(0x61, 0x00);
	now += TSC_HZ;
	cr_expect_eq(read_word(0x42), 0x0f00);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	out(0x61, 0x01);
	now += tsc_after(0xf00) + 1;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
}

Test(vpit, counter_latch)
{
	uint64_t t0;

	ch2_mode0(0x8000);
	t0 = now;
	now += tsc_after(0x1234);
	out(0x43, 0x80); /* latch channel 2 */
	now += tsc_after(0x100);
	out(0x43, 0x80); /* ignored: the first latch is unread */
	now += tsc_after(0x100);
	cr_expect_eq(read_word(0x42), 0x8000 - 0x1234);
	/* Latch released: live again. */
	cr_expect_eq(read_word(0x42), 0x8000 - clocks(now - t0));
}

Test(vpit, read_back)
{
	ch2_mode0(0x0100);
	out(0x43, 0xC0 | VPIT_RB_NOCOUNT | 0x08);
	cr_expect_eq(in(0x42), 0x30, "mode 0, word access, OUT low, count loaded");
	now += tsc_after(0x10);
	/* Status and count together: status first, then the count as latched. */
	out(0x43, 0xC0 | 0x08);
	now += tsc_after(0x10);
	cr_expect_eq(in(0x42), 0x30);
	cr_expect_eq(read_word(0x42), 0xf0);
	now += tsc_after(0x100);
	out(0x43, 0xC0 | VPIT_RB_NOCOUNT | 0x08);
	cr_expect_eq(in(0x42), VPIT_ST_OUT | 0x30, "terminal count: OUT high");
	/* Mode and BCD bits come back as written (BCD is not counted in, but reported). */
	out(0x43, 0xb7); /* ch2, word, mode 3, BCD */
	out(0x43, 0xC0 | VPIT_RB_NOCOUNT | 0x08);
	cr_expect_eq(in(0x42), VPIT_ST_OUT | VPIT_ST_NULL | 0x37);
	/* Read-back of channel 0 and 2 latching counts only. */
	out(0x43, 0x34); /* ch0, word, mode 2 */
	out(0x40, 0x00);
	out(0x40, 0x20);
	out(0x42, 0x00);
	out(0x42, 0x40);
	now += tsc_after(0x10);
	out(0x43, 0xC0 | VPIT_RB_NOSTATUS | 0x0A);
	now += tsc_after(0x100);
	cr_expect_eq(read_word(0x40), 0x2000 - 0x10);
	cr_expect_eq(read_word(0x42), 0x4000 - 2 * 0x10);
}

Test(vpit, byte_access_modes)
{
	out(0x61, 0x01);
	out(0x43, 0x90); /* ch2, LSB only, mode 0 */
	out(0x42, 0x80);
	now += tsc_after(0x10);
	cr_expect_eq(in(0x42), 0x70);
	cr_expect_eq(in(0x42), 0x70, "no flip-flop in LSB-only mode");
	out(0x43, 0xa0); /* ch2, MSB only */
	out(0x42, 0x02); /* 0x200 */
	now += tsc_after(0x100);
	cr_expect_eq(in(0x42), 0x01);
	/* Word mode: the read flip-flop and the write flip-flop are separate. */
	out(0x43, 0xb0);
	out(0x42, 0x00);
	out(0x42, 0x30);
	cr_expect_eq(in(0x42), 0x00);
	cr_expect_eq(in(0x42), 0x30);
}

Test(vpit, count_zero_is_65536)
{
	ch2_mode0(0);
	cr_expect_eq(read_word(0x42), 0);
	now += tsc_after(1);
	cr_expect_eq(read_word(0x42), 0xffff);
	now += tsc_after(65536) - tsc_after(1) - 1;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	now += 1;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
}

Test(vpit, mode2_irq0_periodic)
{
	const uint16_t n = 11932; /* ~100 Hz */
	uint64_t t0, next;

	out(0x43, 0x34); /* ch0, word, mode 2 */
	cr_expect_eq(vpit_next_irq0(&p), 0, "no count yet");
	out(0x40, n & 0xff);
	out(0x40, n >> 8);
	t0 = now;
	for (uint64_t k = 1; k <= 5; k++) {
		next = vpit_next_irq0(&p);
		cr_assert_eq(next, t0 + tsc_after(k * n));
		cr_assert_eq(vpit_irq0_update(&p, next - 1), 0);
		cr_assert_eq(vpit_irq0_update(&p, next), 1);
		cr_assert_eq(vpit_irq0_update(&p, next), 0);
	}
	/* Late by 3.5 periods: one edge, then the next boundary after now. */
	now = t0 + tsc_after(9 * n + n / 2);
	cr_expect_eq(vpit_irq0_update(&p, now), 1);
	cr_expect_eq(vpit_next_irq0(&p), t0 + tsc_after(10 * n));
	/* The count runs N..1 and reloads. */
	now = t0 + tsc_after(10 * n);
	cr_expect_eq(read_word(0x40), n);
	now = t0 + tsc_after(10 * n + n - 1);
	cr_expect_eq(read_word(0x40), 1);
	/* A control word stops channel 0. */
	out(0x43, 0x30);
	cr_expect_eq(vpit_next_irq0(&p), 0);
}

Test(vpit, mode0_irq0_oneshot)
{
	uint64_t t0;

	out(0x43, 0x30); /* ch0, word, mode 0 */
	out(0x40, 0x00);
	out(0x40, 0x01);
	t0 = now;
	cr_expect_eq(vpit_next_irq0(&p), t0 + tsc_after(0x100));
	cr_expect_eq(vpit_irq0_update(&p, t0 + TSC_HZ), 1);
	cr_expect_eq(vpit_next_irq0(&p), 0);
	cr_expect_eq(vpit_irq0_update(&p, t0 + 2 * TSC_HZ), 0);
}

Test(vpit, mode3_square_wave_on_ch2)
{
	uint64_t t0;

	out(0x61, 0x03); /* gate on, speaker on */
	out(0x43, 0xb6); /* ch2, word, mode 3 */
	out(0x42, 100);
	out(0x42, 0);
	t0 = now;
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	cr_expect_eq(read_word(0x42), 100);
	now = t0 + tsc_after(10);
	cr_expect_eq(read_word(0x42), 80, "mode 3 counts by two");
	now = t0 + tsc_after(49);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	now = t0 + tsc_after(50);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	now = t0 + tsc_after(100);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	/* Gate low forces OUT high; the rising gate restarts the period. */
	now = t0 + tsc_after(160);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
	out(0x61, 0x02);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, VPIT_P61_OUT2);
	now += TSC_HZ;
	out(0x61, 0x03);
	cr_expect_eq(read_word(0x42), 100);
	now += tsc_after(50);
	cr_expect_eq(in(0x61) & VPIT_P61_OUT2, 0);
}

Test(vpit, refresh_bit_toggles)
{
	uint8_t first = in(0x61) & VPIT_P61_REFRESH;
	int changes = 0;

	for (int i = 0; i < 100; i++) {
		uint8_t b;

		now += TSC_HZ / 1000000; /* 1 us */
		b = in(0x61) & VPIT_P61_REFRESH;
		changes += b != first;
		first = b;
	}
	/* 100 us at one toggle per 15.08 us. */
	cr_expect(changes >= 6 && changes <= 7, "%d toggles", changes);
}

Test(vpit, channel1_reads_back)
{
	out(0x43, 0x74); /* ch1, word, mode 2 */
	out(0x41, 0x12);
	out(0x41, 0x00);
	now += tsc_after(2);
	cr_expect_eq(read_word(0x41), 0x10);
}
