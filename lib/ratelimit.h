/* A log rate limit: at most burst lines per window of time, then quiet until the window
 * ends; the first line after a quiet stretch learns how many were held back. Time is any
 * monotonic count (TSC ticks in the core), window in the same unit. Pure. */
#ifndef MICA_LIB_RATELIMIT_H
#define MICA_LIB_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint64_t start;      /* when the current window began */
	unsigned lines;      /* lines let through in it */
	unsigned held;       /* lines held back since the last one let through */
	uint8_t started;
};

/* 1: log this line (and, when *held_back is non-zero, say that many were not logged);
 * 0: hold it back. */
static inline int ratelimit_allow(struct ratelimit *r, uint64_t now, uint64_t window,
				  unsigned burst, unsigned *held_back)
{
	*held_back = 0;
	if (!r->started || now - r->start >= window) {
		r->started = 1;
		r->start = now;
		r->lines = 0;
	}
	if (r->lines >= burst) {
		r->held++;
		return 0;
	}
	r->lines++;
	*held_back = r->held;
	r->held = 0;
	return 1;
}

/* How many lines were held back since the last one let through, now reported elsewhere
 * (before a line that ends the story, such as a device being turned off): the count
 * starts again from 0. */
static inline unsigned ratelimit_take_held(struct ratelimit *r)
{
	unsigned n = r->held;
	r->held = 0;
	return n;
}

#endif
