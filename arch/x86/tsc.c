/* The host TSC's frequency, measured once at boot against PIT channel 2 (most PCs, QEMU and
 * Bochs have one), else against the ACPI PM timer, so that guests get timers and a PM timer
 * that agree with their TSC. */
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
#define CAL_TRIES    10              /* windows tried to get three good ones */
#define CAL_GOOD     3

/* A window longer than this many TSC ticks would measure an implausible rate: give up on it. */
#define CAL_GIVE_UP  (TSC_MAX_HZ / 1000 * CAL_MS)

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
	uint64_t t1;
	while (!(inb(PORT_B) & PORTB_OUT2))
		if ((t1 = rdtsc()) - t0 > CAL_GIVE_UP)
			return CAL_DEAD;
	t1 = rdtsc();
	return (t1 - t0) * 1000 / CAL_MS;
}

/* The same against the ACPI PM timer (3.579545 MHz, 24 or 32 bits), from the ticks that
 * really passed: the TSC is read first and last, so a delay only lengthens the window. */
static uint64_t measure_pm(uint16_t port, unsigned bits)
{
	uint32_t mask = bits == 32 ? 0xffffffffu : 0xffffffu;
	uint32_t want = (uint32_t)(ACPI_PM_TIMER_HZ * CAL_MS / 1000), start, ticks;
	uint64_t t0 = rdtsc(), t1;

	start = inl(port) & mask;
	do {
		ticks = (inl(port) - start) & mask;
		if ((t1 = rdtsc()) - t0 > CAL_GIVE_UP)
			return CAL_DEAD;
	} while (ticks < want);
	if (ticks > mask / 2)
		return CAL_LATE; /* away so long that the count may have wrapped */
	return (t1 - t0) * ACPI_PM_TIMER_HZ / ticks;
}

static int plausible(uint64_t hz)
{
	return hz >= TSC_MIN_HZ && hz <= TSC_MAX_HZ;
}

/* The smallest of CAL_GOOD plausible windows (a delay only ever makes one longer), out of
 * at most CAL_TRIES; 0 if the timer is not there. */
static uint64_t measure(uint64_t (*window)(uint16_t, unsigned), uint16_t port, unsigned bits)
{
	uint64_t best = 0, hz;

	for (int i = 0, good = 0; i < CAL_TRIES && good < CAL_GOOD; i++) {
		hz = window(port, bits);
		if (hz == CAL_DEAD)
			break; /* do not wait for it again */
		if (!plausible(hz))
			continue;
		good++;
		if (!best || hz < best)
			best = hz;
	}
	return best;
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

	best = measure(pit_window, 0, 0);
	if (!best && !acpi_pm_timer(bi->acpi_rsdp, &pm_port, &pm_bits)) {
		best = measure(measure_pm, pm_port, pm_bits);
		if (best)
			log_info("PIT channel 2 does not count: TSC measured against the ACPI PM timer "
				 "(port 0x%x, %u bits)", pm_port, pm_bits);
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
	}
	tsc_hz = best;
	return best;
}

uint64_t tsc_freq(void)
{
	return tsc_hz;
}
