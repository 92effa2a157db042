/* vdrv: the test guests' virtio console driver (vdrv.h says what it does and how). */
#include <string.h>
#include "guest.h"
#include "lib/portio.h"
#include "vdrv.h"

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
#define VC_MSIX_CFG  0x10 /* le16 config_msix_vector */
#define VC_NUMQ      0x12 /* le16 */
#define VC_STATUS    0x14 /* u8 */
#define VC_QSELECT   0x16 /* le16 */
#define VC_QSIZE     0x18 /* le16 */
#define VC_QMSIX     0x1A /* le16 queue_msix_vector */
#define VC_QENABLE   0x1C /* le16 */
#define VC_QNOTIFY   0x1E /* le16 queue_notify_off */
#define VC_QDESC     0x20 /* le64 */
#define VC_QDRIVER   0x28 /* le64 */
#define VC_QDEVICE   0x30 /* le64 */
#define VC_LEN       0x38

#define POLL_US 100 /* between two MMIO status reads */

static struct vring rings[VDRV_NQUEUES];
static char txbuf[256] __attribute__((aligned(64)));

/* --- time: TSC deadlines --- */

static uint64_t deadline_ms(unsigned ms)
{
	return rdtsc() + (uint64_t)ms * guest_tsc_khz;
}

static int passed(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

static void pause_us(unsigned us)
{
	uint64_t end = rdtsc() + (uint64_t)us * guest_tsc_khz / 1000;

	while (!passed(end))
		cpu_relax();
}

/* --- common configuration --- */

static uint64_t c_at(const struct vdrv *d, unsigned off) { return d->bar + d->common + off; }

static uint8_t c_r8(const struct vdrv *d, unsigned off) { return mmio_r8(c_at(d, off)); }
static uint16_t c_r16(const struct vdrv *d, unsigned off) { return mmio_r16(c_at(d, off)); }
static uint32_t c_r32(const struct vdrv *d, unsigned off) { return mmio_r32(c_at(d, off)); }
static void c_w8(const struct vdrv *d, unsigned off, uint8_t v) { mmio_w8(c_at(d, off), v); }
static void c_w16(const struct vdrv *d, unsigned off, uint16_t v) { mmio_w16(c_at(d, off), v); }
static void c_w32(const struct vdrv *d, unsigned off, uint32_t v) { mmio_w32(c_at(d, off), v); }

/* 64-bit fields as two 32-bit writes, low half first (4.1.3.1). */
static void c_w64(const struct vdrv *d, unsigned off, uint64_t v)
{
	c_w32(d, off, (uint32_t)v);
	c_w32(d, off + 4, (uint32_t)(v >> 32));
}

uint8_t vdrv_status(const struct vdrv *d)
{
	return c_r8(d, VC_STATUS);
}

int vdrv_wait_status(const struct vdrv *d, uint8_t mask, uint8_t want, unsigned ms,
		     uint8_t *last)
{
	uint64_t end = deadline_ms(ms);

	for (;;) {
		uint8_t s = vdrv_status(d);
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

/* Walks the capability list for the virtio structures (4.1.4) and MSI-X. COMMON, ISR and
 * DEVICE must live in BAR0 (Mica's memory BAR); the first NOTIFY this driver can use is
 * taken (4.1.4.1): one in an I/O BAR (unless d->mem_notify), or one in BAR0. */
static int find_caps(struct vdrv *d)
{
	int have_common = 0, have_notify = 0, have_isr = 0;
	unsigned s = d->slot;

	if (!(ecam_r16(s, PCI_STATUS) & PCI_STATUS_CAPS)) {
		printf("%s: FAILED: 00:%02x.0 has no capability list\n", d->name, s);
		return -1;
	}
	unsigned ptr = ecam_r8(s, PCI_CAP_PTR) & 0xFC;
	for (unsigned n = 0; ptr; n++) {
		if (n == PCI_CAPS_MAX || ptr < 0x40 || ptr > 0x100 - VCAP_SIZE) {
			printf("%s: FAILED: capability list broken at 0x%x (link %u)\n", d->name,
			       ptr, n);
			return -1;
		}
		uint8_t id = ecam_r8(s, ptr + VCAP_VNDR);
		uint8_t next = ecam_r8(s, ptr + VCAP_NEXT);
		if (id == PCI_CAP_ID_MSIX && !d->msix_cap)
			d->msix_cap = ptr;
		if (id == PCI_CAP_ID_VNDR) {
			uint8_t len = ecam_r8(s, ptr + VCAP_LEN);
			uint8_t type = ecam_r8(s, ptr + VCAP_TYPE);
			uint8_t bar = ecam_r8(s, ptr + VCAP_BAR);
			uint32_t off = ecam_r32(s, ptr + VCAP_OFFSET);
			uint32_t length = ecam_r32(s, ptr + VCAP_LENGTH);
			int known = type >= VIRTIO_PCI_CAP_COMMON && type <= VIRTIO_PCI_CAP_DEVICE;
			if (type == VIRTIO_PCI_CAP_NOTIFY && bar < 6 && bar != 0) {
				uint32_t b = ecam_r32(s, PCI_BAR0 + 4 * bar);
				if (!have_notify && !d->mem_notify && (b & 1) && len >= VCAP_NOTIFY_SIZE &&
				    length >= 2) {
					d->notify_port = (uint16_t)((b & ~3u) + off);
					d->notify_mult = ecam_r32(s, ptr + VCAP_MULT);
					have_notify = 1;
				}
			} else if (known && bar != 0) {
				printf("%s: FAILED: virtio capability type %u at 0x%x names BAR%u, "
				       "not BAR0\n", d->name, type, ptr, bar);
				return -1;
			}
			if (known && len < VCAP_SIZE) {
				printf("%s: FAILED: virtio capability type %u at 0x%x is %u bytes\n",
				       d->name, type, ptr, len);
				return -1;
			}
			/* 4.1.4.1: the first capability of each type is the one to use; from here
			 * on, those in BAR0. */
			switch (bar == 0 ? type : 0) {
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
		printf("%s: FAILED: 00:%02x.0 lacks a usable virtio capability:%s%s%s\n", d->name,
		       s, have_common ? "" : " COMMON", have_notify ? "" : " NOTIFY",
		       have_isr ? "" : " ISR");
		return -1;
	}
	return 0;
}

/* BAR0+BAR1: one 64-bit memory BAR, assigned by Mica with decoding on. */
static int read_bar(struct vdrv *d)
{
	unsigned s = d->slot;
	uint32_t lo = ecam_r32(s, PCI_BAR0), hi = ecam_r32(s, PCI_BAR1);

	if ((lo & 0x7) != 0x4) {
		printf("%s: FAILED: BAR0 reads 0x%x: not a 64-bit memory BAR\n", d->name, lo);
		return -1;
	}
	d->bar = (uint64_t)hi << 32 | (lo & ~0xFu);
	if (d->bar == 0) {
		printf("%s: FAILED: BAR0 is not assigned\n", d->name);
		return -1;
	}
	/* What a driver does anyway (pci_enable_device, pci_set_master): Mica should already
	 * have memory decoding on; bus mastering lets the device use our rings. */
	uint16_t want = PCI_CMD_MEMORY | PCI_CMD_MASTER | (d->notify_port ? PCI_CMD_IO : 0);
	uint16_t cmd = ecam_r16(s, PCI_COMMAND);
	if ((cmd & want) != want)
		ecam_w16(s, PCI_COMMAND, cmd | want);
	cmd = ecam_r16(s, PCI_COMMAND);
	if ((cmd & want & ~PCI_CMD_MASTER) != (want & ~PCI_CMD_MASTER)) {
		printf("%s: FAILED: memory or I/O decoding stays off (command 0x%x)\n", d->name,
		       cmd);
		return -1;
	}
	return 0;
}

int vdrv_open(struct vdrv *d)
{
	int slot = find_console();

	if (slot < 0) {
		printf("%s: FAILED: no virtio console (1af4:1043) on bus 0 at ECAM 0x%lx\n",
		       d->name, (unsigned long)ECAM_BASE);
		return -1;
	}
	d->slot = (unsigned)slot;
	return find_caps(d) || read_bar(d) ? -1 : 0;
}

/* --- device initialisation (3.1.1) --- */

static int reset(struct vdrv *d)
{
	uint8_t s;

	c_w8(d, VC_STATUS, 0);
	if (!vdrv_wait_status(d, 0xFF, 0, VDRV_TIMEOUT_MS, &s)) {
		printf("%s: FAILED: reset: status 0x%02x, not 0, after 2 s\n", d->name, s);
		return -1;
	}
	return 0;
}

static int q_setup(struct vdrv *d, unsigned qi)
{
	struct vdrv_queue *q = &d->q[qi];

	c_w16(d, VC_QSELECT, (uint16_t)qi);
	uint16_t max = c_r16(d, VC_QSIZE);
	if (max == 0) {
		printf("%s: FAILED: queue %u: queue_size reads 0 (not available)\n", d->name, qi);
		return -1;
	}
	if (c_r16(d, VC_QENABLE) != 0) {
		printf("%s: FAILED: queue %u is enabled right after reset\n", d->name, qi);
		return -1;
	}
	uint16_t size = VDRV_QSZ;
	while (size > max)
		size >>= 1; /* queue sizes are powers of two */
	q->r = &rings[qi];
	q->size = size;
	q->avail_idx = q->used_idx = 0;
	memset(q->r, 0, sizeof(*q->r));
	fence();

	c_w16(d, VC_QSIZE, size);
	if (c_r16(d, VC_QSIZE) != size) {
		printf("%s: FAILED: queue %u: wrote queue_size %u, reads %u\n", d->name, qi, size,
		       c_r16(d, VC_QSIZE));
		return -1;
	}
	c_w64(d, VC_QDESC, (uintptr_t)q->r->desc);
	c_w64(d, VC_QDRIVER, (uintptr_t)&q->r->avail);
	c_w64(d, VC_QDEVICE, (uintptr_t)&q->r->used);
	if (d->msix) {
		c_w16(d, VC_QMSIX, q->vector);
		if (c_r16(d, VC_QMSIX) != q->vector) {
			printf("%s: FAILED: queue %u: queue_msix_vector reads 0x%x, wrote 0x%x\n",
			       d->name, qi, c_r16(d, VC_QMSIX), q->vector);
			return -1;
		}
	}
	q->notify_off = c_r16(d, VC_QNOTIFY);
	c_w16(d, VC_QENABLE, 1);
	if (c_r16(d, VC_QENABLE) != 1) {
		printf("%s: FAILED: queue %u: queue_enable does not read 1\n", d->name, qi);
		return -1;
	}
	return 0;
}

/* Reads the 64 device feature bits (device_feature_select 0 and 1). */
static uint64_t dev_features(const struct vdrv *d)
{
	c_w32(d, VC_DFSELECT, 0);
	uint64_t f = c_r32(d, VC_DF);
	c_w32(d, VC_DFSELECT, 1);
	return f | (uint64_t)c_r32(d, VC_DF) << 32;
}

int vdrv_init(struct vdrv *d, unsigned attach_ms)
{
	uint8_t st = S_ACKNOWLEDGE | S_DRIVER;

	if (reset(d))
		return -1;
	c_w8(d, VC_STATUS, S_ACKNOWLEDGE);
	c_w8(d, VC_STATUS, st);

	uint64_t f = dev_features(d);
	if (!(f & F_VERSION_1)) {
		if (!d->quiet)
			printf("%s: device features 0x%lx: waiting up to %u ms for the backend\n",
			       d->name, (unsigned long)f, attach_ms);
		uint64_t end = deadline_ms(attach_ms);
		while (!(f & F_VERSION_1) && !passed(end)) {
			pause_us(1000);
			f = dev_features(d);
		}
	}
	if (!(f & F_VERSION_1)) {
		printf("%s: FAILED: device features 0x%lx lack VERSION_1 (bit 32): not a "
		       "virtio 1.x device, or no backend\n", d->name, (unsigned long)f);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}
	c_w32(d, VC_GFSELECT, 0);
	c_w32(d, VC_GF, 0);
	c_w32(d, VC_GFSELECT, 1);
	c_w32(d, VC_GF, (uint32_t)(F_VERSION_1 >> 32));

	st |= S_FEATURES_OK;
	c_w8(d, VC_STATUS, st);
	uint8_t s = vdrv_status(d);
	if (!(s & S_FEATURES_OK)) {
		printf("%s: FAILED: FEATURES_OK not accepted (status 0x%02x, features 0x%lx)\n",
		       d->name, s, (unsigned long)f);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}

	if (d->msix)
		c_w16(d, VC_MSIX_CFG, VDRV_NO_VECTOR);
	d->num_queues = c_r16(d, VC_NUMQ);
	if (d->num_queues < VDRV_NQUEUES) {
		printf("%s: FAILED: num_queues %u, a console needs %u\n", d->name, d->num_queues,
		       VDRV_NQUEUES);
		c_w8(d, VC_STATUS, st | S_FAILED);
		return -1;
	}
	for (unsigned qi = 0; qi < VDRV_NQUEUES; qi++)
		if (q_setup(d, qi)) {
			c_w8(d, VC_STATUS, st | S_FAILED);
			return -1;
		}

	st |= S_DRIVER_OK;
	c_w8(d, VC_STATUS, st);
	s = vdrv_status(d);
	if ((s & (S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)) != S_DRIVER_OK) {
		printf("%s: FAILED: after DRIVER_OK the status reads 0x%02x\n", d->name, s);
		return -1;
	}
	return 0;
}

int vdrv_start(struct vdrv *d, unsigned attach_ms)
{
	if (vdrv_open(d))
		return -1;
	char devtxt[48] = "none";
	if (d->device_len)
		snprintf(devtxt, sizeof(devtxt), "+0x%x (%u bytes)", d->device, d->device_len);
	char ntxt[32];
	if (d->notify_port)
		snprintf(ntxt, sizeof(ntxt), "port 0x%x", d->notify_port);
	else
		snprintf(ntxt, sizeof(ntxt), "+0x%x", d->notify);
	printf("%s: console at 00:%02x.0, BAR0 0x%lx, common +0x%x, notify %s x%u, "
	       "isr +0x%x, device %s\n", d->name, d->slot, (unsigned long)d->bar, d->common,
	       ntxt, d->notify_mult, d->isr, devtxt);

	if (vdrv_init(d, attach_ms))
		return -1;
	printf("%s: device ready: %u queues, transmitq size %u, notify_off %u\n", d->name,
	       d->num_queues, d->q[TXQ].size, d->q[TXQ].notify_off);
	return 0;
}

/* --- the queues, driver side --- */

void vdrv_set_desc(struct vdrv_queue *q, unsigned i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	volatile struct vdesc *dp = &q->r->desc[i];

	dp->addr = addr;
	dp->len = len;
	dp->flags = flags;
	dp->next = next;
}

void vdrv_publish(struct vdrv_queue *q, uint16_t head)
{
	volatile struct vavail *a = &q->r->avail;

	a->ring[q->avail_idx & (q->size - 1)] = head;
	fence();
	a->idx = ++q->avail_idx;
	fence();
}

void vdrv_notify(const struct vdrv *d, unsigned qi)
{
	fence();
	if (d->notify_port)
		outw(vdrv_notify_port(d, qi), (uint16_t)qi);
	else
		mmio_w16(vdrv_notify_addr(d, qi), (uint16_t)qi);
}

int vdrv_wait_used(struct vdrv *d, unsigned qi, uint16_t head, const char *what)
{
	struct vdrv_queue *q = &d->q[qi];
	volatile struct vused *u = &q->r->used;
	uint64_t end = deadline_ms(VDRV_TIMEOUT_MS);

	while (u->idx == q->used_idx) {
		if (passed(end)) {
			printf("%s: FAILED: %s: used index of queue %u still %u after %u ms "
			       "(status 0x%02x)\n", d->name, what, qi, q->used_idx, VDRV_TIMEOUT_MS,
			       vdrv_status(d));
			return 0;
		}
		cpu_relax();
	}
	fence(); /* the element after the index (2.6.8) */
	uint16_t idx = u->idx;
	uint32_t id = u->ring[q->used_idx & (q->size - 1)].id;
	q->used_idx++;
	if (id != head || idx != q->used_idx) {
		printf("%s: FAILED: %s: used index %u (expected %u), element id %u "
		       "(expected %u)\n", d->name, what, idx, q->used_idx, id, head);
		return 0;
	}
	return 1;
}

void vdrv_put(struct vdrv *d, const char *text)
{
	struct vdrv_queue *q = &d->q[TXQ];
	size_t n = strlen(text);

	if (n > sizeof(txbuf))
		n = sizeof(txbuf);
	memcpy(txbuf, text, n);
	vdrv_set_desc(q, 0, (uintptr_t)txbuf, (uint32_t)n, 0, 0);
	vdrv_publish(q, 0);
	vdrv_notify(d, TXQ);
}

int vdrv_send(struct vdrv *d, const char *text, const char *what)
{
	vdrv_put(d, text);
	return vdrv_wait_used(d, TXQ, 0, what);
}
