/* The PC's 8259A pair, masked and quiet (kernel/platform/vpic.h). */
#include <string.h>
#include "kernel/platform/vpic.h"

void vpic_reset(struct vpic *p)
{
	memset(p, 0, sizeof(*p));
	p->chip[0].imr = p->chip[1].imr = 0xFF;
}

int vpic_claims(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xA0 || port == 0xA1 || port == 0x4D0 ||
	       port == 0x4D1;
}

static struct vpic_chip *chip_of(struct vpic *p, uint16_t port)
{
	return &p->chip[port == 0xA0 || port == 0xA1 || port == 0x4D1];
}

uint8_t vpic_read(struct vpic *p, uint16_t port)
{
	struct vpic_chip *c = chip_of(p, port);

	if (port >= 0x4D0)
		return c->elcr;
	if (port & 1)
		return c->imr;
	return 0; /* IRR and ISR alike: nothing requested, nothing in service */
}

void vpic_write(struct vpic *p, uint16_t port, uint8_t val)
{
	struct vpic_chip *c = chip_of(p, port);

	if (port >= 0x4D0) {
		/* IRQ 0-2 (timer, keyboard, cascade) and 8 and 13 are always edge. */
		c->elcr = val & (port == 0x4D0 ? 0xF8 : 0xDE);
		return;
	}
	if (!(port & 1)) {
		if (val & 0x10) { /* ICW1: initialisation starts; the mask is cleared */
			c->icw_step = 2;
			c->icw4 = val & 1;
			c->single = (val >> 1) & 1;
			c->imr = 0;
			c->read_isr = 0;
		} else if ((val & 0x18) == 0x08 && (val & 2)) { /* OCW3 with RR: pick IRR or ISR */
			c->read_isr = val & 1;
		}
		return; /* OCW2 (EOIs, priority rotation): nothing is ever in service */
	}
	switch (c->icw_step) {
	case 2:
		c->vector = val & 0xF8;
		c->icw_step = c->single ? (c->icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->icw_step = c->icw4 ? 4 : 0; /* the cascade wiring: fixed on a PC */
		break;
	case 4:
		c->icw_step = 0;
		break;
	default:
		c->imr = val; /* OCW1 */
	}
}
