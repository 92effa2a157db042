/* The hypervisor's log on the serial console. Every call writes whole lines atomically,
 * so lines from different CPUs and partitions never interleave. */
#ifndef MICA_LOG_H
#define MICA_LOG_H

#include <stddef.h>

/* "mica: <message>\n" */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes n bytes exactly as given (the management console's raw output). */
void log_write(const char *s, size_t n);
/* Writes n bytes byte for byte, not even a CR added before a LF (an attached partition). */
void log_write_raw(const char *s, size_t n);
/* Writes whole lines, on a line of their own: after raw output that left a line open
 * (a prompt), a newline first. */
void log_write_line(const char *s, size_t n);
/* "mica: PANIC on CPU n: <message>", then this CPU halts for good. */
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#ifdef MICA_DEBUG
#define ASSERT(c) do { if (!(c)) panic("assertion '%s' failed at %s:%d", #c, __FILE__, __LINE__); } while (0)
#else
#define ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

#endif
