/* The host TSC's frequency, measured once at boot against PIT channel 2 (every PC, QEMU and
 * Bochs has one), so that guests get timers and a PM timer that agree with their TSC. */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "arch/x86/tsc.h"
#include "kernel/log.h"

#define PIT_HZ       1193182ULL
#define PIT_CH2      0x42
#define PIT_CMD      0x43
#define PORT_B       0x61
#define PORTB_GATE2  0x01
#define PORTB_SPKR   0x02
#define PORTB_OUT2   0x20
#define CAL_MS       20

/* Written once by the boot CPU before the APs start. */
static uint64_t tsc_hz;

static uint64_t measure(void)
{
	uint64_t latch = PIT_HZ * CAL_MS / 1000;

	outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORTB_SPKR) | PORTB_GATE2));
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	uint64_t t0 = rdtsc();
	for (uint64_t spin = 0; !(inb(PORT_B) & PORTB_OUT2); spin++)
		if (spin > 100000000ULL)
			return 0;
	uint64_t t1 = rdtsc();
	return (t1 - t0) * 1000 / CAL_MS;
}

uint64_t tsc_calibrate(void)
{
	uint64_t best = 0;

	/* Take the smallest of three: a delay (an SMI, a busy host) only ever makes it longer. */
	for (int i = 0; i < 3; i++) {
		uint64_t hz = measure();
		if (hz && (!best || hz < best))
			best = hz;
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
		log_info("PIT channel 2 did not count: assuming a %lu MHz TSC", best / 1000000);
	}
	tsc_hz = best;
	return best;
}

uint64_t tsc_freq(void)
{
	return tsc_hz;
}
