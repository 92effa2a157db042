/* vmm/net.c: three guests on one switch, each with its own RAM and real rings. Frames are
 * flooded, then forwarded once learned; a receiver without buffers gets its frames later,
 * in order, from a bounded backlog; receivers with buffers too small, down, or with
 * hostile chains lose only their own frames. A sender whose unicast frame finds the
 * receiver's backlog full is held back (the frame stays on its ring) until the receiver
 * takes frames, or gives up after two watch ticks (the receiver is congested then). */
#include "tests/unit/net_fixture.h"

TestSuite(net, .init = init, .fini = fini);

Test(net, offer)
{
	struct mica_svc_attach a;
	memset(&a, 0xa5, sizeof(a));
	net_offer(mac[1], &a);
	cr_expect_eq(a.features, (1ull << 32) | (1ull << 5) | (1ull << 16) | (1ull << 29) |
				 (1ull << 28) | 1 | 2 | (1ull << 7) | (1ull << 8) | (1ull << 11) |
				 (1ull << 12) | (1ull << 15),
		     "offloads: CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6; MRG_RXBUF");
	cr_expect_eq(a.num_queues, 2);
	cr_expect_eq(a.queue_max, 256);
	cr_expect_eq(a.config_len, 8);
	cr_expect_eq(memcmp(a.config, mac[1], 6), 0);
	cr_expect_eq(a.config[6], 1, "status: link up");
	cr_expect_eq(a.config[7], 0);
	for (unsigned i = 8; i < MICA_SVC_CONFIG_MAX; i++)
		cr_assert_eq(a.config[i], 0);
	cr_expect_str_eq(g[0].d.qname[NET_RX], "receiveq");
	cr_expect_str_eq(g[0].d.qname[NET_TX], "transmitq");
	cr_expect_eq(g[0].d.max_bytes, 128 * 1024, "a GSO frame and its header");
}

Test(net, broadcast_floods_then_unicast_is_forwarded)
{
	uint64_t b1 = rx_buffer(1, 1526), b2 = rx_buffer(2, 1526);
	make_frame(bcast, mac[0], 60, 3);
	send(0, 60);
	cr_expect_eq(used_idx(0, NET_TX), 1);
	cr_expect_eq(used_len(0, NET_TX, 0), 0);
	cr_expect_eq(used_idx(1, NET_RX), 1);
	cr_expect_eq(used_len(1, NET_RX, 0), 72);
	expect_received(1, b1, 60);
	cr_expect_eq(used_idx(2, NET_RX), 1);
	expect_received(2, b2, 60);
	cr_expect_eq(used_idx(0, NET_RX), 0, "never back to the sender");
	cr_expect_eq(g[0].d.pushed, 1u << NET_TX);
	cr_expect_eq(g[1].d.pushed, 1u << NET_RX);

	/* guest 1 answers guest 0, whose MAC is now known: guest 2 sees nothing */
	uint64_t b0 = rx_buffer(0, 1526);
	rx_buffer(2, 1526);
	make_frame(mac[0], mac[1], 1514, 9);
	send(1, 1514);
	cr_expect_eq(used_idx(0, NET_RX), 1);
	cr_expect_eq(used_len(0, NET_RX, 0), 1526);
	expect_received(0, b0, 1514);
	cr_expect_eq(used_idx(2, NET_RX), 1);

	cr_expect_eq(g[0].d.stats.requests, 2); /* one sent, one received */
	cr_expect_eq(g[0].d.stats.bytes, 60 + 1514);
	cr_expect_eq(g[2].d.stats.requests, 1);
	cr_expect_eq(s.stats.flooded, 1);
	cr_expect_eq(s.stats.forwarded, 1);
}

