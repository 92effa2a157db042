/* vmm/console.c: transmit chains gathered into pieces for Mica, typed input kept until the
 * driver has receive buffers (and dropped past 4 KiB), and drivers that break the rules;
 * both queues served through real rings in a host buffer that stands for guest RAM. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/console.h"

#define RAM_SIZE 0x40000ull
#define RING(q)  (0x1000ull + 0x4000ull * (q)) /* desc, avail at +0x1000, used at +0x2000 */
#define BUF      0x10000ull
#define QSIZE    16u

static uint8_t *ram;
static struct vdev d;
static struct con k;
static uint16_t drv_idx[2], drv_free[2];

/* What the transmit side emitted, and in how many pieces. */
static uint8_t out[8192];
static size_t out_len;
static unsigned pieces;

static void emit(void *ctx, const uint8_t *buf, size_t len)
{
	cr_assert_eq(ctx, &k);
	cr_assert_leq(out_len + len, sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
	pieces++;
}

static void init(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	cr_assert(ram);
	memset(ram, 0, RAM_SIZE);
	con_device(&d, ram, RAM_SIZE);
	con_reset(&k);
	out_len = pieces = 0;
	memset(drv_idx, 0, sizeof(drv_idx));
	memset(drv_free, 0, sizeof(drv_free));
}

static void fini(void)
{
	free(ram);
}

TestSuite(con, .init = init, .fini = fini);

static uint16_t rd16(uint64_t gpa) { uint16_t v; memcpy(&v, ram + gpa, 2); return v; }
static uint32_t rd32(uint64_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }

struct gbuf {
	uint64_t gpa;
	uint32_t len;
	int writable;
};

/* Publishes a chain of n buffers on queue q; returns its head. */
static uint16_t publish(unsigned q, unsigned n, const struct gbuf *g)
{
	uint16_t head = drv_free[q];
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = ram + RING(q) + 16ull * ((head + i) % QSIZE);
		uint16_t flags = (g[i].writable ? VQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VQ_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t)((head + i + 1) % QSIZE);
		memcpy(p, &g[i].gpa, 8);
		memcpy(p + 8, &g[i].len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	drv_free[q] = (uint16_t)((head + n) % QSIZE);
	memcpy(ram + RING(q) + 0x1000 + 4 + 2 * (drv_idx[q] % QSIZE), &head, 2);
	drv_idx[q]++;
	memcpy(ram + RING(q) + 0x1000 + 2, &drv_idx[q], 2);
	return head;
}

static uint16_t used_idx(unsigned q)
{
	return rd16(RING(q) + 0x2000 + 2);
}

static uint32_t used_len(unsigned q, unsigned n)
{
	return rd32(RING(q) + 0x2000 + 8 + 8 * (n % QSIZE));
}

static void go_live(void)
{
	vdev_set_features(&d, VIRTIO_F_VERSION_1);
	for (unsigned q = 0; q < 2; q++)
		cr_assert_eq(vdev_setup_queue(&d, q, QSIZE, RING(q), RING(q) + 0x1000,
					      RING(q) + 0x2000), 0, "%s", d.why);
	d.live = 1;
}

/* With VIRTIO_RING_F_EVENT_IDX (Linux's hvc driver takes it). */
static void go_live_event_idx(void)
{
	vdev_set_features(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
	for (unsigned q = 0; q < 2; q++)
		cr_assert_eq(vdev_setup_queue(&d, q, QSIZE, RING(q), RING(q) + 0x1000,
					      RING(q) + 0x2000), 0, "%s", d.why);
	d.live = 1;
}

static void input(const char *s)
{
	con_input(&k, &d, (const uint8_t *)s, strlen(s));
}

Test(con, offer)
{
	struct mica_svc_attach a;
	memset(&a, 0xa5, sizeof(a));
	con_offer(&a);
	cr_expect_eq(a.features, 1ull << 32 | 1ull << 29, "VERSION_1, EVENT_IDX");
	cr_expect_eq(a.num_queues, 2);
	cr_expect_eq(a.queue_max, 64);
	cr_expect_eq(a.config_len, 12);
	for (unsigned i = 0; i < MICA_SVC_CONFIG_MAX; i++)
		cr_assert_eq(a.config[i], 0);
	cr_expect_str_eq(d.qname[0], "receiveq0");
	cr_expect_str_eq(d.qname[1], "transmitq0");
	cr_expect_eq(d.max_bytes, 64 * 1024);
}

/* ---- transmit ---- */

Test(con, transmit_gathers_segments)
{
	go_live();
	memcpy(ram + BUF, "hello, ", 7);
	memcpy(ram + BUF + 0x100, "world\n", 6);
	uint16_t h = publish(CON_TX, 2, (struct gbuf[]){ { BUF, 7, 0 }, { BUF + 0x100, 6, 0 } });
	memcpy(ram + BUF + 0x200, "again\n", 6);
	publish(CON_TX, 1, (struct gbuf[]){ { BUF + 0x200, 6, 0 } });

	uint8_t buf[4096];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(out_len, 19);
	cr_expect_eq(memcmp(out, "hello, world\nagain\n", 19), 0);
	cr_expect_eq(pieces, 2, "one piece per chain");
	cr_expect_eq(used_idx(CON_TX), 2);
	cr_expect_eq(rd32(RING(CON_TX) + 0x2000 + 4), h);
	cr_expect_eq(used_len(CON_TX, 0), 0, "nothing written for transmit buffers");
	cr_expect_eq(d.stats.requests, 2);
	cr_expect_eq(d.stats.bytes, 19);
	cr_expect_eq(d.pushed, 1u << CON_TX);
}

Test(con, transmit_in_pieces_of_the_buffer)
{
	go_live();
	for (unsigned i = 0; i < 10000; i++)
		ram[BUF + i] = (uint8_t)('a' + i % 26);
	publish(CON_TX, 3, (struct gbuf[]){ { BUF, 3000, 0 }, { BUF + 3000, 5000, 0 },
					    { BUF + 8000, 192, 0 } });
	uint8_t buf[4096];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(out_len, 8192);
	cr_expect_eq(pieces, 2, "4096 + 4096");
	cr_expect_eq(memcmp(out, ram + BUF, 8192), 0);
}

Test(con, transmit_leaves_writable_segments_alone)
{
	go_live();
	memcpy(ram + BUF, "ok", 2);
	memset(ram + BUF + 0x100, 0xee, 16);
	publish(CON_TX, 2, (struct gbuf[]){ { BUF, 2, 0 }, { BUF + 0x100, 16, 1 } });
	uint8_t buf[64];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(out_len, 2);
	cr_expect_eq(ram[BUF + 0x100], 0xee);
	cr_expect_eq(used_len(CON_TX, 0), 0);
}

Test(con, hostile_transmit_chain_fails_the_device)
{
	go_live();
	publish(CON_TX, 1, (struct gbuf[]){ { BUF, 0, 0 } });
	uint8_t buf[64];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "transmitq0: descriptor 0 has length 0");
	cr_expect_eq(out_len, 0);
	cr_expect_eq(used_idx(CON_TX), 0);
}

Test(con, transmit_chain_over_64k_fails_the_device)
{
	go_live();
	publish(CON_TX, 2, (struct gbuf[]){ { BUF, 0x8000, 0 }, { BUF + 0x8000, 0x8001, 0 } });
	uint8_t buf[64];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "transmitq0: descriptor chain from head 0 is longer than 65536 "
				"bytes");
}

/* ---- receive ---- */

Test(con, input_waits_for_buffers)
{
	go_live();
	input("abc");
	cr_expect_eq(k.in_len, 3, "no receive buffer yet: kept");
	publish(CON_RX, 1, (struct gbuf[]){ { BUF, 2, 1 } });
	publish(CON_RX, 1, (struct gbuf[]){ { BUF + 0x100, 8, 1 } });
	con_serve_rx(&k, &d);
	cr_expect_eq(used_idx(CON_RX), 2);
	cr_expect_eq(used_len(CON_RX, 0), 2);
	cr_expect_eq(memcmp(ram + BUF, "ab", 2), 0);
	cr_expect_eq(used_len(CON_RX, 1), 1);
	cr_expect_eq(ram[BUF + 0x100], 'c');
	cr_expect_eq(k.in_len, 0);
	cr_expect_eq(d.stats.bytes, 3);
	cr_expect_eq(d.pushed, 1u << CON_RX);
}

Test(con, input_goes_straight_to_a_waiting_buffer)
{
	go_live();
	publish(CON_RX, 2, (struct gbuf[]){ { BUF, 1, 1 }, { BUF + 0x100, 7, 1 } });
	input("hello");
	cr_expect_eq(used_idx(CON_RX), 1);
	cr_expect_eq(used_len(CON_RX, 0), 5);
	cr_expect_eq(ram[BUF], 'h');
	cr_expect_eq(memcmp(ram + BUF + 0x100, "ello", 4), 0);
	input("more");
	cr_expect_eq(used_idx(CON_RX), 1, "no buffer left: kept");
	cr_expect_eq(k.in_len, 4);
}

Test(con, input_before_driver_ok_is_kept)
{
	input("early");
	cr_expect_eq(k.in_len, 5);
	go_live();
	publish(CON_RX, 1, (struct gbuf[]){ { BUF, 64, 1 } });
	con_serve_rx(&k, &d);
	cr_expect_eq(used_len(CON_RX, 0), 5);
	cr_expect_eq(memcmp(ram + BUF, "early", 5), 0);
}

Test(con, input_beyond_4k_is_dropped)
{
	static uint8_t big[5000];
	memset(big, 'x', sizeof(big));
	con_input(&k, &d, big, sizeof(big));
	cr_expect_eq(k.in_len, 4096);
	cr_expect_eq(d.stats.drops, 5000 - 4096);
	con_input(&k, &d, big, 1);
	cr_expect_eq(d.stats.drops, 5000 - 4096 + 1);
}

Test(con, input_wraps_around_the_buffer)
{
	static uint8_t fill[4000];
	go_live();
	memset(fill, 'f', sizeof(fill));
	con_input(&k, &d, fill, sizeof(fill));
	publish(CON_RX, 1, (struct gbuf[]){ { BUF, 4000, 1 } });
	con_serve_rx(&k, &d);
	cr_expect_eq(k.in_len, 0);
	cr_expect_eq(k.in_head, 4000);
	/* 136 more bytes: the first 96 fit before the end of the buffer, 40 wrap */
	input("0123456789abcdefghijklmnopqrstuvwxyz");
	static uint8_t more[100];
	memset(more, 'm', sizeof(more));
	con_input(&k, &d, more, sizeof(more));
	cr_expect_eq(k.in_len, 136);
	publish(CON_RX, 2, (struct gbuf[]){ { BUF + 0x2000, 50, 1 }, { BUF + 0x3000, 100, 1 } });
	con_serve_rx(&k, &d);
	cr_expect_eq(used_len(CON_RX, 1), 136);
	cr_expect_eq(memcmp(ram + BUF + 0x2000, "0123456789abcdefghijklmnopqrstuvwxyz", 36), 0);
	for (unsigned i = 36; i < 50; i++)
		cr_assert_eq(ram[BUF + 0x2000 + i], 'm');
	for (unsigned i = 0; i < 86; i++)
		cr_assert_eq(ram[BUF + 0x3000 + i], 'm');
	cr_expect_eq(k.in_len, 0);
	cr_expect_eq(k.in_head, (4000 + 136) % 4096);
}

Test(con, receive_buffer_with_readable_part)
{
	go_live();
	memset(ram + BUF, 0xee, 4);
	publish(CON_RX, 2, (struct gbuf[]){ { BUF, 4, 0 }, { BUF + 0x100, 4, 1 } });
	input("xy");
	cr_expect_eq(ram[BUF], 0xee, "readable part left alone");
	cr_expect_eq(memcmp(ram + BUF + 0x100, "xy", 2), 0);
	cr_expect_eq(used_len(CON_RX, 0), 2);
}

Test(con, hostile_receive_chain_fails_the_device)
{
	go_live();
	publish(CON_RX, 1, (struct gbuf[]){ { RAM_SIZE, 4, 1 } });
	input("x");
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "receiveq0: descriptor 0 points outside guest RAM: [0x40000, +0x4) "
				"beyond 0x40000");
	cr_expect_eq(used_idx(CON_RX), 0);
}

