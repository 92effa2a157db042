/* Test-guest runtime: picks the hypercall instruction, prints, powers off. */
#include <stdio.h>
#include <string.h>
#include "guest.h"
#include "lib/uart16550.h"


/* Written once by hcall_init() before main runs; read by hcall.S. */
uint8_t hcall_vmmcall;
/* Written once in guest_start(); TSC ticks per microsecond and per millisecond. */
uint32_t guest_tsc_mhz;
uint32_t guest_tsc_khz;

static void hcall_init(void)
{
	uint32_t r[4];

	cpuid(MICA_CPUID_SIGNATURE, 0, r);
	if (r[1] == MICA_SIG_EBX && r[2] == MICA_SIG_EBX && r[3] == MICA_SIG_EBX &&
	    r[0] >= MICA_CPUID_FEATURES) {
		cpuid(MICA_CPUID_FEATURES, 0, r);
		hcall_vmmcall = r[1] == MICA_HCALL_INSN_VMMCALL;
		return;
	}
	/* Not announced: guess by the CPU vendor ("AuthenticAMD" -> VMMCALL). */
	cpuid(0, 0, r);
	hcall_vmmcall = r[1] == 0x68747541u;
}

static void tsc_init(void)
{
	uint32_t r[4];

	/* Mica measures the TSC and says so in its features leaf; else CPUID 0x16 EAX (base MHz)
	 * when the CPU reports it; else a guess of 2 GHz. */
	cpuid(MICA_CPUID_FEATURES, 0, r);
	if (r[2] >= 1000) {
		guest_tsc_khz = r[2];
		guest_tsc_mhz = r[2] / 1000;
		return;
	}
	cpuid(0, 0, r);
	guest_tsc_mhz = 2000;
	if (r[0] >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0] >= 100 && r[0] <= 10000)
			guest_tsc_mhz = r[0];
	}
	guest_tsc_khz = guest_tsc_mhz * 1000;
}

int guest_start(unsigned vcpu)
{
	hcall_init();
	tsc_init();
	return main(vcpu);
}

void delay_ms(unsigned ms)
{
	uint64_t end = rdtsc() + (uint64_t)ms * 1000 * guest_tsc_mhz;

	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

long self_info(struct mica_self_info *info)
{
	memset(info, 0, sizeof(*info));
	return hcall(MICA_HC_SELF_INFO, (long)info, sizeof(*info));
}

void triple_fault(void)
{
	/* No IDT (docs/guests.md): #UD cannot be delivered, which ends in a triple fault. */
	for (;;)
		__asm__ volatile("ud2");
}

void guest_exit(int code)
{
	hcall(MICA_HC_SHUTDOWN, MICA_SHUTDOWN_POWEROFF, code);
	triple_fault();
}

long console_write(const char *s, size_t len)
{
	return hcall(MICA_HC_CONSOLE_WRITE, (long)s, (long)len);
}

void uart_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		while (uart_putc(UART_COM1_PORT, s[i]))
			; /* keep waiting: output is never dropped */
	}
}

static size_t format(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	size_t n = format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, n);
	return (int)n;
}

int uart_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	size_t n = format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	uart_write(buf, n);
	return (int)n;
}

int check_failures;

void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
	if (!ok)
		check_failures++;
}
