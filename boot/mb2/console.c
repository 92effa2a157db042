/* The stub's messages, on COM1 only: under GRUB there is no firmware console to share, and
 * the screen is left to GRUB's text mode. 115200 8N1, polled. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "mb2.h"

#define COM1 0x3F8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_SPIN_MAX 100000 /* no UART answers: stop trying rather than hang */

/* Boot CPU only: the stub never starts another CPU. */
static int uart_ok;

void con_init(void)
{
	if (inb(COM1 + UART_LSR) == 0xFF) /* floating bus: no UART here */
		return;
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor follows */
	outb(COM1 + UART_THR, 1);    /* 115200 = 1.8432 MHz / 16 / 1 */
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, 0x03); /* 8 bits, no parity, 1 stop */
	outb(COM1 + UART_FCR, 0xC7);
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
	uart_ok = 1;
}

static void putc_com1(char c)
{
	for (int i = 0; !(inb(COM1 + UART_LSR) & UART_LSR_THRE); i++)
		if (i == UART_SPIN_MAX) {
			uart_ok = 0;
			return;
		}
	outb(COM1 + UART_THR, (uint8_t)c);
}

void con_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n = snprintf(line, sizeof(line) - 2, "mica-mb2: ");

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - 2 - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\r';
	line[n++] = '\n';
	for (int i = 0; i < n && uart_ok; i++)
		putc_com1(line[i]);
}

void con_halt(const char *todo)
{
	con_say("%s", todo);
	con_say("stopped; power the machine off or reset it");
	for (;;)
		__asm__ volatile("cli; hlt");
}
