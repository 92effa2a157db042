/* Partition consoles: whatever a guest writes reaches the host serial a whole line at a time,
 * prefixed with the partition's name, so two partitions never mix inside one line. */
#include <string.h>
#include "kernel/log.h"
#include "kernel/partition.h"

static void emit(struct partition *p)
{
	char line[MICA_NAME_MAX + CONSOLE_LINE + 4];
	size_t n = strlen(p->name);

	line[0] = '[';
	memcpy(line + 1, p->name, n);
	line[n + 1] = ']';
	line[n + 2] = ' ';
	memcpy(line + n + 3, p->con_line, p->con_len);
	n += 3 + p->con_len;
	line[n++] = '\n';
	log_write(line, n);
	p->con_len = 0;
}

void console_put(struct partition *p, const char *s, uint64_t n)
{
	uint64_t f = spin_lock(&p->con_lock);
	for (uint64_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\n') {
			emit(p);
			continue;
		}
		if (c == '\r')
			continue;
		if (c != '\t' && (c < 0x20 || c > 0x7e))
			c = '.'; /* keep the host's terminal sane */
		p->con_line[p->con_len++] = c;
		if (p->con_len == CONSOLE_LINE)
			emit(p); /* an over-long line is split, never lost */
	}
	spin_unlock(&p->con_lock, f);
}

void console_flush(struct partition *p)
{
	uint64_t f = spin_lock(&p->con_lock);
	if (p->con_len)
		emit(p);
	spin_unlock(&p->con_lock, f);
}
