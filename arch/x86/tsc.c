/* The host TSC's frequency, measured once at boot against the ACPI PM timer (PCs with
 * ACPI, QEMU and Bochs have one), else against PIT channel 2, so that guests get timers
 * and a PM timer that agree with their TSC. */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "kernel/host/acpi.h"
#include "kernel/log.h"

#define PIT_HZ       1193182ULL
#define PIT_CH2      0x42
#define PIT_CMD      0x43
#define PORT_B       0x61
#define PORTB_GATE2  0x01
#define PORTB_SPKR   0x02
#define PORTB_OUT2   0x20
#define CAL_MS       10 /* 11932 PIT ticks: the TSC to 0.01 % */

/* Written once by the boot CPU before the APs start. */
static uint64_t tsc_hz;

#define TSC_MIN_HZ   1000000ULL      /* a measurement outside these is no measurement (Bochs' TSC counts instructions: ~50 MHz) */
#define TSC_MAX_HZ   20000000000ULL
#define CAL_TRIES    20              /* windows tried to get three good ones */
#define CAL_GOOD     3               /* PIT windows to take the smallest of */

/* A window longer than this many TSC ticks measures an implausible rate (it is tried
 * again); a timer that has not moved in ten times that is not there. This CPU may be away
 * (descheduled by the host) for long stretches: only a timer that never moves is dead. */
#define CAL_GIVE_UP  (TSC_MAX_HZ / 1000 * CAL_MS)
#define CAL_DEAD_AFTER (10 * CAL_GIVE_UP)

/* One window's outcome: the TSC's rate, or why there is none. */
#define CAL_LATE     0ULL            /* the window was over before we looked: try again */
#define CAL_DEAD     1ULL            /* the timer never got there: there is none */

/* The TSC against PIT channel 2 for CAL_MS. The TSC is read before the count is loaded, so
 * a delay (an SMI, a host that deschedules this CPU) can only lengthen a window; a delay
 * right after the load ends the window before we look (CAL_LATE), which is also what a
 * missing PIT looks like (port 0x61 reads all ones): both are simply tried again. */
static uint64_t measure_pit(void)
{
	uint64_t latch = PIT_HZ * CAL_MS / 1000;

	outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORTB_SPKR) | PORTB_GATE2));
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
	outb(PIT_CH2, (uint8_t)latch);
	uint64_t t0 = rdtsc();
	outb(PIT_CH2, (uint8_t)(latch >> 8)); /* the count starts here */
	if (inb(PORT_B) & PORTB_OUT2)
		return CAL_LATE; /* mode 0 holds OUT low until the count runs out */
	while (!(inb(PORT_B) & PORTB_OUT2))
		if (rdtsc() - t0 > CAL_DEAD_AFTER)
			return CAL_DEAD;
	return (rdtsc() - t0) * 1000 / CAL_MS;
}

/* The ACPI PM timer (3.579545 MHz, 24 or 32 bits, free running) read with the TSC at the
 * same moment: of 8 tries, the one whose two TSC reads lie closest together, so this CPU
 * was not away in between (a host may deschedule it for many milliseconds at a time). */
static void pm_sample(uint16_t port, uint32_t mask, uint64_t *tsc, uint32_t *val)
{
	uint64_t best = ~0ULL;

	for (int i = 0; i < 8; i++) {
		uint64_t a = rdtsc();
		uint32_t v = inl(port) & mask;
		uint64_t b = rdtsc();
		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*val = v;
		}
	}
}

/* The TSC against the PM timer over PM_WINDOW_MS: a sample at each end, so the time this
 * CPU spends away between them does not matter (the two clocks run on meanwhile). */