Test(net, frame_split_over_segments)
{
	uint64_t b1 = rx_buffer(1, 1526);
	make_frame(bcast, mac[0], 300, 5);
	/* the header in two pieces, the frame in two more */
	uint8_t *r = g[0].ram;
	memset(r + BUF, 0, NET_HDR_LEN);
	memcpy(r + BUF + 0x100, frame, 100);
	memcpy(r + BUF + 0x300, frame + 100, 200);
	publish(0, NET_TX, 4, (struct gbuf[]){ { BUF, 8, 0 }, { BUF + 8, 4, 0 },
					       { BUF + 0x100, 100, 0 }, { BUF + 0x300, 200, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_len(1, NET_RX, 0), 312);
	expect_received(1, b1, 300);
	cr_expect_eq(g[0].d.stats.bytes, 300);
}

Test(net, receive_buffer_split_over_segments)
{
	uint64_t a = g[1].next_buf, b = a + 0x800;
	publish(1, NET_RX, 2, (struct gbuf[]){ { a, 10, 1 }, { b, 1516, 1 } });
	make_frame(bcast, mac[0], 64, 7);
	send(0, 64);
	cr_expect_eq(used_len(1, NET_RX, 0), 76);
	uint8_t got[76];
	memcpy(got, g[1].ram + a, 10);
	memcpy(got + 10, g[1].ram + b, 66);
	cr_expect_eq(got[10], 1);
	cr_expect_eq(memcmp(got + 12, frame, 64), 0);
}

Test(net, no_receive_buffer_waits)
{
	rx_buffer(2, 1526);
	make_frame(bcast, mac[0], 60, 1);
	send(0, 60);
	cr_expect_eq(g[1].d.stats.drops, 0);
	cr_expect_eq(ports[1].count, 1, "guest 1's frame waits for a buffer");
	cr_expect_eq(g[2].d.stats.drops, 0);
	cr_expect_eq(used_idx(2, NET_RX), 1);
	cr_expect_eq(ports[2].count, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1, "the sender gets its buffer back at once");

	uint64_t b1 = rx_buffer(1, 1526);
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(used_idx(1, NET_RX), 1);
	cr_expect_eq(used_len(1, NET_RX, 0), 72);
	expect_received(1, b1, 60);
	cr_expect_eq(g[1].d.pushed, 1u << NET_RX, "a signal check for guest 1");
	cr_expect_eq(ports[1].count, 0);
	cr_expect_eq(g[1].d.stats.requests, 1);
	cr_expect_eq(g[1].d.stats.drops, 0);
}

Test(net, receive_buffer_too_small)
{
	uint64_t b1 = rx_buffer(1, 71);
	make_frame(bcast, mac[0], 60, 1);
	send(0, 60);
	cr_expect_eq(used_idx(1, NET_RX), 1, "the buffer goes back...");
	cr_expect_eq(used_len(1, NET_RX, 0), 0, "...with nothing in it");
	cr_expect_eq(g[1].ram[b1], 0xee);
	cr_expect_eq(g[1].d.stats.drops, 1);
	cr_expect_eq(g[1].d.pushed, 1u << NET_RX);
}

Test(net, oversized_and_headerless_frames_are_dropped)
{
	rx_buffer(1, 4096);
	make_frame(bcast, mac[0], SW_FRAME_MAX + 1, 1);
	send(0, SW_FRAME_MAX + 1);
	cr_expect_eq(used_idx(0, NET_TX), 1);
	cr_expect_eq(g[0].d.stats.drops, 1);
	cr_expect_eq(used_idx(1, NET_RX), 0);

	publish(0, NET_TX, 1, (struct gbuf[]){ { BUF, NET_HDR_LEN - 1, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 2);
	cr_expect_eq(g[0].d.stats.drops, 2);
	cr_expect_eq(used_idx(1, NET_RX), 0);

	make_frame(bcast, mac[0], SW_FRAME_MAX, 1);
	send(0, SW_FRAME_MAX);
	cr_expect_eq(used_idx(1, NET_RX), 1, "1518 bytes is fine");
	cr_expect_eq(used_len(1, NET_RX, 0), SW_FRAME_MAX + NET_HDR_LEN);
}

Test(net, runts_stop_at_the_switch)
{
	rx_buffer(1, 1526);
	make_frame(bcast, mac[0], 13, 1);
	send(0, 13);
	cr_expect_eq(used_idx(1, NET_RX), 0);
	cr_expect_eq(s.stats.runts, 1);
	cr_expect_eq(used_idx(0, NET_TX), 1);
}

Test(net, down_ports_are_skipped)
{
	rx_buffer(2, 1526);
	g[1].d.live = 0;     /* no DRIVER_OK yet */
	ports[0].d = NULL;   /* not attached */
	make_frame(bcast, mac[2], 60, 1);
	send(2, 60);
	cr_expect_eq(used_idx(2, NET_TX), 1);
	cr_expect_eq(g[1].d.stats.drops, 0, "a port that is down drops nothing");
	cr_expect_eq(g[0].d.stats.drops, 0);
	cr_expect_eq(ports[1].count, 0, "nor does it keep frames for later");
	ports[0].d = &g[0].d;

	vdev_reset(&g[1].d); /* reset: no queues at all */
	rx_buffer(1, 1526);
	make_frame(bcast, mac[0], 60, 1);
	send(0, 60);
	cr_expect_eq(used_idx(1, NET_RX), 0);
	cr_expect_eq(used_idx(2, NET_RX), 1);
	cr_expect_eq(ports[1].count, 0);
}

Test(net, hostile_receiver_fails_alone)
{
	publish(1, NET_RX, 1, (struct gbuf[]){ { RAM_SIZE - 4, 1526, 1 } });
	uint64_t b2 = rx_buffer(2, 1526);
	make_frame(bcast, mac[0], 60, 1);
	send(0, 60);
	cr_expect_eq(g[1].d.broken, 1);
	cr_expect_str_eq(g[1].d.why, "receiveq: descriptor 0 points outside guest RAM: "
				     "[0xffffc, +0x5f6) beyond 0x100000");
	cr_expect_eq(g[0].d.broken, 0);
	cr_expect_eq(g[2].d.broken, 0);
	expect_received(2, b2, 60);
	cr_expect_eq(used_idx(0, NET_TX), 1);

	/* the broken port is skipped from now on */
	rx_buffer(2, 1526);
	send(0, 60);
	cr_expect_eq(used_idx(2, NET_RX), 2);
	cr_expect_eq(used_idx(0, NET_TX), 2);
}

Test(net, hostile_sender_fails)
{
	publish(0, NET_TX, 2, (struct gbuf[]){ { BUF, 100, 1 }, { BUF + 0x100, 100, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(g[0].d.broken, 1);
	cr_expect_str_eq(g[0].d.why, "transmitq: descriptor 1 is readable but follows a "
				     "writable descriptor");
	cr_expect_eq(used_idx(0, NET_TX), 0);
}

Test(net, many_frames_in_one_pass)
{
	make_frame(bcast, mac[1], 60, 1); /* the switch learns where guest 1 is */
	send(1, 60);
	for (unsigned i = 0; i < 8; i++)
		rx_buffer(1, 1526);
	make_frame(mac[1], mac[0], 100, 1);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t gpa = BUF + 0x1000ull * i;
		memset(g[0].ram + gpa, 0, NET_HDR_LEN);
		frame[20] = (uint8_t)i;
		memcpy(g[0].ram + gpa + NET_HDR_LEN, frame, 100);
		publish(0, NET_TX, 1, (struct gbuf[]){ { gpa, NET_HDR_LEN + 100, 0 } });
	}
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 8);
	cr_expect_eq(used_idx(1, NET_RX), 8);
	cr_expect_eq(used_idx(2, NET_RX), 0);
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(g[1].ram[BUF + 0x10000 + 0x1000 * i + NET_HDR_LEN + 20], i);
	cr_expect_eq(s.stats.forwarded, 8);
}

/* --- The backlog ---------------------------------------------------------------------- */

/* Guest `from` sends n unicast frames of len bytes to guest `to`, numbered first.. (the
 * number at bytes 20-21), one transmit chain each, served one by one. */
static void send_numbered(unsigned from, unsigned to, unsigned first, unsigned n, size_t len)
{
	make_frame(mac[to], mac[from], len, 1);
	for (unsigned i = first; i < first + n; i++) {
		frame[20] = (uint8_t)i;
		frame[21] = (uint8_t)(i >> 8);
		send(from, len);
	}
}

/* The switch learns where every guest lives: each sends one broadcast, which everyone
 * else takes at once. */
static void learn_all(void)
{
	for (unsigned p = 0; p < NPORTS; p++) {
		for (unsigned q = 0; q < NPORTS; q++)
			if (q != p)
				rx_buffer(q, 1526);
		make_frame(bcast, mac[p], 60, 1);
		send(p, 60);
	}
	for (unsigned p = 0; p < NPORTS; p++) {
		cr_assert_eq(used_idx(p, NET_RX), NPORTS - 1);
		cr_assert_eq(ports[p].count, 0);
		g[p].next_buf = BUF + 0x10000;
		g[p].d.pushed = 0;
	}
}

/* Gives guest p n receive buffers of 1526 bytes at fixed places (so they can be given
 * again once used). */
static void rx_buffers(unsigned p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		publish(p, NET_RX, 1,
			(struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, 1526, 1 } });
}

/* The number of the frame in guest p's used element u (a one-descriptor receive chain,
 * still as published), checking the length: len bytes of frame behind the header. */
static unsigned number_at(unsigned p, unsigned u, size_t len)
{
	const uint8_t *used = g[p].ram + RING(NET_RX) + 0x2000 + 4 + 8 * (u % QSIZE);
	uint32_t id, got;
	uint64_t gpa;

	memcpy(&id, used, 4);
	memcpy(&got, used + 4, 4);
	cr_assert_lt(id, QSIZE);
	cr_expect_eq(got, NET_HDR_LEN + len, "guest %u, used element %u", p, u);
	memcpy(&gpa, g[p].ram + RING(NET_RX) + 16 * id, 8);
	const uint8_t *b = g[p].ram + gpa + NET_HDR_LEN;
	return b[20] | (unsigned)b[21] << 8;
}

/* Guest p's used elements [from, from + n) hold frames first, first + 1, ... */
static void expect_numbers(unsigned p, unsigned from, unsigned n, unsigned first, size_t len)
{
	cr_assert_geq(used_idx(p, NET_RX), (uint16_t)(from + n));
	for (unsigned i = 0; i < n; i++)
		cr_expect_eq(number_at(p, from + i, len), first + i, "guest %u, used element %u",
			     p, from + i);
}

Test(net, backlog_fills_without_receive_buffers)
{
	learn_all();
	send_numbered(0, 1, 0, 5, 100);
	cr_expect_eq(used_idx(0, NET_TX), 1 + 5, "every frame was taken from the sender");
	cr_expect_eq(used_idx(1, NET_RX), 2, "nothing new for guest 1");
	cr_expect_eq(ports[1].count, 5);
	cr_expect_eq(ports[1].stats.waited, 5);
	cr_expect_eq(ports[1].stats.backlog_max, 5);
	cr_expect_eq(ports[1].stats.rx_overflow, 0);
	cr_expect_eq(g[1].d.stats.drops, 0);
	cr_expect_eq(g[1].d.pushed, 0);
	cr_expect_eq(ports[2].count, 0, "unicast: nothing for guest 2");
	cr_expect_eq(pool.fresh, 5);
}

Test(net, backlog_goes_out_in_order_when_buffers_come)
{
	learn_all();
	send_numbered(0, 1, 0, 10, 100);
	cr_assert_eq(ports[1].count, 10);

	/* the driver adds 4 buffers and notifies: the 4 oldest */
	rx_buffers(1, 4);
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(used_idx(1, NET_RX), 2 + 4);
	expect_numbers(1, 2, 4, 0, 100);
	cr_expect_eq(ports[1].count, 6);
	cr_expect_eq(g[1].d.pushed, 1u << NET_RX);

	/* 3 more buffers, no notify yet, and a new frame: the waiting ones go first */
	rx_buffers(1, 3);
	send_numbered(0, 1, 10, 1, 100);
	cr_expect_eq(used_idx(1, NET_RX), 2 + 7);
	expect_numbers(1, 6, 3, 4, 100);
	cr_expect_eq(ports[1].count, 4, "7, 8, 9 and the new 10 wait");

	/* buffers for all and more: the rest, then new frames straight through */
	rx_buffers(1, 8);
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(ports[1].count, 0);
	send_numbered(0, 1, 11, 2, 100);
	cr_expect_eq(used_idx(1, NET_RX), 2 + 13);
	expect_numbers(1, 9, 6, 7, 100);
	cr_expect_eq(ports[1].count, 0);

	cr_expect_eq(ports[1].stats.rx_frames, 2 + 13, "two broadcasts, 13 frames");
	cr_expect_eq(ports[1].stats.rx_bytes, 2 * 60 + 13 * 100);
	cr_expect_eq(ports[1].stats.waited, 11);
	cr_expect_eq(ports[1].stats.backlog_max, 10);
	cr_expect_eq(g[1].d.stats.drops, 0);
	cr_expect_eq(pool.nfree + 0u, pool.fresh, "every slot is back");
}

Test(net, one_pass_takes_every_frame_of_the_sender)
{
	learn_all();
	rx_buffers(1, 3);
	make_frame(mac[1], mac[0], 100, 1);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t gpa = BUF + 0x1000ull * i;
		memset(g[0].ram + gpa, 0, NET_HDR_LEN);
		frame[20] = (uint8_t)i;
		frame[21] = 0;
		memcpy(g[0].ram + gpa + NET_HDR_LEN, frame, 100);
		publish(0, NET_TX, 1, (struct gbuf[]){ { gpa, NET_HDR_LEN + 100, 0 } });
	}
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + 8, "room in the backlog: every frame taken");
	expect_numbers(1, 2, 3, 0, 100);
	cr_expect_eq(ports[1].count, 5);
	rx_buffers(1, 5);
	net_serve_rx(&pool, &ports[1]);
	expect_numbers(1, 5, 5, 3, 100);
}

/* --- Holding the sender back -------------------------------------------------------- */

Test(net, a_full_backlog_holds_the_sender_back)
{
	learn_all();
	send_numbered(0, 1, 0, NET_BACKLOG_MAX + 3, 200);
	/* NET_BACKLOG_MAX wait; the next stays on the sender's ring, and so do the two after
	 * it (each send serves the ring again: the first chain is still the held one) */
	cr_expect_eq(ports[1].count, NET_BACKLOG_MAX);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX, "three frames not taken");
	cr_expect_eq(ports[0].held, 1 + 1, "held for port 1");
	cr_expect_eq(ports[0].stats.held, 3);
	cr_expect_eq(ports[0].stats.tx_frames, 1 + NET_BACKLOG_MAX, "untaken frames not counted");
	cr_expect_eq(ports[1].stats.rx_overflow, 0);
	cr_expect_eq(g[1].d.stats.drops, 0, "nothing lost");
	cr_expect_eq(net_tick(ports, NPORTS), 0, "one tick: still held");

	/* port 1 takes frames: the sender is let go and served again, in order */
	rx_buffers(1, QSIZE);
	net_serve_rx(&pool, &ports[1]);
	expect_numbers(1, 2, QSIZE, 0, 200);
	cr_expect_eq(net_release(ports, NPORTS, 1), 1u << 0);
	cr_expect_eq(ports[0].held, 0);
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX + 3, "all taken now");
	cr_expect_eq(ports[1].count, NET_BACKLOG_MAX - QSIZE + 3);
	unsigned next = QSIZE, u = 2 + QSIZE;
	while (ports[1].count) {
		rx_buffers(1, QSIZE);
		net_serve_rx(&pool, &ports[1]);
		unsigned n = (uint16_t)(used_idx(1, NET_RX) - u);
		expect_numbers(1, u, n, next, 200);
		u += n;
		next += n;
	}
	cr_expect_eq(next, NET_BACKLOG_MAX + 3, "every frame, in order, none lost");
	cr_expect_eq(g[1].d.stats.drops, 0);
	cr_expect_eq(net_release(ports, NPORTS, 1), 0, "nobody waits");
}

