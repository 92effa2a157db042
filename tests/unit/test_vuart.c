/* kernel/platform/vuart.c: Linux 8250 autoconfig, interrupt identification and priorities, the
 * receive FIFO, overrun, loopback, DLAB. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/platform/vuart.h"

static struct vuart u;
static uint8_t txb;
static int txn;

static void init(void)
{
	memset(&u, 0xa5, sizeof(u));
	vuart_reset(&u);
	txn = 0;
}

TestSuite(vuart, .init = init);

static uint8_t in(unsigned reg)
{
	return vuart_read(&u, reg);
}

static void out(unsigned reg, uint8_t v)
{
	uint8_t b = 0;

	if (vuart_write(&u, reg, v, &b)) {
		txb = b;
		txn++;
	}
}

static size_t rx(const char *s)
{
	return vuart_receive(&u, (const uint8_t *)s, strlen(s));
}

Test(vuart, reset_values)
{
	cr_expect_eq(in(UART_IER), 0);
	cr_expect_eq(in(UART_IIR), 0x01);
	cr_expect_eq(in(UART_LCR), 0);
	cr_expect_eq(in(UART_MCR), 0);
	cr_expect_eq(in(UART_LSR), 0x60);
	cr_expect_eq(in(UART_MSR), 0xB0);
	cr_expect_eq(vuart_irq_level(&u), 0);
	cr_expect_eq(vuart_rx_room(&u), 1);
	out(UART_LCR, UART_LCR_DLAB);
	cr_expect_eq(in(UART_DLL), 12);
	cr_expect_eq(in(UART_DLM), 0);
}

/* The sequence of autoconfig() and autoconfig_16550a() in drivers/tty/serial/8250. */
Test(vuart, linux_autoconfig_16550a)
{
	uint8_t scratch, scratch2, scratch3, save_mcr, save_lcr, status1, status2;

	/* Scratch test through IER. */
	scratch = in(UART_IER);
	out(UART_IER, 0);
	scratch2 = in(UART_IER) & 0x0f;
	out(UART_IER, 0x0f);
	scratch3 = in(UART_IER) & 0x0f;
	out(UART_IER, scratch);
	cr_expect_eq(scratch2, 0);
	cr_expect_eq(scratch3, 0x0f);

	save_mcr = in(UART_MCR);
	save_lcr = in(UART_LCR);

	/* Loopback: MCR = LOOP | OUT2 | RTS must read DCD | CTS in MSR's top nibble. */
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	status1 = in(UART_MSR) & 0xf0;
	out(UART_MCR, save_mcr);
	cr_expect_eq(status1, UART_MSR_DCD | UART_MSR_CTS);

	/* No EFR behind LCR 0xBF (that write goes to FCR), then FIFO detection. */
	out(UART_LCR, 0xbf);
	out(2, 0);
	out(UART_LCR, 0);
	out(UART_FCR, UART_FCR_ENABLE);
	scratch = in(UART_IIR) >> 6;
	cr_expect_eq(scratch, 3, "16550A: FIFO bits 11");

	/* autoconfig_16550a: "EFR" reads (IIR here) must not be 0. */
	out(UART_LCR, 0x80);
	cr_expect_neq(in(2), 0);
	out(UART_LCR, 0xbf);
	cr_expect_neq(in(2), 0);
	/* Not a National SuperIO: LCR 0xE0 register 2 does not track MCR.LOOP. */
	out(UART_LCR, 0);
	status1 = in(UART_MCR);
	out(UART_LCR, 0xe0);
	status2 = in(2);
	if (!((status2 ^ status1) & UART_MCR_LOOP)) {
		out(UART_LCR, 0);
		out(UART_MCR, status1 ^ UART_MCR_LOOP);
		out(UART_LCR, 0xe0);
		status2 = in(2);
		out(UART_LCR, 0);
		out(UART_MCR, status1);
		cr_expect_eq((status2 ^ status1) & UART_MCR_LOOP, 0);
	}
	/* Not a TI16750: IIR bit 5 stays clear with the 64-byte bit, with or without DLAB. */
	out(UART_LCR, 0);
	out(UART_FCR, UART_FCR_ENABLE | 0x20);
	cr_expect_eq(in(UART_IIR) & 0x20, 0);
	out(UART_FCR, UART_FCR_ENABLE);
	out(UART_LCR, 0x80);
	out(UART_FCR, UART_FCR_ENABLE | 0x20);
	cr_expect_eq(in(UART_IIR) & 0x20, 0);
	out(UART_FCR, UART_FCR_ENABLE);
	out(UART_LCR, 0);
	/* Not an XScale: IER bit 6 does not stick. */
	out(UART_IER, 0x40);
	cr_expect_eq(in(UART_IER) & 0x40, 0);
	out(UART_IER, 0);

	out(UART_LCR, save_lcr);
	out(UART_MCR, save_mcr);
	/* serial8250_clear_fifos(), then the register reads of startup. */
	out(UART_FCR, UART_FCR_ENABLE);
	out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX);
	out(UART_FCR, 0);
	in(UART_LSR);
	in(UART_RBR);
	in(UART_IIR);
	in(UART_MSR);
	cr_expect_neq(in(UART_LSR), 0xff);
	cr_expect_eq(txn, 0, "nothing was transmitted");
}

