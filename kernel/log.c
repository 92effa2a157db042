#include <stdarg.h>
#include <stdio.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/hostcon.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/spinlock.h"

/* Serialises the serial port and the screen between all CPUs. line_open: the last byte
 * written was not a newline (the management console's prompt, raw output). */
static struct spinlock log_lock = SPINLOCK_INIT;
static int line_open;

static void put(const char *s, size_t n, int raw)
{
	if (!n)
		return;
	if (raw)
		arch_console_write_raw(s, n);
	else
		arch_console_write(s, n);
	hostcon_screen_write(s, n);
	line_open = s[n - 1] != '\n';
}

void log_write(const char *s, size_t n)
{
	uint64_t f = spin_lock(&log_lock);
	put(s, n, 0);
	spin_unlock(&log_lock, f);
}

void log_write_raw(const char *s, size_t n)
{
	uint64_t f = spin_lock(&log_lock);
	put(s, n, 1);
	spin_unlock(&log_lock, f);
}

void log_write_line(const char *s, size_t n)
{
	uint64_t f = spin_lock(&log_lock);
	if (line_open)
		put("\n", 1, 0); /* after a prompt: a line of its own */
	put(s, n, 0);
	spin_unlock(&log_lock, f);
}

static void log_vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[320];
	int n = snprintf(buf, sizeof(buf), "%s", prefix);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	log_write_line(buf, (size_t)n);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline("mica: ", fmt, ap);
	va_end(ap);
}

void panic(const char *fmt, ...)
{
	char prefix[40];
	va_list ap;
	struct pcpu *c = this_cpu();

	snprintf(prefix, sizeof(prefix), "mica: PANIC on CPU %u: ", c ? c->id : 0);
	va_start(ap, fmt);
	log_vline(prefix, fmt, ap);
	va_end(ap);
	cpu_halt_forever();
}
