/* vmm/virtq.c: what the device tells the driver and what it asks of it (virtio 1.1,
 * 2.7.7 and 2.7.10): interrupts with and without EVENT_IDX, avail_event when idle, and
 * vq_look, the service's watch's view of a queue (pending requests, a used entry the
 * driver was never told of). */
#include "tests/unit/virtq_fixture.h"

TestSuite(virtq_notify, .init = init, .fini = fini);

static void push_one(void)
{
	set_desc(DESC, 0, BUF, 4, 0, 0);
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	cr_assert_eq(vq_push(&q, &mem, 0, 0), 0);
}

Test(virtq_notify, notify_without_event_idx)
{
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	wr16(AVAIL, VQ_AVAIL_F_NO_INTERRUPT);
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	wr16(AVAIL, 0);
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
}

Test(virtq_notify, notify_with_event_idx)
{
	uint64_t used_event = AVAIL + 4 + 2 * 16;
	cr_assert_eq(setup_q(16, 1, 1 << 20), 0, "%s", err);
	wr16(AVAIL, VQ_AVAIL_F_NO_INTERRUPT); /* ignored with event_idx */
	wr16(used_event, 0);
	push_one(); /* used idx 1 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 1, "first decision always interrupts");
	wr16(used_event, 3); /* "tell me when entry 3 is used", i.e. used idx passes 3 */
	push_one();          /* 2 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	push_one();          /* 3 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	push_one();          /* 4: entry 3 is now used */
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	/* Several pushes at once: interrupt if the event lies anywhere in them. */
	wr16(used_event, 5);
	push_one();
	push_one();
	push_one(); /* 7 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	wr16(used_event, 6); /* already passed at the last decision */
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	cr_expect_eq(vq_needs_notify(&q, &mem), 0, "nothing new: no interrupt");
}

Test(virtq_notify, notify_event_idx_wraps)
{
	uint64_t used_event = AVAIL + 4 + 2 * 4;
	cr_assert_eq(setup_q(4, 1, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i < 65534; i++) {
		set_desc(DESC, 0, BUF, 4, 0, 0);
		publish(0);
		cr_assert_eq(next(), 1);
		cr_assert_eq(vq_push(&q, &mem, 0, 0), 0);
	}
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	wr16(used_event, 0xffff); /* entry 65535 */
	push_one();               /* used idx 65535 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	push_one();               /* 0: wrapped past 65535 */
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
}

Test(virtq_notify, avail_event_written_when_idle)
{
	uint64_t avail_event = USED + 4 + 8 * 16;
	cr_assert_eq(setup_q(16, 1, 1 << 20), 0, "%s", err);
	wr16(avail_event, 0x7777);
	cr_expect_eq(next(), 0);
	cr_expect_eq(rd16(avail_event), 0, "asks to hear of entry 0");
	push_one();
	push_one();
	cr_expect_eq(rd16(avail_event), 0, "not rewritten while busy");
	cr_expect_eq(next(), 0);
	cr_expect_eq(rd16(avail_event), 2);

	/* Without event_idx the field is left alone. */
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
	wr16(avail_event, 0x7777);
	cr_expect_eq(next(), 0);
	cr_expect_eq(rd16(avail_event), 0x7777);
}

Test(virtq_notify, look_sees_pending_and_unheard)
{
	uint64_t used_event = AVAIL + 4 + 2 * 16;
	struct vq_look l;
	cr_assert_eq(setup_q(16, 1, 1 << 20), 0, "%s", err);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.pending, 0);
	cr_expect_eq(l.unheard, 0, "nothing pushed, nothing signalled yet");
	/* Two requests made available, none taken: both pending, nothing changes. */
	set_desc(DESC, 0, BUF, 4, 0, 0);
	publish(0);
	publish(0);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.pending, 2);
	cr_expect_eq(l.last_avail, 0);
	cr_expect_eq(q.last_avail_idx, 0, "a look takes nothing");
	cr_assert_eq(next(), 1);
	cr_assert_eq(vq_push(&q, &mem, 0, 0), 0);
	wr16(used_event, 0);
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	/* The driver took entry 0 and asks for entry 1, not yet pushed: nothing unheard. */
	wr16(used_event, 1);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.pending, 1);
	cr_expect_eq(l.used_idx, 1);
	cr_expect_eq(l.unheard, 0);
	/* Entry 1 pushed and the decision made: the driver is told. */
	cr_assert_eq(next(), 1);
	cr_assert_eq(vq_push(&q, &mem, 0, 0), 0);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.used_event, 1);
	cr_expect_eq(l.unheard, 1, "pushed, no decision yet");
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.unheard, 0, "told: a slow or paused driver is not the device's fault");
	/* The driver asks for entry 2 only after entry 2 was pushed and the decision said
	 * no (a driver that broke the order of 2.7.10): unheard until the next decision. */
	publish(0);
	cr_assert_eq(next(), 1);
	cr_assert_eq(vq_push(&q, &mem, 0, 0), 0);
	wr16(used_event, 5);
	cr_expect_eq(vq_needs_notify(&q, &mem), 0);
	wr16(used_event, 2);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.unheard, 1);
	/* The driver caught up (asks for entry 3): nothing unheard. */
	wr16(used_event, 3);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.unheard, 0);
}

Test(virtq_notify, look_hostile_and_broken)
{
	uint64_t used_event = AVAIL + 4 + 2 * 16;
	struct vq_look l;
	cr_assert_eq(setup_q(16, 1, 1 << 20), 0, "%s", err);
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	/* A used_event far from anything pushed (garbage, or 0x8000 ahead): not unheard. */
	wr16(used_event, 0x8001);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.unheard, 0);
	/* An avail index far ahead is reported as it is, for vq_next to refuse. */
	wr16(AVAIL + 2, 0x4000);
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.pending, 0x4000 - 1);
	cr_expect_lt(next(), 0);
	cr_expect_eq(vq_look(&q, &mem, &l), MICA_EINVAL, "a broken queue is not looked at");
	/* RAM that no longer holds the rings. */
	cr_assert_eq(setup_q(16, 1, 1 << 20), 0, "%s", err);
	struct vq_mem small = { mem.base, 0x100 };
	cr_expect_eq(vq_look(&q, &small, &l), MICA_EINVAL);
}

Test(virtq_notify, look_without_event_idx_never_unheard)
{
	struct vq_look l;
	push_one();
	cr_expect_eq(vq_needs_notify(&q, &mem), 1);
	push_one();
	cr_assert_eq(vq_look(&q, &mem, &l), 0);
	cr_expect_eq(l.unheard, 0);
	cr_expect_eq(l.used_event, 0);
}
