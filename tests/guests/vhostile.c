/* vhostile: a virtio console driver that breaks the rules on purpose. It finds its virtio
 * console on the virtual PCI bus, initialises it as virtio 1.1 3.1.1 says, sends one good
 * line, then hands the transmit queue six hostile chains, one at a time. After each, the
 * device must say DEVICE_NEEDS_RESET (the service refused the chain); the guest resets it,
 * initialises it again and sends a good line, which must come back used: the device works
 * again. The power-off code is 0 if all six were refused and every good line was used.
 *
 * Everything is polled (interrupts stay off, MSI-X is never enabled), and every poll has a
 * timeout, so the guest always gets to its summary line. The lines that travel through the
 * virtio console ("hello through virtio", "after <case>: still served") are never printed by
 * this guest itself, so finding them on the serial proves the service printed them; the
 * hostile buffers hold "SHOULD NOT APPEAR", which no correct service prints. */
#include <string.h>
#include "lib/guest.h"

/* --- platform (docs/guests.md, "Virtual PCI") --- */
#define ECAM_BASE   0xB0000000ull /* bus 0 */
#define PCI_DEVICES 32            /* device numbers on a bus */

#define VIRTIO_VENDOR         0x1AF4
#define VIRTIO_CONSOLE_DEVICE 0x1043 /* 0x1040 + virtio ID 3 */

/* PCI configuration header (type 0) */
#define PCI_ID          0x00 /* vendor (15:0), device (31:16) */
#define PCI_COMMAND     0x04
#define PCI_STATUS      0x06
#define PCI_BAR0        0x10
#define PCI_BAR1        0x14
#define PCI_CAP_PTR     0x34
#define PCI_CMD_MEMORY  0x0002
#define PCI_CMD_MASTER  0x0004
#define PCI_STATUS_CAPS 0x0010
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAPS_MAX    48 /* (256 - 64) / 4: more links than that is a loop */

/* struct virtio_pci_cap (virtio 1.1, 4.1.4): byte offsets inside the capability */
#define VCAP_VNDR   0
#define VCAP_NEXT   1
#define VCAP_LEN    2
#define VCAP_TYPE   3
#define VCAP_BAR    4
#define VCAP_OFFSET 8  /* le32 */
#define VCAP_LENGTH 12 /* le32 */
#define VCAP_MULT   16 /* le32 notify_off_multiplier, struct virtio_pci_notify_cap only */
#define VCAP_SIZE        16
#define VCAP_NOTIFY_SIZE 20

#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR    3
#define VIRTIO_PCI_CAP_DEVICE 4

/* struct virtio_pci_common_cfg (4.1.4.3), offsets */
#define VC_DFSELECT  0x00 /* le32 */
#define VC_DF        0x04 /* le32 */
#define VC_GFSELECT  0x08 /* le32 */
#define VC_GF        0x0C /* le32 */
#define VC_NUMQ      0x12 /* le16 */
#define VC_STATUS    0x14 /* u8 */
#define VC_QSELECT   0x16 /* le16 */
#define VC_QSIZE     0x18 /* le16 */
#define VC_QENABLE   0x1C /* le16 */
#define VC_QNOTIFY   0x1E /* le16 queue_notify_off */
#define VC_QDESC     0x20 /* le64 */
#define VC_QDRIVER   0x28 /* le64 */
#define VC_QDEVICE   0x30 /* le64 */
#define VC_LEN       0x38

/* device_status (2.1) */
#define S_ACKNOWLEDGE 0x01
#define S_DRIVER      0x02
#define S_DRIVER_OK   0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED      0x80

#define F_VERSION_1 (1ull << 32)

/* virtq_desc flags (2.6.5) */
#define D_NEXT     1
#define D_WRITE    2
#define D_INDIRECT 4

#define RXQ      0 /* console receiveq (5.3.2) */
#define TXQ      1 /* console transmitq */
#define NQUEUES  2
#define QSZ      8 /* entries we ask for */
#define INDIRECT_ENTRIES 200

#define TIMEOUT_MS     2000
#define ATTACH_WAIT_MS 10000 /* first init only: the service may still be starting */
#define POLL_US        100   /* between two MMIO status reads */

