/* ECAM accesses of the service's own PCI bus (vmm/pci.h). Mica emulates the configuration
 * space; each access is one plain MOV, which its instruction decoder takes. */
#include "vmm/pci.h"

#define ECAM_BASE 0xB0000000ull /* bus 0 of a partition's ECAM window (docs/guests.md) */

#define PCI_COMMAND   0x04
#define PCI_CLASS_REV 0x08
#define PCI_BAR0      0x10
#define CMD_MEMORY    (1u << 1)
#define CMD_MASTER    (1u << 2)
#define CMD_INTX_OFF  (1u << 10)

static volatile void *cfg(unsigned slot, unsigned reg)
{
	return (volatile void *)(uintptr_t)(ECAM_BASE | (uint64_t)slot << 15 | reg);
}

uint32_t pci_r32(unsigned slot, unsigned reg)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(cfg(slot, reg)) : "memory");
	return v;
}

uint16_t pci_r16(unsigned slot, unsigned reg)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(cfg(slot, reg)) : "memory");
	return v;
}

void pci_w16(unsigned slot, unsigned reg, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(cfg(slot, reg)) : "memory");
}

int pci_find_class(unsigned from, uint32_t class24)
{
	for (unsigned s = from; s < PCI_SLOTS; s++) {
		if (pci_r16(s, 0) == 0xFFFF)
			continue;
		if (pci_r32(s, PCI_CLASS_REV) >> 8 == class24)
			return (int)s;
	}
	return -1;
}

uint64_t pci_bar(unsigned slot, unsigned n)
{
	uint32_t lo = pci_r32(slot, PCI_BAR0 + 4 * n);

	if (lo & 1)
		return 0; /* an I/O BAR */
	uint64_t base = lo & ~0xFu;
	if (((lo >> 1) & 3) == 2 && n < 5)
		base |= (uint64_t)pci_r32(slot, PCI_BAR0 + 4 * (n + 1)) << 32;
	return base;
}

void pci_enable(unsigned slot)
{
	uint16_t cmd = pci_r16(slot, PCI_COMMAND);

	pci_w16(slot, PCI_COMMAND, (uint16_t)(cmd | CMD_MEMORY | CMD_MASTER | CMD_INTX_OFF));
}
