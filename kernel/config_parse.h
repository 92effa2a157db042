/* What the config parser's files share (kernel/config.c reads the text line by line,
 * kernel/config_devices.c the keys that give a partition devices). Internal to them: the
 * rest of Mica sees kernel/config.h only. */
#ifndef MICA_CONFIG_PARSE_H
#define MICA_CONFIG_PARSE_H

#include <stddef.h>

#include "kernel/config.h"

#define EXCERPT_MAX 40 /* longest piece of user text quoted back in a message */

/* A piece of the config text: not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

/* What the parser carries from line to line; lives on cfg_parse's stack. */
struct parser {
	struct cfg *out;
	struct cfg_error *err;
	struct cfg_partition *cur; /* NULL before the first section and in [mica] */
	int in_host;               /* inside the [mica] section */
	unsigned on_crash_line;    /* struct cfg_partition has no field for it */
	unsigned line;
};

/* Copies user text into buf for quoting in a message: at most max characters (then "..."),
 * control characters shown as '?'. buf must hold max + 4 bytes. */
const char *cfg_excerpt(char *buf, struct span s, size_t max);
int cfg_span_is(struct span s, const char *word);
void cfg_span_copy(char *dst, struct span s); /* dst holds s.n + 1 bytes */

/* kernel/config_devices.c: the value of `disk = nvme:NAME` (v is the whole value) and of
 * `pci = ...` for the partition being read; 0, or MICA_EINVAL with the message in ps->err. */
int cfg_parse_nvme_disk(struct parser *ps, struct span v);
int cfg_parse_pci(struct parser *ps, struct span v);

/* The service partition and the partitions it serves, once the whole text is read. */
int cfg_check_devices(const struct cfg *c, struct cfg_error *err);

#endif
