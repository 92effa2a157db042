#include "kernel/platform/pvclock.h"

#define NSEC_PER_SEC 1000000000ULL

void pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
	uint64_t base = tsc_hz, scaled = NSEC_PER_SEC;
	int s = 0;

	/* Bring the TSC rate into 32 bits and below twice the ns rate... */
	while (base > 2 * scaled || (base >> 32)) {
		base >>= 1;
		s--;
	}
	/* ...then above the ns rate, so that mul = scaled / base is a 32-bit fraction. */
	while (base <= scaled) {
		if (base & 0x80000000u)
			scaled >>= 1;
		else
			base <<= 1;
		s++;
	}
	*mul = (uint32_t)((scaled << 32) / base);
	*shift = (int8_t)s;
}

void pvclock_fill(struct pvclock_time *t, uint64_t tsc_hz, uint64_t epoch, uint64_t now)
{
	t->version = 2;
	t->pad0 = 0;
	t->tsc_timestamp = now;
	t->system_time = (uint64_t)((unsigned __int128)(now - epoch) * NSEC_PER_SEC / tsc_hz);
	pvclock_scale(tsc_hz, &t->tsc_to_system_mul, &t->tsc_shift);
	t->flags = 1;
	t->pad[0] = t->pad[1] = 0;
}
