/* Partition consoles on the host serial port: output is line-buffered and prefixed with the
 * partition's name (console_put); input goes to one partition at a time (console_rx). */
#ifndef MICA_CONSOLE_H
#define MICA_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct partition;

#define CONSOLE_ESCAPE 0x1d /* Ctrl-]: the next key picks the input partition */

/* Picks the first partition with a PC platform (else the first one) for input and says so. */
void console_input_start(void);

/* The terminal is attached to p (console NAME): its output passes as it is, keys go to it,
 * the others' output is held until Ctrl-] detaches (and says how much was held). */
void console_attach(struct partition *p);

/* Keys go back from the management console to the partition they went to before. */
void console_manage_leave(void);

/* Bytes typed on the host serial port (called in interrupt context). */
void console_rx(const char *s, size_t n);

/* A partition's console output: bytes from its UART or the console hypercall, written as
 * whole "[name] text" lines. console_flush() writes out a partial line. */
void console_put(struct partition *p, const char *s, uint64_t n);

/* Copies bytes [from, from + len) of p's console output, as far as they were written, out
 * of its ring (config key log): the count, or MICA_EINVAL when p keeps no log or from is no
 * longer (or not yet) in it. */
int64_t console_log_read(struct partition *p, uint64_t from, char *buf, uint64_t len);
void console_flush(struct partition *p);
/* The partial line is part of what a snapshot keeps (kernel/snapshot.c): console_line_get
 * copies it out (returns its length, line holds CONSOLE_LINE bytes); console_line_set
 * writes out the partial line there is now, then makes line[0..len) the partial line. */
unsigned console_line_get(struct partition *p, char *line);
void console_line_set(struct partition *p, const char *line, unsigned len);

#endif
