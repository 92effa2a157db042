/* The virtio-pci transport of one virtio device: common config, ISR, device config bytes.
 * Pure logic; vio.h is the specification and describes the caller's side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include <mica/service.h>
#include "kernel/virtio/transport.h"
#include "lib/errmsg.h"

#define QUEUE_SIZE_MAX 32768u

static int pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Queues the driver sees: none without a backend. */
static unsigned live_queues(const struct vio *d)
{
	return d->attached ? d->num_queues : 0;
}

/* The driver-visible state after a reset (virtio 1.1, 2.1.2 and 4.1.4.3). */
static void reset_driver(struct vio *d)
{
	d->dfselect = 0;
	d->gfselect = 0;
	d->drv_features = 0;
	d->msix_config = VIO_NO_VECTOR;
	d->status = 0;
	d->queue_select = 0;
	for (unsigned i = 0; i < VIO_QUEUES_MAX; i++) {
		struct vio_queue *q = &d->q[i];

		q->size = d->queue_max;
		q->msix_vector = VIO_NO_VECTOR;
		q->enable = 0;
		q->desc = q->driver = q->device = 0;
	}
	d->isr = 0;
}

void vio_init(struct vio *d, unsigned nvec, unsigned max_queues)
{
	memset(d, 0, sizeof(*d));
	d->nvec = (uint16_t)(nvec > 0xFFFFu ? 0xFFFFu : nvec);
	d->max_queues = (uint16_t)(max_queues > VIO_QUEUES_MAX ? VIO_QUEUES_MAX : max_queues);
	reset_driver(d);
}

int vio_attach(struct vio *d, const struct mica_svc_attach *a, char *err, size_t errlen)
{
	if (!a)
		return errmsg(MICA_EINVAL, err, errlen, "virtio attach: expected an offer, found none");
	if (!(a->features & VIO_F_VERSION_1))
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtio attach: features %#llx lack VIRTIO_F_VERSION_1 (bit 32), "
			      "which a modern device must offer",
			      (unsigned long long)a->features);
	if (a->num_queues < 1 || a->num_queues > d->max_queues)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtio attach: %u queues, expected 1 to %u", (unsigned)a->num_queues,
			      (unsigned)d->max_queues);
	if (!pow2(a->queue_max) || a->queue_max > QUEUE_SIZE_MAX)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtio attach: queue size %u, expected a power of two from 1 to %u",
			      (unsigned)a->queue_max, QUEUE_SIZE_MAX);
	if (a->config_len > MICA_SVC_CONFIG_MAX)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtio attach: device config of %u bytes, at most %u",
			      (unsigned)a->config_len, MICA_SVC_CONFIG_MAX);

	d->attached = 1;
	d->dev_features = a->features;
	d->num_queues = (uint16_t)a->num_queues;
	d->queue_max = (uint16_t)a->queue_max;
	d->config_len = a->config_len;
	memset(d->config, 0, sizeof(d->config));
	memcpy(d->config, a->config, a->config_len);
	d->config_generation++; /* the config bytes may have changed under a driver reading them */
	/* queue_size of a queue the driver has not enabled reads the new maximum (after reset
	 * it does for every queue); a size it chose stays if it still fits. */
	for (unsigned i = 0; i < VIO_QUEUES_MAX; i++) {
		struct vio_queue *q = &d->q[i];

		if (!q->enable && (d->status == 0 || q->size == 0 || q->size > d->queue_max))
			q->size = d->queue_max;
	}
	return 0;
}

int vio_detach(struct vio *d)
{
	int was_attached = d->attached;

	d->attached = 0;
	d->reset_pending = 0; /* status is 0 already: the driver sees its reset done */
	d->reset_status = 0;
	/* A driver that began before any backend came lost nothing: it still waits for one. */
	if (!was_attached || d->status == 0 || (d->status & VIO_S_NEEDS_RESET))
		return 0;
	d->status |= VIO_S_NEEDS_RESET;
	d->isr |= VIO_ISR_CONFIG;
	return 1;
}

/* Which field an access hits (*base: the field's offset): one of its own width at its
 * offset, or for a 64-bit field a 32-bit one at either half. 0 for any other access. */
