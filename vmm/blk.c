/* virtio-blk (virtio 1.1, 5.2): the disk is memory, so every request completes at once. A
 * request is a 16-byte header the device reads, then data (read for OUT, written for IN),
 * then one status byte the device writes at the very end; the driver may split all of it
 * over segments any way it likes, so it is read and written through gather and scatter. */
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "lib/bytes.h"
#include "lib/errmsg.h"
#include "vmm/blk.h"

typedef unsigned long long ull;

_Static_assert((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX + BLK_HDR_LEN + 1 <= BLK_MAX_BYTES,
	       "the largest request the offer allows must fit the chain limit");

void blk_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes)
{
	static const char *const names[] = { "requestq" };

	vdev_init(d, ram, ram_bytes, 1, BLK_MAX_BYTES, names);
}

void blk_init(struct blk *b, uint8_t *disk, uint64_t bytes, const char *name)
{
	b->disk = disk;
	b->bytes = bytes - bytes % BLK_SECTOR;
	/* 5.2.6: 20 bytes, NUL padded, not terminated when it fills them. */
	char id[BLK_ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	snprintf(id, sizeof(id), "mica:%s", name);
	memcpy(b->id, id, BLK_ID_BYTES);
}

void blk_offer(const struct blk *b, struct mica_svc_attach *a)
{
	memset(a, 0, sizeof(*a));
	a->features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX |
		      VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX |
		      VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
	a->num_queues = 1;
	a->queue_max = BLK_QUEUE_MAX;
	a->config_len = BLK_CONFIG_LEN;
	put64(a->config + 0, b->bytes / BLK_SECTOR); /* capacity */
	put32(a->config + 8, BLK_SIZE_MAX);          /* size_max */
	put32(a->config + 12, BLK_SEG_MAX);          /* seg_max */
	/* 16..19: geometry, unknown: zeros */
	put32(a->config + 20, BLK_SECTOR);           /* blk_size */
}

/* Is [sector, + len bytes) a whole number of sectors inside the disk? */
static uint8_t check_range(const struct blk *b, uint64_t sector, uint64_t len)
{
	if (len % BLK_SECTOR || sector > b->bytes / BLK_SECTOR ||
	    len > b->bytes - sector * BLK_SECTOR)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

int blk_request(const struct blk *b, const struct vq_chain *c, struct blk_result *r,
		char *err, size_t errlen)
{
	uint8_t hdr[BLK_HDR_LEN];

	memset(r, 0, sizeof(*r));
	if (c->read_bytes < BLK_HDR_LEN)
		return errmsg(MICA_EINVAL, err, errlen,
			      "request from descriptor %u has %llu readable bytes, less than its "
			      "16-byte header", c->head, (ull)c->read_bytes);
	if (c->write_bytes == 0)
		return errmsg(MICA_EINVAL, err, errlen,
			      "request from descriptor %u has no writable status byte", c->head);
	chain_gather(c, 0, hdr, sizeof(hdr));
	uint32_t type = rd32(hdr);
	uint64_t sector = rd64(hdr + 8);
	uint64_t rdata = c->read_bytes - BLK_HDR_LEN; /* data the driver gave */
	uint64_t wdata = c->write_bytes - 1;          /* room for data before the status */
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t written = 0;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (rdata)
			return errmsg(MICA_EINVAL, err, errlen,
				      "read request from descriptor %u carries %llu readable data "
				      "bytes", c->head, (ull)rdata);
		status = check_range(b, sector, wdata);
		if (status == VIRTIO_BLK_S_OK) {
			written = chain_scatter(c, 0, b->disk + sector * BLK_SECTOR, wdata);
			r->data = written;
		}
		break;
	case VIRTIO_BLK_T_OUT:
		if (wdata)
			return errmsg(MICA_EINVAL, err, errlen,
				      "write request from descriptor %u has %llu writable data bytes",
				      c->head, (ull)wdata);
		status = check_range(b, sector, rdata);
		if (status == VIRTIO_BLK_S_OK)
			r->data = chain_gather(c, BLK_HDR_LEN, b->disk + sector * BLK_SECTOR,
					       rdata);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break; /* memory is the medium: every write is already there */
	case VIRTIO_BLK_T_GET_ID:
		if (wdata < BLK_ID_BYTES)
			status = VIRTIO_BLK_S_IOERR;
		else
			written = chain_scatter(c, 0, b->id, BLK_ID_BYTES);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	chain_scatter(c, wdata, &status, 1);
	r->status = status;
	r->written = (uint32_t)(written + 1);
	return 0;
}

void blk_serve(const struct blk *b, struct vdev *d)
{
	struct vq_chain c;
	struct blk_result r;
	char err[VDEV_WHY_MAX];

	while (vdev_next(d, 0, &c) > 0) {
		if (blk_request(b, &c, &r, err, sizeof(err))) {
			vdev_break(d, "%s: %s", d->qname[0], err);
			return;
		}
		d->stats.requests++;
		d->stats.bytes += r.data;
		if (r.status != VIRTIO_BLK_S_OK)
			d->stats.drops++;
		vdev_push(d, 0, c.head, r.written);
	}
}
