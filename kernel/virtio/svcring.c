#include <mica/manage.h>
#include "kernel/virtio/svcring.h"

enum svcring_post svcring_post(struct mica_svc_ring *ring, uint32_t size, uint32_t *head,
			       struct mica_ioreq *rq)
{
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	uint32_t used = *head - tail;

	if (used > size)
		return SVCRING_BAD_TAIL;
	if (used == size) {
		ring->lost++;
		return SVCRING_FULL;
	}
	rq->id = *head;
	ring->req[*head & (size - 1)] = *rq;
	__atomic_store_n(&ring->head, ++*head, __ATOMIC_RELEASE); /* entry first, then head */
	return SVCRING_POSTED;
}

int svcring_consumed(const struct mica_svc_ring *ring, uint32_t size, uint32_t head,
		     uint32_t id)
{
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

	if (head - tail > size)
		return 1; /* insane tail: nothing may wait on it */
	return (int32_t)(tail - id) > 0; /* the tail has passed it */
}

unsigned svcring_cancel(struct mica_svc_ring *ring, uint32_t size, uint32_t head,
			uint16_t device)
{
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	if (head - tail > size)
		return 0;
	for (uint32_t id = tail; id != head; id++) {
		struct mica_ioreq *rq = &ring->req[id & (size - 1)];
		if (rq->device == device && rq->type != MICA_IOREQ_CANCELLED &&
		    rq->type != MICA_IOREQ_MANAGE) {
			rq->type = MICA_IOREQ_CANCELLED;
			n++;
		}
	}
	return n;
}
