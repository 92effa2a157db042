/* Civil dates and Unix time (lib/date.h): days counted in eras of 400 Gregorian years,
 * whose length (146097 days) is fixed, with years starting in March so that the leap day
 * comes last. */
#include "lib/date.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);                       /* 0-399 */
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0-365, from March */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0-146096 */
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct date *tm)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	tm->mday = doy - (153 * mp + 2) / 5 + 1;
	tm->month = mp < 10 ? mp + 3 : mp - 9;
	tm->year = (unsigned)(yoe + era * 400 + (tm->month <= 2));
}

void date_from_unix(int64_t t, struct date *tm)
{
	int64_t days = t / 86400, rem = t % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, tm);
	tm->hour = (unsigned)(rem / 3600);
	tm->min = (unsigned)(rem / 60 % 60);
	tm->sec = (unsigned)(rem % 60);
	tm->wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

int64_t date_to_unix(const struct date *tm)
{
	return days_from_civil(tm->year, tm->month, tm->mday) * 86400 + tm->hour * 3600 +
	       tm->min * 60 + tm->sec;
}