static int field(unsigned off, unsigned size, unsigned *base)
{
	static const uint8_t w[VIO_C_LEN] = {
		[VIO_C_DFSELECT] = 4, [VIO_C_DF] = 4, [VIO_C_GFSELECT] = 4, [VIO_C_GF] = 4,
		[VIO_C_MSIX_CONFIG] = 2, [VIO_C_NUM_QUEUES] = 2, [VIO_C_STATUS] = 1,
		[VIO_C_CFG_GEN] = 1, [VIO_C_Q_SELECT] = 2, [VIO_C_Q_SIZE] = 2,
		[VIO_C_Q_MSIX] = 2, [VIO_C_Q_ENABLE] = 2, [VIO_C_Q_NOTIFY_OFF] = 2,
		[VIO_C_Q_DESC] = 8, [VIO_C_Q_DRIVER] = 8, [VIO_C_Q_DEVICE] = 8,
	};

	if (off >= VIO_C_LEN || (size != 1 && size != 2 && size != 4 && size != 8))
		return 0;
	if (w[off] == size || (size == 4 && w[off] == 8)) {
		*base = off;
		return 1;
	}
	if (size == 4 && off >= 4 && w[off - 4] == 8) {
		*base = off - 4;
		return 1;
	}
	return 0;
}

/* The selected queue, NULL if the driver sees no such queue. */
static struct vio_queue *selected(struct vio *d)
{
	return d->queue_select < live_queues(d) ? &d->q[d->queue_select] : NULL;
}

static uint64_t *addr_field(struct vio_queue *q, unsigned base)
{
	switch (base) {
	case VIO_C_Q_DESC: return &q->desc;
	case VIO_C_Q_DRIVER: return &q->driver;
	default: return &q->device;
	}
}

uint64_t vio_common_read(struct vio *d, unsigned off, unsigned size)
{
	struct vio_queue *q = selected(d);
	unsigned base;
	uint64_t v;

	if (!field(off, size, &base))
		return 0;
	switch (base) {
	case VIO_C_DFSELECT:
		return d->dfselect;
	case VIO_C_DF:
		if (!d->attached || d->dfselect > 1)
			return 0;
		return (uint32_t)(d->dev_features >> (32 * d->dfselect));
	case VIO_C_GFSELECT:
		return d->gfselect;
	case VIO_C_GF:
		return d->gfselect > 1 ? 0 : (uint32_t)(d->drv_features >> (32 * d->gfselect));
	case VIO_C_MSIX_CONFIG:
		return d->msix_config;
	case VIO_C_NUM_QUEUES:
		return live_queues(d);
	case VIO_C_STATUS:
		return d->reset_pending ? d->reset_status : d->status;
	case VIO_C_CFG_GEN:
		return d->config_generation;
	case VIO_C_Q_SELECT:
		return d->queue_select;
	case VIO_C_Q_SIZE:
		return q ? q->size : 0;
	case VIO_C_Q_MSIX:
		return q ? q->msix_vector : 0;
	case VIO_C_Q_ENABLE:
		return q ? q->enable : 0;
	case VIO_C_Q_NOTIFY_OFF:
		return q ? d->queue_select : 0;
	default: /* queue_desc, queue_driver, queue_device */
		if (!q)
			return 0;
		v = *addr_field(q, base);
		if (size == 4)
			v = (uint32_t)(v >> (off == base ? 0 : 32));
		return v;
	}
}

static uint16_t vector(const struct vio *d, uint64_t val)
{
	return val < d->nvec ? (uint16_t)val : VIO_NO_VECTOR;
}

/* device_status write of val (not while a reset is pending). */
static void write_status(struct vio *d, uint8_t val, struct vio_event *ev)
{
	uint8_t old = d->status, now;

	if (val == 0) {
		if (d->attached && old != 0) {
			ev->type = MICA_IOREQ_RESET;
			d->reset_pending = 1;
			d->reset_status = old;
		}
		reset_driver(d);
		return;
	}
	now = old | val;
	if ((now & VIO_S_FEATURES_OK) && !(old & VIO_S_FEATURES_OK)) {
		if (d->attached && (d->drv_features & VIO_F_VERSION_1) &&
		    !(d->drv_features & ~d->dev_features)) {
			ev->type = MICA_IOREQ_FEATURES;
			ev->arg[0] = d->drv_features;
		} else {
			now &= (uint8_t)~VIO_S_FEATURES_OK; /* the driver reads it back and gives up */
		}
	}
	if ((now & VIO_S_DRIVER_OK) && !(old & VIO_S_DRIVER_OK) && (now & VIO_S_FEATURES_OK) &&
	    d->attached) {
		ev->type = MICA_IOREQ_DRIVER_OK;
		ev->arg[0] = d->drv_features;
	}
	d->status = now;
}

int vio_common_write(struct vio *d, unsigned off, unsigned size, uint64_t val,
		     struct vio_event *ev)
{
	struct vio_event none;
	struct vio_queue *q = selected(d);
	unsigned base;

	if (!ev)
		ev = &none;
	memset(ev, 0, sizeof(*ev));
	if (d->reset_pending || !field(off, size, &base))
		return 0;
	if (size < 8)
		val &= (1ULL << (8 * size)) - 1;

