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

/* The TSC against PIT channel 2 for CAL_MS; 0 if the PIT does not count (a machine or
 * firmware setting without one: port 0x61 then reads all ones). */
static uint64_t measure_pit(void)
{
	uint64_t latch = PIT_HZ * CAL_MS / 1000;

	outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORTB_SPKR) | PORTB_GATE2));
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	if (inb(PORT_B) & PORTB_OUT2)
		return 0; /* mode 0 drives OUT low until the count runs out: nothing is there */
	uint64_t t0 = rdtsc();
	for (uint64_t spin = 0; !(inb(PORT_B) & PORTB_OUT2); spin++)
		if (spin > 100000000ULL)
			return 0;
	uint64_t t1 = rdtsc();
	return (t1 - t0) * 1000 / CAL_MS;
}

/* The same against the ACPI PM timer (3.579545 MHz, 24 or 32 bits). */
static uint64_t measure_pm(uint16_t port, unsigned bits)
{
	uint32_t mask = bits == 32 ? 0xffffffffu : 0xffffffu;
	uint32_t ticks = (uint32_t)(ACPI_PM_TIMER_HZ * CAL_MS / 1000), start = inl(port) & mask;
	uint64_t t0 = rdtsc();

	for (uint64_t spin = 0; ((inl(port) - start) & mask) < ticks; spin++)
		if (spin > 100000000ULL)
			return 0;
	return (rdtsc() - t0) * 1000 / CAL_MS;
}

static int plausible(uint64_t hz)
{
	return hz >= TSC_MIN_HZ && hz <= TSC_MAX_HZ;
}

uint64_t tsc_calibrate(const struct boot_info *bi)
{
	uint64_t best = 0, hz;
	uint16_t pm_port;
	unsigned pm_bits;

	/* Take the smallest of three: a delay (an SMI, a busy host) only ever makes it longer. */
	for (int i = 0; i < 3; i++) {
		hz = measure_pit();
		if (!plausible(hz))
			break; /* no PIT: do not wait for it twice more */
		if (!best || hz < best)
			best = hz;
	}
	if (!best && !acpi_pm_timer(bi->acpi_rsdp, &pm_port, &pm_bits)) {
		for (int i = 0; i < 3; i++) {
			hz = measure_pm(pm_port, pm_bits);
			if (plausible(hz) && (!best || hz < best))
				best = hz;
		}
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