Test(net, a_held_sender_only_waits_for_unicast)
{
	learn_all();
	send_numbered(0, 1, 0, NET_BACKLOG_MAX, 100);
	cr_assert_eq(ports[1].count, NET_BACKLOG_MAX);
	/* a broadcast (and so any flood) drops for the full port instead of holding */
	make_frame(bcast, mac[0], 60, 9);
	rx_buffer(2, 1526);
	send(0, 60);
	cr_expect_eq(ports[0].held, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX + 1);
	cr_expect_eq(ports[1].stats.rx_overflow, 1, "port 1 lost its oldest");
	cr_expect_eq(used_idx(2, NET_RX), 3, "port 2 got the broadcast");
	/* an unknown unicast floods too */
	static const uint8_t stranger[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x77 };
	rx_buffer(2, 1526);
	make_frame(stranger, mac[0], 60, 9);
	send(0, 60);
	cr_expect_eq(ports[0].held, 0);
	cr_expect_eq(ports[1].stats.rx_overflow, 2);
	/* the other port's frames go while port 1 is full */
	rx_buffer(2, 1526);
	send_numbered(0, 2, 500, 1, 100);
	cr_expect_eq(ports[0].held, 0);
	expect_numbers(2, 4, 1, 500, 100);
}

Test(net, a_port_that_keeps_its_senders_waiting_becomes_congested)
{
	learn_all();
	send_numbered(0, 1, 0, NET_BACKLOG_MAX + 2, 100);
	cr_assert_eq(ports[0].held, 2);
	/* two ticks held: port 1 is congested, the sender let go */
	cr_expect_eq(net_tick(ports, NPORTS), 0);
	cr_expect_eq(net_tick(ports, NPORTS), 1u << 0);
	cr_expect_eq(ports[1].congested, 1);
	cr_expect_eq(ports[1].stats.congested, 1);
	cr_expect_eq(ports[0].held, 0);
	/* served again, the sender goes on: port 1 loses its oldest, as a switch does */
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX + 2);
	cr_expect_eq(ports[1].stats.rx_overflow, 2);
	cr_expect_eq(ports[0].held, 0);
	/* it takes everything: no longer congested, and holds senders again when full */
	while (ports[1].count) {
		rx_buffers(1, QSIZE);
		net_serve_rx(&pool, &ports[1]);
	}
	cr_expect_eq(ports[1].congested, 0);
	send_numbered(0, 1, 1000, NET_BACKLOG_MAX + 1, 100);
	cr_expect_eq(ports[0].held, 2);
	cr_expect_eq(ports[1].stats.rx_overflow, 2, "no more lost");
}

