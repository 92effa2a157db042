/* virtio-blk backend (virtio 1.1, 5.2) over a disk image in memory. Pure logic. */
#ifndef MICA_VMM_BLK_H
#define MICA_VMM_BLK_H

#include <stddef.h>
#include <stdint.h>

#include <mica/service.h>

#include "vmm/backend.h"

#define VIRTIO_BLK_F_SIZE_MAX (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX  (1ULL << 2)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH    (1ULL << 9)

#define VIRTIO_BLK_T_IN     0u
#define VIRTIO_BLK_T_OUT    1u
#define VIRTIO_BLK_T_FLUSH  4u
#define VIRTIO_BLK_T_GET_ID 8u

#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define BLK_SECTOR    512u
#define BLK_HDR_LEN   16u   /* le32 type, le32 reserved, le64 sector */
#define BLK_ID_BYTES  20u   /* VIRTIO_BLK_T_GET_ID */
#define BLK_QUEUE_MAX 256u
#define BLK_SEG_MAX   (VQ_MAX_SEGS - 2) /* data segments; the header and status take two */
#define BLK_SIZE_MAX  16384u            /* bytes per data segment */
#define BLK_MAX_BYTES ((1u << 20) + 4096u) /* largest chain */
#define BLK_CONFIG_LEN 24u /* capacity, size_max, seg_max, geometry, blk_size */

struct blk {
	uint8_t *disk;           /* the disk image, through the service's window */
	uint64_t bytes;          /* a multiple of BLK_SECTOR */
	char id[BLK_ID_BYTES];   /* "mica:<partition name>", NUL padded, not terminated */
};

/* d: a block device over guest RAM [0, ram_bytes) at ram (one queue, requestq). */
void blk_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes);

/* The disk [disk, disk + bytes) of partition `name`'s device. */
void blk_init(struct blk *b, uint8_t *disk, uint64_t bytes, const char *name);

/* Features, one queue of BLK_QUEUE_MAX, and struct virtio_blk_config up to blk_size. */
void blk_offer(const struct blk *b, struct mica_svc_attach *a);

/* What one request did. */
struct blk_result {
	uint8_t status;    /* VIRTIO_BLK_S_* */
	uint32_t written;  /* bytes written into the chain's writable part, status included */
	uint64_t data;     /* bytes moved to or from the disk */
};

/* One request chain. 0 with *r, or MICA_EINVAL with a sentence in err when the chain
 * breaks the rules (too short for header and status, data in the wrong direction); the
 * guest's buffers are left alone then. */
int blk_request(const struct blk *b, const struct vq_chain *c, struct blk_result *r,
		char *err, size_t errlen);

/* Serves the request queue until it is empty or the driver breaks the rules. Stats:
 * requests, bytes (data moved), drops (requests answered IOERR or UNSUPP). */
void blk_serve(const struct blk *b, struct vdev *d);

#endif
