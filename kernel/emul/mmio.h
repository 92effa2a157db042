/* Emulated MMIO: a stage-2 fault on a device page (the IOAPIC, the PCI bus's ECAM and BAR
 * windows) is completed by reading the instruction at the guest's RIP through its own page
 * tables, decoding it, and doing the access on the device. */
#ifndef MICA_EMUL_MMIO_H
#define MICA_EMUL_MMIO_H

struct vcpu;
struct vm_exit;

/* 1: emulated (RIP advanced); 0: not a device page (the fault is the guest's);
 * negative: a device page but the access could not be emulated (err says why). */
int mmio_emulate(struct vcpu *v, const struct vm_exit *e, char *err, unsigned errlen);

#endif
