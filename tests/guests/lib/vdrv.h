/* vdrv: the virtio console driver that the virtio test guests share (vhostile, vrestart,
 * vbench; docs/guests.md, "Virtual PCI" and "The virtio test guests").
 *
 * It finds the console on the virtual PCI bus through ECAM, walks its virtio capabilities,
 * reads BAR0, initialises the device as virtio 1.1 3.1.1 says (VERSION_1 only, queues 0 and
 * 1 with VDRV_QSZ entries, rings in page-aligned .bss: RAM is identity mapped, so their
 * addresses are guest-physical) and drives the split queues by hand: descriptors, publish,
 * notify, wait for the used ring. Everything here polls, with a timeout on every wait, and
 * touches the device with one plain MOV of the register's own width (mmio_*: what Mica's
 * MMIO decoder takes). A guest may also build queue entries itself (vhostile's hostile
 * chains, vbench's timed notify) from the structures below.
 *
 * What it prints starts with the device's `name` and, for a failure, `FAILED:`; a function
 * that fails has said why. One device at a time: the rings and the transmit buffer are this
 * library's own. Linked only into the guests that use it (tests/guests/guests.mk). */
#ifndef VDRV_H
#define VDRV_H

#include <stdint.h>

/* --- platform (docs/guests.md, "Virtual PCI") --- */
#define ECAM_BASE   0xB0000000ull /* bus 0 */
#define PCI_DEVICES 32            /* device numbers on a bus */

#define VIRTIO_VENDOR         0x1AF4
#define VIRTIO_CONSOLE_DEVICE 0x1043 /* 0x1040 + virtio ID 3 */

/* PCI configuration header (type 0) and capabilities */
#define PCI_ID          0x00 /* vendor (15:0), device (31:16) */
#define PCI_COMMAND     0x04
#define PCI_STATUS      0x06
#define PCI_BAR0        0x10
#define PCI_BAR1        0x14
#define PCI_CAP_PTR     0x34
#define PCI_CMD_IO      0x0001
#define PCI_CMD_MEMORY  0x0002
#define PCI_CMD_MASTER  0x0004
#define PCI_STATUS_CAPS 0x0010
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAPS_MAX    48 /* (256 - 64) / 4: more links than that is a loop */

/* device_status (virtio 1.1, 2.1) */
#define S_ACKNOWLEDGE 0x01
#define S_DRIVER      0x02
#define S_DRIVER_OK   0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED      0x80

#define F_VERSION_1 (1ull << 32)
#define VDRV_NO_VECTOR 0xFFFF /* an MSI-X vector register: no interrupt */

/* virtq_desc flags (2.6.5) */
#define D_NEXT     1
#define D_WRITE    2
#define D_INDIRECT 4

#define RXQ          0 /* console receiveq (5.3.2) */
#define TXQ          1 /* console transmitq */
#define VDRV_NQUEUES 2
#define VDRV_QSZ     8 /* entries asked for; fewer if the device offers fewer */

#define VDRV_TIMEOUT_MS 5000  /* every wait but the first for the backend: the service
			       * shares the host with two booting Linux guests in virtio-linux */
#define VDRV_ATTACH_MS  10000 /* the first vdrv_init: the service may still be starting */

/* --- MMIO: one plain MOV of the natural width each (what Mica's MMIO decoder knows; a
 * compiler left alone may turn a read-and-test into TEST imm, which it does not) --- */

