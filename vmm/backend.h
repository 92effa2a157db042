/* One served virtio device as the backends (blk, console, net) see it: the guest's RAM
 * window, its queues and what the driver told us. Pure logic: the backends serve queues
 * and leave behind what must happen next (a failure to report, queues to signal), which
 * vmm/serve.c carries out with hypercalls. */
#ifndef MICA_VMM_BACKEND_H
#define MICA_VMM_BACKEND_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/virtq.h"

/* Feature bits every backend deals with (virtio 1.1, 6). */
#define VIRTIO_F_VERSION_1          (1ULL << 32)
#define VIRTIO_RING_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_RING_F_EVENT_IDX     (1ULL << 29)

#define VDEV_QUEUES  2u   /* no backend has more */
#define VDEV_WHY_MAX 160u /* MICA_HC_SVC_FAIL takes a reason of at most 160 bytes */

/* For people; kept across resets. */
struct vdev_stats {
	uint64_t requests; /* chains served */
	uint64_t bytes;    /* payload moved (sectors, console bytes, frames) */
	uint64_t drops;    /* what could not be delivered or done: see each backend */
};

struct vdev {
	struct vq_mem mem;                 /* the guest's RAM through the service's window */
	unsigned nqueues;                  /* 1 .. VDEV_QUEUES */
	uint64_t max_bytes;                /* largest chain the backend accepts */
	const char *qname[VDEV_QUEUES];    /* for the failure sentence: "transmitq" */

	uint64_t features;                 /* the driver's, from FEATURES / DRIVER_OK */
	struct vq q[VDEV_QUEUES];
	struct vq_config qcfg[VDEV_QUEUES]; /* as the driver set each queue up */
	uint8_t ready;                     /* bit n: queue n passed vq_setup() */
	uint8_t pushed;                    /* bit n: used buffers since the last signal check */
	uint8_t live;                      /* DRIVER_OK seen */
	uint8_t broken;                    /* the driver broke the rules: nothing until reset */
	uint8_t fail_pending;              /* broken, and Mica not yet told (why says what) */
	char why[VDEV_WHY_MAX];
	struct vdev_stats stats;
};

/* A device over guest RAM [0, ram_bytes) at ram, with nqueues queues named by qname. */
void vdev_init(struct vdev *d, uint8_t *ram, uint64_t ram_bytes, unsigned nqueues,
	       uint64_t max_bytes, const char *const qname[]);

/* The device was reset: queues, features, live and broken are forgotten; stats stay. */
void vdev_reset(struct vdev *d);

/* The driver's features (FEATURES, and again with DRIVER_OK). Queues set up before the
 * features were known are set up again to match VIRTIO_RING_F_EVENT_IDX, as long as the
 * device is not live (nothing has been taken from them yet). */
void vdev_set_features(struct vdev *d, uint64_t features);

/* Queue q, just set up again, takes up where its used ring stands (vq_resume): its
 * partition was restored from a snapshot. 0, or MICA_EINVAL. */
int vdev_resume_queue(struct vdev *d, unsigned q);

/* The driver enabled queue q. 0, or MICA_EINVAL: the device is broken (why says what). */
int vdev_setup_queue(struct vdev *d, unsigned q, uint32_t size, uint64_t desc,
		     uint64_t avail, uint64_t used);

/* The backend may take buffers from queue q: live, not broken, q set up. */
int vdev_serving(const struct vdev *d, unsigned q);

/* vq_next() on queue q when vdev_serving(): 1 with a chain, 0 if there is none (or the
 * device is not serving), < 0 if the driver broke the rules: the device is broken then,
 * with "<queue name>: <vq_next's sentence>" as the reason. */
int vdev_next(struct vdev *d, unsigned q, struct vq_chain *c);

/* The chain vdev_next() just gave stays on queue q for the next call (vq_unget). */
void vdev_unget(struct vdev *d, unsigned q);

/* Gives chain head back with written bytes, and marks q for a signal check. */
void vdev_push(struct vdev *d, unsigned q, uint16_t head, uint32_t written);
/* The same for n chains taken in a row, published together (vq_push_many). */
void vdev_push_many(struct vdev *d, unsigned q, const uint16_t *head, const uint32_t *written,
		    unsigned n);

/* The driver broke the rules: the first reason is kept for Mica, the device stops. */
void vdev_break(struct vdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Gather and scatter over a chain. chain_gather copies up to len bytes of the chain's
 * readable bytes, from byte off of them, into dst; chain_scatter copies up to len bytes into
 * its writable bytes from byte off of them. Both return how many bytes they copied (less
 * than len where the chain ends). */
uint64_t chain_gather(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len);
uint64_t chain_scatter(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len);
/* Copies up to len of src's readable bytes, from byte soff of them, into dst's writable
 * bytes from byte doff of them, with no copy in between (two guests' RAM: one move per
 * byte). Returns how many bytes it copied. */
uint64_t chain_copy(const struct vq_chain *dst, uint64_t doff, const struct vq_chain *src,
		    uint64_t soff, uint64_t len);

#endif
