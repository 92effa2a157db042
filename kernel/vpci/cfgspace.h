/* Internal to kernel/vpci/: the configuration-space layout and helpers that bus.c (the bus
 * and virtio functions) and passthrough.c (passed-through functions) share. */
#ifndef MICA_VPCI_CFGSPACE_H
#define MICA_VPCI_CFGSPACE_H

#include <stdint.h>
#include "kernel/vpci/bus.h"

/* Type 0 configuration header (PCI Local Bus 3.0 6.1). */
#define CFG_VENDOR     0x00
#define CFG_DEVICE     0x02
#define CFG_COMMAND    0x04
#define CFG_STATUS     0x06
#define CFG_REVISION   0x08
#define CFG_CLASS      0x09 /* programming interface, subclass, base class */
#define CFG_CACHE_LINE 0x0C
#define CFG_HEADER     0x0E
#define CFG_BAR0       0x10
#define CFG_BAR2       0x18
#define CFG_SUBVENDOR  0x2C
#define CFG_SUBSYSTEM  0x2E
#define CFG_CAP_PTR    0x34
#define CFG_INT_LINE   0x3C
#define CFG_INT_PIN    0x3D

#define CMD_IO           0x0001
#define CMD_MEMORY       0x0002
#define CMD_MASTER       0x0004
#define CMD_PARITY       0x0040
#define CMD_SERR         0x0100
#define CMD_INTX_DISABLE 0x0400
#define STATUS_CAP_LIST  0x0010

#define BAR_MEM_64       0x4 /* memory BAR, type 10b: 64-bit, not prefetchable */
#define BAR_IO           0x1 /* I/O space BAR */

#define CAP_ID_VENDOR    0x09
#define CAP_ID_MSIX      0x11

/* MSI-X capability (PCIe Base 4.0 7.7.2): ID, next, message control, table, PBA. */
#define MSIX_CTRL        2
#define MSIX_TABLE       4
#define MSIX_PBA         8
#define MSIX_CAP_LEN     12
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK  0x4000
#define MSIX_ENTRY_MASK  1u /* vector control bit 0 */

/* struct virtio_pci_cap (virtio 1.x 4.1.4): vndr, next, len, cfg_type, bar, id, pad[2],
 * offset, length; the notify capability adds notify_off_multiplier, the PCI_CFG one
 * pci_cfg_data[4]. */
#define VCAP_TYPE        3
#define VCAP_BAR         4
#define VCAP_OFFSET      8
#define VCAP_LENGTH      12
#define VCAP_EXTRA       16
#define VCAP_LEN         16
#define VCAP_LEN_EXTRA   20

#define VIRTIO_CAP_COMMON  1
#define VIRTIO_CAP_NOTIFY  2
#define VIRTIO_CAP_ISR     3
#define VIRTIO_CAP_DEVICE  4
#define VIRTIO_CAP_PCI_CFG 5

/* Where the capabilities sit in every virtio function (the DEVICE one may be left out,
 * which moves the rest up: find_cap() follows the chain). */
#define CAP_FIRST        0x40

/* Makes len bytes at reg writable by the guest where mask has ones. */
void vpci_set_mask(struct vpci_fn *f, unsigned reg, unsigned len, uint32_t mask);
/* Clears f and gives it a type 0 header: IDs, revision, class; single function. */
void vpci_header(struct vpci_fn *f, uint16_t vendor, uint16_t device, uint8_t rev,
		 uint32_t class);
/* Sends an MSI through the bus's host. */
void vpci_send(struct vpci *b, uint64_t addr, uint32_t data);

/* Passed-through functions (passthrough.c): which part of BAR i the offset off hits (the
 * MSI-X table and PBA are Mica's). */
enum vpci_region vpci_pt_region(const struct vpci_fn *f, unsigned i, uint64_t off,
				uint64_t *roff);

#endif
