/* The PC's two 8259A interrupt controllers (ports 0x20-0x21, 0xA0-0xA1) and their edge/level
 * registers (0x4D0-0x4D1), masked and quiet: a guest can initialise them (ICW1-ICW4), mask
 * and unmask (OCW1 reads back), send EOIs and read IRR/ISR (OCW3), as kernels do before they
 * switch to the APIC, and no interrupt ever comes from them: Mica routes interrupts through
 * the local APIC and the IOAPIC only. Pure logic (host unit tested); the caller serialises
 * calls. */
#ifndef MICA_PLATFORM_VPIC_H
#define MICA_PLATFORM_VPIC_H

#include <stdint.h>

struct vpic_chip {
	uint8_t imr;       /* interrupt mask (OCW1) */
	uint8_t icw_step;  /* 0: ready; 2-4: the next initialisation word expected */
	uint8_t icw4;      /* ICW1 said an ICW4 follows */
	uint8_t single;    /* ICW1 said single (no ICW3) */
	uint8_t vector;    /* ICW2: vector base */
	uint8_t read_isr;  /* OCW3: the command port reads ISR, else IRR */
	uint8_t elcr;      /* edge/level control */
};

struct vpic {
	struct vpic_chip chip[2]; /* master (0x20), slave (0xA0) */
};

/* Power-on: every line masked. */
void vpic_reset(struct vpic *p);
int vpic_claims(uint16_t port);
uint8_t vpic_read(struct vpic *p, uint16_t port);
void vpic_write(struct vpic *p, uint16_t port, uint8_t val);

#endif