static inline uint8_t mmio_r8(uint64_t a)
{
	uint8_t v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_r16(uint64_t a)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_r32(uint64_t a)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_w8(uint64_t a, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory");
}

static inline void mmio_w16(uint64_t a, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

static inline void mmio_w32(uint64_t a, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

/* Ring stores are visible before what follows (avail->idx, the notify write). */
static inline void fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* PCI configuration space of 00:slot.0 through ECAM */
static inline uint64_t ecam(unsigned slot, unsigned reg)
{
	return ECAM_BASE | (uint64_t)slot << 15 | reg;
}

static inline uint32_t ecam_r32(unsigned slot, unsigned reg) { return mmio_r32(ecam(slot, reg)); }
static inline uint16_t ecam_r16(unsigned slot, unsigned reg) { return mmio_r16(ecam(slot, reg)); }
static inline uint8_t ecam_r8(unsigned slot, unsigned reg) { return mmio_r8(ecam(slot, reg)); }
static inline void ecam_w16(unsigned slot, unsigned reg, uint16_t v)
{
	mmio_w16(ecam(slot, reg), v);
}

/* --- split virtqueues (2.6) --- */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vavail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VDRV_QSZ];
	uint16_t used_event;
};

struct vused_elem {
	uint32_t id;
	uint32_t len;
};

struct vused {
	uint16_t flags;
	uint16_t idx;
	struct vused_elem ring[VDRV_QSZ];
	uint16_t avail_event;
};

/* One page per ring: far more alignment than 2.6 asks (16, 2, 4), and no overlap. */
struct vring {
	struct vdesc desc[VDRV_QSZ] __attribute__((aligned(4096)));
	struct vavail avail __attribute__((aligned(4096)));
	struct vused used __attribute__((aligned(4096)));
};

struct vdrv_queue {
	struct vring *r;
	uint16_t size;
	uint16_t notify_off; /* queue_notify_off */
	uint16_t avail_idx;  /* our next avail->idx */
	uint16_t used_idx;   /* used entries we have taken */
	uint16_t vector;     /* queue_msix_vector, written only if the device's msix is set */
};

struct vdrv {
	const char *name;             /* the guest's: starts every line printed for it */
	int msix;                     /* vdrv_init sets config_msix_vector to VDRV_NO_VECTOR and
				       * each queue's vector (checked); 0: leaves them alone */
	int quiet;                    /* vdrv_init does not say that it waits for the backend */
	unsigned slot;                /* 00:slot.0 */
	uint64_t bar;                 /* BAR0 base */
	uint32_t common, notify, isr; /* region offsets inside BAR0 */
	uint32_t device, device_len;  /* device config (device_len 0: no capability) */
	uint32_t notify_mult;         /* notify_off_multiplier */
	int mem_notify;               /* set before vdrv_open: skip a NOTIFY in I/O space */
	uint16_t notify_port;         /* the NOTIFY structure's first port; 0: it is in BAR0 */
	unsigned msix_cap;            /* the MSI-X capability in config space, 0 if none */
	uint16_t num_queues;
	struct vdrv_queue q[VDRV_NQUEUES];
};

/* Finds the virtio console on bus 0 and its COMMON, NOTIFY, ISR (and DEVICE, if any)
 * capabilities, all in BAR0, and its MSI-X capability; reads BAR0 and turns memory
 * decoding and bus mastering on. *d starts zeroed but for name, msix, quiet and the
 * queues' vectors. */
int vdrv_open(struct vdrv *d);

/* vdrv_open, a line on what it found, vdrv_init(d, attach_ms), a line on the queues. */
int vdrv_start(struct vdrv *d, unsigned attach_ms);

/* Reset, then 3.1.1 steps 2-8: after it the device is DRIVER_OK with both queues enabled
 * and empty. attach_ms: how long to wait for the device to offer VERSION_1 (Mica shows
 * features 0 until the service has attached the device). */
int vdrv_init(struct vdrv *d, unsigned attach_ms);

uint8_t vdrv_status(const struct vdrv *d);

/* Polls device_status until (status & mask) == want, at most ms; returns 1 if it got
 * there. *last: the last value read. */
int vdrv_wait_status(const struct vdrv *d, uint8_t mask, uint8_t want, unsigned ms,
		     uint8_t *last);

void vdrv_set_desc(struct vdrv_queue *q, unsigned i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);

/* Puts chain head on the available ring and publishes it (2.6.13). */
void vdrv_publish(struct vdrv_queue *q, uint16_t head);

/* Queue qi's notify register (4.1.4.4): notify + queue_notify_off * multiplier, in BAR0
 * or, when notify_port is set, in I/O space. */
static inline uint64_t vdrv_notify_addr(const struct vdrv *d, unsigned qi)
{
	return d->bar + d->notify + (uint64_t)d->q[qi].notify_off * d->notify_mult;
}

static inline uint16_t vdrv_notify_port(const struct vdrv *d, unsigned qi)
{
	return (uint16_t)(d->notify_port + d->q[qi].notify_off * d->notify_mult);
}

/* Notifies queue qi: its index, 16 bits (VIRTIO_F_NOTIFICATION_DATA is not negotiated). */
void vdrv_notify(const struct vdrv *d, unsigned qi);

/* Waits for the device to return chain head on queue qi; what names it for the failure
 * line. Returns 1 if it came back. */
int vdrv_wait_used(struct vdrv *d, unsigned qi, uint16_t head, const char *what);

/* Copies text (at most 256 bytes) into the transmit buffer, puts it on the transmit queue
 * as one readable descriptor and notifies. */
void vdrv_put(struct vdrv *d, const char *text);

/* vdrv_put, then vdrv_wait_used: returns 1 if the text came back used. */
int vdrv_send(struct vdrv *d, const char *text, const char *what);

#endif
