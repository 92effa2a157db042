/* The state of one served virtio device, shared by the backends (vmm/backend.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/backend.h"

void vdev_init(struct vdev *d, uint8_t *ram, uint64_t ram_bytes, unsigned nqueues,
	       uint64_t max_bytes, const char *const qname[])
{
	memset(d, 0, sizeof(*d));
	d->mem.base = ram;
	d->mem.size = ram_bytes;
	d->nqueues = nqueues < VDEV_QUEUES ? nqueues : VDEV_QUEUES;
	d->max_bytes = max_bytes;
	for (unsigned i = 0; i < d->nqueues; i++)
		d->qname[i] = qname[i];
}

void vdev_reset(struct vdev *d)
{
	d->features = 0;
	memset(d->q, 0, sizeof(d->q));
	memset(d->qcfg, 0, sizeof(d->qcfg));
	d->ready = d->pushed = 0;
	d->live = d->broken = d->fail_pending = 0;
	d->why[0] = '\0';
}

void vdev_break(struct vdev *d, const char *fmt, ...)
{
	if (d->broken)
		return; /* the first reason is the one that matters */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	d->broken = 1;
	d->fail_pending = 1;
}

static int event_idx(const struct vdev *d)
{
	return (d->features & VIRTIO_RING_F_EVENT_IDX) != 0;
}

/* vq_setup() from the stored configuration of queue q. */
static int setup(struct vdev *d, unsigned q)
{
	char err[VDEV_WHY_MAX];

	d->ready &= (uint8_t)~(1u << q);
	d->qcfg[q].event_idx = event_idx(d);
	d->qcfg[q].max_bytes = d->max_bytes;
	if (vq_setup(&d->q[q], &d->mem, &d->qcfg[q], err, sizeof(err))) {
		vdev_break(d, "%s: %s", d->qname[q], err);
		return MICA_EINVAL;
	}
	d->ready |= (uint8_t)(1u << q);
	return 0;
}

void vdev_set_features(struct vdev *d, uint64_t features)
{
	d->features = features;
	if (d->live || d->broken)
		return;
	for (unsigned q = 0; q < d->nqueues; q++)
		if ((d->ready & (1u << q)) && d->q[q].event_idx != event_idx(d))
			setup(d, q);
}

int vdev_setup_queue(struct vdev *d, unsigned q, uint32_t size, uint64_t desc,
		     uint64_t avail, uint64_t used)
{
	if (q >= d->nqueues)
		return MICA_EINVAL;
	if (d->broken)
		return MICA_EINVAL;
	d->qcfg[q] = (struct vq_config){ .size = size, .desc = desc, .avail = avail,
					 .used = used };
	return setup(d, q);
}

int vdev_resume_queue(struct vdev *d, unsigned q)
{
	if (q >= d->nqueues || !(d->ready & (1u << q)))
		return MICA_EINVAL;
	return vq_resume(&d->q[q], &d->mem);
}

int vdev_serving(const struct vdev *d, unsigned q)
{
	return q < d->nqueues && d->live && !d->broken && (d->ready & (1u << q));
}

int vdev_next(struct vdev *d, unsigned q, struct vq_chain *c)
{
	char err[VDEV_WHY_MAX];

	c->nsegs = c->nread = 0;
	c->read_bytes = c->write_bytes = 0;
	if (!vdev_serving(d, q))
		return 0;
	int rc = vq_next(&d->q[q], &d->mem, c, err, sizeof(err));
	if (rc < 0)
		vdev_break(d, "%s: %s", d->qname[q], err);
	return rc;
}

void vdev_unget(struct vdev *d, unsigned q)
{
	if (q < d->nqueues)
		vq_unget(&d->q[q]);
}

void vdev_push(struct vdev *d, unsigned q, uint16_t head, uint32_t written)
{
	vdev_push_many(d, q, &head, &written, 1);
}

void vdev_push_many(struct vdev *d, unsigned q, const uint16_t *head, const uint32_t *written,
		    unsigned n)
{
	/* vq_push_many() refuses only heads it did not hand out or rings outside the window,
	 * neither of which a backend does; should it happen, stop rather than go on. */
	if (vq_push_many(&d->q[q], &d->mem, head, written, n))
		vdev_break(d, "%s: the used ring refused descriptor %u", d->qname[q], head[0]);
	else
		d->pushed |= (uint8_t)(1u << q);
}

uint64_t chain_gather(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *out = dst;
	uint64_t done = 0;

	for (unsigned i = 0; i < c->nread && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, s->ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t chain_scatter(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len)
{
	const uint8_t *in = src;
	uint64_t done = 0;

	for (unsigned i = c->nread; i < c->nsegs && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(s->ptr + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t chain_copy(const struct vq_chain *dst, uint64_t doff, const struct vq_chain *src,
		    uint64_t soff, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < src->nread && done < len; i++) {
		const struct vq_seg *s = &src->seg[i];
		if (soff >= s->len) {
			soff -= s->len;
			continue;
		}
		uint64_t n = s->len - soff;
		if (n > len - done)
			n = len - done;
		uint64_t put = chain_scatter(dst, doff + done, s->ptr + soff, n);
		done += put;
		if (put < n)
			break; /* dst is full */
		soff = 0;
	}
	return done;
}
