/* vmm/backend.c: gather and scatter over chains split every which way, and the device state
 * the backends share: queue set-up against the driver's features, breaking, reset. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/backend.h"

#define RAM_SIZE 0x10000ull

static uint8_t *ram;
static struct vdev d;
static struct vq_chain ch;
static const char *const names[] = { "firstq", "secondq" };

static void init(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	cr_assert(ram);
	memset(ram, 0, RAM_SIZE);
	vdev_init(&d, ram, RAM_SIZE, 2, 4096, names);
	memset(&ch, 0, sizeof(ch));
}

static void fini(void)
{
	free(ram);
}

TestSuite(vdev, .init = init, .fini = fini);

/* Appends a segment over host memory p (the chain helpers use only ptr and len). */
static void add(void *p, uint32_t len, int writable)
{
	ch.seg[ch.nsegs++] = (struct vq_seg){ .ptr = p, .len = len, .writable = (uint8_t)writable };
	if (writable) {
		ch.write_bytes += len;
	} else {
		ch.nread++;
		ch.read_bytes += len;
	}
}

/* ---- gather and scatter ---- */

Test(vdev, gather_across_segments)
{
	char a[] = "hel", b[] = "lo, ", c[] = "world";
	uint8_t w[8] = { 0 };
	char out[32];

	add(a, 3, 0);
	add(b, 4, 0);
	add(c, 5, 0);
	add(w, sizeof(w), 1); /* never gathered */

	memset(out, 0, sizeof(out));
	cr_expect_eq(chain_gather(&ch, 0, out, sizeof(out)), 12);
	cr_expect_str_eq(out, "hello, world");

	memset(out, 0, sizeof(out));
	cr_expect_eq(chain_gather(&ch, 2, out, 6), 6);
	cr_expect_str_eq(out, "llo, w");

	memset(out, 0, sizeof(out));
	cr_expect_eq(chain_gather(&ch, 7, out, 100), 5, "stops where the readable bytes end");
	cr_expect_str_eq(out, "world");

	cr_expect_eq(chain_gather(&ch, 12, out, 1), 0);
	cr_expect_eq(chain_gather(&ch, 1000, out, 1), 0);
	cr_expect_eq(chain_gather(&ch, 0, out, 0), 0);
}

Test(vdev, scatter_across_segments)
{
	uint8_t r[4] = { 0xee, 0xee, 0xee, 0xee };
	uint8_t w1[2], w2[3], w3[4];

	memset(w1, '.', sizeof(w1));
	memset(w2, '.', sizeof(w2));
	memset(w3, '.', sizeof(w3));
	add(r, sizeof(r), 0);
	add(w1, sizeof(w1), 1);
	add(w2, sizeof(w2), 1);
	add(w3, sizeof(w3), 1);

	cr_expect_eq(chain_scatter(&ch, 1, "abcdef", 6), 6);
	cr_expect_eq(memcmp(w1, ".a", 2), 0);
	cr_expect_eq(memcmp(w2, "bcd", 3), 0);
	cr_expect_eq(memcmp(w3, "ef..", 4), 0);
	cr_expect_eq(r[0], 0xee, "readable segments are never written");

	cr_expect_eq(chain_scatter(&ch, 7, "XYZ", 3), 2, "stops where the writable bytes end");
	cr_expect_eq(memcmp(w3, "efXY", 4), 0);
	cr_expect_eq(chain_scatter(&ch, 9, "Q", 1), 0);
}

