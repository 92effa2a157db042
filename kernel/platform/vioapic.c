/* Virtual I/O APIC: indirect register access, redirection table, edge and level pins with
 * remote IRR. Pure logic; vioapic.h describes the caller's side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vioapic.h"

/* Bits a guest may write: vector, delivery mode, destination mode, polarity, trigger mode,
 * mask, destination (63:56). Delivery status and remote IRR are the IOAPIC's own. */
#define RTE_WRITABLE (0xFF00000000000000ull | VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | \
		      VIOAPIC_RTE_ACTIVE_LOW | VIOAPIC_RTE_LOGICAL | VIOAPIC_RTE_DELMODE | \
		      VIOAPIC_RTE_VECTOR)

#define ID_MASK (0xFu << 24)

void vioapic_reset(struct vioapic *io, uint8_t id)
{
	memset(io, 0, sizeof(*io));
	io->id = ((uint32_t)id << 24) & ID_MASK;
	for (unsigned i = 0; i < VIOAPIC_PINS; i++)
		io->rte[i] = VIOAPIC_RTE_MASKED;
}

static void make_msg(const struct vioapic *io, unsigned pin, struct vioapic_msg *m)
{
	uint64_t e = io->rte[pin];
	uint32_t dest = (uint32_t)(e >> VIOAPIC_RTE_DEST_SHIFT);

	m->dest = dest == 0xFF ? 0xFFFFFFFFu : dest;
	m->vector = e & VIOAPIC_RTE_VECTOR;
	m->mode = (e >> 8) & 7;
	m->logical = (e & VIOAPIC_RTE_LOGICAL) != 0;
	m->level = (e & VIOAPIC_RTE_LEVEL) != 0;
	m->pin = (uint8_t)pin;
}

/* A level pin whose line is asserted, unmasked and not awaiting an EOI sends (again). */
static int level_fire(struct vioapic *io, unsigned pin, struct vioapic_msg *out)
{
	uint64_t e = io->rte[pin];

	if (!(e & VIOAPIC_RTE_LEVEL) || (e & (VIOAPIC_RTE_MASKED | VIOAPIC_RTE_REMOTE_IRR)) ||
	    !((io->asserted >> pin) & 1))
		return 0;
	io->rte[pin] |= VIOAPIC_RTE_REMOTE_IRR;
	make_msg(io, pin, out);
	return 1;
}

int vioapic_set_irq(struct vioapic *io, unsigned pin, int level, struct vioapic_msg *out)
{
	uint32_t bit, was;

	if (pin >= VIOAPIC_PINS)
		return MICA_EINVAL;
	bit = 1u << pin;
	was = io->asserted & bit;
	if (level)
		io->asserted |= bit;
	else
		io->asserted &= ~bit;

	if (io->rte[pin] & VIOAPIC_RTE_LEVEL)
		return level_fire(io, pin, out);
	if (!level || was || (io->rte[pin] & VIOAPIC_RTE_MASKED))
		return 0; /* an edge on a masked pin is lost, as on the 82093AA */
	make_msg(io, pin, out);
	return 1;
}

int vioapic_eoi(struct vioapic *io, uint8_t vector, struct vioapic_msg *out)
{
	int n = 0;

	for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
		uint64_t e = io->rte[pin];

		if (!(e & VIOAPIC_RTE_LEVEL) || (e & VIOAPIC_RTE_VECTOR) != vector)
			continue;
		io->rte[pin] &= ~VIOAPIC_RTE_REMOTE_IRR;
		n += level_fire(io, pin, &out[n]);
	}
	return n;
}

static uint32_t read_reg(const struct vioapic *io, uint32_t index)
{
	unsigned pin;

	switch (index) {
	case VIOAPIC_REG_ID:
		return io->id;
	case VIOAPIC_REG_VER:
		return (uint32_t)(VIOAPIC_PINS - 1) << 16 | VIOAPIC_VERSION;
	case VIOAPIC_REG_ARB:
		return io->id; /* arbitration ID, loaded from the ID */
	}
	if (index < VIOAPIC_REG_RTE || index >= VIOAPIC_REG_RTE + 2 * VIOAPIC_PINS)
		return 0;
	pin = (index - VIOAPIC_REG_RTE) / 2;
	return index & 1 ? (uint32_t)(io->rte[pin] >> 32) : (uint32_t)io->rte[pin];
}

static int write_reg(struct vioapic *io, uint32_t index, uint32_t val, struct vioapic_msg *out)
{
	unsigned pin;
	uint64_t e, keep;

	if (index == VIOAPIC_REG_ID) {
		io->id = val & ID_MASK;
		return 0;
	}
	if (index < VIOAPIC_REG_RTE || index >= VIOAPIC_REG_RTE + 2 * VIOAPIC_PINS)
		return 0; /* VER, ARB and unused indices are read-only */
	pin = (index - VIOAPIC_REG_RTE) / 2;
	e = io->rte[pin];
	if (index & 1) {
		io->rte[pin] = (e & 0xFFFFFFFFull) | (((uint64_t)val << 32) & RTE_WRITABLE);
		return 0;
	}
	keep = e & (0xFFFFFFFF00000000ull | VIOAPIC_RTE_REMOTE_IRR);
	e = keep | ((uint64_t)val & RTE_WRITABLE & 0xFFFFFFFFull);
	if (!(e & VIOAPIC_RTE_LEVEL))
		e &= ~VIOAPIC_RTE_REMOTE_IRR; /* remote IRR is undefined for edge pins: clear it */
	io->rte[pin] = e;
	return level_fire(io, pin, out);
}

uint32_t vioapic_read(struct vioapic *io, uint64_t offset, unsigned size)
{
	if (size != 4)
		return 0;
	switch (offset) {
	case VIOAPIC_IOREGSEL:
		return io->regsel;
	case VIOAPIC_IOWIN:
		return read_reg(io, io->regsel);
	default:
		return 0; /* the EOI register is write-only */
	}
}

int vioapic_write(struct vioapic *io, uint64_t offset, unsigned size, uint32_t val,
		  struct vioapic_msg *out)
{
	if (size != 4)
		return 0;
	switch (offset) {
	case VIOAPIC_IOREGSEL:
		io->regsel = val & 0xFF;
		return 0;
	case VIOAPIC_IOWIN:
		return write_reg(io, io->regsel, val, out);
	case VIOAPIC_EOIR:
		return vioapic_eoi(io, (uint8_t)val, out);
	default:
		return 0;
	}
}
