/* A partition's COM1: the 16550A model (platform/vuart.c) wired to the partition's
 * console (what the guest sends), to the keyboard (what the user types, queued while the
 * FIFO is full) and to IOAPIC pin 4. Every partition has one. */
#ifndef MICA_PLATFORM_COM1_H
#define MICA_PLATFORM_COM1_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/platform/vuart.h"

struct partition;

struct com1 {
	struct vuart uart;
	int irq_level;          /* the level last driven onto IOAPIC pin 4 */
	uint8_t input[1024];    /* typed bytes the FIFO had no room for yet */
	unsigned input_head, input_len;
};

/* Power-on state, typed input forgotten. Under the partition's dev_lock. */
void com1_reset(struct com1 *c);

/* One guest access of size bytes at port (UART_COM1_PORT ... + 7): the value read. */
uint32_t com1_access(struct partition *p, uint16_t port, unsigned size, int in, uint32_t val);

/* Keyboard input for p's UART; what does not fit the queue is dropped. Ignored unless p
 * is running. */
void com1_input(struct partition *p, const uint8_t *bytes, size_t n);

#endif
