/* Virtual PCI host bridge with virtio 1.x ("modern only") PCI functions: the configuration
 * space side, seen through ECAM, and the map of each function's memory BAR. Pure logic (host
 * unit tested); not wired to guests yet. The caller serialises calls on one struct vpci.
 * The virtio registers themselves (common config, notify, ISR, device config) are served by
 * another module: this one only says which region a guest-physical address hits.
 *
 * Bus 0 is the only bus; 00:00.0 is the host bridge, virtio functions sit at 00:slot.0,
 * slot 1 .. VPCI_SLOTS-1. Every other function reads as all ones (no device).
 * The ECAM window's base (MCFG, acpi_build.h ecam_base) is bus 0's: ECAM offset =
 * bus << 20 | device << 15 | function << 12 | register.
 *
 * Accesses: sizes 1, 2 and 4, anywhere inside one dword (a config transaction carries one
 * dword address plus byte enables, PCI Local Bus 3.0 3.2.2.3). An access of another size, or
 * one that crosses a dword boundary, which ECAM does not support (PCIe Base 4.0 7.2.2), reads
 * as all ones and is ignored on write. Registers 0x100-0xFFF of a present function read 0
 * (no extended capabilities). Read-only and reserved bits ignore writes; no status bit is
 * ever set, so none needs clearing.
 *
 * A virtio function (see docs/guests.md, "Virtual PCI"):
 *   vendor 0x1AF4, device 0x1040 + virtio ID, revision 1, subsystem 0x1AF4 / 0x0040 + ID,
 *   class by type, header type 0, interrupt pin INTA (none when irq is 0xFF), status
 *   "capabilities list";
 *   command: I/O space, memory space, bus master, parity/SERR response and INTx disable
 *   writable;
 *   BAR0+BAR1: one 64-bit non-prefetchable memory BAR of VPCI_BAR_SIZE;
 *   BAR2: an I/O BAR of VPCI_PIO_SIZE ports that holds only the queue notify registers;
 *   BAR3-5, ROM: none;
 *   capabilities from 0x40: virtio COMMON, NOTIFY (in BAR2), NOTIFY (in BAR0), ISR, DEVICE
 *   (when it has a device config), PCI_CFG, then MSI-X.
 * Two notify capabilities: a driver uses the first one it can (virtio 1.x 4.1.4.1), and an
 * OUT to a port is an exit that says everything (port, width, value) where a write to
 * memory is a stage-2 fault whose instruction Mica must fetch and decode; the one in BAR0
 * is for drivers that cannot use I/O space. */
#ifndef MICA_VPCI_BUS_H
#define MICA_VPCI_BUS_H

#include <stddef.h>
#include <stdint.h>

#define VPCI_SLOTS      16   /* device numbers 0 (host bridge) .. 15 on bus 0 */
#define VPCI_MSIX_MAX   64   /* MSI-X vectors per function */

/* Host bridge 00:00.0: Red Hat's ID for a generic PCIe host bridge (pci.ids "QEMU PCIe
 * Host bridge"), which no Linux driver or quirk claims; class 06 00 00. */
#define VPCI_HB_VENDOR  0x1B36
#define VPCI_HB_DEVICE  0x0008

#define VPCI_VIRTIO_VENDOR     0x1AF4
#define VPCI_VIRTIO_DEVICE(id) (0x1040u + (id)) /* virtio 1.x 4.1.2: modern device IDs */
#define VPCI_VIRTIO_SUBSYS(id) (0x0040u + (id)) /* 4.1.2.1: 0x40 or higher when modern only */
#define VPCI_VIRTIO_NET        1
#define VPCI_VIRTIO_BLOCK      2
#define VPCI_VIRTIO_CONSOLE    3
#define VPCI_VIRTIO_ID_MAX     0x3F /* device IDs 0x1040 .. 0x107F */

