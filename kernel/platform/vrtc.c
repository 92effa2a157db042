/* Virtual CMOS real-time clock (kernel/platform/vrtc.h). */
#include <string.h>
#include "kernel/platform/vrtc.h"
#include "lib/date.h"

#define DIVIDER_RUNNING 0x20 /* register A bits 6-4 = 010: 32.768 kHz time base, running */

/* --- register encodings (register B: DM, 24H) ------------------------------------------- */

static uint8_t enc(const struct vrtc *r, unsigned v)
{
	return (r->cmos[VRTC_B] & VRTC_B_DM) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned dec(const struct vrtc *r, uint8_t b)
{
	return (r->cmos[VRTC_B] & VRTC_B_DM) ? b : (b >> 4) * 10u + (b & 15u);
}

static uint8_t enc_hour(const struct vrtc *r, unsigned h)
{
	if (r->cmos[VRTC_B] & VRTC_B_24H)
		return enc(r, h);
	return (uint8_t)(enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct vrtc *r, uint8_t b)
{
	if (r->cmos[VRTC_B] & VRTC_B_24H)
		return dec(r, b);
	return dec(r, b & 0x7F) % 12 + ((b & 0x80) ? 12 : 0);
}

/* --- time ------------------------------------------------------------------------------ */

static uint64_t host_seconds(const struct vrtc *r, uint64_t now)
{
	return r->unix0 + (now - r->tsc0) / r->tsc_hz;
}

int64_t vrtc_time(const struct vrtc *r, uint64_t now)
{
	return (int64_t)host_seconds(r, now) + r->offset;
}

/* The clock's registers 0, 2, 4, 6-9 and the century for time t. */
static void store_time(struct vrtc *r, int64_t t)
{
	struct date tm;

	date_from_unix(t, &tm);
	r->cmos[VRTC_SEC] = enc(r, tm.sec);
	r->cmos[VRTC_MIN] = enc(r, tm.min);
	r->cmos[VRTC_HOUR] = enc_hour(r, tm.hour);
	r->cmos[VRTC_WDAY] = enc(r, tm.wday + 1);
	r->cmos[VRTC_MDAY] = enc(r, tm.mday);
	r->cmos[VRTC_MONTH] = enc(r, tm.month);
	r->cmos[VRTC_YEAR] = enc(r, tm.year % 100);
	r->cmos[VRTC_CENTURY] = enc(r, tm.year / 100);
}

/* The time the registers hold (after the guest wrote them with SET): 0 with *t, or -1 when
 * they do not make a date. */
static int load_time(const struct vrtc *r, int64_t *t)
{
	struct date tm = {
		.year = dec(r, r->cmos[VRTC_CENTURY]) * 100 + dec(r, r->cmos[VRTC_YEAR]),
		.month = dec(r, r->cmos[VRTC_MONTH]),
		.mday = dec(r, r->cmos[VRTC_MDAY]),
		.hour = dec_hour(r, r->cmos[VRTC_HOUR]),
		.min = dec(r, r->cmos[VRTC_MIN]),
		.sec = dec(r, r->cmos[VRTC_SEC]),
	};
	if (tm.year < 1970 || tm.month < 1 || tm.month > 12 || tm.mday < 1 || tm.mday > 31 ||
	    tm.hour > 23 || tm.min > 59 || tm.sec > 59)
		return -1;
	*t = date_to_unix(&tm);
	return 0;
}

/* --- flags ------------------------------------------------------------------------------ */

/* An alarm field: its value (below limit), -1 for "don't care" (0xC0-0xFF), or -2 when it
 * can never match (a value past the field's range). */
static int alarm_want(const struct vrtc *r, unsigned reg, unsigned limit, int hour)
{
	uint8_t a = r->cmos[reg];
	if (a >= 0xC0)
		return -1;
	unsigned v = hour ? dec_hour(r, a) : dec(r, a);
	return v < limit ? (int)v : -2;
}

/* The first second after second s (counted from tsc0) whose time of day the alarm matches,
 * or 0 when it never can. Jumps to the next hour, minute or second that can match, so it
 * takes a few dozen steps at most, whatever the guest wrote. */
static uint64_t next_alarm(const struct vrtc *r, uint64_t s)
{
	int sec = alarm_want(r, VRTC_SEC_ALARM, 60, 0), min = alarm_want(r, VRTC_MIN_ALARM, 60, 0);
	int hour = alarm_want(r, VRTC_HOUR_ALARM, 24, 1);

	if (sec == -2 || min == -2 || hour == -2)
		return 0;
	uint64_t k = s + 1;
	for (unsigned step = 0; step < 200; step++) {
		int64_t d = ((int64_t)(r->unix0 + k) + r->offset) % 86400;
		if (d < 0)
			d += 86400;
		unsigned cs = (unsigned)(d % 60), cm = (unsigned)(d / 60 % 60), ch = (unsigned)(d / 3600);
		if (hour >= 0 && ch != (unsigned)hour)
			k += 3600 - (uint64_t)(d % 3600);
		else if (min >= 0 && cm != (unsigned)min)
			k += 60 - cs;
		else if (sec >= 0 && cs != (unsigned)sec)
			k += ((unsigned)sec + 60 - cs) % 60;
		else
			return k;
	}
	return 0;
}

/* 32.768 kHz ticks since tsc0. */
static uint64_t ticks32k(const struct vrtc *r, uint64_t now)
{
	uint64_t e = now - r->tsc0;
	return (e / r->tsc_hz) * 32768 + (e % r->tsc_hz) * 32768 / r->tsc_hz;
}

/* Register C's flags for what happened since the last read of C (no side effects). */
static uint8_t flags_now(const struct vrtc *r, uint64_t now)
{
	uint8_t b = r->cmos[VRTC_B], a = r->cmos[VRTC_A], flags = 0;
	uint64_t s0 = (r->c_read - r->tsc0) / r->tsc_hz, s1 = (now - r->tsc0) / r->tsc_hz;

	if (!(b & VRTC_B_SET) && (a & 0x70) == DIVIDER_RUNNING) {
		if (s1 > s0)
			flags |= VRTC_C_UF;
		/* The alarm, if the clock showed a matching second since the last read. */
		uint64_t k = next_alarm(r, s0);
		if (k && k <= s1)
			flags |= VRTC_C_AF;
	}
	unsigned rate = a & 0x0F;
	if (rate && (a & 0x70) == DIVIDER_RUNNING) {
		unsigned shift = rate < 3 ? rate + 6 : rate - 1; /* period 2^shift / 32768 s */
		if (ticks32k(r, now) >> shift > ticks32k(r, r->c_read) >> shift)
			flags |= VRTC_C_PF;
	}
	if (((flags & VRTC_C_UF) && (b & VRTC_B_UIE)) || ((flags & VRTC_C_AF) && (b & VRTC_B_AIE)) ||
	    ((flags & VRTC_C_PF) && (b & VRTC_B_PIE)))
		flags |= VRTC_C_IRQF;
	return flags;
}

static uint8_t read_c(struct vrtc *r, uint64_t now)
{
	uint8_t flags = flags_now(r, now);
	r->c_read = now;
	r->irq_raised = 0; /* IRQF is clear: the next event raises the line again */
	return flags;
}

int vrtc_irq_update(struct vrtc *r, uint64_t now)
{
	if (r->irq_raised || !(flags_now(r, now) & VRTC_C_IRQF))
		return 0;
	r->irq_raised = 1;
	return 1;
}

/* The TSC at which the clock shows second s (counted from tsc0). */
static uint64_t tsc_of_second(const struct vrtc *r, uint64_t s)
{
	return r->tsc0 + s * r->tsc_hz;
}

uint64_t vrtc_next_irq(const struct vrtc *r, uint64_t now)
{
	uint8_t a = r->cmos[VRTC_A], b = r->cmos[VRTC_B];
	uint64_t next = 0;

	if (r->irq_raised || (a & 0x70) != DIVIDER_RUNNING)
		return 0;
	uint64_t s = (now - r->tsc0) / r->tsc_hz;
	if (!(b & VRTC_B_SET) && (b & VRTC_B_UIE))
		next = tsc_of_second(r, s + 1);
	if (!(b & VRTC_B_SET) && (b & VRTC_B_AIE)) {
		uint64_t k = next_alarm(r, s);
		if (k) {
			uint64_t t = tsc_of_second(r, k);
			next = next && next < t ? next : t;
		}
	}
	unsigned rate = a & 0x0F;
	if ((b & VRTC_B_PIE) && rate) {
		unsigned shift = rate < 3 ? rate + 6 : rate - 1;
		uint64_t tick = (ticks32k(r, now) >> shift) + 1; /* the next period boundary */
		uint64_t t32 = tick << shift;                    /* in 32.768 kHz ticks */
		uint64_t t = r->tsc0 + (t32 / 32768) * r->tsc_hz + (t32 % 32768) * r->tsc_hz / 32768;
		if (t <= now)
			t = now + 1;
		next = next && next < t ? next : t;
	}
	return next;
}

/* --- ports ----------------------------------------------------------------------------- */

void vrtc_reset(struct vrtc *r, uint64_t unix_time, uint64_t now, uint64_t tsc_hz,
		uint64_t ram_size)
{
	memset(r, 0, sizeof(*r));
	r->unix0 = unix_time;
	r->tsc0 = r->c_read = now;
	r->tsc_hz = tsc_hz ? tsc_hz : 1;
	r->cmos[VRTC_A] = DIVIDER_RUNNING | 0x06; /* 32.768 kHz, 1024 Hz periodic rate */
	r->cmos[VRTC_B] = VRTC_B_24H;
	r->cmos[VRTC_D] = 0x80;
	/* What a PC BIOS (and QEMU) leaves for the OS: base memory, then memory above 1 MiB
	 * in KiB, above 16 MiB and above 4 GiB in 64 KiB units. */
	uint64_t below4g = ram_size < (1ULL << 32) ? ram_size : (1ULL << 32);
	uint64_t ext = below4g > (1 << 20) ? (below4g - (1 << 20)) >> 10 : 0;
	uint64_t over16 = below4g > (16 << 20) ? (below4g - (16 << 20)) >> 16 : 0;
	uint64_t over4g = ram_size > (1ULL << 32) ? (ram_size - (1ULL << 32)) >> 16 : 0;
	ext = ext > 0xFFFF ? 0xFFFF : ext;
	over16 = over16 > 0xFFFF ? 0xFFFF : over16;
	r->cmos[0x15] = 640 & 0xFF;
	r->cmos[0x16] = 640 >> 8;
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext >> 8);
	r->cmos[0x34] = (uint8_t)over16;
	r->cmos[0x35] = (uint8_t)(over16 >> 8);
	r->cmos[0x5B] = (uint8_t)over4g;
	r->cmos[0x5C] = (uint8_t)(over4g >> 8);
	r->cmos[0x5D] = (uint8_t)(over4g >> 16);
}

int vrtc_claims(uint16_t port)
{
	return port == VRTC_PORT_INDEX || port == VRTC_PORT_DATA;
}

static int is_clock(unsigned reg)
{
	return reg <= VRTC_YEAR || reg == VRTC_CENTURY;
}

uint8_t vrtc_read(struct vrtc *r, uint16_t port, uint64_t now)
{
	unsigned reg = r->index;

	if (port == VRTC_PORT_INDEX)
		return 0xFF; /* write-only on a PC */
	if (is_clock(reg) && reg != VRTC_SEC_ALARM && reg != VRTC_MIN_ALARM &&
	    reg != VRTC_HOUR_ALARM && !(r->cmos[VRTC_B] & VRTC_B_SET))
		store_time(r, vrtc_time(r, now));
	switch (reg) {
	case VRTC_A: {
		uint8_t a = r->cmos[VRTC_A];
		uint64_t frac = (now - r->tsc0) % r->tsc_hz;
		if ((a & 0x70) == DIVIDER_RUNNING && !(r->cmos[VRTC_B] & VRTC_B_SET) &&
		    frac >= r->tsc_hz - r->tsc_hz / 1000000 * VRTC_UIP_US)
			a |= VRTC_A_UIP;
		return a;
	}
	case VRTC_C:
		return read_c(r, now);
	case VRTC_D:
		return 0x80;
	default:
		return r->cmos[reg];
	}
}

void vrtc_write(struct vrtc *r, uint16_t port, uint8_t val, uint64_t now)
{
	if (port == VRTC_PORT_INDEX) {
		r->index = val & 0x7F;
		r->nmi_masked = val >> 7;
		return;
	}
	switch (r->index) {
	case VRTC_A:
		r->cmos[VRTC_A] = val & 0x7F; /* UIP is read-only */
		break;
	case VRTC_B: {
		uint8_t old = r->cmos[VRTC_B];
		if ((val & VRTC_B_SET) && !(old & VRTC_B_SET)) {
			store_time(r, vrtc_time(r, now)); /* the clock stops where it is */
			val &= (uint8_t)~VRTC_B_UIE;
		}
		r->cmos[VRTC_B] = val;
		if (!(val & VRTC_B_SET) && (old & VRTC_B_SET)) {
			int64_t t;
			if (!load_time(r, &t))
				r->offset = t - (int64_t)host_seconds(r, now);
		}
		break;
	}
	case VRTC_C:
	case VRTC_D:
		break; /* read-only */
	default:
		if (is_clock(r->index) && r->index != VRTC_SEC_ALARM && r->index != VRTC_MIN_ALARM &&
		    r->index != VRTC_HOUR_ALARM && !(r->cmos[VRTC_B] & VRTC_B_SET)) {
			/* The clock is running: the written field takes effect at once. */
			int64_t t;
			store_time(r, vrtc_time(r, now));
			r->cmos[r->index] = val;
			if (!load_time(r, &t))
				r->offset = t - (int64_t)host_seconds(r, now);
			break;
		}
		r->cmos[r->index] = val;
	}
}
