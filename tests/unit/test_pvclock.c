/* kernel/platform/pvclock.c: the TSC-to-nanoseconds scale a guest applies must be right to within a
 * few parts per million for any TSC rate from an emulator's 50 MHz to a server's 5 GHz. */
#include <criterion/criterion.h>
#include "kernel/platform/pvclock.h"

/* What the guest computes (the documented pvclock formula). */
static uint64_t guest_ns(const struct pvclock_time *t, uint64_t tsc)
{
	uint64_t d = tsc - t->tsc_timestamp;
	if (t->tsc_shift >= 0)
		d <<= t->tsc_shift;
	else
		d >>= -t->tsc_shift;
	return t->system_time + (uint64_t)(((unsigned __int128)d * t->tsc_to_system_mul) >> 32);
}

Test(pvclock, one_second_of_tsc_is_one_second)
{
	const uint64_t rates[] = { 49000000ULL, 50000000ULL, 1000000000ULL, 2596000000ULL,
				   3000000000ULL, 4999999999ULL, 1193182ULL };
	for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct pvclock_time t;
		pvclock_fill(&t, rates[i], 1000, 1000);
		uint64_t ns = guest_ns(&t, 1000 + rates[i]);
		int64_t err = (int64_t)ns - 1000000000LL;
		cr_expect(err <= 2000 && err >= -2000, "%llu Hz: 1 s of TSC gave %llu ns",
			  (unsigned long long)rates[i], (unsigned long long)ns);
		cr_expect(t.tsc_to_system_mul >= 0x80000000u || rates[i] < 1000000000ULL,
			  "mul 0x%x keeps too few bits", t.tsc_to_system_mul);
		cr_expect_eq(t.version % 2, 0, "an odd version means 'being updated'");
		cr_expect_eq(t.flags & 1, 1, "stable TSC bit");
	}
}

Test(pvclock, system_time_counts_from_the_epoch)
{
	struct pvclock_time t;
	pvclock_fill(&t, 2000000000ULL, 500, 500 + 4000000000ULL);
	cr_expect_eq(t.system_time, 2000000000ULL, "2 s after the epoch, got %llu",
		     (unsigned long long)t.system_time);
	cr_expect_eq(guest_ns(&t, 500 + 6000000000ULL), 3000000000ULL);
}

Test(pvclock, struct_layout_is_what_guests_read)
{
	cr_expect_eq(sizeof(struct pvclock_time), 32);
	cr_expect_eq(__builtin_offsetof(struct pvclock_time, tsc_to_system_mul), 24);
	cr_expect_eq(__builtin_offsetof(struct pvclock_time, tsc_shift), 28);
	cr_expect_eq(__builtin_offsetof(struct pvclock_time, flags), 29);
}
