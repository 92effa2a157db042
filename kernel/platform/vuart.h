/* Virtual 16550A UART (COM1 at 0x3F8, IRQ 4): the register-level logic of the National
 * PC16550D datasheet, enough for Linux's 8250 driver to detect a 16550A and run an
 * interrupt-driven ttyS0. Pure logic (host unit tested); the caller serialises calls.
 *
 * Caller:
 *  - IN/OUT at UART_COM1_PORT + reg (reg 0..7, byte accesses) go to vuart_read() and
 *    vuart_write(); when vuart_write() returns 1 it hands the transmitted byte in *tx.
 *  - Host input goes in through vuart_receive(); pass at most vuart_rx_room() bytes unless
 *    the guest should see an overrun (bytes beyond the room are lost and set LSR.OE).
 *    Retry held-back input after RBR reads (room grows) — vuart_rx_room() says when.
 *  - After every access and every receive, drive IOAPIC pin UART_COM1_IRQ with
 *    vuart_irq_level() (the ISA line is edge-triggered: a rising level is an interrupt).
 *
 * Transmission takes no time: THR is empty again as soon as it is written, so LSR.THRE and
 * TEMT always read 1 and a THR-empty interrupt follows every write. The receive timeout
 * interrupt is reported at once when fewer bytes than the trigger level wait (there is no
 * clock to wait four character times with). Modem inputs read CTS, DSR and DCD asserted
 * outside loopback, as a connected line. No parity, framing or break errors ever occur. */
#ifndef MICA_PLATFORM_VUART_H
#define MICA_PLATFORM_VUART_H

#include <stddef.h>
#include <stdint.h>
#include "lib/uart16550.h" /* register names (UART_*), COM1's port and IRQ */

#define VUART_FIFO_SIZE 64 /* receive FIFO; the 16550A has 16: more only delays overruns */
#define VUART_FCR_KEPT  0xC9 /* FCR bits the model keeps: trigger level (7:6), DMA mode (3), enable (0) */
#define VUART_MCR_MASK  0x1F /* MCR bits that exist */
#define VUART_LSR_ERRS  (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

struct vuart {
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_errs;       /* OE (and the other error bits): cleared by reading LSR */
	uint8_t msr;            /* modem inputs (7:4) and their deltas (3:0) */
	uint8_t thre_pending;   /* THR-empty interrupt condition, until IIR read or THR write */
	uint8_t last_rx;        /* what RBR reads when the FIFO is empty */
	uint8_t rx[VUART_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

/* Master reset: IER, FCR, LCR, MCR 0; LSR THRE|TEMT; no interrupt pending; divisor 12
 * (9600 baud); MSR CTS|DSR|DCD. */
void vuart_reset(struct vuart *u);

uint8_t vuart_read(struct vuart *u, unsigned reg);

/* Returns 1 if the write transmitted a byte (in *tx) for the caller to output, else 0.
 * Registers other than 0..7 are ignored. */
int vuart_write(struct vuart *u, unsigned reg, uint8_t val, uint8_t *tx);

/* Bytes from the line into the receive FIFO. Returns how many were taken; bytes beyond the
 * room are lost and set LSR.OE. In loopback mode the line is disconnected: nothing is
 * taken (and nothing lost). */
size_t vuart_receive(struct vuart *u, const uint8_t *bytes, size_t n);

/* Room in the receive FIFO (1 byte of holding register with FIFOs off); 0 in loopback. */
size_t vuart_rx_room(const struct vuart *u);

/* The IRQ line: an enabled interrupt is pending and MCR.OUT2 is set (outside loopback,
 * which forces the OUT2 pin inactive). */
int vuart_irq_level(const struct vuart *u);

/* The interrupt identification IIR would read now (without the side effects of reading). */
uint8_t vuart_iir(const struct vuart *u);

#endif
