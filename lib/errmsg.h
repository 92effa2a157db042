/* Errors as values with a sentence for people: the pure modules (parsers, loaders, table
 * builders) report what was expected and what was found through this one helper. */
#ifndef MICA_LIB_ERRMSG_H
#define MICA_LIB_ERRMSG_H

#include <stddef.h>

/* Formats the sentence into err (when err and errlen allow) and returns rc. */
int errmsg(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
