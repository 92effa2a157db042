/* Partition consoles: whatever a guest writes reaches the host serial a whole line at a time,
 * prefixed with the partition's name, so two partitions never mix inside one line; it is
 * also kept, as written, in the partition's log ring (config key log). While the terminal
 * is attached to one partition (console NAME), that one's output passes byte for byte and
 * the others' is only kept. Keys go to one partition, to the management console
 * (kernel/manage.c) or to the attached partition. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/console.h"
#include "kernel/mem.h"
#include "kernel/log.h"
#include "kernel/manage.h"
#include "kernel/partition.h"
#include "kernel/platform/com1.h"
#include "kernel/virtio/device.h"

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
	log_write_line(line, n);
	p->con_len = 0;
}

/* Keeps the bytes in p's ring (under con_lock). */
static void keep(struct partition *p, const char *s, uint64_t n)
{
	if (!p->log)
		return;
	if (n > p->log_size) { /* only the last log_size bytes can stay */
		p->log_total += n - p->log_size;
		s += n - p->log_size;
		n = p->log_size;
	}
	uint64_t at = p->log_total % p->log_size, first = p->log_size - at;
	if (first > n)
		first = n;
	memcpy(p->log + at, s, first);
	memcpy(p->log, s + first, n - first);
	p->log_total += n;
}

int64_t console_log_read(struct partition *p, uint64_t from, char *buf, uint64_t len)
{
	int64_t rc;
	uint64_t f = spin_lock(&p->con_lock);
	uint64_t oldest = p->log_total > p->log_size ? p->log_total - p->log_size : 0;
	if (!p->log || from < oldest || from > p->log_total) {
		rc = MICA_EINVAL;
	} else {
		uint64_t n = p->log_total - from < len ? p->log_total - from : len;
		for (uint64_t i = 0; i < n; i++)
			buf[i] = p->log[(from + i) % p->log_size];
		rc = (int64_t)n;
	}
	spin_unlock(&p->con_lock, f);
	return rc;
}

unsigned console_line_get(struct partition *p, char *line)
{
	uint64_t f = spin_lock(&p->con_lock);
	unsigned n = p->con_len;
	memcpy(line, p->con_line, n);
	spin_unlock(&p->con_lock, f);
	return n;
}

void console_line_set(struct partition *p, const char *line, unsigned len)
{
	uint64_t f = spin_lock(&p->con_lock);
	if (p->con_len)
		emit(p);
	p->con_len = len < CONSOLE_LINE ? len : CONSOLE_LINE - 1;
	memcpy(p->con_line, line, p->con_len);
	spin_unlock(&p->con_lock, f);
}

/* The partition the terminal is attached to (console NAME at the management console), or
 * -1; while it is, the others' output is held (kept in their rings, not printed) and
 * counted in held[]. */
static volatile int attached = -1;
static uint64_t held[CFG_MAX_PARTS];