/* Chain to chain (the switch's GSO frames): both split unevenly, offsets on both sides. */
Test(vdev, copy_chain_to_chain)
{
	uint8_t r1[3] = { 'h', 'e', 'l' }, r2[9] = { 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l', 'd' };
	uint8_t w1[4], w2[2], w3[5];
	struct vq_chain dst = { .nsegs = 3 };

	memset(w1, '.', sizeof(w1));
	memset(w2, '.', sizeof(w2));
	memset(w3, '.', sizeof(w3));
	add(r1, sizeof(r1), 0);
	add(r2, sizeof(r2), 0);
	dst.seg[0] = (struct vq_seg){ .ptr = w1, .len = sizeof(w1), .writable = 1 };
	dst.seg[1] = (struct vq_seg){ .ptr = w2, .len = sizeof(w2), .writable = 1 };
	dst.seg[2] = (struct vq_seg){ .ptr = w3, .len = sizeof(w3), .writable = 1 };
	dst.write_bytes = 11;

	cr_expect_eq(chain_copy(&dst, 1, &ch, 2, 8), 8);
	cr_expect_eq(memcmp(w1, ".llo", 4), 0);
	cr_expect_eq(memcmp(w2, ", ", 2), 0);
	cr_expect_eq(memcmp(w3, "wor..", 5), 0);
	cr_expect_eq(chain_copy(&dst, 9, &ch, 0, 12), 2, "stops where dst ends");
	cr_expect_eq(memcmp(w3, "worhe", 5), 0);
	cr_expect_eq(chain_copy(&dst, 0, &ch, 10, 100), 2, "stops where src ends");
	cr_expect_eq(memcmp(w1, "ldlo", 4), 0);
	cr_expect_eq(chain_copy(&dst, 0, &ch, 12, 1), 0);
}

Test(vdev, gather_and_scatter_on_an_empty_chain)
{
	uint8_t b[4];
	cr_expect_eq(chain_gather(&ch, 0, b, 4), 0);
	cr_expect_eq(chain_scatter(&ch, 0, b, 4), 0);
}

/* ---- device state ---- */

#define DESC(q)  (0x1000ull + 0x4000ull * (q))
#define AVAIL(q) (DESC(q) + 0x1000)
#define USED(q)  (DESC(q) + 0x2000)

static int setup(unsigned q)
{
	return vdev_setup_queue(&d, q, 16, DESC(q), AVAIL(q), USED(q));
}

Test(vdev, init_takes_names_and_limits)
{
	cr_expect_eq(d.nqueues, 2);
	cr_expect_eq(d.max_bytes, 4096);
	cr_expect_eq(d.mem.base, ram);
	cr_expect_eq(d.mem.size, RAM_SIZE);
	cr_expect_str_eq(d.qname[1], "secondq");
	cr_expect_eq(d.live | d.broken | d.ready, 0);
}

Test(vdev, queue_setup_uses_features_and_max_bytes)
{
	vdev_set_features(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
	cr_assert_eq(setup(1), 0, "%s", d.why);
	cr_expect_eq(d.ready, 2);
	cr_expect_eq(d.q[1].event_idx, 1);
	cr_expect_eq(d.q[1].max_bytes, 4096);
	cr_expect_eq(d.q[1].size, 16);
	cr_expect_eq(vdev_serving(&d, 1), 0, "not live yet");
	d.live = 1;
	cr_expect_eq(vdev_serving(&d, 1), 1);
	cr_expect_eq(vdev_serving(&d, 0), 0, "queue 0 is not set up");
	cr_expect_eq(vdev_serving(&d, 2), 0);
}

Test(vdev, features_after_queues_set_them_up_again)
{
	/* DRIVER_OK may carry the features when FEATURES was never reported. */
	cr_assert_eq(setup(0), 0);
	cr_assert_eq(setup(1), 0);
	cr_expect_eq(d.q[0].event_idx, 0);
	vdev_set_features(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
	cr_expect_eq(d.q[0].event_idx, 1);
	cr_expect_eq(d.q[1].event_idx, 1);
	cr_expect_eq(d.ready, 3);

	/* Once live, a queue in use is never restarted. */
	d.live = 1;
	vdev_set_features(&d, VIRTIO_F_VERSION_1);
	cr_expect_eq(d.q[0].event_idx, 1);
	cr_expect_eq(d.features, VIRTIO_F_VERSION_1);
}

Test(vdev, bad_queue_breaks_the_device)
{
	cr_assert_eq(vdev_setup_queue(&d, 1, 24, DESC(1), AVAIL(1), USED(1)), MICA_EINVAL);
	cr_expect_eq(d.broken, 1);
	cr_expect_eq(d.fail_pending, 1);
	cr_expect_str_eq(d.why, "secondq: queue size 24 is not a power of two between 1 and 32768");
	cr_expect_eq(d.ready, 0);
	cr_expect_eq(setup(0), MICA_EINVAL, "a broken device sets up nothing until reset");
}

Test(vdev, first_reason_is_kept)
{
	vdev_break(&d, "first %d", 1);
	vdev_break(&d, "second");
	cr_expect_str_eq(d.why, "first 1");
	cr_expect_eq(d.fail_pending, 1);
}

Test(vdev, long_reasons_are_cut_to_the_limit)
{
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vdev_break(&d, "%s", big);
	cr_expect_eq(strlen(d.why), VDEV_WHY_MAX - 1);
}

Test(vdev, next_breaks_on_a_hostile_chain)
{
	cr_assert_eq(setup(0), 0);
	d.live = 1;
	cr_expect_eq(vdev_next(&d, 0, &ch), 0, "empty queue");

	/* descriptor 0 points outside RAM */
	uint64_t addr = RAM_SIZE;
	uint32_t len = 16;
	memcpy(ram + DESC(0), &addr, 8);
	memcpy(ram + DESC(0) + 8, &len, 4);
	uint16_t idx = 1;
	memcpy(ram + AVAIL(0) + 2, &idx, 2);
	cr_expect_eq(vdev_next(&d, 0, &ch), MICA_EINVAL);
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "firstq: descriptor 0 points outside guest RAM: [0x10000, +0x10) "
				"beyond 0x10000");
	cr_expect_eq(vdev_next(&d, 0, &ch), 0, "a broken device serves nothing");
	cr_expect_eq(ch.nsegs, 0);
}

Test(vdev, push_marks_the_queue_for_a_signal)
{
	uint64_t addr = 0x8000;
	uint32_t len = 16;
	uint16_t idx = 1;

	cr_assert_eq(setup(1), 0);
	d.live = 1;
	memcpy(ram + DESC(1), &addr, 8);
	memcpy(ram + DESC(1) + 8, &len, 4);
	memcpy(ram + AVAIL(1) + 2, &idx, 2);
	cr_assert_eq(vdev_next(&d, 1, &ch), 1);
	vdev_push(&d, 1, ch.head, 0);
	cr_expect_eq(d.pushed, 2);
	cr_expect_eq(d.broken, 0);
	vdev_push(&d, 1, ch.head, 0); /* nothing outstanding any more */
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "secondq: the used ring refused descriptor 0");
}

Test(vdev, reset_forgets_all_but_stats)
{
	vdev_set_features(&d, VIRTIO_F_VERSION_1);
	cr_assert_eq(setup(0), 0);
	d.live = 1;
	d.stats.requests = 7;
	vdev_break(&d, "bad");
	vdev_reset(&d);
	cr_expect_eq(d.features, 0);
	cr_expect_eq(d.ready | d.live | d.broken | d.fail_pending | d.pushed, 0);
	cr_expect_str_eq(d.why, "");
	cr_expect_eq(d.stats.requests, 7);
	cr_expect_eq(d.nqueues, 2);
	cr_expect_eq(d.mem.base, ram);
	cr_expect_eq(setup(0), 0, "set-up works again after reset");
}
