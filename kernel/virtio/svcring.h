/* The service request ring seen from Mica's side (include/mica/service.h): posting into a
 * ring that lives in the service partition's RAM. Pure logic (host unit tested). The
 * service may scribble on the ring at any time, so Mica keeps its own head and reads only
 * the tail, once per call, and checks it. */
#ifndef MICA_VIRTIO_SVCRING_H
#define MICA_VIRTIO_SVCRING_H

#include <stdint.h>
#include <mica/service.h>

enum svcring_post {
	SVCRING_POSTED = 0,
	SVCRING_FULL,     /* size requests wait: dropped, ring->lost counts it */
	SVCRING_BAD_TAIL, /* the tail is not within size of our head: nothing is posted */
};

/* Posts rq at *head (its id becomes *head), then publishes the new head. size: the ring's
 * entries, a power of two, as Mica set it up (never ring->size, which the service can
 * change). */
enum svcring_post svcring_post(struct mica_svc_ring *ring, uint32_t size, uint32_t *head,
			       struct mica_ioreq *rq);

/* Has the service taken request id off the ring? (It has when the tail is past it; a tail
 * that is not sane counts as taken, so nothing waits on a broken ring.) */
int svcring_consumed(const struct mica_svc_ring *ring, uint32_t size, uint32_t head,
		     uint32_t id);

/* Withdraws every request for device that the service has not taken yet (between its
 * tail and head): each becomes MICA_IOREQ_CANCELLED, which the service skips. Only while
 * the service is not taking requests (it is in a hypercall: its one vCPU). Returns how
 * many; 0 with an insane tail. */
unsigned svcring_cancel(struct mica_svc_ring *ring, uint32_t size, uint32_t head,
			uint16_t device);

#endif