Test(net, a_reset_lets_go_of_the_held)
{
	learn_all();
	send_numbered(0, 1, 0, NET_BACKLOG_MAX + 1, 100);
	cr_assert_eq(ports[0].held, 2);
	/* a held sender whose port is reset forgets it was held; served, it is again */
	net_port_reset(&pool, &ports[0]);
	cr_expect_eq(ports[0].held, 0);
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(ports[0].held, 2);
	/* the receiver's driver resets: its backlog dropped, its senders let go */
	vdev_reset(&g[1].d);
	net_port_reset(&pool, &ports[1]);
	cr_expect_eq(net_release(ports, NPORTS, 1), 1u << 0);
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX + 1, "a down port takes nothing");
	cr_expect_eq(ports[0].held, 0);
	cr_expect_eq(ports[1].stats.rx_flushed, NET_BACKLOG_MAX);
}

Test(net, unget_puts_the_chain_back)
{
	struct vq_chain c;
	make_frame(bcast, mac[0], 60, 1);
	memset(g[0].ram + BUF, 0, NET_HDR_LEN);
	memcpy(g[0].ram + BUF + NET_HDR_LEN, frame, 60);
	uint16_t head = publish(0, NET_TX, 1, (struct gbuf[]){ { BUF, NET_HDR_LEN + 60, 0 } });
	cr_assert_eq(vdev_next(&g[0].d, NET_TX, &c), 1);
	vdev_unget(&g[0].d, NET_TX);
	cr_assert_eq(vdev_next(&g[0].d, NET_TX, &c), 1, "the same chain again");
	cr_expect_eq(c.head, head);
	cr_expect_eq(vdev_next(&g[0].d, NET_TX, &c), 0, "and only it");
	vdev_push(&g[0].d, NET_TX, head, 0);
	vdev_unget(&g[0].d, NET_TX); /* nothing taken and unanswered: no effect */
	cr_expect_eq(vdev_next(&g[0].d, NET_TX, &c), 0);
}

