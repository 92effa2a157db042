/* virtio-blk backend (virtio 1.1, 5.2) over a disk image in memory, or over a medium that
 * moves blocks itself (a GPT partition on NVMe: vmm/nvme_disk.h). Pure logic. */
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

/* A disk that is not in memory. Each call completes before it returns: a write has reached
 * the medium as far as the medium promises (its own write cache aside, which flush empties),
 * so the request it serves is answered only then. */
struct blk_medium {
	/* len bytes at byte off of the disk to (write 0) or from (write 1) buf; off and len are
	 * multiples of the block size, inside the disk. 0, or -1 on an I/O error (the medium
	 * has logged what happened). */
	int (*rw)(void *ctx, int write, uint64_t off, void *buf, uint64_t len);
	/* Everything written so far is on stable storage when it returns 0; -1: it may not be. */
	int (*flush)(void *ctx);
	void *ctx;
	uint8_t *bounce;         /* BLK_MAX_BYTES of the service's own memory for the data */
};

struct blk {
	uint8_t *disk;           /* the disk image, through the service's window; or NULL: */
	const struct blk_medium *medium; /* ... the medium that holds it */
	uint64_t bytes;          /* a multiple of blk_size */
	uint32_t blk_size;       /* BLK_SECTOR, or the medium's block size (4096) */
	char id[BLK_ID_BYTES];   /* "mica:<partition name>", NUL padded, not terminated */
};

/* d: a block device over guest RAM [0, ram_bytes) at ram (one queue, requestq). */
void blk_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes);

/* The disk [disk, disk + bytes) of partition `name`'s device. */
void blk_init(struct blk *b, uint8_t *disk, uint64_t bytes, const char *name);

/* A disk of bytes on medium m, in blocks of blk_size (512 or 4096: what the guest is told,
 * and what every request must be a multiple of). */
void blk_init_medium(struct blk *b, const struct blk_medium *m, uint64_t bytes,
		     uint32_t blk_size, const char *name);

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

/* Serves the request queue until it is empty, budget requests were served, or the driver
 * breaks the rules. Returns 1 when it stopped for the budget (more may be waiting), else 0.
 * Stats: requests, bytes (data moved), drops (requests answered IOERR or UNSUPP). */
int blk_serve(const struct blk *b, struct vdev *d, unsigned budget);

#endif