void console_put(struct partition *p, const char *s, uint64_t n)
{
	uint64_t f = spin_lock(&p->con_lock);
	keep(p, s, n);
	int a = __atomic_load_n(&attached, __ATOMIC_ACQUIRE);
	if (a >= 0) {
		if (p == &partitions[a])
			log_write_raw(s, n); /* as it is: escape sequences, long lines, no prefix */
		else
			held[p->id] += n;
		spin_unlock(&p->con_lock, f);
		return;
	}
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

/* The partition keyboard input goes to, and whether the escape key was just pressed. Only
 * the CPU that takes the serial interrupt changes them. input_manage: keys go to the
 * management console (kernel/manage.c) instead; the manager may clear it from its CPU. */
static int input_target = -1;
static int input_escape;
static volatile int input_manage;

static void select_input(int i)
{
	if (i < 0 || (unsigned)i >= npartitions) {
		log_info("console: no partition %d (there are %u)", i + 1, npartitions);
		return;
	}
	input_target = i;
	input_manage = 0;
	log_info("console input goes to partition %d '%s' (Ctrl-] then 1-%u or n switches, "
		 "m manages)", i + 1, partitions[i].name, npartitions < 9 ? npartitions : 9);
}

void console_manage_leave(void)
{
	if (!__atomic_exchange_n(&input_manage, 0, __ATOMIC_ACQ_REL))
		return;
	if (input_target >= 0)
		log_info("console input goes to partition %d '%s' again", input_target + 1,
			 partitions[input_target].name);
}

void console_attach(struct partition *p)
{
	console_flush(p); /* its last partial line, the usual way */
	for (unsigned i = 0; i < CFG_MAX_PARTS; i++)
		__atomic_store_n(&held[i], 0, __ATOMIC_RELAXED);
	input_manage = 0;
	__atomic_store_n(&attached, (int)p->id, __ATOMIC_RELEASE);
}

/* Ctrl-] while attached: a summary of what was held, then back to the management console. */
static void detach(void)
{
	char line[240];
	size_t n = 0;
	int a = __atomic_exchange_n(&attached, -1, __ATOMIC_ACQ_REL);

	line[0] = '\0';
	for (unsigned i = 0; i < npartitions && n < sizeof(line); i++) {
		uint64_t h = __atomic_load_n(&held[i], __ATOMIC_RELAXED);
		if (h)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s'%s' %lu bytes%s",
					      n ? ", " : "", partitions[i].name, (unsigned long)h,
					      partitions[i].log ? "" : " (not kept: log = no)");
	}
	log_info("console detached from '%s'; held meanwhile: %s%s", partitions[a].name,
		 n ? line : "nothing", n ? " (log NAME shows them)" : "");
	if (!manage_enter())
		input_manage = 1;
}

static void manage(void)
{
	if (manage_enter()) {
		log_info("console: no management console: it runs in the service partition "
			 "(service = yes), and none is running (docs/management.md)");
		return;
	}
	input_manage = 1;
}

void console_input_start(void)
{
	/* The first Linux partition, else the first that is not the service. */
	int first = -1;
	for (unsigned i = 0; i < npartitions && first < 0; i++)
		if (partitions[i].platform)
			first = (int)i;
	for (unsigned i = 0; i < npartitions && first < 0; i++)
		if (!partitions[i].cfg->service)
			first = (int)i;
	if (first < 0 && npartitions)
		first = 0;
	if (first >= 0)
		select_input(first);
}

/* Typed bytes for partition p: its virtio console if it has one, else its UART. */
static void deliver(struct partition *p, const char *s, size_t n)
{
	if (!vdev_console_input(p, (const uint8_t *)s, n))
		com1_input(p, (const uint8_t *)s, n);
}

void console_rx(const char *s, size_t n)
{
	char out[64];
	size_t k = 0;

	int a = __atomic_load_n(&attached, __ATOMIC_ACQUIRE);
	if (a >= 0) {
		/* Attached: every byte is the partition's but Ctrl-], which detaches. */
		size_t i = 0;
		while (i < n && s[i] != CONSOLE_ESCAPE)
			i++;
		if (i)
			deliver(&partitions[a], s, i);
		if (i < n) {
			detach();
			console_rx(s + i + 1, n - i - 1);
		}
		return;
	}

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (input_escape) {
			input_escape = 0;
			if (c >= '1' && c <= '9') {
				select_input(c - '1');
				continue;
			}
			if (c == 'n') {
				select_input(npartitions ? (input_target + 1) % (int)npartitions : -1);
				continue;
			}
			if (c == 'm') {
				manage();
				continue;
			}
			if (c == 'f') { /* free memory: make soak compares it before and after */
				log_info("memory: %lu KiB free", (unsigned long)(mem_free_bytes() >> 10));
				continue;
			}
			/* anything else (a second Ctrl-] included) goes to the guest as typed */
		} else if (c == CONSOLE_ESCAPE) {
			input_escape = 1;
			continue;
		}
		if (k < sizeof(out))
			out[k++] = c;
	}
	if (k && input_manage) {
		if (manage_input(out, k)) {
			log_info("console: the management console is gone (its service partition "
				 "stopped)");
			console_manage_leave();
		}
		return;
	}
	if (k && input_target >= 0)
		deliver(&partitions[input_target], out, k);
}