/* BAR0 layout of every virtio function: one 4 KiB page per region, so each can be trapped
 * or mapped alone, and the MSI-X structures apart from other registers (PCIe Base 4.0
 * 7.7.2: recommended). Offsets inside the BAR: */
#define VPCI_BAR_SIZE     0x8000u
#define VPCI_COMMON_OFF   0x0000u
#define VPCI_COMMON_LEN   0x38u   /* struct virtio_pci_common_cfg of virtio 1.0/1.1 */
#define VPCI_ISR_OFF      0x1000u
#define VPCI_ISR_LEN      1u
#define VPCI_DEVICE_OFF   0x2000u
#define VPCI_DEVICE_MAX   0x1000u /* longest device config */
#define VPCI_NOTIFY_OFF   0x3000u
#define VPCI_NOTIFY_LEN   0x1000u
#define VPCI_NOTIFY_MULT  4u      /* notify_off_multiplier: queue q notifies at 4 * q when
				   * its queue_notify_off reads q, so 1024 queues fit */
/* BAR2, the notify registers in I/O space: queue q at port base + 2 * q (16 bits wide). */
#define VPCI_PIO_BAR        2
#define VPCI_PIO_SIZE       0x10u
#define VPCI_PIO_NOTIFY_MULT 2u
#define VPCI_MSIX_TABLE_OFF 0x4000u /* 16 bytes per vector */
#define VPCI_MSIX_PBA_OFF   0x4800u /* 8 bytes per 64 vectors; same page, no overlap */

/* What an address inside a BAR hits (vpci_bar_lookup). */
enum vpci_region {
	VPCI_REGION_NONE = 0, /* no BAR decodes the address */
	VPCI_REGION_COMMON,
	VPCI_REGION_NOTIFY,
	VPCI_REGION_ISR,
	VPCI_REGION_DEVICE,
	VPCI_REGION_MSIX_TABLE,
	VPCI_REGION_MSIX_PBA,
	VPCI_REGION_UNUSED,   /* inside a decoded BAR but no register there: read 0, ignore */
	VPCI_REGION_PT,       /* a passed-through function's BAR n is VPCI_REGION_PT + n
			       * (offset from the BAR's start): the device's own registers */
	VPCI_REGION_PT_LAST = VPCI_REGION_PT + 5,
};

/* vpci_msix_message() results besides 0 (send the message). */
#define VPCI_MSIX_MASKED    1 /* the vector's mask bit is set: now pending */
#define VPCI_MSIX_FMASKED   2 /* Function Mask is set: now pending */
#define VPCI_MSIX_DISABLED  3 /* MSI-X Enable is clear: the device uses INTx instead */
#define VPCI_MSIX_NO_MASTER 4 /* Bus Master Enable is clear: a function may not send */

/* The owner of a function: the device behind it (virtio/device.c for virtio functions).
 * The bus decodes every access once (ECAM, mechanism #1 or a BAR; which function, which
 * region) and serves configuration space and MSI-X itself; an access to one of the
 * function's own register regions (virtio common config, notify, ISR, device config) goes
 * to region(): size 1, 2, 4 or 8 bytes at off inside region r, val for a write; returns
 * the value read. It is reached through the BAR and through the virtio PCI_CFG window
 * (virtio 1.x 4.1.4.9), so a config-space dump has the same side effects as the BAR read
 * (an ISR read clears it), as on a real device. Called with the bus's lock held. */
struct vpci_ops {
	uint64_t (*region)(void *dev, enum vpci_region r, uint64_t off, unsigned size,
			   uint64_t val, int write);
	/* Optional: after a guest wrote configuration register reg (size bytes), so that the
	 * owner can follow what the function's state now says (a passed-through device's
	 * bus mastering, its MSI routing). */
	void (*config_written)(void *dev, unsigned reg, unsigned size);
};

