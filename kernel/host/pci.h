/* The host's PCI devices: enumeration by walking from a root bus through bridges, what each
 * function is (IDs, class, header type, BARs, capabilities, reset methods) and which
 * requester ID its DMA carries. Pure logic: configuration space is reached through struct
 * hpci_cfg (ECAM or mechanism #1 in the core, an array in the host unit tests), so every
 * rule here is tested on the host. Nothing here changes a device except BAR sizing, which
 * restores the BAR and the command register as it found them.
 *
 * Addresses are segment:bus:device.function; a requester ID (RID) is
 * bus << 8 | device << 3 | function. */
#ifndef MICA_HOST_PCI_H
#define MICA_HOST_PCI_H

#include <stddef.h>
#include <stdint.h>

#define HPCI_MAX_DEVS 256 /* functions kept (more are counted in skipped) */
#define HPCI_BARS     6
#define HPCI_VCAPS 8 /* vendor-specific capabilities kept per function */

/* Configuration space access: aligned 32-bit reads and writes of register reg (0..4095)
 * of one function. A read of an absent function returns 0xFFFFFFFF. */
struct hpci_cfg {
	uint32_t (*read)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			 unsigned reg);
	void (*write)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
		      unsigned reg, uint32_t val);
	void *ctx;
};

struct hpci_bar {
	uint64_t base;    /* as firmware programmed it (0: unassigned) */
	uint64_t size;    /* 0: no BAR here (or the upper half of a 64-bit BAR) */
	uint8_t io;       /* an I/O BAR */
	uint8_t is64;     /* a 64-bit memory BAR (uses this slot and the next) */
	uint8_t prefetch;
};

/* Header types (bits 6:0 of register 0x0E). */
#define HPCI_HDR_ENDPOINT 0
#define HPCI_HDR_BRIDGE   1
#define HPCI_HDR_CARDBUS  2

/* PCI Express capability, Device/Port Type (PCIe Base 4.0, 7.5.3.2). */
#define HPCI_PCIE_ENDPOINT       0x0
#define HPCI_PCIE_LEGACY_EP      0x1
#define HPCI_PCIE_RC_INTEGRATED  0x9
#define HPCI_PCIE_ROOT_PORT      0x4
#define HPCI_PCIE_UPSTREAM       0x5
#define HPCI_PCIE_DOWNSTREAM     0x6
#define HPCI_PCIE_TO_PCI_BRIDGE  0x7
#define HPCI_PCI_TO_PCIE_BRIDGE  0x8

struct hpci_dev {
	uint16_t seg;
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t class;        /* base class << 16 | subclass << 8 | programming interface */
	uint8_t revision;
	uint8_t header;        /* HPCI_HDR_* */
	uint8_t multifunction;
	uint8_t secondary, subordinate; /* bridges: the buses below */
	uint8_t int_pin;       /* 0: no INTx; 1-4: INTA-INTD */
	struct hpci_bar bar[HPCI_BARS]; /* endpoints: 6; bridges: 2 (the rest size 0) */
	uint64_t rom_size;     /* expansion ROM BAR size, 0: none */
	/* Capabilities (offsets in configuration space, 0: absent). */
	uint8_t cap_pm, cap_msi, cap_msix, cap_pcie;
	uint8_t cap_vendor[HPCI_VCAPS]; /* vendor-specific capabilities (ID 0x09), in order */
	uint8_t ncap_vendor;
	uint8_t pcie_type;     /* HPCI_PCIE_*, when cap_pcie */
	uint8_t flr;           /* PCIe Device Capabilities: Function Level Reset */
	uint8_t pm_no_soft_reset; /* PM Control/Status bit 3: D3hot -> D0 keeps state */
	uint16_t msi_ctrl;     /* MSI Message Control as found (64-bit, per-vector mask, count) */
	uint16_t msix_size;    /* MSI-X table entries */
	uint8_t msix_bir, pba_bir;
	uint32_t msix_off, pba_off;
	/* The requester ID this function's DMA and MSIs carry: its own, or an alias when it
	 * sits below a PCIe-to-PCI bridge (secondary bus, device 0, function 0) or a
	 * conventional PCI-to-PCI bridge (the bridge's own RID), as PCIe Base 4.0 2.2.6.2 and
	 * the PCI-to-PCIe bridge spec describe. */
	uint16_t rid;
	int upstream;          /* index of the bridge above it in the list, or -1 (root bus) */
};

struct hpci_list {
	unsigned n;
	struct hpci_dev dev[HPCI_MAX_DEVS];
	unsigned skipped;      /* functions found beyond HPCI_MAX_DEVS */
	unsigned bad_bridges;  /* bridges whose bus numbers were refused (0, not above the
				* parent's, or a bus already walked): not followed */
};

/* Walks segment seg from bus root: every device 0-31, function 0 (and 1-7 when function
 * 0 says it is multifunction, as ARI-less PCI requires), into bridges' secondary buses
 * (each bus at most once, so a loop in bus numbers cannot hang it; buses must increase
 * along a path). For each function: IDs, class, header, BAR sizes (by writing all ones
 * with decoding turned off, then restoring), capability list (at most 48 links, so a
 * looping list ends), MSI/MSI-X/PCIe/PM details and its DMA requester ID. Appends to out
 * (which the caller zeroes once; several segments or roots may go into one list). */
void hpci_scan(const struct hpci_cfg *cfg, uint16_t seg, uint8_t root, struct hpci_list *out);

/* Finds seg:bus:dev.fn in the list: its index, or -1. */
int hpci_find(const struct hpci_list *l, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);

/* A short name for a class code, for the boot log ("nvme", "ethernet", "vga", "bridge",
 * "usb", "sata", ...; "other" when unknown). */
const char *hpci_class_name(uint32_t class);

/* 1 if the function is a bridge of any kind (header type 1 or 2, or class 06 xx) or the
 * host bridge (class 06 00): never given to a partition. */
int hpci_is_bridge(const struct hpci_dev *d);

/* The bridge whose secondary bus reset would reset function i and nothing else: its index,
 * or -1 when i sits on a root bus, or shares the buses below its bridge with any other
 * function (a sibling, another function of its own device, anything further down). */
int hpci_reset_bridge(const struct hpci_list *l, unsigned i);

/* Parses a PCI address as written in the config: "bb:dd.f" or "ssss:bb:dd.f" (hex; bus
 * 00-ff, device 00-1f, function 0-7). Returns 0 with the fields (seg 0 when not given),
 * or -1. */
int hpci_parse_addr(const char *s, size_t len, uint16_t *seg, uint8_t *bus, uint8_t *dev,
		    uint8_t *fn);

#endif