/* --- A congested port: frames drop, the oldest first ------------------------------- */

Test(net, backlog_is_bounded_and_loses_its_oldest)
{
	learn_all();
	ports[1].congested = 1; /* it kept its senders waiting too long (above) */
	send_numbered(0, 1, 0, NET_BACKLOG_MAX + 3, 200);
	cr_expect_eq(used_idx(0, NET_TX), 1 + NET_BACKLOG_MAX + 3);
	cr_expect_eq(ports[1].count, NET_BACKLOG_MAX);
	cr_expect_eq(ports[1].stats.backlog_max, NET_BACKLOG_MAX);
	cr_expect_eq(ports[1].stats.waited, NET_BACKLOG_MAX + 3);
	cr_expect_eq(ports[1].stats.rx_overflow, 3);
	cr_expect_eq(g[1].d.stats.drops, 3);
	cr_expect_eq(pool.fresh, NET_BACKLOG_MAX, "a full backlog takes no more slots");

	/* frames 3 .. 66 come out, in order, a ring's worth at a time */
	unsigned next = 3, u = 2;
	while (ports[1].count) {
		rx_buffers(1, QSIZE);
		net_serve_rx(&pool, &ports[1]);
		unsigned n = (uint16_t)(used_idx(1, NET_RX) - u);
		cr_assert_eq(n, QSIZE); /* NET_BACKLOG_MAX is a multiple of it */
		expect_numbers(1, u, n, next, 200);
		u += n;
		next += n;
	}
	cr_expect_eq(next, NET_BACKLOG_MAX + 3);
	cr_expect_eq(ports[1].stats.rx_frames, 2 + NET_BACKLOG_MAX);
	cr_expect_eq(g[1].d.stats.drops, 3);
}

