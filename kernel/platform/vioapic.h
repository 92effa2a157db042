/* Virtual I/O APIC: one per partition, 24 pins, version 0x20, register-level logic after
 * the 82093AA datasheet (plus the EOI register of version-0x20 parts). Pure logic (host unit
 * tested); the caller maps the MMIO page (0xFEC00000), serialises calls on one struct
 * vioapic, and delivers the messages it returns to the local APICs (vlapic_accepts() /
 * vlapic_set_irq(), NMI/INIT/ExtINT on the vCPU).
 *
 * MMIO: IOREGSEL at +0x00, IOWIN at +0x10, EOI at +0x40 (write a vector: same as
 * vioapic_eoi()). Only aligned 32-bit accesses to those offsets do anything; any other
 * access reads as 0 and is ignored on write. */
#ifndef MICA_PLATFORM_VIOAPIC_H
#define MICA_PLATFORM_VIOAPIC_H

#include <stdint.h>
#include <mica/hypercall.h>

#define VIOAPIC_BASE    0xFEC00000ull
#define VIOAPIC_SIZE    0x1000u
#define VIOAPIC_PINS    24
#define VIOAPIC_VERSION 0x20u

#define VIOAPIC_IOREGSEL 0x00u
#define VIOAPIC_IOWIN    0x10u
#define VIOAPIC_EOIR     0x40u

/* Register indices (through IOREGSEL). */
#define VIOAPIC_REG_ID  0x00u
#define VIOAPIC_REG_VER 0x01u
#define VIOAPIC_REG_ARB 0x02u
#define VIOAPIC_REG_RTE 0x10u /* pin n: low half 0x10 + 2n, high half 0x11 + 2n */

/* Redirection table entry bits. */
#define VIOAPIC_RTE_VECTOR     0xFFull
#define VIOAPIC_RTE_DELMODE    (7ull << 8)
#define VIOAPIC_RTE_LOGICAL    (1ull << 11)
#define VIOAPIC_RTE_PENDING    (1ull << 12) /* delivery status: always idle here */
#define VIOAPIC_RTE_ACTIVE_LOW (1ull << 13)
#define VIOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define VIOAPIC_RTE_LEVEL      (1ull << 15)
#define VIOAPIC_RTE_MASKED     (1ull << 16)
#define VIOAPIC_RTE_DEST_SHIFT 56

/* An interrupt message for the local APICs. */
struct vioapic_msg {
	uint32_t dest;    /* RTE bits 63:56, widened: 0xFF becomes 0xFFFFFFFF (broadcast); an
			   * x2APIC without interrupt remapping reads the rest as an x2APIC ID
			   * (physical) or as cluster 0, mask bits 7:0 (logical) */
	uint8_t vector;
	uint8_t mode;     /* delivery mode: 0 fixed, 1 lowest, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
	uint8_t logical;  /* destination mode */
	uint8_t level;    /* level-triggered: pass on to vlapic_set_irq() so TMR is set and the
			   * EOI comes back through vioapic_eoi() */
	uint8_t pin;
};

struct vioapic {
	uint32_t id;                 /* ID register: bits 27:24 */
	uint32_t regsel;             /* IOREGSEL, bits 7:0 */
	uint32_t asserted;           /* bit n: pin n's line is asserted (see vioapic_set_irq) */
	uint64_t rte[VIOAPIC_PINS];
};

/* Reset state: ID id (4 bits), every pin masked, edge, vector 0, lines de-asserted. */
void vioapic_reset(struct vioapic *io, uint8_t id);

/* MMIO read at offset from the base. */
uint32_t vioapic_read(struct vioapic *io, uint64_t offset, unsigned size);

/* MMIO write. Returns how many messages it put in out (room for VIOAPIC_PINS): unmasking
 * a level-triggered pin whose line is asserted and whose remote IRR is clear delivers it,
 * an EOI-register write may re-deliver. Read-only bits (delivery status, remote IRR) and
 * reserved ones are ignored; switching a pin to edge clears its remote IRR. */
int vioapic_write(struct vioapic *io, uint64_t offset, unsigned size, uint32_t val,
		  struct vioapic_msg *out);

/* A device drives pin's line: level 1 asserted, 0 de-asserted (logical level: the caller
 * does not apply the polarity bit, which is only stored for the guest). Returns 1 with *out
 * filled when a message must be delivered now: an edge pin on a rising edge; a level pin
 * while asserted with remote IRR clear (remote IRR is then set). Masked pins deliver
 * nothing (a level pin unmasked later while still asserted delivers then). MICA_EINVAL for
 * pin >= VIOAPIC_PINS, else 0. */
int vioapic_set_irq(struct vioapic *io, unsigned pin, int level, struct vioapic_msg *out);

/* A local APIC broadcast the EOI of a level-triggered vector: clears remote IRR on every
 * level pin with that vector and re-delivers those still asserted and unmasked. Returns the
 * number of messages put in out (room for VIOAPIC_PINS). */
int vioapic_eoi(struct vioapic *io, uint8_t vector, struct vioapic_msg *out);

#endif
