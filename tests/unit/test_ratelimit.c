/* lib/ratelimit.h: burst lines per window, the count of those held back handed to the next
 * line let through, and a clock that does not move or jumps. */
#include <criterion/criterion.h>
#include "lib/ratelimit.h"

Test(ratelimit, burst_then_quiet_then_summary)
{
	struct ratelimit r = { 0 };
	unsigned held = 99;

	for (unsigned i = 0; i < 5; i++) {
		cr_expect_eq(ratelimit_allow(&r, 1000 + i, 100, 5, &held), 1, "line %u", i);
		cr_expect_eq(held, 0);
	}
	for (unsigned i = 0; i < 7; i++)
		cr_expect_eq(ratelimit_allow(&r, 1010 + i, 100, 5, &held), 0, "held %u", i);
	/* Next window: the first line says 7 were held back; the count starts again. */
	cr_expect_eq(ratelimit_allow(&r, 1100, 100, 5, &held), 1);
	cr_expect_eq(held, 7);
	cr_expect_eq(ratelimit_allow(&r, 1101, 100, 5, &held), 1);
	cr_expect_eq(held, 0);
}

Test(ratelimit, held_count_taken_once)
{
	struct ratelimit r = { 0 };
	unsigned held;

	cr_expect_eq(ratelimit_allow(&r, 0, 100, 1, &held), 1);
	cr_expect_eq(ratelimit_allow(&r, 1, 100, 1, &held), 0);
	cr_expect_eq(ratelimit_allow(&r, 2, 100, 1, &held), 0);
	cr_expect_eq(ratelimit_take_held(&r), 2);
	cr_expect_eq(ratelimit_take_held(&r), 0, "taken: gone");
	cr_expect_eq(ratelimit_allow(&r, 200, 100, 1, &held), 1);
	cr_expect_eq(held, 0, "the next line does not count them again");
}

Test(ratelimit, frozen_clock_stays_limited)
{
	struct ratelimit r = { 0 };
	unsigned held, let = 0;

	for (unsigned i = 0; i < 1000; i++)
		let += (unsigned)ratelimit_allow(&r, 0, 100, 3, &held);
	cr_expect_eq(let, 3);
	cr_expect_eq(r.held, 997);
}

Test(ratelimit, first_line_at_time_zero_and_long_gaps)
{
	struct ratelimit r = { 0 };
	unsigned held;

	cr_expect_eq(ratelimit_allow(&r, 0, 10, 1, &held), 1);
	cr_expect_eq(ratelimit_allow(&r, 5, 10, 1, &held), 0);
	cr_expect_eq(ratelimit_allow(&r, 1ull << 40, 10, 1, &held), 1);
	cr_expect_eq(held, 1);
	cr_expect_eq(ratelimit_allow(&r, (1ull << 40) + 9, 10, 1, &held), 0);
	cr_expect_eq(ratelimit_allow(&r, (1ull << 40) + 10, 10, 1, &held), 1);
	cr_expect_eq(held, 1);
}
