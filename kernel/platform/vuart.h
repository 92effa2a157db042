/* Virtual 16550A UART (COM1 at 0x3F8, IRQ 4): the register-level logic of the National
 * PC16550D datasheet, enough for Linux's 8250 driver to detect a 16550A and run an
 * interrupt-driven ttyS0. Pure logic (host unit tested); the caller serialises calls.
 *
 * Caller:
 *  - IN/OUT at VUART_COM1_PORT + reg (reg 0..7, byte accesses) go to vuart_read() and
 *    vuart_write(); when vuart_write() returns 1 it hands the transmitted byte in *tx.
 *  - Host input goes in through vuart_receive(); pass at most vuart_rx_room() bytes unless
 *    the guest should see an overrun (bytes beyond the room are lost and set LSR.OE).
 *    Retry held-back input after RBR reads (room grows) — vuart_rx_room() says when.
 *  - After every access and every receive, drive IOAPIC pin VUART_COM1_IRQ with
 *    vuart_irq_level() (the ISA line is edge-triggered: a rising level is an interrupt).
 *
 * Transmission takes no time: THR is empty again as soon as it is written, so LSR.THRE and
 * TEMT always read 1 and a THR-empty interrupt follows every write. The receive timeout
 * interrupt is reported at once when fewer bytes than the trigger level wait (there is no
 * clock to wait four character times with). Modem inputs read CTS, DSR and DCD asserted
 * outside loopback, as a connected line. No parity, framing or break errors ever occur. */
#ifndef MICA_VUART_H
#define MICA_VUART_H

#include <stddef.h>
#include <stdint.h>

#define VUART_COM1_PORT 0x3F8
#define VUART_COM1_IRQ  4
#define VUART_NREGS     8
#define VUART_FIFO_SIZE 64 /* receive FIFO; the 16550A has 16: more only delays overruns */

/* Register offsets. With LCR.DLAB set, 0 and 1 are the divisor latch (DLL, DLM). */
#define VUART_RBR 0 /* read: receive buffer; write: THR */
#define VUART_THR 0
#define VUART_DLL 0
#define VUART_IER 1
#define VUART_DLM 1
#define VUART_IIR 2 /* read: interrupt identification; write: FCR */
#define VUART_FCR 2
#define VUART_LCR 3
#define VUART_MCR 4
#define VUART_LSR 5
#define VUART_MSR 6
#define VUART_SCR 7

#define VUART_IER_ERBFI 0x01 /* received data available (and timeout) */
#define VUART_IER_ETBEI 0x02 /* THR empty */
#define VUART_IER_ELSI  0x04 /* receiver line status */
#define VUART_IER_EDSSI 0x08 /* modem status */

#define VUART_IIR_NONE  0x01 /* no interrupt pending */
#define VUART_IIR_MSR   0x00
#define VUART_IIR_THRE  0x02
#define VUART_IIR_RDA   0x04
#define VUART_IIR_RLS   0x06
#define VUART_IIR_CTI   0x0C /* character timeout */
#define VUART_IIR_FIFO  0xC0 /* FIFOs enabled */

#define VUART_FCR_ENABLE   0x01
#define VUART_FCR_CLEAR_RX 0x02
#define VUART_FCR_CLEAR_TX 0x04
#define VUART_FCR_KEPT     0xC9 /* trigger level (7:6), DMA mode (3), enable (0) */

#define VUART_LCR_DLAB 0x80

#define VUART_MCR_DTR  0x01
#define VUART_MCR_RTS  0x02
#define VUART_MCR_OUT1 0x04
#define VUART_MCR_OUT2 0x08 /* on a PC: gates the interrupt line onto the ISA bus */
#define VUART_MCR_LOOP 0x10
#define VUART_MCR_MASK 0x1F

#define VUART_LSR_DR   0x01
#define VUART_LSR_OE   0x02
#define VUART_LSR_PE   0x04
#define VUART_LSR_FE   0x08
#define VUART_LSR_BI   0x10
#define VUART_LSR_THRE 0x20
#define VUART_LSR_TEMT 0x40
#define VUART_LSR_ERRS (VUART_LSR_OE | VUART_LSR_PE | VUART_LSR_FE | VUART_LSR_BI)

#define VUART_MSR_DCTS 0x01
#define VUART_MSR_DDSR 0x02
#define VUART_MSR_TERI 0x04
#define VUART_MSR_DDCD 0x08
#define VUART_MSR_CTS  0x10
#define VUART_MSR_DSR  0x20
#define VUART_MSR_RI   0x40
#define VUART_MSR_DCD  0x80

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
