/* The host's wall clock: its CMOS RTC, read once (on the boot CPU, before any partition
 * exists) and then kept with the TSC. A PC RTC holds local time or UTC as its owner set it;
 * Mica takes it as UTC, as Linux does by default. */
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "lib/date.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71
#define NMI_OFF    0x80 /* keep the host's NMIs masked while we hold the index */

static uint64_t boot_unix, boot_tsc;
static int read_done;

static uint8_t cmos(uint8_t reg)
{
	outb(CMOS_INDEX, NMI_OFF | reg);
	return inb(CMOS_DATA);
}

static unsigned bcd(uint8_t v, int binary)
{
	return binary ? v : (v >> 4) * 10u + (v & 15u);
}

/* One reading of the clock's fields; 0, or -1 when no sane clock answers. */
static int read_fields(struct date *d)
{
	for (unsigned spin = 0; cmos(0x0A) & 0x80; spin++) /* an update is in progress */
		if (spin > 1000000)
			return -1;
	uint8_t b = cmos(0x0B), hour = cmos(0x04);
	int bin = b & 0x04;
	d->sec = bcd(cmos(0x00), bin);
	d->min = bcd(cmos(0x02), bin);
	d->hour = bcd(hour & 0x7F, bin);
	if (!(b & 0x02)) /* 12-hour */
		d->hour = d->hour % 12 + ((hour & 0x80) ? 12 : 0);
	d->mday = bcd(cmos(0x07), bin);
	d->month = bcd(cmos(0x08), bin);
	unsigned century = bcd(cmos(0x32), bin);
	d->year = (century >= 19 && century <= 99 ? century : 20) * 100 + bcd(cmos(0x09), bin);
	return d->month >= 1 && d->month <= 12 && d->mday >= 1 && d->mday <= 31 &&
			       d->hour < 24 && d->min < 60 && d->sec < 60 ? 0 : -1;
}

void arch_boot_time(uint64_t *unix_time, uint64_t *tsc)
{
	if (!read_done) {
		struct date a, b;
		/* Read until two readings agree: an update between the fields is not mixed in. */
		for (unsigned tries = 0; tries < 5; tries++) {
			if (read_fields(&a) || read_fields(&b)) {
				a.year = 1970, a.month = 1, a.mday = 1, a.hour = a.min = a.sec = 0;
				break;
			}
			if (a.sec == b.sec && a.min == b.min && a.hour == b.hour && a.mday == b.mday &&
			    a.month == b.month && a.year == b.year)
				break;
		}
		boot_tsc = rdtsc();
		boot_unix = (uint64_t)date_to_unix(&a);
		read_done = 1;
	}
	*unix_time = boot_unix;
	*tsc = boot_tsc;
}