/* Where the bus sits in its partition: the guest-physical windows it decodes (they match
 * the guest's MCFG and _CRS, platform/acpi_tables.h) and the sink for MSI messages (the
 * partition's local APICs). */
struct vpci_host {
	uint64_t ecam_base;                 /* bus 0's ECAM window, VPCI_ECAM_SIZE bytes */
	uint64_t mem_base, mem_size;        /* the window memory BARs are placed in */
	uint16_t io_base, io_size;          /* the window I/O BARs are placed in (size 0: none) */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	void *ctx;
};

#define VPCI_ECAM_SIZE (1ULL << 20) /* bus 0 only */

#define VPCI_BARS 6

struct vpci_fn {
	uint8_t present, virtio, pt;
	uint8_t cfg[256];      /* the configuration header and capabilities, as read */
	uint8_t wmask[256];    /* bits a guest write may change */
	uint16_t nvec;         /* MSI-X table size */
	uint32_t devcfg_len;   /* device config region length (0: no DEVICE capability) */
	uint32_t msix[VPCI_MSIX_MAX][4]; /* address low, address high, data, vector control */
	uint64_t pba[VPCI_MSIX_MAX / 64];
	const struct vpci_ops *ops; /* the function's owner, or NULL: its regions read 0 */
	void *dev;
	/* Passed-through functions (pt): their BARs, where the MSI-X structures sit, and the
	 * MSI capability (0: none). */
	uint64_t bar_size[VPCI_BARS];
	uint8_t bar_flags[VPCI_BARS];
	uint8_t msix_bir, pba_bir, msi_cap, msix_cap;
	uint32_t msix_off, pba_off;
	uint16_t host_nvec;         /* the host table's size: all of it stays virtual, also the
				     * entries past the nvec shown */
};

struct vpci {
	struct vpci_fn fn[VPCI_SLOTS];
	const struct vpci_host *host; /* NULL: no windows, no MSI sink (unit tests) */
	uint32_t cf8;                 /* the mechanism #1 address register (port 0xCF8) */
};

/* An empty bus (just the host bridge) at host (may be NULL), as at power-on. */
void vpci_init(struct vpci *b, const struct vpci_host *host);

/* Hands the function at slot to its owner (see struct vpci_ops). */
void vpci_attach(struct vpci *b, unsigned slot, const struct vpci_ops *ops, void *dev);

/* --- The ways in: what the partition's exits call, with the bus's lock held ---------- */

/* A stage-2 fault at gpa: 1 if it is in the bus's ECAM or BAR window. */
static inline int vpci_mmio_claims(const struct vpci *b, uint64_t gpa)
{
	const struct vpci_host *h = b->host;
	return h && (gpa - h->mem_base < h->mem_size || gpa - h->ecam_base < VPCI_ECAM_SIZE);
}

/* One guest access there (size 1, 2, 4 or 8): the value read (all ones where nothing
 * decodes it). Config writes and MSI-X table writes send what they unmasked. */
uint64_t vpci_mmio(struct vpci *b, uint64_t gpa, unsigned size, uint64_t val, int write);

/* Port I/O that is the bus's: PCI configuration mechanism #1 (ports 0xCF8 address,
 * 0xCFC-0xCFF data), the other door to the same configuration space, and the host's I/O
 * window, where the functions' I/O BARs decode (a port there that no BAR decodes reads as
 * all ones). 1 if the access was the bus's (*result for reads), else 0 (byte accesses at
 * 0xCF9 are the PC's reset register, not the bus's). */
int vpci_pio(struct vpci *b, uint16_t port, unsigned size, int in, uint32_t val,
	     uint32_t *result);

/* The function at slot signals MSI-X vector: 0 sent, else the VPCI_MSIX_* reason it was
 * not (masked: now pending, sent when unmasked) or MICA_EINVAL. */
int vpci_signal(struct vpci *b, unsigned slot, unsigned vector);

/* --- Passed-through functions (kernel/passthrough.c is their owner) ------------------- */

