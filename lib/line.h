/* One line of text from a format: vsnprintf, cut to fit, and a newline always at the end. */
#ifndef MICA_LIB_LINE_H
#define MICA_LIB_LINE_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into buf (size >= 2) and ends it with '\n' (a long line is cut, its newline
 * kept); returns the bytes written, newline included, no NUL counted. */
size_t line_vformat(char *buf, size_t size, const char *fmt, va_list ap);

#endif
