/* The 16550 UART's registers and bits (National PC16550D datasheet), and the polled
 * driving every program of Mica does on a PC's COM1: the core's log, both boot paths'
 * messages, the test guests' output. The hypervisor's model of the device for guests
 * (kernel/platform/vuart.c) uses the same names. */
#ifndef MICA_LIB_UART16550_H
#define MICA_LIB_UART16550_H

#include <stdint.h>
#include "lib/portio.h"

#define UART_COM1_PORT 0x3F8
#define UART_COM1_IRQ  4   /* ISA IRQ of COM1 */
#define UART_NREGS     8

/* Register offsets. With LCR.DLAB set, 0 and 1 are the divisor latch (DLL, DLM). */
#define UART_RBR 0 /* read: receive buffer; write: THR */
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2 /* read: interrupt identification; write: FCR */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available (and timeout) */
#define UART_IER_ETBEI 0x02 /* THR empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NONE  0x01 /* no interrupt pending */
#define UART_IIR_MSR   0x00
#define UART_IIR_THRE  0x02
#define UART_IIR_RDA   0x04
#define UART_IIR_RLS   0x06
#define UART_IIR_CTI   0x0C /* character timeout */
#define UART_IIR_FIFO  0xC0 /* FIFOs enabled */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04

#define UART_LCR_8N1  0x03
#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08 /* on a PC: gates the interrupt line onto the ISA bus */
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_PE   0x04
#define UART_LSR_FE   0x08
#define UART_LSR_BI   0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

#define UART_SPIN_MAX 100000 /* LSR polls before a transmitter is taken to be absent */

/* Is there a UART at base? A floating bus reads all ones, and some chipsets answer
 * unclaimed ports with zeros: a UART's scratch register keeps what is written to it. */
static inline int uart_present(uint16_t base)
{
	uint16_t scr = (uint16_t)(base + UART_SCR);
	uint8_t old = inb(scr), a, b;

	if (inb((uint16_t)(base + UART_LSR)) == 0xFF)
		return 0;
	outb(scr, 0x5a);
	a = inb(scr);
	outb(scr, 0xa5);
	b = inb(scr);
	outb(scr, old);
	return a == 0x5a && b == 0xa5;
}

/* 115200 8N1 (divisor 1 of 1.8432 MHz / 16), FIFOs on and cleared, DTR and RTS; receive
 * interrupts off. Returns 0, or -1 when no UART answers at base (uart_present). */
static inline int uart_setup(uint16_t base)
{
	if (!uart_present(base))
		return -1;
	outb((uint16_t)(base + UART_IER), 0);
	outb((uint16_t)(base + UART_LCR), UART_LCR_DLAB);
	outb((uint16_t)(base + UART_DLL), 1);
	outb((uint16_t)(base + UART_DLM), 0);
	outb((uint16_t)(base + UART_LCR), UART_LCR_8N1);
	outb((uint16_t)(base + UART_FCR), 0xC0 | UART_FCR_CLEAR_TX | UART_FCR_CLEAR_RX |
					      UART_FCR_ENABLE);
	outb((uint16_t)(base + UART_MCR), UART_MCR_DTR | UART_MCR_RTS);
	return 0;
}

/* Sends c once the transmitter has room: 0, or -1 when it never had (UART_SPIN_MAX polls;
 * no UART, or one that is wedged: the caller stops writing rather than hang). */
static inline int uart_putc(uint16_t base, char c)
{
	for (unsigned i = 0; !(inb((uint16_t)(base + UART_LSR)) & UART_LSR_THRE); i++) {
		if (i == UART_SPIN_MAX)
			return -1;
		__asm__ volatile("pause");
	}
	outb((uint16_t)(base + UART_THR), (uint8_t)c);
	return 0;
}

#endif
