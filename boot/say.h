/* Messages of a boot path (boot/say.c): each path names itself and says where a line goes. */
#ifndef MICA_BOOT_SAY_H
#define MICA_BOOT_SAY_H

#include <stddef.h>

/* One line: "<con_prefix>: <text>" and CR LF, at most 255 bytes. */
void con_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Defined by each boot path: its name in messages ("mica-loader", "mica-mb2"), and the
 * output of one whole line of n bytes (NUL-terminated too). */
extern const char con_prefix[];
void con_write(const char *line, size_t n);

#endif