/* --- rings (2.6), in our own RAM: identity mapped, so an address is guest-physical --- */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vavail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[QSZ];
	uint16_t used_event;
};

struct vused_elem {
	uint32_t id;
	uint32_t len;
};

struct vused {
	uint16_t flags;
	uint16_t idx;
	struct vused_elem ring[QSZ];
	uint16_t avail_event;
};

/* One page per ring: far more alignment than 2.6 asks (16, 2, 4), and no overlap. */
struct vring {
	struct vdesc desc[QSZ] __attribute__((aligned(4096)));
	struct vavail avail __attribute__((aligned(4096)));
	struct vused used __attribute__((aligned(4096)));
};

static struct vring rings[NQUEUES];
static struct vdesc indirect_table[INDIRECT_ENTRIES] __attribute__((aligned(4096)));
static char txbuf[256] __attribute__((aligned(64)));   /* good lines */
static char badbuf[256] __attribute__((aligned(64)));  /* what hostile chains point at */

struct queue {
	struct vring *r;
	uint16_t size;
	uint16_t notify_off;
	uint16_t avail_idx; /* our next avail->idx */
	uint16_t used_idx;  /* used entries we have taken */
};

struct dev {
	unsigned slot;
	uint64_t bar;                 /* BAR0 base */
	uint32_t common, notify, isr; /* region offsets inside BAR0 */
	uint32_t device, device_len;  /* device config (device_len 0: no capability) */
	uint32_t notify_mult;
	uint16_t num_queues;
	struct queue q[NQUEUES];
};

static uint64_t tsc_khz;
static uint64_t ram_bytes;

/* --- time --- */

static void tsc_setup(void)
{
	uint32_t r[4];

	cpuid(MICA_CPUID_SIGNATURE, 0, r);
	if (r[1] == MICA_SIG_EBX && r[0] >= MICA_CPUID_FEATURES) {
		cpuid(MICA_CPUID_FEATURES, 0, r);
		tsc_khz = r[2]; /* ECX: TSC frequency in kHz, 0 if unknown */
	}
	if (tsc_khz == 0)
		tsc_khz = (uint64_t)guest_tsc_mhz * 1000;
}

static uint64_t deadline_ms(unsigned ms)
{
	return rdtsc() + (uint64_t)ms * tsc_khz;
}

