/* Formatting only: Mica's freestanding programs have no files. */
#ifndef MICA_LIB_STDIO_H
#define MICA_LIB_STDIO_H

#include <stdarg.h>
#include <stddef.h>

/* Supports %d %i %u %x %X %p %s %c %%, flags '-' and '0', a width, and the l, ll, z length
 * modifiers. Always NUL-terminates when size > 0; returns the length it wanted to write. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