/* serial8250_do_startup's UART_BUG_THRE test: THRE re-asserts when ETBEI is re-enabled. */
Test(vuart, thre_reasserts_on_enable)
{
	uint8_t iir1, iir;

	out(UART_IER, UART_IER_ETBEI);
	iir1 = in(UART_IIR);
	out(UART_IER, 0);
	out(UART_IER, UART_IER_ETBEI);
	iir = in(UART_IIR);
	out(UART_IER, 0);
	cr_expect_eq(iir1 & 0x0f, UART_IIR_THRE);
	cr_expect_eq(iir & 0x0f, UART_IIR_THRE);
	cr_expect(in(UART_LSR) & UART_LSR_TEMT);
}

Test(vuart, thre_interrupt)
{
	out(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	out(UART_IER, UART_IER_ETBEI);
	cr_expect_eq(vuart_irq_level(&u), 1);
	cr_expect_eq(in(UART_IIR), UART_IIR_THRE);
	cr_expect_eq(vuart_irq_level(&u), 0, "reading IIR cleared it");
	cr_expect_eq(in(UART_IIR), UART_IIR_NONE);
	out(UART_THR, 'x');
	cr_expect_eq(txn, 1);
	cr_expect_eq(txb, 'x');
	cr_expect_eq(vuart_irq_level(&u), 1, "THR empty again after the write");
	cr_expect_eq(in(UART_LSR) & 0x60, 0x60);
	/* Without OUT2 the line stays low though IIR shows it pending. */
	out(UART_MCR, UART_MCR_DTR);
	cr_expect_eq(vuart_irq_level(&u), 0);
	cr_expect_eq(vuart_iir(&u), UART_IIR_THRE);
	out(UART_MCR, UART_MCR_OUT2);
	cr_expect_eq(vuart_irq_level(&u), 1);
	out(UART_IER, 0);
	cr_expect_eq(vuart_irq_level(&u), 0);
}

Test(vuart, thre_not_cleared_by_iir_when_lower_priority)
{
	out(UART_MCR, UART_MCR_OUT2);
	out(UART_IER, UART_IER_ETBEI | UART_IER_ERBFI);
	cr_expect_eq(rx("a"), 1);
	cr_expect_eq(in(UART_IIR), UART_IIR_RDA);
	cr_expect_eq(in(UART_RBR), 'a');
	cr_expect_eq(in(UART_IIR), UART_IIR_THRE, "THRE still pending behind RX data");
	cr_expect_eq(in(UART_IIR), UART_IIR_NONE);
}

Test(vuart, priorities)
{
	uint8_t msr;

	out(UART_IER, 0x0f);
	/* Modem status (lowest): loopback toggles give deltas. */
	out(UART_MCR, UART_MCR_LOOP);
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	in(UART_IIR); /* THRE from enabling ETBEI */
	cr_expect_eq(in(UART_IIR), UART_IIR_MSR);
	msr = in(UART_MSR);
	cr_expect(msr & UART_MSR_DCTS);
	cr_expect_eq(in(UART_IIR), UART_IIR_NONE);
	/* THR write in loopback feeds the receiver: RX data outranks THRE. */
	out(UART_THR, 'q');
	cr_expect_eq(txn, 0, "loopback: nothing leaves");
	cr_expect_eq(in(UART_IIR), UART_IIR_RDA);
	/* Overrun: line status outranks everything. */
	out(UART_THR, 'r');
	cr_expect_eq(in(UART_IIR), UART_IIR_RLS);
	cr_expect_eq(in(UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
	cr_expect_eq(in(UART_LSR) & UART_LSR_OE, 0, "reading LSR cleared OE");
	cr_expect_eq(in(UART_IIR), UART_IIR_RDA);
	cr_expect_eq(in(UART_RBR), 'q');
	cr_expect_eq(in(UART_IIR), UART_IIR_THRE);
	cr_expect_eq(in(UART_IIR), UART_IIR_NONE);
	cr_expect_eq(vuart_irq_level(&u), 0);
}

Test(vuart, fifo_trigger_and_timeout)
{
	out(UART_MCR, UART_MCR_OUT2);
	out(UART_FCR, UART_FCR_ENABLE | 0xC0); /* trigger 14 */
	out(UART_IER, UART_IER_ERBFI);
	cr_expect_eq(vuart_rx_room(&u), VUART_FIFO_SIZE);
	cr_expect_eq(rx("hello"), 5);
	cr_expect_eq(in(UART_IIR), 0xC0 | UART_IIR_CTI, "below trigger: timeout");
	cr_expect_eq(vuart_irq_level(&u), 1);
	cr_expect_eq(rx("0123456789"), 10);
	cr_expect_eq(in(UART_IIR), 0xC0 | UART_IIR_RDA);
	char got[16] = { 0 };
	for (int i = 0; in(UART_LSR) & UART_LSR_DR; i++)
		got[i] = (char)in(UART_RBR);
	cr_expect_str_eq(got, "hello0123456789");
	cr_expect_eq(in(UART_IIR), 0xC1);
	cr_expect_eq(vuart_irq_level(&u), 0);
	/* Trigger 4. */
	out(UART_FCR, UART_FCR_ENABLE | 0x40);
	rx("abc");
	cr_expect_eq(in(UART_IIR) & 0x0f, UART_IIR_CTI);
	rx("d");
	cr_expect_eq(in(UART_IIR) & 0x0f, UART_IIR_RDA);
	/* Clear RX. */
	out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	cr_expect_eq(in(UART_LSR) & UART_LSR_DR, 0);
	cr_expect_eq(in(UART_IIR), 0xC1);
}

Test(vuart, fifo_overrun)
{
	uint8_t buf[VUART_FIFO_SIZE + 8];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	out(UART_FCR, UART_FCR_ENABLE);
	cr_expect_eq(vuart_receive(&u, buf, 10), 10);
	cr_expect_eq(vuart_rx_room(&u), VUART_FIFO_SIZE - 10);
	cr_expect_eq(in(UART_LSR) & UART_LSR_OE, 0);
	cr_expect_eq(vuart_receive(&u, buf + 10, sizeof(buf) - 10), VUART_FIFO_SIZE - 10);
	cr_expect_eq(vuart_rx_room(&u), 0);
	cr_expect_eq(in(UART_LSR), UART_LSR_OE | UART_LSR_DR | 0x60);
	/* The FIFO kept its contents: the first 64 bytes in order. */
	for (unsigned i = 0; i < VUART_FIFO_SIZE; i++)
		cr_assert_eq(in(UART_RBR), i);
	cr_expect_eq(in(UART_LSR), 0x60);
	cr_expect_eq(in(UART_RBR), VUART_FIFO_SIZE - 1, "empty FIFO: last byte again");
}

Test(vuart, no_fifo_holding_register)
{
	cr_expect_eq(rx("ab"), 1);
	cr_expect_eq(in(UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
	cr_expect_eq(in(UART_IIR), 0x01, "no FIFO bits, no interrupts enabled");
	out(UART_IER, UART_IER_ERBFI);
	cr_expect_eq(in(UART_IIR), UART_IIR_RDA, "16450 mode: RDA at one byte, no timeout");
	cr_expect_eq(in(UART_RBR), 'a');
	cr_expect_eq(vuart_rx_room(&u), 1);
	/* Turning the FIFO on or off empties it. */
	rx("c");
	out(UART_FCR, UART_FCR_ENABLE);
	cr_expect_eq(in(UART_LSR) & UART_LSR_DR, 0);
}

Test(vuart, line_status_interrupt_needs_elsi)
{
	out(UART_MCR, UART_MCR_OUT2);
	rx("xy");
	cr_expect_eq(vuart_irq_level(&u), 0, "no interrupts enabled");
	out(UART_IER, UART_IER_ELSI);
	cr_expect_eq(vuart_irq_level(&u), 1);
	cr_expect_eq(in(UART_IIR), UART_IIR_RLS);
	in(UART_LSR);
	cr_expect_eq(vuart_irq_level(&u), 0);
}

Test(vuart, loopback_modem_lines)
{
	out(UART_MCR, UART_MCR_LOOP | 0x0f);
	cr_expect_eq(in(UART_MSR) & 0xf0, 0xf0);
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	/* CTS, RI (trailing edge) and DCD dropped. */
	cr_expect_eq(in(UART_MSR), UART_MSR_DSR | UART_MSR_DCTS | UART_MSR_TERI |
					    UART_MSR_DDCD);
	cr_expect_eq(in(UART_MSR), UART_MSR_DSR, "deltas cleared by the read");
	/* Input from the line is not taken in loopback; the IRQ line is gated off. */
	cr_expect_eq(vuart_rx_room(&u), 0);
	cr_expect_eq(rx("z"), 0);
	cr_expect_eq(in(UART_LSR) & UART_LSR_OE, 0);
	out(UART_IER, UART_IER_ETBEI);
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	cr_expect_eq(vuart_irq_level(&u), 0);
	/* Leaving loopback: a connected line again. */
	out(UART_MCR, UART_MCR_OUT2);
	cr_expect_eq(in(UART_MSR) & 0xf0, 0xB0);
	cr_expect_eq(vuart_irq_level(&u), 1);
}

Test(vuart, dlab_and_scratch)
{
	out(UART_LCR, 0x83);
	out(UART_DLL, 0x01);
	out(UART_DLM, 0x02);
	cr_expect_eq(in(UART_DLL), 0x01);
	cr_expect_eq(in(UART_DLM), 0x02);
	cr_expect_eq(txn, 0, "DLL writes transmit nothing");
	cr_expect_eq(in(UART_LCR), 0x83);
	out(UART_LCR, 0x03);
	cr_expect_eq(in(UART_IER), 0, "IER untouched by DLM writes");
	out(UART_THR, 'A');
	cr_expect_eq(txn, 1);
	cr_expect_eq(txb, 'A');
	out(UART_SCR, 0x5a);
	cr_expect_eq(in(UART_SCR), 0x5a);
	out(UART_MCR, 0xff);
	cr_expect_eq(in(UART_MCR), 0x1f);
	out(UART_LSR, 0x00);
	cr_expect_eq(in(UART_LSR) & 0x60, 0x60, "LSR writes ignored");
	cr_expect_eq(in(8), 0xff);
}

/* What Linux's interrupt handler does with console input: read IIR, drain while DR. */
Test(vuart, interrupt_driven_receive)
{
	out(UART_LCR, 0x03);
	out(UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger 8 */
	out(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	out(UART_IER, UART_IER_ERBFI | UART_IER_ELSI);
	cr_expect_eq(vuart_irq_level(&u), 0);
	rx("ls\r");
	cr_expect_eq(vuart_irq_level(&u), 1);
	cr_expect_eq(in(UART_IIR) & 0x01, 0);
	char got[8] = { 0 };
	for (int i = 0; in(UART_LSR) & UART_LSR_DR; i++)
		got[i] = (char)in(UART_RBR);
	cr_expect_str_eq(got, "ls\r");
	cr_expect_eq(vuart_irq_level(&u), 0);
}