static int passed(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

static void pause_us(unsigned us)
{
	uint64_t end = rdtsc() + (uint64_t)us * tsc_khz / 1000;

	while (!passed(end))
		cpu_relax();
}

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

/* --- PCI configuration space through ECAM (bus 0, function 0) --- */

static uint64_t ecam(unsigned slot, unsigned reg)
{
	return ECAM_BASE | (uint64_t)slot << 15 | reg;
}

static uint32_t ecam_r32(unsigned slot, unsigned reg) { return mmio_r32(ecam(slot, reg)); }
static uint16_t ecam_r16(unsigned slot, unsigned reg) { return mmio_r16(ecam(slot, reg)); }
static uint8_t ecam_r8(unsigned slot, unsigned reg) { return mmio_r8(ecam(slot, reg)); }
static void ecam_w16(unsigned slot, unsigned reg, uint16_t v) { mmio_w16(ecam(slot, reg), v); }

/* --- common configuration --- */

static uint8_t c_r8(const struct dev *d, unsigned off) { return mmio_r8(d->bar + d->common + off); }
static uint16_t c_r16(const struct dev *d, unsigned off) { return mmio_r16(d->bar + d->common + off); }
static uint32_t c_r32(const struct dev *d, unsigned off) { return mmio_r32(d->bar + d->common + off); }
static void c_w8(const struct dev *d, unsigned off, uint8_t v) { mmio_w8(d->bar + d->common + off, v); }
static void c_w16(const struct dev *d, unsigned off, uint16_t v) { mmio_w16(d->bar + d->common + off, v); }
static void c_w32(const struct dev *d, unsigned off, uint32_t v) { mmio_w32(d->bar + d->common + off, v); }

/* 64-bit fields as two 32-bit writes, low half first (4.1.3.1). */
static void c_w64(const struct dev *d, unsigned off, uint64_t v)
{
	c_w32(d, off, (uint32_t)v);
	c_w32(d, off + 4, (uint32_t)(v >> 32));
}

static uint8_t status(const struct dev *d)
{
	return c_r8(d, VC_STATUS);
}

/* Polls device_status until (status & mask) == want, at most ms; returns 1 if it got
 * there. *last: the last value read. */
static int wait_status(const struct dev *d, uint8_t mask, uint8_t want, unsigned ms,
		       uint8_t *last)
{
	uint64_t end = deadline_ms(ms);

	for (;;) {
		uint8_t s = status(d);
		*last = s;
		if ((s & mask) == want)
			return 1;
		if (passed(end))
			return 0;
		pause_us(POLL_US);
	}
}

/* --- finding the device --- */

static int find_console(void)
{
	for (unsigned slot = 0; slot < PCI_DEVICES; slot++)
		if (ecam_r32(slot, PCI_ID) == ((uint32_t)VIRTIO_CONSOLE_DEVICE << 16 | VIRTIO_VENDOR))
			return (int)slot;
	return -1;
}

/* Walks the capability list for the virtio structures (4.1.4); every one must live in
 * BAR0, the only BAR a modern Mica device has. */
static int find_caps(struct dev *d)
{
	int have_common = 0, have_notify = 0, have_isr = 0;
	unsigned s = d->slot;

	if (!(ecam_r16(s, PCI_STATUS) & PCI_STATUS_CAPS)) {
		printf("vhostile: FAILED: 00:%02x.0 has no capability list\n", s);
		return -1;
	}
	unsigned ptr = ecam_r8(s, PCI_CAP_PTR) & 0xFC;
	for (unsigned n = 0; ptr; n++) {
		if (n == PCI_CAPS_MAX || ptr < 0x40 || ptr > 0x100 - VCAP_SIZE) {
			printf("vhostile: FAILED: capability list broken at 0x%x (link %u)\n", ptr,
			       n);
			return -1;
		}
		uint8_t id = ecam_r8(s, ptr + VCAP_VNDR);
		uint8_t next = ecam_r8(s, ptr + VCAP_NEXT);
		if (id == PCI_CAP_ID_VNDR) {
			uint8_t len = ecam_r8(s, ptr + VCAP_LEN);
			uint8_t type = ecam_r8(s, ptr + VCAP_TYPE);
			uint8_t bar = ecam_r8(s, ptr + VCAP_BAR);
			uint32_t off = ecam_r32(s, ptr + VCAP_OFFSET);
			uint32_t length = ecam_r32(s, ptr + VCAP_LENGTH);
			int known = type >= VIRTIO_PCI_CAP_COMMON && type <= VIRTIO_PCI_CAP_DEVICE;
			if (known && bar != 0) {
				printf("vhostile: FAILED: virtio capability type %u at 0x%x names BAR%u, "
				       "not BAR0\n", type, ptr, bar);
				return -1;
			}
			if (known && len < VCAP_SIZE) {
				printf("vhostile: FAILED: virtio capability type %u at 0x%x is %u bytes\n",
				       type, ptr, len);
				return -1;
			}
			/* 4.1.4.1: the first capability of each type is the one to use. */
			switch (type) {
			case VIRTIO_PCI_CAP_COMMON:
				if (!have_common && length >= VC_LEN) {
					d->common = off;
					have_common = 1;
				}
				break;
			case VIRTIO_PCI_CAP_NOTIFY:
				if (!have_notify && len >= VCAP_NOTIFY_SIZE && length >= 2) {
					d->notify = off;
					d->notify_mult = ecam_r32(s, ptr + VCAP_MULT);
					have_notify = 1;
				}
				break;
			case VIRTIO_PCI_CAP_ISR:
				if (!have_isr && length >= 1) {
					d->isr = off;
					have_isr = 1;
				}
				break;
			case VIRTIO_PCI_CAP_DEVICE:
				if (!d->device_len && length) {
					d->device = off;
					d->device_len = length;
				}
				break;
			}
		}
		ptr = next & 0xFC;
	}
	if (!have_common || !have_notify || !have_isr) {
		printf("vhostile: FAILED: 00:%02x.0 lacks a usable virtio capability:%s%s%s\n", s,
		       have_common ? "" : " COMMON", have_notify ? "" : " NOTIFY",
		       have_isr ? "" : " ISR");
		return -1;
	}
	return 0;
}

/* BAR0+BAR1: one 64-bit memory BAR, assigned by Mica with decoding on. */
static int read_bar(struct dev *d)
{
	unsigned s = d->slot;
	uint32_t lo = ecam_r32(s, PCI_BAR0), hi = ecam_r32(s, PCI_BAR1);

	if ((lo & 0x7) != 0x4) {
		printf("vhostile: FAILED: BAR0 reads 0x%x: not a 64-bit memory BAR\n", lo);
		return -1;
	}
	d->bar = (uint64_t)hi << 32 | (lo & ~0xFu);
	if (d->bar == 0) {
		printf("vhostile: FAILED: BAR0 is not assigned\n");
		return -1;
	}
	/* What a driver does anyway (pci_enable_device, pci_set_master): Mica should already
	 * have memory decoding on; bus mastering lets the device use our rings. */
	uint16_t cmd = ecam_r16(s, PCI_COMMAND);
	if ((cmd & (PCI_CMD_MEMORY | PCI_CMD_MASTER)) != (PCI_CMD_MEMORY | PCI_CMD_MASTER))
		ecam_w16(s, PCI_COMMAND, cmd | PCI_CMD_MEMORY | PCI_CMD_MASTER);
	cmd = ecam_r16(s, PCI_COMMAND);
	if (!(cmd & PCI_CMD_MEMORY)) {
		printf("vhostile: FAILED: memory decoding stays off (command 0x%x)\n", cmd);
		return -1;
	}
	return 0;
}

/* --- device initialisation (3.1.1) --- */

static int reset(struct dev *d)
{
	uint8_t s;

	c_w8(d, VC_STATUS, 0);
	if (!wait_status(d, 0xFF, 0, TIMEOUT_MS, &s)) {
		printf("vhostile: FAILED: reset: status 0x%02x, not 0, after 2 s\n", s);
		return -1;
	}
	return 0;
}

static int q_setup(struct dev *d, unsigned qi)
{
	struct queue *q = &d->q[qi];

	c_w16(d, VC_QSELECT, (uint16_t)qi);
	uint16_t max = c_r16(d, VC_QSIZE);
	if (max == 0) {
		printf("vhostile: FAILED: queue %u: queue_size reads 0 (not available)\n", qi);
		return -1;
	}
	if (c_r16(d, VC_QENABLE) != 0) {
		printf("vhostile: FAILED: queue %u is enabled right after reset\n", qi);
		return -1;
	}
	uint16_t size = QSZ;
	while (size > max)
		size >>= 1; /* queue sizes are powers of two */
	q->r = &rings[qi];
	q->size = size;
	q->avail_idx = q->used_idx = 0;
	memset(q->r, 0, sizeof(*q->r));
	fence();

	c_w16(d, VC_QSIZE, size);
	if (c_r16(d, VC_QSIZE) != size) {
		printf("vhostile: FAILED: queue %u: wrote queue_size %u, reads %u\n", qi, size,
		       c_r16(d, VC_QSIZE));
		return -1;
	}
	c_w64(d, VC_QDESC, (uintptr_t)q->r->desc);
	c_w64(d, VC_QDRIVER, (uintptr_t)&q->r->avail);
	c_w64(d, VC_QDEVICE, (uintptr_t)&q->r->used);
	q->notify_off = c_r16(d, VC_QNOTIFY);
	c_w16(d, VC_QENABLE, 1);
	if (c_r16(d, VC_QENABLE) != 1) {
		printf("vhostile: FAILED: queue %u: queue_enable does not read 1\n", qi);
		return -1;
	}
	return 0;
}

/* Reads the 64 device feature bits (device_feature_select 0 and 1). */
static uint64_t dev_features(const struct dev *d)
{
	c_w32(d, VC_DFSELECT, 0);
	uint64_t f = c_r32(d, VC_DF);
	c_w32(d, VC_DFSELECT, 1);
	return f | (uint64_t)c_r32(d, VC_DF) << 32;
}

/* Reset, then 3.1.1 steps 2-8. attach_ms: how long to wait for the device to offer
 * VERSION_1 (Mica shows features 0 until the service has attached the device). */
static int dev_init(struct dev *d, unsigned attach_ms)
{
	uint8_t st = S_ACKNOWLEDGE | S_DRIVER;

	if (reset(d))
		return -1;
	c_w8(d, VC_STATUS, S_ACKNOWLEDGE);
	c_w8(d, VC_STATUS, st);

	uint64_t f = dev_features(d);
	if (!(f & F_VERSION_1)) {
		printf("vhostile: device features 0x%lx: waiting up to %u ms for the backend\n",
		       (unsigned long)f, attach_ms);
		uint64_t end = deadline_ms(attach_ms);
		while (!(f & F_VERSION_1) && !passed(end)) {
			pause_us(1000);
			f = dev_features(d);
		}
	}
	if (!(f & F_VERSION_1)) {
		printf("vhostile: FAILED: device features 0x%lx lack VERSION_1 (bit 32): not a "
		       "virtio 1.x device, or no backend\n", (unsigned long)f);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}
	c_w32(d, VC_GFSELECT, 0);
	c_w32(d, VC_GF, 0);
	c_w32(d, VC_GFSELECT, 1);
	c_w32(d, VC_GF, (uint32_t)(F_VERSION_1 >> 32));

	st |= S_FEATURES_OK;
	c_w8(d, VC_STATUS, st);
	uint8_t s = status(d);
	if (!(s & S_FEATURES_OK)) {
		printf("vhostile: FAILED: FEATURES_OK not accepted (status 0x%02x, features "
		       "0x%lx)\n", s, (unsigned long)f);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}

	d->num_queues = c_r16(d, VC_NUMQ);
	if (d->num_queues < NQUEUES) {
		printf("vhostile: FAILED: num_queues %u, a console needs %u\n", d->num_queues,
		       NQUEUES);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}
	for (unsigned qi = 0; qi < NQUEUES; qi++)
		if (q_setup(d, qi)) {
			c_w8(d, VC_STATUS, st | S_FAILED);
			return -1;
		}

	st |= S_DRIVER_OK;
	c_w8(d, VC_STATUS, st);
	s = status(d);
	if ((s & (S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)) != S_DRIVER_OK) {
		printf("vhostile: FAILED: after DRIVER_OK the status reads 0x%02x\n", s);
		return -1;
	}
	return 0;
}

/* --- the queue, driver side --- */

static void set_desc(struct queue *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	volatile struct vdesc *dp = &q->r->desc[i];

	dp->addr = addr;
	dp->len = len;
	dp->flags = flags;
	dp->next = next;
}

/* Puts chain head on the available ring and publishes it (2.6.13). */
static void publish(struct queue *q, uint16_t head)
{
	volatile struct vavail *a = &q->r->avail;

	a->ring[q->avail_idx & (q->size - 1)] = head;
	fence();
	a->idx = ++q->avail_idx;
	fence();
}

/* 4.1.4.4: queue qi notifies at notify + queue_notify_off * notify_off_multiplier, by
 * writing its index (16 bits; VIRTIO_F_NOTIFICATION_DATA is not negotiated). */
static void notify(const struct dev *d, unsigned qi)
{
	uint64_t a = d->bar + d->notify + (uint64_t)d->q[qi].notify_off * d->notify_mult;

	fence();
	mmio_w16(a, (uint16_t)qi);
}

/* Waits for the device to return chain head on queue qi; what names it for the failure
 * line. Returns 1 if it came back. */
static int wait_used(struct dev *d, unsigned qi, uint16_t head, const char *what)
{
	struct queue *q = &d->q[qi];
	volatile struct vused *u = &q->r->used;
	uint64_t end = deadline_ms(TIMEOUT_MS);

	while (u->idx == q->used_idx) {
		if (passed(end)) {
			printf("vhostile: FAILED: %s: used index of queue %u still %u after 2 s "
			       "(status 0x%02x)\n", what, qi, q->used_idx, status(d));
			return 0;
		}
		cpu_relax();
	}
	fence(); /* the element after the index (2.6.8) */
	uint16_t idx = u->idx;
	uint32_t id = u->ring[q->used_idx & (q->size - 1)].id;
	q->used_idx++;
	if (id != head || idx != q->used_idx) {
		printf("vhostile: FAILED: %s: used index %u (expected %u), element id %u "
		       "(expected %u)\n", what, idx, q->used_idx, id, head);
		return 0;
	}
	return 1;
}

/* Sends text as one readable descriptor on the transmit queue and waits for it. */
static int send(struct dev *d, const char *text, const char *what)
{
	struct queue *q = &d->q[TXQ];
	size_t n = strlen(text);

	if (n > sizeof(txbuf))
		n = sizeof(txbuf);
	memcpy(txbuf, text, n);
	set_desc(q, 0, (uintptr_t)txbuf, (uint32_t)n, 0, 0);
	publish(q, 0);
	notify(d, TXQ);
	return wait_used(d, TXQ, 0, what);
}

/* --- the hostile chains: each puts something on the transmit queue, not yet notified --- */

static void bad_loop(struct queue *q)
{
	set_desc(q, 0, (uintptr_t)badbuf, 8, D_NEXT, 1);
	set_desc(q, 1, (uintptr_t)badbuf + 8, 8, D_NEXT, 0);
	publish(q, 0);
}

/* The first byte past guest RAM: the tightest "outside". */
static void bad_outside(struct queue *q)
{
	set_desc(q, 0, ram_bytes, 16, 0, 0);
	publish(q, 0);
}

static void bad_huge(struct queue *q)
{
	set_desc(q, 0, (uintptr_t)badbuf, 0xFFFFFFF0u, 0, 0);
	publish(q, 0);
}

static void bad_zero(struct queue *q)
{
	set_desc(q, 0, (uintptr_t)badbuf, 0, 0, 0);
	publish(q, 0);
}

/* VIRTIO_F_INDIRECT_DESC is not negotiated, so INDIRECT alone breaks the rules; the table
 * is also a 200-buffer chain, more than any device here takes. */
static void bad_indirect(struct queue *q)
{
	size_t n = strlen(badbuf);

	for (unsigned i = 0; i < INDIRECT_ENTRIES; i++) {
		volatile struct vdesc *e = &indirect_table[i];
		e->addr = (uintptr_t)badbuf + i % n;
		e->len = 1;
		e->flags = i + 1 < INDIRECT_ENTRIES ? D_NEXT : 0;
		e->next = (uint16_t)(i + 1 < INDIRECT_ENTRIES ? i + 1 : 0);
	}
	fence();
	set_desc(q, 0, (uintptr_t)indirect_table, sizeof(indirect_table), D_INDIRECT, 0);
	publish(q, 0);
}

/* avail->idx 100 ahead of what the device has seen: more than the queue holds. */
static void bad_avail_jump(struct queue *q)
{
	volatile struct vavail *a = &q->r->avail;

	q->avail_idx = (uint16_t)(q->avail_idx + 100);
	fence();
	a->idx = q->avail_idx;
	fence();
}

static const struct hostile {
	const char *name;
	void (*build)(struct queue *q);
} cases[] = {
	{ "looping chain", bad_loop },
	{ "address outside RAM", bad_outside },
	{ "length 0xfffffff0", bad_huge },
	{ "zero-length descriptor", bad_zero },
	{ "indirect table of 200", bad_indirect },
	{ "avail index +100", bad_avail_jump },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Runs one case; returns 1 if it was detected. *served: the good line after it was used. */
static int run_case(struct dev *d, const struct hostile *c, int *served, int *alive)
{
	uint8_t s;
	int detected;

	snprintf(badbuf, sizeof(badbuf), "vhostile: SHOULD NOT APPEAR (%s)\n", c->name);
	fence();
	c->build(&d->q[TXQ]);
	notify(d, TXQ);
	detected = wait_status(d, S_NEEDS_RESET, S_NEEDS_RESET, TIMEOUT_MS, &s);
	if (detected)
		printf("vhostile: %s: device needs reset (ok)\n", c->name);
	else
		printf("vhostile: %s: FAILED, status 0x%02x after 2 s\n", c->name, s);

	*served = 0;
	if (dev_init(d, TIMEOUT_MS)) {
		printf("vhostile: FAILED: the device did not come back after %s\n", c->name);
		*alive = 0;
		return detected;
	}
	char line[96], what[96];
	snprintf(line, sizeof(line), "vhostile: after %s: still served\n", c->name);
	snprintf(what, sizeof(what), "the good line after %s", c->name);
	*served = send(d, line, what);
	return detected;
}

#ifdef VHOSTILE_RESTART
/* vrestart (tests/guests/vrestart.c): after the hello line, the crash-test service
 * (vmm/crashtest.h) is made to fault. The device must then say DEVICE_NEEDS_RESET; once
 * the service has been restarted (on_crash = restart) and has attached the device again,
 * a fresh initialisation must work and a line must come back used. */
#define SERVICE_BACK_MS 20000 /* the service's restart: reload and attach */

static int restart_test(struct dev *d)
{
	struct queue *q = &d->q[TXQ];
	static const char crash[] = "vmm-crashtest: crash the service now\n";
	uint8_t s;

	memcpy(txbuf, crash, sizeof(crash) - 1);
	set_desc(q, 0, (uintptr_t)txbuf, sizeof(crash) - 1, 0, 0);
	publish(q, 0);
	notify(d, TXQ); /* no answer to wait for: the service dies on it */
	if (!wait_status(d, S_NEEDS_RESET, S_NEEDS_RESET, SERVICE_BACK_MS, &s)) {
		printf("vrestart: FAILED: status 0x%02x, no NEEDS_RESET after the service's crash\n",
		       s);
		return 1;
	}
	printf("vrestart: the service is gone: device needs reset (ok)\n");
	if (dev_init(d, SERVICE_BACK_MS)) {
		printf("vrestart: FAILED: the device did not come back with the service\n");
		return 1;
	}
	if (!send(d, "vrestart: served again after the service restarted\n", "the line after"))
		return 1;
	printf("vrestart: done\n");
	return 0;
}
#endif

int main(unsigned vcpu)
{
	struct mica_self_info info;
	struct dev dev;
	struct dev *d = &dev;

	if (vcpu != 0)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	tsc_setup();
	if (self_info(&info) != (long)sizeof(info)) {
		printf("vhostile: FAILED: SELF_INFO\n");
		return 1;
	}
	ram_bytes = info.mem_bytes;

	memset(d, 0, sizeof(*d));
	int slot = find_console();
	if (slot < 0) {
		printf("vhostile: FAILED: no virtio console (1af4:1043) on bus 0 at ECAM 0x%lx\n",
		       (unsigned long)ECAM_BASE);
		return 1;
	}
	d->slot = (unsigned)slot;
	if (find_caps(d) || read_bar(d))
		return 1;
	char devtxt[48] = "none";
	if (d->device_len)
		snprintf(devtxt, sizeof(devtxt), "+0x%x (%u bytes)", d->device, d->device_len);
	printf("vhostile: console at 00:%02x.0, BAR0 0x%lx, common +0x%x, notify +0x%x x%u, "
	       "isr +0x%x, device %s\n", d->slot, (unsigned long)d->bar, d->common, d->notify,
	       d->notify_mult, d->isr, devtxt);

	if (dev_init(d, ATTACH_WAIT_MS))
		return 1;
	printf("vhostile: device ready: %u queues, transmitq size %u, notify_off %u\n",
	       d->num_queues, d->q[TXQ].size, d->q[TXQ].notify_off);
	int ok = send(d, "vhostile: hello through virtio\n", "the hello line");
#ifdef VHOSTILE_RESTART
	return ok ? restart_test(d) : 1;
#endif

	unsigned detected = 0;
	int alive = 1;
	for (unsigned i = 0; i < NCASES && alive; i++) {
		int served;
		detected += (unsigned)run_case(d, &cases[i], &served, &alive);
		ok &= served;
	}
	printf("vhostile: done, %u of %u hostile cases detected\n", detected,
	       (unsigned)NCASES);
	if (detected != NCASES || !ok)
		return 1;
	return 0;
}
