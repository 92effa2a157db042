/* The host's I/O APIC: Mica routes one line through it, the serial port's receive
 * interrupt, so that keyboard input reaches the console whatever the CPUs are running. */
#include <stdint.h>
#include "arch/x86/ioapic.h"
#include "kernel/iommu.h"

#define IOREGSEL 0x00
#define IOWIN    0x10
#define REG_RTE  0x10

static void wr(uint64_t base, uint32_t reg, uint32_t val)
{
	volatile uint32_t *io = (volatile uint32_t *)base;
	io[IOREGSEL / 4] = reg;
	io[IOWIN / 4] = val;
}

static uint32_t rd(uint64_t base, uint32_t reg)
{
	volatile uint32_t *io = (volatile uint32_t *)base;
	io[IOREGSEL / 4] = reg;
	return io[IOWIN / 4];
}

void ioapic_route(uint64_t base, unsigned pin, uint8_t vector, uint32_t apic_id, int level,
		  int active_low)
{
	/* With interrupt remapping on (VT-d), the entry must be in remappable format: a
	 * plain one would be blocked as a compatibility-format interrupt. */
	uint32_t rlo, rhi;
	uint8_t id = (uint8_t)(rd(base, 0) >> 24) & 0xf;
	if (iommu && !iommu->ioapic_route(id, pin, vector, apic_id, level, &rlo, &rhi)) {
		wr(base, REG_RTE + 2 * pin + 1, rhi);
		wr(base, REG_RTE + 2 * pin, rlo | (active_low ? (1u << 13) : 0));
		return;
	}
	uint32_t lo = vector | (active_low ? (1u << 13) : 0) | (level ? (1u << 15) : 0);
	wr(base, REG_RTE + 2 * pin + 1, apic_id << 24); /* physical destination */
	wr(base, REG_RTE + 2 * pin, lo);                /* fixed delivery, unmasked */
}

void ioapic_mask_all(uint64_t base)
{
	unsigned pins = ((rd(base, 1) >> 16) & 0xff) + 1; /* version register: max entry */
	for (unsigned pin = 0; pin < pins && pin < 240; pin++)
		wr(base, REG_RTE + 2 * pin, rd(base, REG_RTE + 2 * pin) | (1u << 16));
}
