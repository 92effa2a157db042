#include "kernel/partition.h"
#include "kernel/uart.h"

#define REG_THR 0
#define REG_IIR 2
#define REG_LCR 3
#define REG_LSR 5
#define LCR_DLAB 0x80
#define LSR_THRE_TEMT 0x60
#define IIR_NONE 0x01

/* Line control is remembered only so that divisor-latch writes are not taken as output. */
uint8_t uart_read(struct partition *p, unsigned reg)
{
	switch (reg) {
	case REG_IIR:
		return IIR_NONE;
	case REG_LCR:
		return p->uart_lcr;
	case REG_LSR:
		return LSR_THRE_TEMT;
	default:
		return 0;
	}
}

void uart_write(struct partition *p, unsigned reg, uint8_t val)
{
	if (reg == REG_LCR)
		p->uart_lcr = val;
	else if (reg == REG_THR && !(p->uart_lcr & LCR_DLAB))
		console_put(p, (const char *)&val, 1);
}
