/* The host's 16550 UART (COM1 unless the config or the SPCR table names another, or none):
 * the hypervisor's log. 115200 8N1, polled. */
#include <stddef.h>
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/ioapic.h"
#include "arch/x86/trap.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/host/acpi.h"
#include "lib/uart16550.h"

/* Set by the boot CPU before the other CPUs start; read-only after. */
static uint16_t port = UART_COM1_PORT;
static uint8_t port_irq = UART_COM1_IRQ;

int arch_console_init(uint16_t base, uint8_t irq)
{
	port = base;
	port_irq = irq;
	/* No UART answering: the log goes nowhere, as it would on a headless box. */
	if (port && uart_setup(port)) {
		port = 0;
		return -1;
	}
	return 0;
}

static void put(char c)
{
	uart_putc(port, c);
}

void arch_console_write(const char *s, size_t n)
{
	if (!port)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put('\r');
		put(s[i]);
	}
}

void arch_console_write_raw(const char *s, size_t n)
{
	if (!port)
		return;
	for (size_t i = 0; i < n; i++)
		put(s[i]);
}

void serial_rx_interrupt(void)
{
	char buf[64];
	size_t n = 0;

	while (port && n < sizeof(buf) && (inb(port + UART_LSR) & UART_LSR_DR))
		buf[n++] = (char)inb(port + UART_RBR);
	if (n)
		console_rx(buf, n);
}

int arch_console_rx_enable(const struct boot_info *bi)
{
	uint64_t base;
	uint32_t gsi_base, gsi;
	uint16_t flags;

	if (!port ||
	    acpi_madt_ioapic(bi->acpi_rsdp, port_irq, &base, &gsi_base, &gsi, &flags) ||
	    gsi < gsi_base || gsi - gsi_base >= 24)
		return -1;
	/* ISA default: edge, active high; an override may say otherwise (MPS INTI flags). */
	int active_low = (flags & 3) == 3, level = ((flags >> 2) & 3) == 3;
	ioapic_mask_all(base);
	ioapic_route(base, gsi - gsi_base, VEC_SERIAL, apic_id(), level, active_low);
	while (inb(port + UART_LSR) & UART_LSR_DR)
		(void)inb(port + UART_RBR);
	outb(port + UART_MCR, inb(port + UART_MCR) | UART_MCR_OUT2);
	outb(port + UART_IER, UART_IER_ERBFI);
	return 0;
}