Test(net, pool_shared_by_ports)
{
	learn_all();
	for (unsigned p = 0; p < NPORTS; p++)
		ports[p].congested = 1; /* so frames drop rather than hold the senders */
	pool.limit = 12;
	/* alone, a port takes up to half the pool: while it holds fewer than are free */
	send_numbered(0, 1, 0, 8, 60);
	cr_expect_eq(ports[1].count, 6);
	cr_expect_eq(ports[1].stats.rx_overflow, 2, "frames 0 and 1 made room");
	cr_expect_eq(ports[1].stats.backlog_max, 6);
	/* the next port gets half of what is left, and so on: the pool never runs dry */
	send_numbered(0, 2, 100, 5, 60);
	cr_expect_eq(ports[2].count, 3);
	cr_expect_eq(ports[2].stats.rx_overflow, 2);
	send_numbered(1, 0, 200, 3, 60);
	cr_expect_eq(ports[0].count, 2);
	cr_expect_eq(ports[0].stats.rx_overflow, 1);
	cr_expect_eq(pool.fresh, 11);
	cr_expect_eq(g[1].d.stats.drops + g[2].d.stats.drops + g[0].d.stats.drops, 5);

	/* each gets its newest frames, in order */
	rx_buffers(1, 6);
	net_serve_rx(&pool, &ports[1]);
	expect_numbers(1, 2, 6, 2, 60);
	rx_buffers(2, 3);
	net_serve_rx(&pool, &ports[2]);
	expect_numbers(2, 2, 3, 102, 60);
	rx_buffers(0, 2);
	net_serve_rx(&pool, &ports[0]);
	expect_numbers(0, 2, 2, 201, 60);
	cr_expect_eq(pool.nfree, 11, "every slot is back");

	/* one slot: the first port to need it keeps it, the next loses its frame */
	for (unsigned p = 0; p < NPORTS; p++)
		ports[p].congested = 1; /* (taking everything cleared it) */
	pool.limit = 1;
	pool.nfree = 0;
	pool.fresh = 0;
	send_numbered(0, 1, 300, 2, 60);
	cr_expect_eq(ports[1].count, 1);
	send_numbered(0, 2, 400, 1, 60);
	cr_expect_eq(ports[2].count, 0, "nothing free, nothing of its own to give up");
	cr_expect_eq(ports[2].stats.rx_overflow, 3);
	rx_buffers(1, 1);
	net_serve_rx(&pool, &ports[1]);
	expect_numbers(1, 8, 1, 301, 60);
}