#define VPCI_BAR_64       1 /* a 64-bit memory BAR: uses this slot and the next */
#define VPCI_BAR_PREFETCH 2

/* What the guest may see of a host function. Configuration space is built from it, never
 * read through: IDs, class and revision as the host's; memory BARs of the host's sizes
 * (I/O BARs are not offered); capabilities: MSI-X (at most VPCI_MSIX_MAX vectors shown),
 * MSI (msi vectors, 64-bit address, per-vector masking), and a read-only copy of the PCI Express capability;
 * no expansion ROM, no INTx (interrupt pin 0), no extended capabilities. */
#define VPCI_VCAPS_MAX 8u   /* vendor-specific capabilities shown per function */
#define VPCI_VCAP_MAX  24u  /* bytes of each (virtio's are 16 or 20) */

struct vpci_pt_desc {
	uint16_t vendor, device, subvendor, subsystem;
	uint32_t class;
	uint8_t revision;
	uint64_t bar_size[VPCI_BARS];  /* 0: none (or the upper half of a 64-bit BAR) */
	uint8_t bar_flags[VPCI_BARS];  /* VPCI_BAR_* */
	uint8_t msi;                   /* MSI vectors offered: 0 (no MSI), 1, 2, 4 .. 32 */
	uint16_t msix_nvec;            /* MSI-X table size (0: no MSI-X) */
	uint8_t msix_bir, pba_bir;
	uint32_t msix_off, pba_off;
	uint8_t has_pcie;
	uint8_t pcie[0x3c];            /* the host's PCI Express capability, from its ID on */
	/* The host's vendor-specific capabilities (ID 0x09), from their ID on, cap_len bytes
	 * each: shown read-only (a virtio device's driver finds its registers through them). */
	uint8_t nvcaps;
	uint8_t vcap_len[VPCI_VCAPS_MAX];
	uint8_t vcap[VPCI_VCAPS_MAX][VPCI_VCAP_MAX];
};

/* Puts a passed-through function at 00:slot.0: 0, or MICA_EINVAL with a sentence (slot
 * taken or out of range; a BAR that is not a power of two of at least 16 bytes). */
int vpci_add_passthrough(struct vpci *b, unsigned slot, const struct vpci_pt_desc *d,
			 char *err, size_t errlen);

/* What firmware would do: program BAR bar with base (aligned to its size) and turn memory
 * decoding on. MICA_EINVAL for a bad slot, BAR or base. */
int vpci_pt_assign_bar(struct vpci *b, unsigned slot, unsigned bar, uint64_t base);

/* BAR i of a passed-through function: its base as the guest programmed it now (0 if none;
 * memory decoding is not looked at). */
uint64_t vpci_pt_bar_base(const struct vpci_fn *f, unsigned i);

/* The function's configuration register reg (a dword, as the guest sees it now). */
uint32_t vpci_cfg_dword(const struct vpci *b, unsigned slot, unsigned reg);

/* The function wants to signal MSI vector (0 .. vectors enabled - 1): 0 with *addr and
 * *data to send (the guest's data with the vector in its low bits), or a VPCI_MSIX_*
 * reason not to (a masked vector is now pending, sent when unmasked; disabled or without
 * bus mastering it is lost, PCI Local Bus 3.0 6.8.1). MICA_EINVAL for no MSI or a vector
 * the guest did not enable. */
int vpci_msi_message(struct vpci *b, unsigned slot, unsigned vector, uint64_t *addr,
		     uint32_t *data);
/* After a guest write that may unmask: the lowest pending MSI vector that may be sent now,
 * its pending bit cleared, or -1. */
int vpci_msi_pop_pending(struct vpci *b, unsigned slot);
/* MSI vectors the guest enabled (0: MSI off or absent). */
unsigned vpci_msi_nvec(const struct vpci *b, unsigned slot);