Test(con, reset_forgets_input)
{
	input("stale");
	con_reset(&k);
	cr_expect_eq(k.in_len, 0);
	go_live();
	publish(CON_RX, 1, (struct gbuf[]){ { BUF, 8, 1 } });
	con_serve_rx(&k, &d);
	cr_expect_eq(used_idx(CON_RX), 0, "nothing to deliver, the buffer stays with us");
}

Test(con, zero_sized_piece_buffer_does_nothing)
{
	go_live();
	publish(CON_TX, 1, (struct gbuf[]){ { BUF, 4, 0 } });
	uint8_t buf[1];
	con_serve_tx(&d, buf, 0, emit, &k);
	cr_expect_eq(used_idx(CON_TX), 0);
	cr_expect_eq(out_len, 0);
}

/* ---- event index (virtio 1.x 2.7.7.2, 2.7.10.1) ---- */

/* used_event and avail_event sit after each ring's entries. */
static void set_used_event(unsigned q, uint16_t v)
{
	memcpy(ram + RING(q) + 0x1000 + 4 + 2 * QSIZE, &v, 2);
}

static uint16_t avail_event(unsigned q)
{
	return rd16(RING(q) + 0x2000 + 4 + 8 * QSIZE);
}

Test(con, event_idx_suppresses_interrupts_until_used_event)
{
	go_live_event_idx();
	cr_expect_eq(d.q[CON_RX].event_idx, 1);
	for (unsigned i = 0; i < 4; i++)
		publish(CON_RX, 1, &(struct gbuf){ BUF + 0x100 * i, 0x100, 1 });
	input("a");
	cr_expect_eq(used_idx(CON_RX), 1);
	cr_expect_eq(vq_needs_notify(&d.q[CON_RX], &d.mem), 1, "the first decision signals");
	/* The driver wants an interrupt only once the fourth buffer is used (used_event 3). */
	set_used_event(CON_RX, 3);
	input("b");
	cr_expect_eq(vq_needs_notify(&d.q[CON_RX], &d.mem), 0, "used_event 3 not reached");
	input("c");
	cr_expect_eq(used_idx(CON_RX), 3);
	cr_expect_eq(vq_needs_notify(&d.q[CON_RX], &d.mem), 0);
	input("d");
	cr_expect_eq(used_idx(CON_RX), 4);
	cr_expect_eq(vq_needs_notify(&d.q[CON_RX], &d.mem), 1, "entry 3 is used now");
	/* Nothing new: no second interrupt for the same entry. */
	cr_expect_eq(vq_needs_notify(&d.q[CON_RX], &d.mem), 0);
}

Test(con, event_idx_transmit_asks_for_the_next_notify)
{
	go_live_event_idx();
	publish(CON_TX, 1, &(struct gbuf){ BUF, 5, 0 });
	memcpy(ram + BUF, "hello", 5);
	uint8_t buf[64];
	con_serve_tx(&d, buf, sizeof(buf), emit, &k);
	cr_expect_eq(out_len, 5);
	cr_expect(memcmp(out, "hello", 5) == 0);
	cr_expect_eq(used_idx(CON_TX), 1);
	/* Drained: the driver should notify at its next entry, index 1. */
	cr_expect_eq(avail_event(CON_TX), 1);
}
