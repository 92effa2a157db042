#include <stdarg.h>
#include <stdio.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/hostcon.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/spinlock.h"

/* Serialises the serial port and the screen between all CPUs. */
static struct spinlock log_lock = SPINLOCK_INIT;

void log_write(const char *s, size_t n)
{
	uint64_t f = spin_lock(&log_lock);
	arch_console_write(s, n);
	hostcon_screen_write(s, n);
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
	log_write(buf, (size_t)n);
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
