/* con_say() for both boot paths (the UEFI loader and the Multiboot2 stub): one line, with
 * the path's prefix, ending in CR LF, handed whole to that path's con_write(). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot/say.h"

void con_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n = snprintf(line, sizeof(line) - 2, "%s: ", con_prefix);

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - 2 - n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\r';
	line[n++] = '\n';
	line[n] = 0;
	con_write(line, (size_t)n);
}
