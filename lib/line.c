#include <stdio.h>
#include "lib/line.h"

size_t line_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size - 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > size - 2)
		n = (int)(size - 2);
	buf[n++] = '\n';
	return (size_t)n;
}
