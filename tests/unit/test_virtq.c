/* vmm/virtq.c: a host buffer stands for guest RAM; the tests play the driver, build rings
 * in it, and check the device side takes good chains apart and names every kind of bad
 * one. Then 200k random mutations that must never crash (ASan) nor hand out a segment
 * outside guest RAM. Interrupts, avail_event and vq_look: test_virtq_notify.c. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/virtq.h"

#include "tests/unit/virtq_fixture.h"

TestSuite(virtq, .init = init, .fini = fini);

static void expect_seg(unsigned k, uint64_t gpa, uint32_t len, int writable)
{
	cr_assert_lt(k, ch.nsegs);
	cr_expect_eq(ch.seg[k].gpa, gpa, "seg %u gpa %#llx", k, (unsigned long long)ch.seg[k].gpa);
	cr_expect_eq(ch.seg[k].ptr, ram + gpa, "seg %u ptr", k);
	cr_expect_eq(ch.seg[k].len, len, "seg %u len %u", k, ch.seg[k].len);
	cr_expect_eq(ch.seg[k].writable, writable, "seg %u writable", k);
}

/* The chain is refused with msg, nothing is returned, and the queue stays broken. */
static void expect_broken(const char *msg)
{
	cr_assert_eq(next(), MICA_EINVAL, "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
	cr_expect_eq(ch.nsegs, 0);
	cr_expect_eq(q.last_avail_idx, drv_idx - 1, "index moved past a refused chain");
	cr_expect_eq(next(), MICA_EINVAL);
	cr_expect_str_eq(err, "queue is broken or not set up");
}

/* ---- set-up ---- */

static void expect_setup_error(const char *msg)
{
	cr_assert_eq(vq_setup(&q, &mem, &cfg, err, sizeof(err)), MICA_EINVAL, "accepted: %s", msg);
	cr_expect_str_eq(err, msg);
	cr_expect_eq(next(), MICA_EINVAL, "a queue that failed set-up must not run");
}

Test(virtq, setup_checks_size)
{
	cfg.size = 0;
	expect_setup_error("queue size 0 is not a power of two between 1 and 32768");
	cfg.size = 24;
	expect_setup_error("queue size 24 is not a power of two between 1 and 32768");
	cfg.size = 65536;
	expect_setup_error("queue size 65536 is not a power of two between 1 and 32768");
	cfg.size = 32768; /* legal, but its descriptor table alone is 512 KiB */
	expect_setup_error("descriptor table [0x1000, +0x80000) lies outside guest RAM (0x10000 bytes)");
	cfg.size = 1;
	cr_expect_eq(vq_setup(&q, &mem, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(q.size, 1);
}

Test(virtq, setup_checks_rings)
{
	cfg.desc = DESC + 8;
	expect_setup_error("descriptor table at 0x1008 is not 16-byte aligned");
	cfg.desc = DESC;
	cfg.avail = AVAIL + 1;
	expect_setup_error("available ring at 0x2001 is not 2-byte aligned");
	cfg.avail = AVAIL;
	cfg.used = USED + 2;
	expect_setup_error("used ring at 0x3002 is not 4-byte aligned");
	cfg.used = RAM_SIZE - 0x80; /* 6 + 8 * 16 = 0x86 bytes */
	expect_setup_error("used ring [0xff80, +0x86) lies outside guest RAM (0x10000 bytes)");
	cfg.used = 0xfffffffffffffff0ull; /* would wrap */
	expect_setup_error("used ring [0xfffffffffffffff0, +0x86) lies outside guest RAM (0x10000 bytes)");
	cfg.used = USED;
	cfg.avail = RAM_SIZE - 0x20;
	expect_setup_error("available ring [0xffe0, +0x26) lies outside guest RAM (0x10000 bytes)");
	cfg.avail = AVAIL;
	cfg.used = DESC + 0xf0;
	expect_setup_error("used ring [0x10f0, +0x86) overlaps the descriptor table [0x1000, +0x100)");
	cfg.used = AVAIL - 0x84;
	expect_setup_error("used ring [0x1f7c, +0x86) overlaps the available ring [0x2000, +0x26)");
	cfg.used = USED;
	cfg.max_bytes = 0;
	expect_setup_error("largest chain length is 0 bytes");

	/* Rings right at the end of RAM, touching each other, are fine. */
	cfg = (struct vq_config){ .size = 16, .desc = RAM_SIZE - 0x100 - 0x88 - 0x26,
				  .avail = RAM_SIZE - 0x88 - 0x26, .used = RAM_SIZE - 0x88,
				  .max_bytes = 1 };
	cfg.desc &= ~0xfull;
	cr_expect_eq(vq_setup(&q, &mem, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(q.ring_end, RAM_SIZE - 2);
}

/* ---- good chains ---- */

Test(virtq, empty_queue)
{
	cr_expect_eq(next(), 0);
	cr_expect_eq(next(), 0);
	cr_expect_eq(q.last_avail_idx, 0);
}

Test(virtq, single_readable)
{
	set_desc(DESC, 3, BUF, 100, 0, 0);
	publish(3);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.head, 3);
	cr_expect_eq(ch.nsegs, 1);
	cr_expect_eq(ch.nread, 1);
	cr_expect_eq(ch.read_bytes, 100);
	cr_expect_eq(ch.write_bytes, 0);
	expect_seg(0, BUF, 100, 0);
	cr_expect_eq(next(), 0);
}

Test(virtq, direct_read_then_write)
{
	/* virtio-blk style: header, data, data, status; out of table order. */
	set_desc(DESC, 5, BUF, 16, VQ_DESC_F_NEXT, 2);
	set_desc(DESC, 2, BUF + 0x100, 512, VQ_DESC_F_NEXT, 9);
	set_desc(DESC, 9, BUF + 0x1000, 0x1000, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 0);
	set_desc(DESC, 0, BUF + 0x3000, 1, VQ_DESC_F_WRITE, 7 /* ignored: no NEXT */);
	publish(5);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.head, 5);
	cr_expect_eq(ch.nsegs, 4);
	cr_expect_eq(ch.nread, 2);
	cr_expect_eq(ch.read_bytes, 528);
	cr_expect_eq(ch.write_bytes, 0x1001);
	expect_seg(0, BUF, 16, 0);
	expect_seg(1, BUF + 0x100, 512, 0);
	expect_seg(2, BUF + 0x1000, 0x1000, 1);
	expect_seg(3, BUF + 0x3000, 1, 1);
}

Test(virtq, write_only_chain)
{
	set_desc(DESC, 1, BUF, 1514, VQ_DESC_F_WRITE, 0);
	publish(1);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.nread, 0);
	expect_seg(0, BUF, 1514, 1);
}

Test(virtq, indirect_table)
{
	/* WRITE on the descriptor naming the table is ignored (2.7.5.3.2). */
	set_desc(DESC, 4, IND, 3 * 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_WRITE, 0);
	set_desc(IND, 0, BUF, 16, VQ_DESC_F_NEXT, 2);
	set_desc(IND, 2, BUF + 0x200, 0x800, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	set_desc(IND, 1, BUF + 0x1000, 1, VQ_DESC_F_WRITE, 0);
	publish(4);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.head, 4);
	cr_expect_eq(ch.nsegs, 3);
	cr_expect_eq(ch.nread, 1);
	expect_seg(0, BUF, 16, 0);
	expect_seg(1, BUF + 0x200, 0x800, 1);
	expect_seg(2, BUF + 0x1000, 1, 1);
}

Test(virtq, direct_then_indirect)
{
	/* 2.7.5.3.2: a device handles normal descriptors followed by one indirect one. */
	set_desc(DESC, 0, BUF, 10, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, IND + 0x40, 32, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND + 0x40, 0, BUF + 0x10, 20, VQ_DESC_F_NEXT, 1);
	set_desc(IND + 0x40, 1, BUF + 0x40, 30, VQ_DESC_F_WRITE, 0);
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.nsegs, 3);
	cr_expect_eq(ch.nread, 2);
	expect_seg(0, BUF, 10, 0);
	expect_seg(1, BUF + 0x10, 20, 0);
	expect_seg(2, BUF + 0x40, 30, 1);
}

Test(virtq, indirect_table_unaligned_and_long)
{
	/* No alignment is asked of indirect tables; they may be longer than the queue. */
	set_desc(DESC, 0, IND + 8, 40 * 16, VQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < 40; i++)
		set_desc(IND + 8, i, BUF + 0x100 * i, 0x100, i < 39 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.nsegs, 40);
	expect_seg(39, BUF + 0x100 * 39, 0x100, 0);
}

Test(virtq, buffers_at_the_edges_of_ram)
{
	set_desc(DESC, 0, 0, 1, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, RAM_SIZE - 0x10, 0x10, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	set_desc(DESC, 2, 0, RAM_SIZE, VQ_DESC_F_WRITE, 0);
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	expect_seg(0, 0, 1, 0);
	expect_seg(1, RAM_SIZE - 0x10, 0x10, 1);
	expect_seg(2, 0, RAM_SIZE, 1);
}

Test(virtq, max_segments_exactly)
{
	cr_assert_eq(setup_q(128, 0, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		set_desc(DESC, i, BUF + i, 1, i + 1 < VQ_MAX_SEGS ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.nsegs, VQ_MAX_SEGS);
}

Test(virtq, total_bytes_exactly_max)
{
	cr_assert_eq(setup_q(16, 0, 0x1000), 0, "%s", err);
	set_desc(DESC, 0, BUF, 0x800, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, BUF + 0x800, 0x800, VQ_DESC_F_WRITE, 0);
	publish(0);
	cr_assert_eq(next(), 1, "%s", err);
	cr_expect_eq(ch.read_bytes + ch.write_bytes, 0x1000);
}

Test(virtq, full_ring_and_index_wrap)
{
	cr_assert_eq(setup_q(4, 0, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i < 4; i++)
		set_desc(DESC, i, BUF + 0x100 * i, 0x10 + i, VQ_DESC_F_WRITE, 0);
	/* 70000 rounds: both 16-bit indexes wrap. Each round fills the whole ring. */
	for (unsigned round = 0; round < 70000 / 4; round++) {
		for (unsigned i = 0; i < 4; i++)
			publish((uint16_t)((i + round) % 4));
		for (unsigned i = 0; i < 4; i++) {
			cr_assert_eq(next(), 1, "round %u: %s", round, err);
			cr_assert_eq(ch.head, (i + round) % 4);
			cr_assert_eq(ch.seg[0].len, 0x10 + ch.head);
			cr_assert_eq(vq_push(&q, &mem, ch.head, 1), 0);
		}
		cr_assert_eq(next(), 0);
	}
	cr_expect_eq(q.last_avail_idx, (uint16_t)(70000 / 4 * 4));
	cr_expect_eq(rd16(USED + 2), (uint16_t)(70000 / 4 * 4));
}

/* ---- hostile chains ---- */

Test(virtq, head_beyond_queue)
{
	publish(16);
	expect_broken("available ring entry 0 names descriptor 16, beyond the queue size 16");
}

Test(virtq, self_loop)
{
	set_desc(DESC, 7, BUF, 1, VQ_DESC_F_NEXT, 7);
	publish(7);
	expect_broken("descriptor chain loops: descriptor 7 links back to descriptor 7");
}

Test(virtq, two_cycle)
{
	set_desc(DESC, 0, BUF, 1, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, BUF, 1, VQ_DESC_F_NEXT, 0);
	publish(0);
	expect_broken("descriptor chain loops: descriptor 1 links back to descriptor 0");
}

Test(virtq, long_cycle)
{
	/* 0 -> 1 -> ... -> 15 -> 3: a loop that does not come back to the head. */
	for (unsigned i = 0; i < 16; i++)
		set_desc(DESC, i, BUF, 1, VQ_DESC_F_NEXT, (uint16_t)(i < 15 ? i + 1 : 3));
	publish(0);
	expect_broken("descriptor chain loops: descriptor 15 links back to descriptor 3");
}

Test(virtq, loop_inside_indirect_table)
{
	set_desc(DESC, 2, IND, 4 * 16, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, BUF, 1, VQ_DESC_F_NEXT, 3);
	set_desc(IND, 3, BUF, 1, VQ_DESC_F_NEXT, 1);
	set_desc(IND, 1, BUF, 1, VQ_DESC_F_NEXT, 3);
	publish(2);
	expect_broken("descriptor chain loops: descriptor 1 of the indirect table in descriptor 2 "
		      "links back to descriptor 3");
}

Test(virtq, loop_in_a_large_queue_hits_the_segment_limit)
{
	cr_assert_eq(setup_q(256, 0, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i < 256; i++)
		set_desc(DESC, i, BUF, 1, VQ_DESC_F_NEXT, (uint16_t)((i + 1) % 256));
	publish(0);
	expect_broken("descriptor chain from head 0 has more than 64 buffers");
}

Test(virtq, too_many_segments)
{
	cr_assert_eq(setup_q(128, 0, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i <= VQ_MAX_SEGS; i++)
		set_desc(DESC, i, BUF + i, 1, i < VQ_MAX_SEGS ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	expect_broken("descriptor chain from head 0 has more than 64 buffers");
}

Test(virtq, too_many_segments_across_indirect)
{
	set_desc(DESC, 0, BUF, 1, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, IND, 64 * 16, VQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < 64; i++)
		set_desc(IND, i, BUF + i, 1, i < 63 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	publish(0);
	expect_broken("descriptor chain from head 0 has more than 64 buffers");
}

Test(virtq, total_bytes_too_big)
{
	cr_assert_eq(setup_q(16, 0, 0x1000), 0, "%s", err);
	set_desc(DESC, 0, BUF, 0x800, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, BUF + 0x800, 0x801, VQ_DESC_F_WRITE, 0);
	publish(0);
	expect_broken("descriptor chain from head 0 is longer than 4096 bytes");
}

Test(virtq, total_bytes_cannot_overflow)
{
	/* Many 4 GiB-ish lengths: each fails the RAM check long before a sum could wrap. */
	cr_assert_eq(setup_q(16, 0, UINT64_MAX), 0, "%s", err);
	set_desc(DESC, 0, 0, 0xffffffff, 0, 0);
	publish(0);
	expect_broken("descriptor 0 points outside guest RAM: [0x0, +0xffffffff) beyond 0x10000");
}

Test(virtq, outside_ram)
{
	set_desc(DESC, 7, 0x10000000, 0x1000, 0, 0);
	publish(7);
	expect_broken("descriptor 7 points outside guest RAM: [0x10000000, +0x1000) beyond 0x10000");
}

Test(virtq, crosses_end_of_ram)
{
	set_desc(DESC, 0, BUF, 4, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, RAM_SIZE - 0x10, 0x11, VQ_DESC_F_WRITE, 0);
	publish(0);
	expect_broken("descriptor 1 points outside guest RAM: [0xfff0, +0x11) beyond 0x10000");
}

Test(virtq, address_plus_length_wraps)
{
	set_desc(DESC, 3, 0xfffffffffffff000ull, 0x2000, 0, 0);
	publish(3);
	expect_broken("descriptor 3: [0xfffffffffffff000, +0x2000) wraps around the address space");
}

Test(virtq, wrap_inside_indirect_table)
{
	set_desc(DESC, 0, IND, 32, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, BUF, 4, VQ_DESC_F_NEXT, 1);
	set_desc(IND, 1, UINT64_MAX, 1, VQ_DESC_F_WRITE, 0);
	publish(0);
	expect_broken("descriptor 1 of the indirect table in descriptor 0: [0xffffffffffffffff, "
		      "+0x1) wraps around the address space");
}

Test(virtq, zero_length_refused)
{
	set_desc(DESC, 0, BUF, 4, VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, BUF, 0, VQ_DESC_F_WRITE, 0);
	publish(0);
	expect_broken("descriptor 1 has length 0");
}

Test(virtq, zero_length_refused_even_outside_ram)
{
	set_desc(DESC, 0, 0xdead00000000ull, 0, 0, 0);
	publish(0);
	expect_broken("descriptor 0 has length 0");
}

Test(virtq, next_beyond_queue)
{
	set_desc(DESC, 15, BUF, 4, VQ_DESC_F_NEXT, 16);
	publish(15);
	expect_broken("descriptor 15 links to descriptor 16, beyond its table of 16");
}

Test(virtq, next_beyond_indirect_table)
{
	set_desc(DESC, 0, IND, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, BUF, 4, VQ_DESC_F_NEXT, 1);
	set_desc(IND, 1, BUF, 4, VQ_DESC_F_NEXT, 2); /* entry 2 exists in RAM, not in the table */
	set_desc(IND, 2, BUF, 4, 0, 0);
	publish(0);
	expect_broken("descriptor 1 of the indirect table in descriptor 0 links to descriptor 2, "
		      "beyond its table of 2");
}

Test(virtq, read_after_write)
{
	set_desc(DESC, 0, BUF, 4, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	set_desc(DESC, 1, BUF, 4, 0, 0);
	publish(0);
	expect_broken("descriptor 1 is readable but follows a writable descriptor");
}

Test(virtq, read_after_write_across_indirect)
{
	set_desc(DESC, 0, BUF, 4, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	set_desc(DESC, 1, IND, 16, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, BUF, 4, 0, 0);
	publish(0);
	expect_broken("descriptor 0 of the indirect table in descriptor 1 is readable but follows "
		      "a writable descriptor");
}

Test(virtq, indirect_inside_indirect)
{
	set_desc(DESC, 0, IND, 32, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, BUF, 4, VQ_DESC_F_NEXT, 1);
	set_desc(IND, 1, IND + 0x100, 16, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND + 0x100, 0, BUF, 4, 0, 0);
	publish(0);
	expect_broken("descriptor 1 of the indirect table in descriptor 0 is itself indirect (an "
		      "indirect table must not hold indirect descriptors)");
}

Test(virtq, indirect_pointing_at_itself)
{
	/* An indirect table whose entry 0 is the table itself seen again: still indirect. */
	set_desc(DESC, 0, IND, 16, VQ_DESC_F_INDIRECT, 0);
	set_desc(IND, 0, IND, 16, VQ_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("descriptor 0 of the indirect table in descriptor 0 is itself indirect (an "
		      "indirect table must not hold indirect descriptors)");
}

Test(virtq, indirect_with_next)
{
	set_desc(DESC, 0, IND, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, 1);
	set_desc(DESC, 1, BUF, 4, VQ_DESC_F_WRITE, 0);
	set_desc(IND, 0, BUF, 4, 0, 0);
	publish(0);
	expect_broken("descriptor 0 is indirect and also has NEXT set");
}

Test(virtq, indirect_bad_lengths)
{
	static const uint32_t lens[] = { 0, 8, 17, 0xfffffff0 };
	static const char *const msgs[] = {
		"descriptor 0: indirect table length 0 is not a non-zero multiple of 16",
		"descriptor 0: indirect table length 8 is not a non-zero multiple of 16",
		"descriptor 0: indirect table length 17 is not a non-zero multiple of 16",
		"descriptor 0: indirect table [0x4000, +0xfffffff0) lies outside guest RAM (0x10000 bytes)",
	};
	for (unsigned k = 0; k < 4; k++) {
		cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
		set_desc(DESC, 0, IND, lens[k], VQ_DESC_F_INDIRECT, 0);
		publish(0);
		expect_broken(msgs[k]);
	}
}

Test(virtq, indirect_table_outside_ram)
{
	set_desc(DESC, 0, RAM_SIZE - 16, 32, VQ_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("descriptor 0: indirect table [0xfff0, +0x20) lies outside guest RAM (0x10000 bytes)");
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
	set_desc(DESC, 0, 0xfffffffffffffff0ull, 32, VQ_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("descriptor 0: indirect table [0xfffffffffffffff0, +0x20) lies outside guest "
		      "RAM (0x10000 bytes)");
}

Test(virtq, avail_index_running_ahead)
{
	set_desc(DESC, 0, BUF, 4, 0, 0);
	wr16(AVAIL + 2, 17);
	drv_idx = 1; /* what expect_broken compares last_avail_idx against, minus one */
	expect_broken("available index 17 is 17 entries ahead of the device's 0, more than the queue size 16");

	/* Exactly a full ring is fine; one more is not. */
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
	for (unsigned i = 0; i < 16; i++)
		publish(0);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(next(), 1, "%s", err);
	wr16(AVAIL + 2, (uint16_t)(16 + 17));
	drv_idx = 17;
	expect_broken("available index 33 is 17 entries ahead of the device's 16, more than the queue size 16");

	/* "Behind" is the same thing seen modulo 2^16. */
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
	wr16(AVAIL + 2, 0xffff);
	drv_idx = 1;
	expect_broken("available index 65535 is 65535 entries ahead of the device's 0, more than the queue size 16");
}

Test(virtq, setup_again_recovers)
{
	set_desc(DESC, 0, BUF, 0, 0, 0);
	publish(0);
	expect_broken("descriptor 0 has length 0");
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
	set_desc(DESC, 0, BUF, 4, 0, 0);
	publish(0);
	cr_expect_eq(next(), 1, "%s", err);
}

Test(virtq, ram_window_shrinks)
{
	set_desc(DESC, 0, BUF, 4, 0, 0);
	publish(0);
	struct vq_mem small = { ram, USED + 8 };
	cr_expect_eq(vq_next(&q, &small, &ch, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "guest RAM no longer holds the rings (they reach 0x3086)");
	cr_expect_eq(vq_push(&q, &small, 0, 0), MICA_EINVAL);
	cr_expect_eq(vq_needs_notify(&q, &small), MICA_EINVAL);
}

Test(virtq, buffer_checked_against_current_window)
{
	set_desc(DESC, 0, BUF, 0x100, 0, 0);
	publish(0);
	struct vq_mem small = { ram, BUF + 0x80 };
	cr_expect_eq(vq_next(&q, &small, &ch, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "descriptor 0 points outside guest RAM: [0x8000, +0x100) beyond 0x8080");
}

Test(virtq, no_error_buffer)
{
	set_desc(DESC, 0, BUF, 0, 0, 0);
	publish(0);
	cr_expect_eq(vq_next(&q, &mem, &ch, NULL, 0), MICA_EINVAL);
	cr_expect_eq(vq_setup(&q, &mem, NULL, NULL, 0), MICA_EINVAL);
	char tiny[8];
	cr_expect_eq(vq_setup(&q, &mem, &(struct vq_config){ .size = 3 }, tiny, sizeof(tiny)), MICA_EINVAL);
	cr_expect_str_eq(tiny, "queue s");
}

/* ---- used ring (notifications: test_virtq_notify.c) ---- */

Test(virtq, push_writes_used_ring)
{
	set_desc(DESC, 6, BUF, 4, 0, 0);
	set_desc(DESC, 2, BUF, 4, VQ_DESC_F_WRITE, 0);
	publish(6);
	publish(2);
	cr_assert_eq(next(), 1);
	cr_assert_eq(next(), 1);
	/* Completion out of order is allowed. */
	cr_expect_eq(vq_push(&q, &mem, 2, 4), 0);
	cr_expect_eq(rd16(USED + 2), 1);
	cr_expect_eq(rd32(USED + 4), 2);
	cr_expect_eq(rd32(USED + 8), 4);
	cr_expect_eq(vq_push(&q, &mem, 6, 0), 0);
	cr_expect_eq(rd16(USED + 2), 2);
	cr_expect_eq(rd32(USED + 12), 6);
	cr_expect_eq(rd32(USED + 16), 0);
	/* Nothing outstanding, or a head that is not a descriptor: refused, nothing written. */
	cr_expect_eq(vq_push(&q, &mem, 6, 0), MICA_EINVAL);
	cr_expect_eq(rd16(USED + 2), 2);
	publish(6);
	cr_assert_eq(next(), 1);
	cr_expect_eq(vq_push(&q, &mem, 16, 0), MICA_EINVAL);
	cr_expect_eq(rd16(USED + 2), 2);
}

/* Several chains of one answer (a frame over MRG_RXBUF buffers): every element written,
 * then the index moved once; more than are outstanding, or one bad head: nothing. */
Test(virtq, push_many_publishes_once)
{
	for (unsigned i = 0; i < 3; i++) {
		set_desc(DESC, i, BUF + 0x100 * i, 64, VQ_DESC_F_WRITE, 0);
		publish((uint16_t)i);
		cr_assert_eq(next(), 1);
	}
	uint16_t heads[3] = { 0, 1, 2 }, bad[2] = { 1, 16 };
	uint32_t lens[3] = { 64, 64, 7 };
	cr_expect_eq(vq_push_many(&q, &mem, bad, lens, 2), MICA_EINVAL);
	cr_expect_eq(vq_push_many(&q, &mem, heads, lens, 4), MICA_EINVAL);
	cr_expect_eq(rd16(USED + 2), 0);
	cr_expect_eq(rd32(USED + 4), 0, "nothing written");
	cr_expect_eq(vq_push_many(&q, &mem, heads, lens, 3), 0);
	cr_expect_eq(rd16(USED + 2), 3);
	for (unsigned i = 0; i < 3; i++) {
		cr_expect_eq(rd32(USED + 4 + 8 * i), i);
		cr_expect_eq(rd32(USED + 8 + 8 * i), lens[i]);
	}
	cr_expect_eq(vq_push_many(&q, &mem, heads, lens, 1), MICA_EINVAL, "none outstanding");
}

Test(virtq, used_idx_is_the_devices_own)
{
	/* The guest scribbling on used->idx does not move where the device writes. */
	set_desc(DESC, 0, BUF, 4, 0, 0);
	publish(0);
	cr_assert_eq(next(), 1);
	wr16(USED + 2, 9);
	cr_expect_eq(vq_push(&q, &mem, 0, 0), 0);
	cr_expect_eq(rd16(USED + 2), 1);
	cr_expect_eq(rd32(USED + 4), 0);
}

/* ---- random damage ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Values near the edges that matter: RAM size, queue size, table lengths, wrap points. */
static uint64_t interesting(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 48, 0x7f, 0x80, 0xff, 0x100,
		0x1000, IND, IND + 8, BUF, RAM_SIZE - 16, RAM_SIZE - 1, RAM_SIZE, RAM_SIZE + 1,
		0x7fff, 0x8000, 0xfffe, 0xffff, 0xfffffff0, 0xffffffff, 0x100000000ull,
		0x7fffffffffffffffull, 0xfffffffffffff000ull, 0xfffffffffffffff0ull, UINT64_MAX,
	};
	return v[rnd() % (sizeof(v) / sizeof(v[0]))];
}

/* A valid starting point: a direct read/write chain, an indirect chain and a mixed one. */
static void build_baseline(uint32_t size)
{
	memset(ram + DESC, 0, 16 * 256);
	memset(ram + AVAIL, 0, 0x100);
	memset(ram + IND, 0, 0x200);
	set_desc(DESC, 0, BUF, 16, size > 1 ? VQ_DESC_F_NEXT : 0, 1);
	if (size > 1)
		set_desc(DESC, 1, BUF + 0x100, 0x200, VQ_DESC_F_WRITE, 0);
	if (size > 2)
		set_desc(DESC, 2, IND, 4 * 16, VQ_DESC_F_INDIRECT, 0);
	if (size > 3) {
		set_desc(DESC, 3, BUF + 0x400, 8, VQ_DESC_F_NEXT, 4 % size);
		set_desc(DESC, size > 4 ? 4 : 0, IND + 0x100, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	}
	for (unsigned i = 0; i < 4; i++)
		set_desc(IND, i, BUF + 0x1000 * i, 0x100, (i < 3 ? VQ_DESC_F_NEXT : 0) |
			 (i >= 2 ? VQ_DESC_F_WRITE : 0), (uint16_t)(i + 1));
	set_desc(IND + 0x100, 0, BUF + 0x2000, 0x10, VQ_DESC_F_NEXT, 1);
	set_desc(IND + 0x100, 1, BUF + 0x3000, 0x20, VQ_DESC_F_WRITE, 0);
	for (uint16_t i = 0; i < 4 && i < size; i++)
		publish(size > 3 ? (uint16_t[]){ 0, 2, 3, 0 }[i] : (uint16_t)(i % size));
}

/* Writes an interesting or random value of 1, 2, 4 or 8 bytes somewhere in the rings or
 * indirect tables. */
static void mutate(uint32_t size)
{
	static const uint64_t areas[][2] = {
		{ DESC, 16 * 16 }, { AVAIL, 6 + 2 * 16 }, { IND, 0x200 },
	};
	unsigned a = rnd() % 3;
	uint64_t len = areas[a][1];
	if (a == 0)
		len = 16ull * size;
	else if (a == 1)
		len = 6 + 2ull * size;
	unsigned width = 1u << (rnd() % 4);
	uint64_t off = rnd() % len;
	if (off + width > len)
		off = len - width;
	if (width > len)
		return;
	uint64_t v = (rnd() & 1) ? interesting() : rnd();
	if (rnd() % 4 == 0) /* flag words get flag-like values */
		v = rnd() % 8;
	memcpy(ram + areas[a][0] + off, &v, width);
}

static void check_chain(uint32_t size, uint64_t max_bytes)
{
	uint64_t rb = 0, wb = 0;
	cr_assert_lt(ch.head, size);
	cr_assert(ch.nsegs >= 1 && ch.nsegs <= VQ_MAX_SEGS);
	cr_assert_leq(ch.nread, ch.nsegs);
	for (unsigned k = 0; k < ch.nsegs; k++) {
		const struct vq_seg *s = &ch.seg[k];
		cr_assert_gt(s->len, 0);
		cr_assert(s->gpa < RAM_SIZE && s->len <= RAM_SIZE - s->gpa,
			  "segment %u [%#llx, +%#x) outside RAM", k, (unsigned long long)s->gpa, s->len);
		cr_assert_eq(s->ptr, ram + s->gpa);
		cr_assert_eq(s->writable, k >= ch.nread);
		/* Touch both ends: ASan complains if either is outside the buffer. */
		volatile uint8_t first = s->ptr[0], last = s->ptr[s->len - 1];
		(void)first;
		(void)last;
		if (s->writable)
			wb += s->len;
		else
			rb += s->len;
	}
	cr_assert_eq(rb, ch.read_bytes);
	cr_assert_eq(wb, ch.write_bytes);
	cr_assert_leq(rb + wb, max_bytes);
}

Test(virtq, fuzz_never_escapes_ram, .timeout = 120)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8, 16 };
	unsigned accepted = 0, refused = 0;

	for (unsigned iter = 0; iter < 200000; iter++) {
		uint32_t size = sizes[rnd() % 5];
		uint64_t max_bytes = (rnd() & 1) ? 0x10000 : 1 + rnd() % 0x2000;
		cr_assert_eq(setup_q(size, (int)(rnd() & 1), max_bytes), 0, "%s", err);
		build_baseline(size);
		unsigned n = 1 + rnd() % 6;
		for (unsigned k = 0; k < n; k++)
			mutate(size);
		for (unsigned round = 0; round < 8; round++) {
			int rc = next();
			if (rc <= 0) {
				cr_assert(rc == 0 || rc == MICA_EINVAL, "rc %d", rc);
				if (rc < 0) {
					cr_assert(err[0] != '\0' && strlen(err) < sizeof(err));
					refused++;
				}
				break;
			}
			accepted++;
			check_chain(size, max_bytes);
			cr_assert_eq(vq_push(&q, &mem, ch.head, ch.write_bytes), 0);
			cr_assert_geq(vq_needs_notify(&q, &mem), 0);
			/* The driver keeps scribbling between chains. */
			if (rnd() & 1)
				mutate(size);
		}
	}
	/* The mutations should both keep some chains valid and break many. */
	cr_expect_gt(accepted, 10000, "accepted %u", accepted);
	cr_expect_gt(refused, 10000, "refused %u", refused);
}