Test(net, reset_empties_the_backlog)
{
	learn_all();
	send_numbered(0, 1, 0, 5, 100);
	cr_assert_eq(ports[1].count, 5);

	vdev_reset(&g[1].d);
	sw_flush_port(&s, 1);
	net_port_reset(&pool, &ports[1]);
	cr_expect_eq(ports[1].count, 0);
	cr_expect_eq(ports[1].stats.rx_flushed, 5);
	cr_expect_eq(g[1].d.stats.drops, 5);
	cr_expect_eq(pool.nfree, 5, "the slots are back");

	/* the driver comes back with buffers: nothing old shows up */
	memset(g[1].ram, 0, RAM_SIZE);
	g[1].idx[NET_RX] = g[1].idx[NET_TX] = g[1].free[NET_RX] = g[1].free[NET_TX] = 0;
	live(1);
	rx_buffers(1, 4);
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(used_idx(1, NET_RX), 0);

	send_numbered(0, 1, 50, 1, 100); /* flooded now: guest 1's MAC was forgotten */
	expect_numbers(1, 0, 1, 50, 100);
	cr_expect_eq(ports[1].stats.rx_flushed, 5);
	cr_expect_eq(ports[1].stats.waited, 5);
	cr_expect_eq(ports[2].count, 1, "guest 2 has no buffer for the flood");
	net_port_reset(&pool, &ports[2]);
	cr_expect_eq(ports[2].count, 0);
	cr_expect_eq(ports[2].stats.rx_flushed, 1);

	/* a reset with nothing waiting is harmless */
	net_port_reset(&pool, &ports[0]);
	cr_expect_eq(ports[0].stats.rx_flushed, 0);
	cr_expect_eq(pool.nfree, pool.fresh);
}

