/* The service partition's own PCI bus (the functions Mica passed through to it, at slot 8
 * and up): configuration space through ECAM, as on any PC (docs/guests.md, "Virtual PCI"). */
#ifndef MICA_VMM_PCI_H
#define MICA_VMM_PCI_H

#include <stdint.h>

#define PCI_SLOTS 32u

/* Config space of 00:slot.0 (reg aligned to the access size). */
uint32_t pci_r32(unsigned slot, unsigned reg);
uint16_t pci_r16(unsigned slot, unsigned reg);
void pci_w16(unsigned slot, unsigned reg, uint16_t v);

/* The first slot at or after `from` whose function has class/subclass/prog-if `class24`
 * (e.g. 0x010802: NVMe), or -1. */
int pci_find_class(unsigned from, uint32_t class24);

/* Memory BAR n (64-bit aware) of slot: its base, 0 when there is none. */
uint64_t pci_bar(unsigned slot, unsigned n);

/* Turns memory decoding and bus mastering on, INTx off. */
void pci_enable(unsigned slot);

#endif
