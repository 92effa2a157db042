/* 16550 UART on COM1: the hypervisor's log. 115200 8N1, polled. */
#include <stddef.h>
#include "arch/x86/cpu.h"
#include "arch/x86/apic.h"
#include "arch/x86/ioapic.h"
#include "arch/x86/trap.h"
#include "kernel/host/acpi.h"
#include "kernel/arch.h"
#include "kernel/console.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define LSR_DR   0x01
#define IER_RX   0x01
#define MCR_OUT2 0x08 /* gates the UART's interrupt onto the bus on PCs */
#define COM1_ISA_IRQ 4

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

void serial_rx_interrupt(void)
{
	char buf[64];
	size_t n = 0;

	while (n < sizeof(buf) && (inb(COM1 + UART_LSR) & LSR_DR))
		buf[n++] = (char)inb(COM1 + UART_THR);
	if (n)
		console_rx(buf, n);
}

int arch_console_rx_enable(const struct boot_info *bi)
{
	uint64_t base;
	uint32_t gsi_base, gsi;
	uint16_t flags;

	if (acpi_madt_ioapic(bi->acpi_rsdp, COM1_ISA_IRQ, &base, &gsi_base, &gsi, &flags) ||
	    gsi < gsi_base || gsi - gsi_base >= 24)
		return -1;
	/* ISA default: edge, active high; an override may say otherwise (MPS INTI flags). */
	int active_low = (flags & 3) == 3, level = ((flags >> 2) & 3) == 3;
	ioapic_route(base, gsi - gsi_base, VEC_SERIAL, apic_id(), level, active_low);
	while (inb(COM1 + UART_LSR) & LSR_DR)
		(void)inb(COM1 + UART_THR);
	outb(COM1 + UART_MCR, inb(COM1 + UART_MCR) | MCR_OUT2);
	outb(COM1 + UART_IER, IER_RX);
	return 0;
}
