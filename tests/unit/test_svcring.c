/* The service request ring, Mica's side (kernel/virtio/svcring.c): posting, a full ring, and a
 * service that writes nonsense into its tail. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <mica/manage.h>
#include "kernel/virtio/svcring.h"

#define N 16u

static struct mica_svc_ring *ring;

static void setup(void)
{
	ring = calloc(1, sizeof(*ring) + N * sizeof(struct mica_ioreq));
	ring->size = N;
}

static void teardown(void)
{
	free(ring);
}

TestSuite(svcring, .init = setup, .fini = teardown);

static struct mica_ioreq req(uint16_t type, uint16_t dev)
{
	struct mica_ioreq r;
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.device = dev;
	return r;
}

Test(svcring, posts_in_order_with_ids)
{
	uint32_t head = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct mica_ioreq r = req(MICA_IOREQ_NOTIFY, (uint16_t)i);
		cr_assert_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
		cr_expect_eq(r.id, i);
	}
	cr_expect_eq(head, 3);
	cr_expect_eq(ring->head, 3, "head is published");
	cr_expect_eq(ring->req[2].device, 2);
	cr_expect_eq(ring->req[2].id, 2);
}

Test(svcring, full_ring_drops_and_counts)
{
	uint32_t head = 0;
	struct mica_ioreq r = req(MICA_IOREQ_INPUT, 0);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
	cr_expect_eq(svcring_post(ring, N, &head, &r), SVCRING_FULL);
	cr_expect_eq(ring->lost, 1);
	cr_expect_eq(head, N, "nothing more was posted");
	ring->tail = 1; /* the service took one */
	cr_expect_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
	cr_expect_eq(r.id, N);
	cr_expect_eq(ring->req[0].id, N, "slot 0 reused");
}

Test(svcring, wraps_around_the_32_bit_counters)
{
	uint32_t head = 0xfffffffeu;
	ring->tail = 0xfffffffeu;
	struct mica_ioreq r = req(MICA_IOREQ_NOTIFY, 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
	cr_expect_eq(head, 2);
	cr_expect_eq(r.id, 1);
	cr_expect(!svcring_consumed(ring, N, head, 0xffffffffu));
	ring->tail = 0;
	cr_expect(svcring_consumed(ring, N, head, 0xffffffffu));
	cr_expect(!svcring_consumed(ring, N, head, 0));
}

Test(svcring, hostile_tail_stops_posting)
{
	uint32_t head = 5;
	struct mica_ioreq r = req(MICA_IOREQ_NOTIFY, 0);
	ring->tail = 100; /* ahead of head */
	cr_expect_eq(svcring_post(ring, N, &head, &r), SVCRING_BAD_TAIL);
	ring->tail = 5u - N - 1; /* further behind than the ring holds */
	cr_expect_eq(svcring_post(ring, N, &head, &r), SVCRING_BAD_TAIL);
	cr_expect_eq(head, 5, "nothing posted");
	cr_expect_eq(ring->head, 0, "nothing published");
	ring->size = 0xffff; /* the service's own idea of the size changes nothing */
	ring->tail = 5;
	cr_expect_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
	cr_expect_eq(ring->req[5].id, 5);
}

Test(svcring, consumed_follows_the_tail)
{
	uint32_t head = 0;
	struct mica_ioreq r = req(MICA_IOREQ_NOTIFY, 0);
	svcring_post(ring, N, &head, &r);
	svcring_post(ring, N, &head, &r);
	cr_expect(!svcring_consumed(ring, N, head, 0));
	ring->tail = 1;
	cr_expect(svcring_consumed(ring, N, head, 0));
	cr_expect(!svcring_consumed(ring, N, head, 1));
	ring->tail = 77; /* nonsense: nothing may wait on it */
	cr_expect(svcring_consumed(ring, N, head, 1));
}

Test(svcring, cancel_withdraws_one_device_not_taken)
{
	uint32_t head = 0;
	struct mica_ioreq r;
	for (unsigned i = 0; i < 6; i++) {
		r = req(i == 4 ? MICA_IOREQ_MANAGE : MICA_IOREQ_NOTIFY, (uint16_t)(i % 2));
		cr_assert_eq(svcring_post(ring, N, &head, &r), SVCRING_POSTED);
	}
	ring->tail = 2; /* the service took 0 and 1 */
	cr_expect_eq(svcring_cancel(ring, N, head, 0), 1, "request 2 (device 0); 4 is MANAGE");
	cr_expect_eq(ring->req[0].type, MICA_IOREQ_NOTIFY, "taken: left alone");
	cr_expect_eq(ring->req[2].type, MICA_IOREQ_CANCELLED);
	cr_expect_eq(ring->req[3].type, MICA_IOREQ_NOTIFY, "device 1");
	cr_expect_eq(ring->req[4].type, MICA_IOREQ_MANAGE);
	cr_expect_eq(svcring_cancel(ring, N, head, 0), 0, "already withdrawn");
	ring->tail = 1000; /* nonsense: nothing touched */
	cr_expect_eq(svcring_cancel(ring, N, head, 1), 0);
	cr_expect_eq(ring->req[5].type, MICA_IOREQ_NOTIFY);
}
