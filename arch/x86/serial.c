/* 16550 UART on COM1: the hypervisor's log. 115200 8N1, polled. */
#include <stddef.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

void arch_console_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor follows */
	outb(COM1 + 0, 0x01);        /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + UART_LCR, 0x03); /* 8N1 */
	outb(COM1 + UART_FCR, 0xc7); /* FIFO on, cleared */
	outb(COM1 + UART_MCR, 0x03);
}

static void put(char c)
{
	for (unsigned spin = 0; spin < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); spin++)
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

void arch_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put('\r');
		put(s[i]);
	}
}