/* --- The parts, also used on their own (unit tests) --------------------------------- */

/* Puts a virtio function at 00:slot.0 (slot 1 .. VPCI_SLOTS-1) with virtio device ID id
 * (1 .. VPCI_VIRTIO_ID_MAX), nvec MSI-X vectors (1 .. VPCI_MSIX_MAX), a device config of
 * devcfg_len bytes (0 .. VPCI_DEVICE_MAX), interrupt line irq (0xFF: not connected). Its
 * BAR is unassigned and decoding off, as after reset. Returns 0, or MICA_EINVAL with a
 * sentence in err. */
int vpci_add_virtio(struct vpci *b, unsigned slot, unsigned id, unsigned nvec,
		    uint32_t devcfg_len, uint8_t irq, char *err, size_t errlen);

/* The same for a virtio function's notify BAR (BAR2): program it with port (VPCI_PIO_SIZE
 * aligned, non-zero) and turn I/O decoding on. MICA_EINVAL for a bad slot or port. */
int vpci_assign_io_bar(struct vpci *b, unsigned slot, uint16_t port);

/* What firmware would do before the OS: program BAR0 with base (VPCI_BAR_SIZE aligned,
 * non-zero) and turn memory decoding on. MICA_EINVAL for an absent slot or a bad base. */
int vpci_assign_bar(struct vpci *b, unsigned slot, uint64_t base);

/* ECAM accesses (see above). Reads return the value in the low size bytes. */
uint32_t vpci_cfg_read(struct vpci *b, uint64_t ecam_off, unsigned size);
void vpci_cfg_write(struct vpci *b, uint64_t ecam_off, unsigned size, uint32_t val);

/* PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): the ECAM offset that the
 * address register value cf8 (enable bit 31, bus 23:16, device 15:11, function 10:8,
 * register 7:2) and data port 0xCFC + k (k = 0..3) name. Returns 0 with *ecam_off, or -1 if
 * the enable bit is clear or the bus is not bus 0 (the access goes nowhere). */
int vpci_cf8_offset(uint32_t cf8, unsigned k, uint64_t *ecam_off);

/* Which region a guest-physical address hits: a virtio function whose memory decoding is
 * on and whose BAR holds a non-zero base. Fills *slot, *bar (the BAR index, 0) and *offset
 * (inside the region) on a hit, and returns the region (VPCI_REGION_NONE: none, outputs
 * untouched). Decided by the first byte: the region's handler checks that the access fits.
 * If guests make BARs overlap, the lowest slot wins. */
enum vpci_region vpci_bar_lookup(const struct vpci *b, uint64_t gpa, unsigned *slot,
				 unsigned *bar, uint64_t *offset);

/* MSI-X table / PBA accesses, r and offset as vpci_bar_lookup() gave them. Aligned 4- and
 * 8-byte accesses only (PCIe Base 4.0 6.1.4.2); others, and offsets past the table, read 0
 * and are ignored. The PBA is read-only. */
uint64_t vpci_msix_read(struct vpci *b, unsigned slot, enum vpci_region r, uint64_t offset,
			unsigned size);
void vpci_msix_write(struct vpci *b, unsigned slot, enum vpci_region r, uint64_t offset,
		     unsigned size, uint64_t val);

/* The device wants to signal vector: 0 with *addr and *data to send, or a VPCI_MSIX_* reason
 * not to (masked and function masked also set the vector's pending bit). MICA_EINVAL for an
 * absent function or a vector past the table. */
int vpci_msix_message(struct vpci *b, unsigned slot, unsigned vector, uint64_t *addr,
		      uint32_t *data);

/* After a guest write that may unmask (an MSI-X table write, a config write to the
 * function): the lowest pending vector that may be sent now, its pending bit cleared, or -1.
 * Call until -1, passing each to vpci_msix_message(). */
int vpci_msix_pop_pending(struct vpci *b, unsigned slot);

#endif
