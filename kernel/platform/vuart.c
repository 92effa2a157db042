/* Virtual 16550A UART: registers, FIFOs, interrupt identification and loopback after the
 * PC16550D datasheet. Pure logic; vuart.h describes the caller's side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vuart.h"

/* Receiver trigger levels selected by FCR bits 7:6. */
static const uint8_t rx_trigger[4] = { 1, 4, 8, 14 };

static int fifo_on(const struct vuart *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

static int loopback(const struct vuart *u)
{
	return u->mcr & UART_MCR_LOOP;
}

static size_t rx_capacity(const struct vuart *u)
{
	return fifo_on(u) ? VUART_FIFO_SIZE : 1; /* 16450 mode: the holding register only */
}

static void rx_clear(struct vuart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* One character from the receiver's shift register into the FIFO; a full FIFO keeps its
 * contents and the new character is lost (overrun). */
static int rx_push(struct vuart *u, uint8_t c)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr_errs |= UART_LSR_OE;
		return 0;
	}
	u->rx[(u->rx_head + u->rx_count) % VUART_FIFO_SIZE] = c;
	u->rx_count++;
	return 1;
}

/* The modem inputs: in loopback DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (datasheet, MCR
 * bit 4); otherwise a connected line with CTS, DSR and DCD asserted and RI idle. */
static uint8_t modem_inputs(const struct vuart *u)
{
	uint8_t m = u->mcr;

	if (!loopback(u))
		return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	return (uint8_t)((m & UART_MCR_DTR ? UART_MSR_DSR : 0) |
			 (m & UART_MCR_RTS ? UART_MSR_CTS : 0) |
			 (m & UART_MCR_OUT1 ? UART_MSR_RI : 0) |
			 (m & UART_MCR_OUT2 ? UART_MSR_DCD : 0));
}

/* Latches the inputs into MSR, setting the delta bits for what changed (RI: trailing edge
 * only). */
static void update_msr(struct vuart *u)
{
	uint8_t now = modem_inputs(u), old = u->msr & 0xF0, chg = now ^ old;
	uint8_t d = 0;

	if (chg & UART_MSR_CTS)
		d |= UART_MSR_DCTS;
	if (chg & UART_MSR_DSR)
		d |= UART_MSR_DDSR;
	if (chg & UART_MSR_DCD)
		d |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		d |= UART_MSR_TERI;
	u->msr = (uint8_t)(now | (u->msr & 0x0F) | d);
}

/* Highest-priority pending interrupt: line status, received data, character timeout,
 * THR empty, modem status (datasheet table "Interrupt Control Functions"). */
uint8_t vuart_iir(const struct vuart *u)
{
	uint8_t id = UART_IIR_NONE;
	unsigned trigger = fifo_on(u) ? rx_trigger[u->fcr >> 6] : 1;

	if ((u->ier & UART_IER_ELSI) && u->lsr_errs)
		id = UART_IIR_RLS;
	else if ((u->ier & UART_IER_ERBFI) && u->rx_count >= trigger)
		id = UART_IIR_RDA;
	else if ((u->ier & UART_IER_ERBFI) && u->rx_count)
		id = UART_IIR_CTI;
	else if ((u->ier & UART_IER_ETBEI) && u->thre_pending)
		id = UART_IIR_THRE;
	else if ((u->ier & UART_IER_EDSSI) && (u->msr & 0x0F))
		id = UART_IIR_MSR;
	return (uint8_t)(id | (fifo_on(u) ? UART_IIR_FIFO : 0));
}

void vuart_reset(struct vuart *u)
{
	memset(u, 0, sizeof(*u));
	u->dll = 12;
	u->msr = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
}

uint8_t vuart_read(struct vuart *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			u->last_rx = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % VUART_FIFO_SIZE;
			u->rx_count--;
		}
		return u->last_rx;
	case UART_IER:
		return u->lcr & UART_LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR:
		v = vuart_iir(u);
		if ((v & 0x0F) == UART_IIR_THRE)
			u->thre_pending = 0; /* reading IIR clears a reported THR-empty interrupt */
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = (uint8_t)((u->rx_count ? UART_LSR_DR : 0) | u->lsr_errs |
			      UART_LSR_THRE | UART_LSR_TEMT);
		/* Bit 7 (an error in the FIFO) only ever means PE/FE/BI, which never happen. */
		u->lsr_errs = 0;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= 0xF0; /* reading clears the deltas */
		return v;
	case UART_SCR:
		return u->scr;
	default:
		return 0xFF;
	}
}

int vuart_write(struct vuart *u, unsigned reg, uint8_t val, uint8_t *tx)
{
	uint8_t old;

	switch (reg) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			return 0;
		}
		/* The byte leaves at once, so THR is empty again by the time this returns. */
		u->thre_pending = 1;
		if (loopback(u)) {
			rx_push(u, val);
			return 0;
		}
		*tx = val;
		return 1;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			return 0;
		}
		old = u->ier;
		u->ier = val & 0x0F;
		/* Enabling the THR-empty interrupt while THR is empty (it always is) raises it:
		 * Linux checks for this (UART_BUG_THRE). */
		if (!(old & UART_IER_ETBEI) && (u->ier & UART_IER_ETBEI))
			u->thre_pending = 1;
		return 0;
	case UART_FCR:
		/* Changing the enable bit empties the FIFOs; the other bits are only written
		 * while the enable bit is (being) set. */
		if ((val ^ u->fcr) & UART_FCR_ENABLE)
			rx_clear(u);
		if (!(val & UART_FCR_ENABLE)) {
			u->fcr = 0;
			return 0;
		}
		u->fcr = val & VUART_FCR_KEPT;
		if (val & UART_FCR_CLEAR_RX)
			rx_clear(u);
		return 0; /* clearing the transmit FIFO: it is always empty */
	case UART_LCR:
		u->lcr = val;
		return 0;
	case UART_MCR:
		u->mcr = val & VUART_MCR_MASK;
		update_msr(u);
		return 0;
	case UART_SCR:
		u->scr = val;
		return 0;
	default: /* LSR and MSR are read only (factory test writes are ignored) */
		return 0;
	}
}

size_t vuart_rx_room(const struct vuart *u)
{
	if (loopback(u))
		return 0;
	return rx_capacity(u) - u->rx_count;
}

size_t vuart_receive(struct vuart *u, const uint8_t *bytes, size_t n)
{
	size_t taken = 0;

	if (loopback(u))
		return 0; /* the serial input is disconnected */
	while (taken < n && rx_push(u, bytes[taken]))
		taken++;
	return taken;
}

int vuart_irq_level(const struct vuart *u)
{
	if ((u->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) != UART_MCR_OUT2)
		return 0;
	return !(vuart_iir(u) & UART_IIR_NONE);
}
