/* The virtio-net tests' fixture (test_vmm_net.c, test_vmm_offload.c): three guests on one
 * switch, each with its own RAM and real rings. Each test file has its own copy (static). */
#ifndef MICA_TESTS_NET_FIXTURE_H
#define MICA_TESTS_NET_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/net.h"

#define NPORTS   3u
#define RAM_SIZE 0x100000ull /* room for 64 KiB frames (test_vmm_offload.c) */
#define RING(q)  (0x1000ull + 0x4000ull * (q)) /* desc, avail at +0x1000, used at +0x2000 */
#define BUF      0x10000ull
#define QSIZE    16u

struct guest {
	uint8_t *ram;
	struct vdev d;
	uint16_t idx[2], free[2];
	uint64_t next_buf; /* receive buffers are handed out from here */
};

static struct guest g[NPORTS];
static struct net_port ports[NPORTS];
static struct net_pool pool; /* ~760 KiB: static, like the service's */
static struct sw s;
static uint8_t frame[2048];

static const uint8_t mac[NPORTS][6] = {
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0a },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0c },
};
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline void live(unsigned p)
{
	struct vdev *d = &g[p].d;
	vdev_set_features(d, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_RING_F_EVENT_IDX);
	for (unsigned q = 0; q < 2; q++)
		cr_assert_eq(vdev_setup_queue(d, q, QSIZE, RING(q), RING(q) + 0x1000,
					      RING(q) + 0x2000), 0, "%s", d->why);
	d->live = 1;
}

static inline void init(void)
{
	char err[128];
	for (unsigned p = 0; p < NPORTS; p++) {
		memset(&g[p], 0, sizeof(g[p]));
		g[p].ram = aligned_alloc(4096, RAM_SIZE);
		cr_assert(g[p].ram);
		memset(g[p].ram, 0, RAM_SIZE);
		g[p].next_buf = BUF + 0x10000;
		net_device(&g[p].d, g[p].ram, RAM_SIZE);
		memset(&ports[p], 0, sizeof(ports[p]));
		ports[p].d = &g[p].d;
		live(p);
	}
	memset(&pool, 0, sizeof(pool));
	cr_assert_eq(sw_init(&s, NPORTS, 0, err, sizeof(err)), 0, "%s", err);
}

static inline void fini(void)
{
	for (unsigned p = 0; p < NPORTS; p++)
		free(g[p].ram);
}

struct gbuf {
	uint64_t gpa;
	uint32_t len;
	int writable;
};

/* Publishes a chain of n buffers on queue q of guest p; returns its head. */
static inline uint16_t publish(unsigned p, unsigned q, unsigned n, const struct gbuf *b)
{
	struct guest *x = &g[p];
	uint16_t head = x->free[q];
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = x->ram + RING(q) + 16ull * ((head + i) % QSIZE);
		uint16_t flags = (b[i].writable ? VQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VQ_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t)((head + i + 1) % QSIZE);
		memcpy(e, &b[i].gpa, 8);
		memcpy(e + 8, &b[i].len, 4);
		memcpy(e + 12, &flags, 2);
		memcpy(e + 14, &next, 2);
	}
	x->free[q] = (uint16_t)((head + n) % QSIZE);
	memcpy(x->ram + RING(q) + 0x1000 + 4 + 2 * (x->idx[q] % QSIZE), &head, 2);
	x->idx[q]++;
	memcpy(x->ram + RING(q) + 0x1000 + 2, &x->idx[q], 2);
	return head;
}

static inline uint16_t used_idx(unsigned p, unsigned q)
{
	uint16_t v;
	memcpy(&v, g[p].ram + RING(q) + 0x2000 + 2, 2);
	return v;
}

static inline uint32_t used_len(unsigned p, unsigned q, unsigned n)
{
	uint32_t v;
	memcpy(&v, g[p].ram + RING(q) + 0x2000 + 8 + 8 * (n % QSIZE), 4);
	return v;
}

/* Gives guest p a receive buffer of len bytes; returns its address. */
static inline uint64_t rx_buffer(unsigned p, uint32_t len)
{
	uint64_t gpa = g[p].next_buf;
	g[p].next_buf += 0x1000;
	memset(g[p].ram + gpa, 0xee, len);
	publish(p, NET_RX, 1, (struct gbuf[]){ { gpa, len, 1 } });
	return gpa;
}

/* Builds a frame dst <- src of len bytes (payload: a pattern from seed). */
static inline void make_frame(const uint8_t *dst, const uint8_t *src, size_t len, uint8_t seed)
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = 0x08;
	frame[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		frame[i] = (uint8_t)(seed + i);
}

/* Guest p sends frame[0..len) with a zero header in one segment, and the switch runs. */
static inline void send(unsigned p, size_t len)
{
	/* a buffer per ring entry: a chain held on the ring keeps its frame */
	uint64_t gpa = BUF + 0x800ull * (g[p].idx[NET_TX] % QSIZE);
	memset(g[p].ram + gpa, 0, NET_HDR_LEN);
	memcpy(g[p].ram + gpa + NET_HDR_LEN, frame, len);
	publish(p, NET_TX, 1, (struct gbuf[]){ { gpa, (uint32_t)(NET_HDR_LEN + len), 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, p);
}

/* Guest p's receive buffer at gpa holds a one-buffer header and frame[0..len). */
static inline void expect_received(unsigned p, uint64_t gpa, size_t len)
{
	const uint8_t *b = g[p].ram + gpa;
	static const uint8_t hdr[NET_HDR_LEN] = { [10] = 1 };
	cr_expect_eq(memcmp(b, hdr, NET_HDR_LEN), 0, "guest %u: header", p);
	cr_expect_eq(memcmp(b + NET_HDR_LEN, frame, len), 0, "guest %u: frame", p);
}

#endif