	switch (base) {
	case VIO_C_DFSELECT:
		d->dfselect = (uint32_t)val;
		break;
	case VIO_C_GFSELECT:
		d->gfselect = (uint32_t)val;
		break;
	case VIO_C_GF:
		if (d->gfselect <= 1 && !(d->status & VIO_S_FEATURES_OK)) {
			unsigned sh = 32 * d->gfselect;

			d->drv_features = (d->drv_features & ~(0xFFFFFFFFULL << sh)) | val << sh;
		}
		break;
	case VIO_C_MSIX_CONFIG:
		d->msix_config = vector(d, val);
		break;
	case VIO_C_STATUS:
		write_status(d, (uint8_t)val, ev);
		break;
	case VIO_C_Q_SELECT:
		d->queue_select = (uint16_t)val;
		break;
	case VIO_C_Q_SIZE:
		if (q && !q->enable && pow2((uint32_t)val) && val <= d->queue_max)
			q->size = (uint16_t)val;
		break;
	case VIO_C_Q_MSIX:
		if (q)
			q->msix_vector = vector(d, val);
		break;
	case VIO_C_Q_ENABLE:
		/* Queues come after FEATURES_OK (3.1.1), so the backend hears of the features
		 * before any queue (service.h, MICA_IOREQ_FEATURES). */
		if (q && !q->enable && val == 1 && (d->status & VIO_S_FEATURES_OK)) {
			q->enable = 1;
			ev->type = MICA_IOREQ_QUEUE;
			ev->queue = d->queue_select;
			ev->size = q->size;
			ev->arg[0] = q->desc;
			ev->arg[1] = q->driver;
			ev->arg[2] = q->device;
		}
		break;
	case VIO_C_Q_DESC:
	case VIO_C_Q_DRIVER:
	case VIO_C_Q_DEVICE:
		if (q && !q->enable) {
			uint64_t *a = addr_field(q, base);

			if (size == 8)
				*a = val;
			else if (off == base)
				*a = (*a & 0xFFFFFFFF00000000ULL) | val;
			else
				*a = (*a & 0xFFFFFFFFULL) | val << 32;
		}
		break;
	default: /* device_feature, num_queues, config_generation, queue_notify_off: RO */
		break;
	}
	return ev->type != 0;
}

uint8_t vio_isr_read(struct vio *d)
{
	uint8_t v = d->isr;

	d->isr = 0;
	return v;
}

static int config_size_ok(unsigned size)
{
	return size == 1 || size == 2 || size == 4;
}

uint32_t vio_config_read(struct vio *d, unsigned off, unsigned size)
{
	uint32_t v = 0;

	if (!config_size_ok(size))
		return 0;
	for (unsigned i = 0; i < size; i++)
		if (off < d->config_len && i < d->config_len - off)
			v |= (uint32_t)d->config[off + i] << (8 * i);
	return v;
}

int vio_config_write(struct vio *d, unsigned off, unsigned size, uint32_t val,
		     struct vio_event *ev)
{
	struct vio_event none;

	if (!ev)
		ev = &none;
	memset(ev, 0, sizeof(*ev));
	/* Without a backend there is no one to store them for. */
	if (!config_size_ok(size) || !d->attached || off >= d->config_len ||
	    size > d->config_len - off)
		return 0;
	if (size < 4)
		val &= (1u << (8 * size)) - 1;
	for (unsigned i = 0; i < size; i++)
		d->config[off + i] = (uint8_t)(val >> (8 * i));
	ev->type = MICA_IOREQ_CONFIG;
	ev->size = size;
	ev->arg[0] = off;
	ev->arg[1] = val;
	return 1;
}

int vio_notify_ok(const struct vio *d, unsigned queue)
{
	return d->attached && !d->reset_pending && queue < d->num_queues && d->q[queue].enable;
}

void vio_reset_done(struct vio *d)
{
	d->reset_pending = 0;
	d->reset_status = 0;
}

int vio_guest_reset(struct vio *d)
{
	int had = d->attached && d->status != 0;

	d->reset_pending = 0;
	d->reset_status = 0;
	reset_driver(d);
	return had;
}

int vio_fail(struct vio *d)
{
	if (d->status == 0 || (d->status & VIO_S_NEEDS_RESET))
		return 0;
	d->status |= VIO_S_NEEDS_RESET;
	d->isr |= VIO_ISR_CONFIG;
	return 1;
}

uint16_t vio_queue_vector(const struct vio *d, unsigned queue)
{
	return queue < live_queues(d) ? d->q[queue].msix_vector : VIO_NO_VECTOR;
}

uint16_t vio_config_vector(const struct vio *d)
{
	return d->msix_config;
}
