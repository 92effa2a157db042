/* Interrupts for guests that have a platform (Linux): each vCPU's virtual x2APIC
 * (kernel/platform/vlapic.c), the partition's IOAPIC (kernel/platform/vioapic.c), IPIs between the partition's
 * vCPUs, INIT/SIPI, and the host timer that stands in for the guests' timers. */
#ifndef MICA_IRQ_H
#define MICA_IRQ_H

#include <stdint.h>
#include "kernel/platform/vlapic.h"
#include "kernel/spinlock.h"

struct vcpu;
struct partition;

struct vcpu_irq {
	int on;                   /* this vCPU has a local APIC (set at partition load) */
	struct spinlock lock;     /* lapic: the owner and any sibling sending an IPI */
	struct vlapic lapic;
	volatile int wait_sipi;   /* after INIT (or as an AP at boot): waits for a SIPI */
	volatile int sipi_vector; /* the SIPI's start page, or -1 */
	volatile int init;        /* an INIT arrived while running */
	volatile uint64_t rtc_deadline; /* vCPU 0 only: TSC of its partition's next clock
					 * interrupt (IRQ 8), 0: none (platform/pc.c) */
	/* KVM's PV EOI (the guest's MSR 0x4b564d04): the guest word whose bit 0 Mica sets
	 * when the guest may skip the EOI write of the interrupt it was just given; NULL:
	 * off. pv_eoi_set: Mica set the bit and has not looked at it since. */
	uint32_t *pv_eoi;
	uint64_t pv_eoi_msr;
	int pv_eoi_set;
	uint64_t pvclock;         /* MSR_KVM_SYSTEM_TIME_NEW as written (bit 0: on) */
};

/* (Re)sets v's interrupt state. ap: starts in wait-for-SIPI. */
void irq_vcpu_reset(struct vcpu *v, int on, int ap);

/* The APIC MSRs (0x1B, 0x6E0, 0x800-0x8FF): 0, MICA_ENOSYS (not ours) or MICA_EINVAL (#GP). */
int irq_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
int irq_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);

/* MSR_KVM_PV_EOI_EN: read, and write (bit 0 enable, the rest the word's guest-physical
 * address, 4-byte aligned, in its RAM; else MICA_EINVAL: #GP). */
uint64_t irq_pv_eoi_msr(struct vcpu *v);
int irq_pv_eoi_enable(struct vcpu *v, uint64_t value);

/* Before each entry into the guest, on v's own CPU: INIT/SIPI, timers, injection. */
void irq_before_entry(struct vcpu *v);

/* HLT: sleeps until v has an interrupt to take (or INIT, or its partition stops). */
void irq_halt(struct vcpu *v, int guest_if);

/* Waits in wait-for-SIPI state, then resets v into real mode at the SIPI's page. */
void irq_wait_sipi(struct vcpu *v);

/* A device line of partition p (IOAPIC pin) goes to level. */
void irq_line(struct partition *p, unsigned pin, int level);

/* Raises vector on t's local APIC (if it has one) and kicks t. */
void irq_raise(struct vcpu *t, uint8_t vector);

/* A message-signalled interrupt (MSI / MSI-X) into partition p. */
void irq_msi(struct partition *p, uint64_t addr, uint32_t data);

/* The IOAPIC's MMIO page: 32-bit accesses at offset. */
uint32_t irq_ioapic_read(struct partition *p, uint64_t offset, unsigned size);
void irq_ioapic_write(struct partition *p, uint64_t offset, unsigned size, uint32_t val);

#endif
