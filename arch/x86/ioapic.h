#ifndef MICA_ARCH_X86_IOAPIC_H
#define MICA_ARCH_X86_IOAPIC_H

#include <stdint.h>

/* Sends the I/O APIC's pin (GSI minus its base) to vector on one CPU. */
void ioapic_route(uint64_t base, unsigned pin, uint8_t vector, uint32_t apic_id, int level,
		  int active_low);

/* Masks every pin: what firmware left routed (a device's INTx, say) must not reach a CPU
 * that does not expect it. */
void ioapic_mask_all(uint64_t base);

#endif
