/* 16550 UART on COM1: the hypervisor's log. 115200 8N1, polled. */
#include <stddef.h>
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/ioapic.h"
#include "arch/x86/trap.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/host/acpi.h"
#include "lib/uart16550.h"

#define COM1 UART_COM1_PORT

void arch_console_init(void)
{
	uart_setup(COM1); /* no UART: the log goes nowhere, as it would on a headless box */
}

static void put(char c)
{
	uart_putc(COM1, c);
}

void arch_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put('\r');
		put(s[i]);
	}
}

void serial_rx_interrupt(void)
{
	char buf[64];
	size_t n = 0;

	while (n < sizeof(buf) && (inb(COM1 + UART_LSR) & UART_LSR_DR))
		buf[n++] = (char)inb(COM1 + UART_RBR);
	if (n)
		console_rx(buf, n);
}

int arch_console_rx_enable(const struct boot_info *bi)
{
	uint64_t base;
	uint32_t gsi_base, gsi;
	uint16_t flags;

	if (acpi_madt_ioapic(bi->acpi_rsdp, UART_COM1_IRQ, &base, &gsi_base, &gsi, &flags) ||
	    gsi < gsi_base || gsi - gsi_base >= 24)
		return -1;
	/* ISA default: edge, active high; an override may say otherwise (MPS INTI flags). */
	int active_low = (flags & 3) == 3, level = ((flags >> 2) & 3) == 3;
	ioapic_mask_all(base);
	ioapic_route(base, gsi - gsi_base, VEC_SERIAL, apic_id(), level, active_low);
	while (inb(COM1 + UART_LSR) & UART_LSR_DR)
		(void)inb(COM1 + UART_RBR);
	outb(COM1 + UART_MCR, inb(COM1 + UART_MCR) | UART_MCR_OUT2);
	outb(COM1 + UART_IER, UART_IER_ERBFI);
	return 0;
}
