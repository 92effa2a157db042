/* Unix seconds and civil dates (proleptic Gregorian calendar, UTC), both ways: for the
 * host's clock read at boot and the clock guests see (kernel/platform/vrtc.c). */
#ifndef MICA_LIB_DATE_H
#define MICA_LIB_DATE_H

#include <stdint.h>

struct date {
	unsigned year, month, mday, hour, min, sec; /* month 1-12, mday 1-31 */
	unsigned wday;                              /* 0 = Sunday (date_from_unix only) */
};

void date_from_unix(int64_t t, struct date *d);
int64_t date_to_unix(const struct date *d); /* wday is not read */

#endif