#define PM_WINDOW_MS 20
static uint64_t measure_pm(uint16_t port, unsigned bits)
{
	uint32_t mask = bits == 32 ? 0xffffffffu : 0xffffffu;
	uint32_t want = (uint32_t)(ACPI_PM_TIMER_HZ * PM_WINDOW_MS / 1000), v0 = 0, v1 = 0, ticks;
	uint64_t t0 = 0, t1 = 0;

	pm_sample(port, mask, &t0, &v0);
	do {
		ticks = (inl(port) - v0) & mask;
		if (!ticks && rdtsc() - t0 > CAL_DEAD_AFTER)
			return CAL_DEAD; /* it does not move */
	} while (ticks < want);
	pm_sample(port, mask, &t1, &v1);
	ticks = (v1 - v0) & mask;
	if (!ticks || ticks > mask / 2)
		return CAL_LATE; /* away so long that the count may have wrapped */
	return (t1 - t0) * ACPI_PM_TIMER_HZ / ticks;
}

static int plausible(uint64_t hz)
{
	return hz >= TSC_MIN_HZ && hz <= TSC_MAX_HZ;
}

/* What the windows of one timer gave, for the line that says none was good. */
struct cal_tally {
	unsigned late, dead, odd;
	uint64_t odd_hz;          /* the last implausible rate */
};

/* The smallest rate of at least `good` windows (a delay only ever lengthens a window,
 * so the smallest is the best; a window the host stretched many times over just loses),
 * out of at most CAL_TRIES; 0 if the timer is not there or no window was plausible. */
static uint64_t measure(uint64_t (*window)(uint16_t, unsigned), uint16_t port, unsigned bits,
			int good, struct cal_tally *t)
{
	uint64_t best = 0, hz;

	for (int i = 0, n = 0; i < CAL_TRIES; i++) {
		hz = window(port, bits);
		if (hz == CAL_DEAD) {
			t->dead++;
			break; /* do not wait for it again */
		}
		if (hz == CAL_LATE) {
			t->late++;
			continue;
		}
		if (!plausible(hz)) {
			t->odd++;
			t->odd_hz = hz;
		}
		if (!best || hz < best)
			best = hz;
		if (++n >= good && plausible(best))
			break;
	}
	return plausible(best) ? best : 0;
}

static uint64_t pit_window(uint16_t port, unsigned bits)
{
	(void)port;
	(void)bits;
	return measure_pit();
}

uint64_t tsc_calibrate(const struct boot_info *bi)
{
	uint64_t best;
	uint16_t pm_port;
	unsigned pm_bits;

	/* The PM timer first: it runs free, so two samples measure it however long this
	 * CPU is away between them. PIT channel 2 can only say when a count ran out, which
	 * this CPU sees late whenever it was away then (32 emulated CPUs on 2 host cores
	 * made it read a 2.4 GHz TSC as 19.8 GHz). */
	struct cal_tally pit = { 0 }, pm = { 0 };
	int have_pm = !acpi_pm_timer(bi->acpi_rsdp, &pm_port, &pm_bits);
	best = have_pm ? measure(measure_pm, pm_port, pm_bits, 1, &pm) : 0;
	if (!best) {
		best = measure(pit_window, 0, 0, CAL_GOOD, &pit);
		if (best)
			log_info("%s: TSC measured against PIT channel 2",
				 have_pm ? "the ACPI PM timer does not count" : "no ACPI PM timer");
	}
	if (!best) {
		uint32_t r[4];
		cpuid_count(0, 0, r);
		if (r[0] >= 0x16) {
			cpuid_count(0x16, 0, r);
			best = (uint64_t)(r[0] & 0xffff) * 1000000ULL;
		}
		if (!best)
			best = 2000000000ULL;
		log_info("neither PIT channel 2 nor an ACPI PM timer counts: assuming a %lu MHz TSC "
			 "(timers in partitions may run fast or slow)", best / 1000000);
		log_info("TSC calibration: PIT windows late %u, dead %u, implausible %u (last %lu "
			 "Hz); PM timer late %u, dead %u, implausible %u (last %lu Hz)", pit.late,
			 pit.dead, pit.odd, pit.odd_hz, pm.late, pm.dead, pm.odd, pm.odd_hz);
	}
	tsc_hz = best;
	return best;
}

uint64_t tsc_freq(void)
{
	return tsc_hz;
}
