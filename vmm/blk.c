/* virtio-blk (virtio 1.1, 5.2): the disk is memory, or a medium (NVMe) whose every call
 * completes before it returns, so every request completes before the next is taken. A
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

static void set_id(struct blk *b, const char *name)
{
	/* 5.2.6: 20 bytes, NUL padded, not terminated when it fills them. */
	char id[BLK_ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	snprintf(id, sizeof(id), "mica:%s", name);
	memcpy(b->id, id, BLK_ID_BYTES);
}

void blk_init(struct blk *b, uint8_t *disk, uint64_t bytes, const char *name)
{
	b->disk = disk;
	b->medium = NULL;
	b->blk_size = BLK_SECTOR;
	b->bytes = bytes - bytes % BLK_SECTOR;
	set_id(b, name);
}

void blk_init_medium(struct blk *b, const struct blk_medium *m, uint64_t bytes,
		     uint32_t blk_size, const char *name)
{
	b->disk = NULL;
	b->medium = m;
	b->blk_size = blk_size;
	b->bytes = bytes - bytes % blk_size;
	set_id(b, name);
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
	put32(a->config + 20, b->blk_size);          /* blk_size */
}

/* Is [sector, + len bytes) a whole number of blocks inside the disk? (Sectors are 512
 * bytes whatever the block size: virtio 1.1, 5.2.6.) */
static uint8_t check_range(const struct blk *b, uint64_t sector, uint64_t len)
{
	if (len % b->blk_size || sector > b->bytes / BLK_SECTOR ||
	    (sector * BLK_SECTOR) % b->blk_size || len > b->bytes - sector * BLK_SECTOR)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* IN: len bytes at sector into the chain's writable part; the bytes written. */
static uint64_t read_in(const struct blk *b, const struct vq_chain *c, uint64_t sector,
			uint64_t len, uint8_t *status)
{
	if (b->disk)
		return chain_scatter(c, 0, b->disk + sector * BLK_SECTOR, len);
	if (len > BLK_MAX_BYTES || b->medium->rw(b->medium->ctx, 0, sector * BLK_SECTOR,
						  b->medium->bounce, len)) {
		*status = VIRTIO_BLK_S_IOERR;
		return 0;
	}
	return chain_scatter(c, 0, b->medium->bounce, len);
}

/* OUT: the chain's len data bytes to sector; the bytes moved. */
static uint64_t write_out(const struct blk *b, const struct vq_chain *c, uint64_t sector,
			  uint64_t len, uint8_t *status)
{
	if (b->disk)
		return chain_gather(c, BLK_HDR_LEN, b->disk + sector * BLK_SECTOR, len);
	if (len > BLK_MAX_BYTES ||
	    chain_gather(c, BLK_HDR_LEN, b->medium->bounce, len) != len ||
	    b->medium->rw(b->medium->ctx, 1, sector * BLK_SECTOR, b->medium->bounce, len)) {
		*status = VIRTIO_BLK_S_IOERR;
		return 0;
	}
	return len;
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
			written = read_in(b, c, sector, wdata, &status);
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
			r->data = write_out(b, c, sector, rdata, &status);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* In memory every write is already there; a medium empties its cache. */
		if (b->medium && b->medium->flush(b->medium->ctx))
			status = VIRTIO_BLK_S_IOERR;
		break;
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

int blk_serve(const struct blk *b, struct vdev *d, unsigned budget)
{
	struct vq_chain c;
	struct blk_result r;
	char err[VDEV_WHY_MAX];

	for (;;) {
		if (budget-- == 0)
			return 1;
		if (vdev_next(d, 0, &c) <= 0)
			return 0;
		if (blk_request(b, &c, &r, err, sizeof(err))) {
			vdev_break(d, "%s: %s", d->qname[0], err);
			return 0;
		}
		d->stats.requests++;
		d->stats.bytes += r.data;
		if (r.status != VIRTIO_BLK_S_OK)
			d->stats.drops++;
		vdev_push(d, 0, c.head, r.written);
	}
}
