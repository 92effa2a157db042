/* 128-bit unsigned division, which gcc calls for `unsigned __int128` '/' and '%' (the timer
 * arithmetic a * b / c needs it). Freestanding programs have no libgcc here. */
#include <stdint.h>

typedef unsigned __int128 u128;

static u128 divmod(u128 n, u128 d, u128 *rem)
{
	if (d == 0) {
		*rem = 0;
		return ~(u128)0; /* no trap: callers check their divisors; make misuse obvious */
	}
	uint64_t nh = (uint64_t)(n >> 64), nl = (uint64_t)n;
	if ((d >> 64) == 0 && nh < (uint64_t)d) {
		/* One divq: the quotient fits in 64 bits. */
		uint64_t q, r;
		__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(nl), "d"(nh), "rm"((uint64_t)d));
		*rem = r;
		return q;
	}
	u128 q = 0, r = 0;
	for (int i = 127; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= (u128)1 << i;
		}
	}
	*rem = r;
	return q;
}

u128 __udivti3(u128 n, u128 d);
u128 __umodti3(u128 n, u128 d);

u128 __udivti3(u128 n, u128 d)
{
	u128 r;
	return divmod(n, d, &r);
}

u128 __umodti3(u128 n, u128 d)
{
	u128 r;
	divmod(n, d, &r);
	return r;
}