Test(net, receiver_that_breaks_loses_its_backlog)
{
	learn_all();
	send_numbered(0, 1, 0, 3, 100);
	cr_assert_eq(ports[1].count, 3);
	publish(1, NET_RX, 1, (struct gbuf[]){ { RAM_SIZE - 4, 1526, 1 } });
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(g[1].d.broken, 1);
	cr_expect_eq(g[1].d.fail_pending, 1);
	cr_expect_eq(ports[1].count, 0);
	cr_expect_eq(ports[1].stats.rx_flushed, 3);
	cr_expect_eq(pool.nfree, 3);

	/* nothing waits for a broken port, and the sender goes on */
	send_numbered(0, 1, 3, 2, 100);
	cr_expect_eq(ports[1].count, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1 + 5);
	cr_expect_eq(g[0].d.broken, 0);
}

Test(net, a_receiver_breaking_while_its_backlog_drains_for_a_sender)
{
	learn_all();
	send_numbered(0, 1, 0, 2, 100);
	publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000, 1526, 1 } });
	publish(1, NET_RX, 1, (struct gbuf[]){ { RAM_SIZE - 4, 1526, 1 } });
	send_numbered(0, 1, 2, 1, 100);
	expect_numbers(1, 2, 1, 0, 100);
	cr_expect_eq(g[1].d.broken, 1);
	cr_expect_eq(ports[1].count, 0, "frame 1 dropped with the port, 2 never queued");
	cr_expect_eq(ports[1].stats.rx_flushed, 1);
	cr_expect_eq(used_idx(0, NET_TX), 1 + 3);
}

Test(net, counters)
{
	learn_all(); /* each guest: one broadcast of 60 sent, two received */
	rx_buffer(1, 71); /* too small for 60 + 12 */
	make_frame(mac[1], mac[0], 60, 1);
	send(0, 60);
	publish(0, NET_TX, 1, (struct gbuf[]){ { BUF, NET_HDR_LEN - 1, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	send_numbered(0, 1, 0, 2, 500);
	rx_buffers(1, 1);
	net_serve_rx(&pool, &ports[1]);

	const struct net_stats *a = &ports[0].stats, *b = &ports[1].stats;
	cr_expect_eq(a->tx_frames, 1 + 1 + 2);
	cr_expect_eq(a->tx_bytes, 60 + 60 + 2 * 500);
	cr_expect_eq(a->tx_bad, 1);
	cr_expect_eq(a->rx_frames, 2);
	cr_expect_eq(a->rx_bytes, 120);
	cr_expect_eq(b->tx_frames, 1);
	cr_expect_eq(b->rx_frames, 2 + 1);
	cr_expect_eq(b->rx_bytes, 120 + 500);
	cr_expect_eq(b->rx_small, 1);
	cr_expect_eq(b->waited, 2);
	cr_expect_eq(b->backlog_max, 2);
	cr_expect_eq(ports[1].count, 1);
	cr_expect_eq(g[1].d.stats.drops, 1);
	cr_expect_eq(g[0].d.stats.drops, 1);
	cr_expect_eq(g[0].d.stats.requests, 2 + 5, "received two, served five chains");
}

Test(net, port_broken_by_its_transmit_queue_gives_its_slots_back)
{
	learn_all();
	send_numbered(0, 1, 0, 3, 100);
	cr_assert_eq(ports[1].count, 3);
	publish(1, NET_TX, 2, (struct gbuf[]){ { BUF, 100, 1 }, { BUF + 0x100, 100, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, 1);
	cr_assert_eq(g[1].d.broken, 1);
	cr_expect_eq(ports[1].count, 3, "nothing changed for its receive side yet");

	send_numbered(0, 1, 3, 1, 100);
	cr_expect_eq(ports[1].count, 0);
	cr_expect_eq(ports[1].stats.rx_flushed, 3);
	cr_expect_eq(pool.nfree, 3);
	rx_buffers(1, 2);
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(used_idx(1, NET_RX), 2, "a broken port gets nothing");
}
