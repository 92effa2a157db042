/* A partition's COM1 (platform/com1.h). Lock: the partition's dev_lock around the model;
 * the console and the IOAPIC are reached with it released. */
#include <stdint.h>
#include "kernel/console.h"
#include "kernel/irq.h"
#include "kernel/partition.h"
#include "kernel/platform/com1.h"

void com1_reset(struct com1 *c)
{
	vuart_reset(&c->uart);
	c->irq_level = 0;
	c->input_head = c->input_len = 0;
}

/* The interrupt line follows the UART's state after every access (IOAPIC pin 4); only a
 * partition with a PC platform has the IOAPIC. */
static void drive_line(struct partition *p)
{
	if (!p->platform)
		return;
	uint64_t f = spin_lock(&p->dev_lock);
	int level = vuart_irq_level(&p->com1.uart);
	int changed = level != p->com1.irq_level;
	p->com1.irq_level = level;
	spin_unlock(&p->dev_lock, f);
	if (changed)
		irq_line(p, UART_COM1_IRQ, level);
}

/* Moves queued input into the FIFO as far as it has room. Under dev_lock. */
static void input_feed(struct com1 *c)
{
	while (c->input_len) {
		size_t room = vuart_rx_room(&c->uart);
		size_t run = sizeof(c->input) - c->input_head;
		size_t k = c->input_len < run ? c->input_len : run;
		if (k > room)
			k = room;
		if (!k)
			break;
		k = vuart_receive(&c->uart, c->input + c->input_head, k);
		if (!k)
			break;
		c->input_head = (unsigned)((c->input_head + k) % sizeof(c->input));
		c->input_len -= (unsigned)k;
	}
}

void com1_input(struct partition *p, const uint8_t *bytes, size_t n)
{
	struct com1 *c = &p->com1;

	if (p->state != PART_RUNNING)
		return;
	uint64_t f = spin_lock(&p->dev_lock);
	/* Queue first, so typing (or pasting) faster than the guest reads loses nothing as
	 * long as the queue has room; what does not fit there is dropped. */
	for (size_t i = 0; i < n && c->input_len < sizeof(c->input); i++) {
		c->input[(c->input_head + c->input_len) % sizeof(c->input)] = bytes[i];
		c->input_len++;
	}
	input_feed(c);
	spin_unlock(&p->dev_lock, f);
	drive_line(p);
}

uint32_t com1_access(struct partition *p, uint16_t port, unsigned size, int in, uint32_t val)
{
	struct com1 *c = &p->com1;
	uint32_t out = 0;
	uint8_t tx;

	uint64_t f = spin_lock(&p->dev_lock);
	for (unsigned i = 0; i < size && port + i < UART_COM1_PORT + UART_NREGS; i++) {
		unsigned reg = port + i - UART_COM1_PORT;
		if (in) {
			out |= (uint32_t)vuart_read(&c->uart, reg) << (8 * i);
			if (c->input_len)
				input_feed(c); /* the guest made room: hand it more of what was typed */
		} else if (vuart_write(&c->uart, reg, (uint8_t)(val >> (8 * i)), &tx)) {
			spin_unlock(&p->dev_lock, f);
			console_put(p, (const char *)&tx, 1);
			f = spin_lock(&p->dev_lock);
		}
	}
	spin_unlock(&p->dev_lock, f);
	drive_line(p);
	return out;
}
