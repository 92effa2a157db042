/* vmm/offload.c and its use in vmm/net.c: checksums left to the switch are written right,
 * a TCP segment of up to 64 KiB goes whole to a receiver that takes it and as correct
 * frames of gso_size bytes to one that does not (IPv4, IPv6, 802.1Q), and every header
 * value a hostile driver may write (offsets past the frame, GSO sizes larger than a
 * frame, types never offered) breaks that driver's device alone, nothing read or written
 * outside the frame. */
#include "tests/unit/net_fixture.h"

TestSuite(offload, .init = init, .fini = fini);

static uint8_t big[NET_GSO_FRAME_MAX];
static uint8_t out[SW_FRAME_MAX];

static void be16_at(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t be16_of(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32_of(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A TCP segment dst <- src in big: Ethernet (with an 802.1Q tag if vlan), IPv4 or IPv6,
 * a 32-byte TCP header (options: 12 bytes of NOPs), then `data` bytes of a pattern. The
 * TCP checksum field holds the pseudo-header's sum, as a driver leaves it for the
 * device. Returns the frame's length; *l4 is the TCP header's offset. */
static size_t tcp_frame(int v6, int vlan, size_t data, uint8_t flags, uint32_t *l4)
{
	size_t l3 = vlan ? 18 : 14, ip_len = v6 ? 40 : 20, thl = 32;
	memcpy(big, mac[1], 6);
	memcpy(big + 6, mac[0], 6);
	if (vlan) {
		be16_at(big + 12, 0x8100);
		be16_at(big + 14, 7);
	}
	be16_at(big + l3 - 2, v6 ? 0x86dd : 0x0800);
	uint8_t *ip = big + l3, *tcp = ip + ip_len;
	memset(ip, 0, ip_len + thl);
	uint32_t pseudo;
	if (v6) {
		ip[0] = 0x60;
		be16_at(ip + 4, (uint16_t)(thl + data)); /* 0 past 64 KiB; the switch recomputes */
		ip[6] = 6;
		ip[7] = 64;
		for (unsigned i = 0; i < 32; i++)
			ip[8 + i] = (uint8_t)(0x20 + i);
		pseudo = inet_sum(ip + 8, 32, 0) + 6 + (uint32_t)(thl + data);
	} else {
		ip[0] = 0x45;
		be16_at(ip + 2, (uint16_t)(ip_len + thl + data));
		be16_at(ip + 4, 0xfffe); /* the ID wraps in the third segment */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		be16_at(ip + 10, inet_fold(inet_sum(ip, 20, 0))); /* the driver's, not left */
		pseudo = inet_sum(ip + 12, 8, 0) + 6 + (uint32_t)(thl + data);
	}
	be16_at(tcp, 40000);
	be16_at(tcp + 2, 5201);
	be16_at(tcp + 4, 0xffff); /* sequence 0xfffff000: wraps too */
	be16_at(tcp + 6, 0xf000);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	be16_at(tcp + 14, 502);
	memset(tcp + 20, 1, thl - 20); /* NOP options */
	for (size_t i = 0; i < data; i++)
		tcp[thl + i] = (uint8_t)(i * 7 + (i >> 8));
	be16_at(tcp + 16, (uint16_t)~inet_fold(pseudo)); /* the pseudo-header's sum, folded */
	*l4 = (uint32_t)(l3 + ip_len);
	return l3 + ip_len + thl + data;
}

static struct net_hdr gso_hdr(int v6, uint32_t l4, uint16_t gso_size)
{
	return (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				 .gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
				 .hdr_len = (uint16_t)(l4 + 32), .gso_size = gso_size,
				 .csum_start = (uint16_t)l4, .csum_offset = 16 };
}

/* A frame as a receiver sees it: its IP header's checksum (IPv4) and its TCP checksum
 * check, and its lengths agree with n. Returns the TCP payload's length. */
static size_t expect_whole(const uint8_t *f, size_t n, int v6, uint32_t l3, uint32_t l4)
{
	const uint8_t *ip = f + l3, *tcp = f + l4;
	uint32_t l4_len = (uint32_t)(n - l4), pseudo;
	if (v6) {
		cr_expect_eq(be16_of(ip + 4), l4_len, "IPv6 payload length");
		pseudo = inet_sum(ip + 8, 32, 0) + 6 + l4_len;
	} else {
		cr_expect_eq(be16_of(ip + 2), n - l3, "IPv4 total length");
		cr_expect_eq(inet_fold(inet_sum(ip, l4 - l3, 0)), 0, "IPv4 header checksum");
		pseudo = inet_sum(ip + 12, 8, 0) + 6 + l4_len;
	}
	cr_expect_eq(inet_fold(inet_sum(tcp, l4_len, pseudo)), 0, "TCP checksum");
	return l4_len - (tcp[12] >> 4) * 4u;
}

Test(offload, inet_checksum)
{
	/* an IPv4 header with its checksum (0xb861) in place sums to all ones */
	uint8_t h[20] = { 0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61,
			  0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7 };
	cr_expect_eq(inet_fold(inet_sum(h, 20, 0)), 0);
	h[10] = h[11] = 0;
	cr_expect_eq(inet_fold(inet_sum(h, 20, 0)), 0xb861);
	/* an odd length pads with a zero byte */
	cr_expect_eq(inet_sum((const uint8_t *)"\x01\x02\x03", 3, 0), 0x0102 + 0x0300);
	/* carries fold back in however many times they wrap */
	uint8_t ones[64];
	memset(ones, 0xff, sizeof(ones));
	cr_expect_eq(inet_fold(inet_sum(ones, sizeof(ones), 0xffffffffu)), 0);
}

Test(offload, header_layout)
{
	uint8_t raw[12] = { 1, 4, 0x42, 0, 0xa8, 5, 0x36, 0, 0x10, 0, 9, 9 };
	struct net_hdr h;
	net_hdr_read(raw, &h);
	cr_expect_eq(h.flags, 1);
	cr_expect_eq(h.gso_type, 4);
	cr_expect_eq(h.hdr_len, 0x42);
	cr_expect_eq(h.gso_size, 1448);
	cr_expect_eq(h.csum_start, 0x36);
	cr_expect_eq(h.csum_offset, 16);
	uint8_t back[12];
	net_hdr_write(back, &h);
	cr_expect_eq(memcmp(back, raw, 10), 0);
	cr_expect_eq(back[10], 1, "num_buffers 1");
	cr_expect_eq(back[11], 0);
}

Test(offload, partial_checksum_is_finished)
{
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 333, 0x18, &l4); /* odd: the pad byte counts */
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = (uint16_t)l4,
			     .csum_offset = 16 };
	struct net_tso t;
	char why[128];
	cr_assert_eq(offload_check(&h, VIRTIO_NET_F_CSUM, big, n, &t, why, sizeof(why)), 0, "%s",
		     why);
	cr_expect_eq(t.nseg, 1);
	offload_csum(big, n, &h);
	cr_expect_eq(expect_whole(big, n, 0, 14, l4), 333);
}

Test(offload, segments_v4)
{
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 3000, 0x80 | 0x18 | 0x01, &l4); /* CWR, PSH, ACK, FIN */
	struct net_hdr h = gso_hdr(0, l4, 1448);
	struct net_tso t;
	char why[128];
	cr_assert_eq(offload_check(&h, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4, big, n, &t,
				   why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(t.nseg, 3);
	cr_expect_eq(t.l3, 14);
	cr_expect_eq(t.l4, 34);
	cr_expect_eq(t.payload, 66);
	static const size_t lens[3] = { 1448, 1448, 104 };
	static const uint8_t flags[3] = { 0x80 | 0x10, 0x10, 0x18 | 0x01 };
	size_t at = 0;
	for (uint32_t k = 0; k < 3; k++) {
		memset(out, 0xcc, sizeof(out));
		size_t m = offload_segment(big, n, &h, &t, k, out);
		cr_assert_eq(m, 66 + lens[k], "segment %u", k);
		cr_expect_eq(expect_whole(out, m, 0, 14, l4), lens[k]);
		cr_expect_eq(memcmp(out, big, 14), 0, "Ethernet header");
		cr_expect_eq(be16_of(out + 18), (uint16_t)(0xfffe + k), "IP ID, wrapping");
		cr_expect_eq(be32_of(out + l4 + 4), 0xfffff000u + (uint32_t)at, "sequence");
		cr_expect_eq(out[l4 + 13], flags[k], "segment %u: TCP flags", k);
		cr_expect_eq(memcmp(out + l4 + 20, big + l4 + 20, 12), 0, "options in every one");
		cr_expect_eq(memcmp(out + 66, big + 66 + at, lens[k]), 0, "payload %u", k);
		cr_expect_eq(out[m], 0xcc, "nothing written past the segment");
		at += lens[k];
	}
}

Test(offload, segments_v6_tagged)
{
	uint32_t l4;
	size_t n = tcp_frame(1, 1, 60000, 0x18, &l4);
	struct net_hdr h = gso_hdr(1, l4, 1428); /* 1500 - 40 - 32 */
	struct net_tso t;
	char why[128];
	cr_assert_eq(offload_check(&h, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO6, big, n, &t,
				   why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(t.nseg, 43); /* 42 of 1428 and one of 24 */
	cr_expect_eq(t.v6, 1);
	size_t total = 0;
	for (uint32_t k = 0; k < t.nseg; k++) {
		size_t m = offload_segment(big, n, &h, &t, k, out);
		cr_assert_leq(m, SW_FRAME_MAX);
		cr_expect_eq(memcmp(out + 12, "\x81\x00\x00\x07\x86\xdd", 6), 0, "the tag stays");
		total += expect_whole(out, m, 1, 18, l4);
		cr_expect_eq(out[l4 + 13], k + 1 < t.nseg ? 0x10 : 0x18, "PSH on the last only");
	}
	cr_expect_eq(total, 60000);
}

Test(offload, refusals)
{
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 3000, 0x10, &l4);
	uint64_t all = NET_OFFLOADS;
	struct net_tso t;
	char why[128];
	struct {
		struct net_hdr h;
		uint64_t features;
		size_t len;
		const char *says;
	} bad[] = {
		{ { .flags = 1, .csum_start = (uint16_t)l4, .csum_offset = 16 }, 0, n,
		  "did not take VIRTIO_NET_F_CSUM" },
		{ { .flags = 1, .csum_start = 0xffff, .csum_offset = 0xffff }, all, n,
		  "lies past the frame" },
		{ { .flags = 1, .csum_start = (uint16_t)(n - 1), .csum_offset = 0 }, all, n,
		  "lies past the frame" },
		{ gso_hdr(0, l4, 1448), VIRTIO_NET_F_CSUM, n, "did not take VIRTIO_NET_F_HOST_TSO4" },
		{ gso_hdr(1, l4, 1448), all, n, "carries EtherType 0x0800, not IPv6" },
		{ { .flags = 1, .gso_type = 3, .gso_size = 1400, .csum_start = (uint16_t)l4,
		    .csum_offset = 6 }, all, n, "GSO type 0x3 was never offered" },
		{ { .flags = 1, .gso_type = 0x81, .gso_size = 1400, .csum_start = (uint16_t)l4,
		    .csum_offset = 16 }, all, n, "GSO type 0x81 was never offered" },
		{ { .gso_type = 1, .gso_size = 1400, .csum_start = (uint16_t)l4, .csum_offset = 16 },
		  all, n, "without NEEDS_CSUM" },
		{ gso_hdr(0, l4, 0), all, n, "gso_size 0" },
		{ gso_hdr(0, l4, 1500), all, n, "larger than the switch's 1518-byte frames" },
		{ gso_hdr(0, l4, 0xffff), all, n, "larger than the switch's 1518-byte frames" },
		{ { .flags = 1, .gso_type = 1, .gso_size = 1448, .csum_start = (uint16_t)l4,
		    .csum_offset = 6 }, all, n, "not in its TCP header (34 + 16)" },
		{ { .flags = 1, .gso_type = 1, .gso_size = 1448, .csum_start = 20,
		    .csum_offset = 16 }, all, n, "not in its TCP header (34 + 16)" },
		/* frames cut short: the checksum's place (34 + 16) is checked first */
		{ gso_hdr(0, l4, 1448), all, 10, "checksum at 34 + 16 lies past" },
		{ gso_hdr(0, l4, 1448), all, 51, "checksum at 34 + 16 lies past" },
		{ gso_hdr(0, l4, 1448), all, 60, "longer than the frame" },
		/* a checksum at the start lets a short frame reach the IP header's checks */
		{ { .flags = 1, .gso_type = 1, .gso_size = 1448 }, all, 14,
		  "IPv4 header is cut short" },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		cr_expect_eq(offload_check(&bad[i].h, bad[i].features, big, bad[i].len, &t, why,
					   sizeof(why)), -1, "case %u", i);
		cr_expect(strstr(why, bad[i].says), "case %u: '%s' lacks '%s'", i, why,
			  bad[i].says);
	}
	/* an IPv4 header whose length field says less than 20, or not TCP */
	struct net_hdr h = gso_hdr(0, l4, 1448);
	big[14] = 0x44;
	cr_expect_eq(offload_check(&h, all, big, n, &t, why, sizeof(why)), -1);
	big[14] = 0x45;
	big[23] = 17;
	cr_expect_eq(offload_check(&h, all, big, n, &t, why, sizeof(why)), -1);
	big[23] = 6;
	big[l4 + 12] = 0x40; /* a TCP header of 16 bytes */
	cr_expect_eq(offload_check(&h, all, big, n, &t, why, sizeof(why)), -1);
	cr_expect(strstr(why, "TCP header of 16 bytes"), "%s", why);
	big[l4 + 12] = 0x80;
	cr_expect_eq(offload_check(&h, all, big, n, &t, why, sizeof(why)), 0, "%s", why);
	/* nothing asked: fine from any driver, whatever the other fields say */
	h = (struct net_hdr){ .flags = 2, .hdr_len = 0xffff, .gso_size = 0xffff,
			      .csum_start = 0xffff, .csum_offset = 0xffff };
	cr_expect_eq(offload_check(&h, 0, big, n, &t, why, sizeof(why)), 0);
	cr_expect_eq(t.nseg, 1);
}

Test(offload, who_takes_what)
{
	struct net_hdr none = { 0 }, csum = { .flags = 1 }, v4 = { .flags = 1, .gso_type = 1 },
		       v6 = { .flags = 1, .gso_type = 4 };
	uint64_t c = VIRTIO_NET_F_GUEST_CSUM;
	cr_expect(offload_takes(&none, 0));
	cr_expect(!offload_takes(&csum, 0));
	cr_expect(offload_takes(&csum, c));
	cr_expect(!offload_takes(&v4, c));
	cr_expect(!offload_takes(&v4, VIRTIO_NET_F_GUEST_TSO4), "TSO without GUEST_CSUM");
	cr_expect(offload_takes(&v4, c | VIRTIO_NET_F_GUEST_TSO4));
	cr_expect(!offload_takes(&v6, c | VIRTIO_NET_F_GUEST_TSO4));
	cr_expect(offload_takes(&v6, c | VIRTIO_NET_F_GUEST_TSO6));
}

/* --- Through the switch ---------------------------------------------------------------- */

#define TX_AT 0x80000ull /* the sender's frame: header, then the frame in two buffers */
#define RX_AT 0xc0000ull /* a 72 KiB receive buffer */

/* Guest p sends big[0..len) behind header h: the switch runs. */
static void send_gso(unsigned p, const struct net_hdr *h, size_t len)
{
	uint8_t *ram = g[p].ram;
	net_hdr_write(ram + TX_AT, h);
	memcpy(ram + TX_AT + 0x1000, big, len < sizeof(big) ? len : sizeof(big));
	publish(p, NET_TX, 2, (struct gbuf[]){ { TX_AT, NET_HDR_LEN, 0 },
					      { TX_AT + 0x1000, (uint32_t)len, 0 } });
	net_serve_tx(&s, &pool, ports, NPORTS, p);
}

static void offloads(unsigned p, uint64_t features)
{
	g[p].d.features |= features;
}

/* Guest 0 sends a 20000-byte TCPv4 segment to guest 1, which takes it whole, and floods
 * it (unknown destination) to guest 2 too, which gets 14 frames of 1448 bytes or less. */
Test(offload, one_segment_whole_to_one_receiver_cut_for_another)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	offloads(1, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4);
	publish(1, NET_RX, 1, (struct gbuf[]){ { RX_AT, 72 * 1024, 1 } });
	for (unsigned i = 0; i < 14; i++)
		publish(2, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, 1526, 1 } });
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 20000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_assert(!g[0].d.broken, "%s", g[0].d.why);
	cr_expect_eq(used_idx(0, NET_TX), 1);

	cr_assert_eq(used_idx(1, NET_RX), 1, "one frame");
	cr_expect_eq(used_len(1, NET_RX, 0), NET_HDR_LEN + n);
	struct net_hdr got;
	net_hdr_read(g[1].ram + RX_AT, &got);
	cr_expect_eq(memcmp(&got, &h, sizeof(h)), 0, "the sender's header, as it was");
	cr_expect_eq(memcmp(g[1].ram + RX_AT + NET_HDR_LEN, big, n), 0, "the frame, as it was");

	cr_assert_eq(used_idx(2, NET_RX), 14, "14 frames");
	size_t total = 0;
	for (unsigned i = 0; i < 14; i++) {
		const uint8_t *b = g[2].ram + BUF + 0x10000 + 0x800ull * i;
		uint32_t m = used_len(2, NET_RX, i) - NET_HDR_LEN;
		static const uint8_t plain[NET_HDR_LEN] = { [10] = 1 };
		cr_expect_eq(memcmp(b, plain, NET_HDR_LEN), 0, "no offload in the header");
		size_t d = expect_whole(b + NET_HDR_LEN, m, 0, 14, l4);
		cr_expect_eq(memcmp(b + NET_HDR_LEN + 66, big + 66 + total, d), 0, "frame %u", i);
		total += d;
	}
	cr_expect_eq(total, 20000);
	cr_expect_eq(ports[0].stats.tx_frames, 1);
	cr_expect_eq(ports[1].stats.rx_frames, 1);
	cr_expect_eq(ports[2].stats.rx_frames, 14);
}

/* A partial checksum goes as it is to a receiver that took GUEST_CSUM, and written for
 * one that did not; the sender's frame is the same for both. */
Test(offload, partial_checksum_through_the_switch)
{
	offloads(0, VIRTIO_NET_F_CSUM);
	offloads(2, VIRTIO_NET_F_GUEST_CSUM);
	uint64_t b1 = rx_buffer(1, 1526), b2 = rx_buffer(2, 1526);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 1000, 0x18, &l4);
	struct net_hdr h = { .flags = 1, .csum_start = (uint16_t)l4, .csum_offset = 16 };
	send_gso(0, &h, n);
	cr_assert(!g[0].d.broken, "%s", g[0].d.why);
	cr_assert_eq(used_idx(1, NET_RX), 1);
	cr_assert_eq(used_idx(2, NET_RX), 1);
	expect_whole(g[1].ram + b1 + NET_HDR_LEN, n, 0, 14, l4);
	cr_expect_eq(g[1].ram[b1], 0, "guest 1: no NEEDS_CSUM");
	cr_expect_eq(g[2].ram[b2], 1, "guest 2: NEEDS_CSUM");
	cr_expect_eq(memcmp(g[2].ram + b2 + NET_HDR_LEN, big, n), 0, "guest 2: untouched");
}

/* A receiver that takes TSO but has only small buffers gets the segments in them. */
Test(offload, buffer_too_small_for_the_segment_takes_its_frames)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	offloads(1, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4);
	for (unsigned i = 0; i < 4; i++)
		publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, 1526, 1 } });
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 4000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_assert_eq(used_idx(1, NET_RX), 3, "three frames, no drop");
	cr_expect_eq(ports[1].stats.rx_small, 0);
	cr_expect_eq(used_len(1, NET_RX, 2), NET_HDR_LEN + 66 + 4000 - 2 * 1448);
}

/* A segment for a receiver without buffers waits in its backlog as frames. */
Test(offload, segments_wait_in_the_backlog)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 5000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_expect_eq(ports[1].count, 4);
	cr_expect_eq(ports[2].count, 4);
	for (unsigned i = 0; i < 4; i++)
		publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, 1526, 1 } });
	net_serve_rx(&pool, &ports[1]);
	cr_assert_eq(used_idx(1, NET_RX), 4);
	size_t total = 0;
	for (unsigned i = 0; i < 4; i++)
		total += expect_whole(g[1].ram + BUF + 0x10000 + 0x800ull * i + NET_HDR_LEN,
				      used_len(1, NET_RX, i) - NET_HDR_LEN, 0, 14, l4);
	cr_expect_eq(total, 5000);
}

/* A hostile header breaks the sender's device alone: nothing reaches the others. */
Test(offload, hostile_header_breaks_the_sender)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	rx_buffer(1, 1526);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 3000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 9000);
	send_gso(0, &h, n);
	cr_expect(g[0].d.broken);
	cr_expect(strstr(g[0].d.why, "transmitq: gso_size 9000"), "%s", g[0].d.why);
	cr_expect_eq(ports[0].stats.tx_bad, 1);
	cr_expect_eq(used_idx(1, NET_RX), 0);
	cr_expect_eq(ports[1].count, 0);
	cr_expect(!g[1].d.broken);
}

/* A GSO frame longer than 64 KiB is dropped and counted, like a plain one over 1518. */
Test(offload, gso_frame_over_64k_is_dropped)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	rx_buffer(1, 1526);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 1000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, NET_GSO_FRAME_MAX + 1);
	cr_expect(!g[0].d.broken, "%s", g[0].d.why);
	cr_expect_eq(ports[0].stats.tx_bad, 1);
	cr_expect_eq(used_idx(0, NET_TX), 1);
	cr_expect_eq(used_idx(1, NET_RX), 0);
	(void)n;
}

/* What a sender's header says beyond what it asks (DATA_VALID, sizes for no offload) never
 * reaches a receiver, even one that takes every offload. */
Test(offload, receivers_get_only_what_was_asked)
{
	offloads(0, NET_OFFLOADS);
	offloads(1, NET_OFFLOADS);
	uint64_t b1 = rx_buffer(1, 1526), b2 = rx_buffer(2, 1526);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 500, 0x18, &l4);
	struct net_hdr h = { .flags = 2, .hdr_len = 77, .gso_size = 1448, .csum_start = 3,
			     .csum_offset = 9 };
	send_gso(0, &h, n);
	cr_assert(!g[0].d.broken, "%s", g[0].d.why);
	static const uint8_t plain[NET_HDR_LEN] = { [10] = 1 };
	cr_expect_eq(memcmp(g[1].ram + b1, plain, NET_HDR_LEN), 0);
	cr_expect_eq(memcmp(g[2].ram + b2, plain, NET_HDR_LEN), 0);
	cr_expect_eq(memcmp(g[1].ram + b1 + NET_HDR_LEN, big, n), 0);
}

/* --- Mergeable receive buffers (MRG_RXBUF) ------------------------------------------- */

/* Gives guest p n one-descriptor receive buffers of len bytes, 0x800 apart from BUF+64K. */
static void small_buffers(unsigned p, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++)
		publish(p, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, len, 1 } });
}

/* The frame guest p received in used elements [0, n), each buffer full but the last. */
static void expect_merged(unsigned p, unsigned n, uint32_t len, const uint8_t *want,
			  size_t want_len, const struct net_hdr *h)
{
	cr_assert_eq(used_idx(p, NET_RX), n);
	static uint8_t got[NET_HDR_LEN + NET_GSO_FRAME_MAX];
	size_t at = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t u = used_len(p, NET_RX, i);
		cr_expect(i + 1 == n ? u <= len : u == len, "buffer %u: %u bytes", i, u);
		memcpy(got + at, g[p].ram + BUF + 0x10000 + 0x800ull * i, u);
		at += u;
	}
	cr_assert_eq(at, NET_HDR_LEN + want_len);
	struct net_hdr gh;
	net_hdr_read(got, &gh);
	cr_expect_eq(memcmp(&gh, h, sizeof(gh)), 0, "the header");
	cr_expect_eq(got[10] | got[11] << 8, n, "num_buffers");
	cr_expect_eq(memcmp(got + NET_HDR_LEN, want, want_len), 0, "the frame");
}

/* A 20000-byte segment fills 14 buffers of 1526 bytes of a driver that took MRG_RXBUF. */
Test(offload, a_segment_fills_mergeable_buffers)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	offloads(1, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_MRG_RXBUF);
	g[2].d.live = 0; /* one receiver */
	small_buffers(1, 15, 1526);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 20000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_assert(!g[0].d.broken && !g[1].d.broken, "%s%s", g[0].d.why, g[1].d.why);
	expect_merged(1, 14, 1526, big, n, &h);
	cr_expect_eq(ports[1].stats.rx_frames, 1);
}

/* A plain frame over three buffers of 600 bytes. */
Test(offload, a_plain_frame_over_mergeable_buffers)
{
	offloads(1, VIRTIO_NET_F_MRG_RXBUF);
	g[2].d.live = 0;
	small_buffers(1, 4, 600);
	make_frame(bcast, mac[0], 1514, 5);
	send(0, 1514);
	static const struct net_hdr none;
	expect_merged(1, 3, 600, frame, 1514, &none);
}

/* Too few buffers on the ring: a plain frame waits, buffers untouched, and goes when
 * there are enough; a segment is cut for the buffers there are, the rest waits. */
Test(offload, too_few_mergeable_buffers)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	offloads(1, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_MRG_RXBUF);
	g[2].d.live = 0;
	small_buffers(1, 2, 600);
	make_frame(bcast, mac[0], 1514, 5);
	send(0, 1514);
	cr_expect_eq(used_idx(1, NET_RX), 0);
	cr_expect_eq(ports[1].count, 1, "it waits");
	publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * 2, 600, 1 } });
	net_serve_rx(&pool, &ports[1]);
	static const struct net_hdr none;
	expect_merged(1, 3, 600, frame, 1514, &none);

	/* 5000 bytes of segment, 4 buffers of 1526: cut in four frames, three fit */
	for (unsigned i = 0; i < 3; i++)
		publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x20000 + 0x800ull * i, 1526, 1 } });
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 5000, 0x18, &l4);
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_expect_eq(used_idx(1, NET_RX), 6);
	cr_expect_eq(ports[1].count, 1, "the last segment waits");
	cr_expect_eq(ports[1].stats.rx_small, 0);
}

/* A segment whose frames would not fit the receiver's backlog holds the sender back, as a
 * plain frame does for a full one; the receiver taking frames lets it go. */
Test(offload, a_segment_that_would_overflow_the_backlog_holds_the_sender)
{
	offloads(0, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
	rx_buffer(0, 1526);
	rx_buffer(2, 1526);
	make_frame(bcast, mac[1], 60, 1); /* the switch learns where guest 1 is */
	send(1, 60);
	make_frame(mac[1], mac[2], 100, 2);
	for (unsigned i = 0; i < NET_BACKLOG_MAX - 3; i++)
		send(2, 100);
	cr_assert_eq(ports[1].count, NET_BACKLOG_MAX - 3);
	uint32_t l4;
	size_t n = tcp_frame(0, 0, 5000, 0x18, &l4); /* 4 frames: one too many */
	struct net_hdr h = gso_hdr(0, l4, 1448);
	send_gso(0, &h, n);
	cr_expect_eq(ports[0].held, 2, "held for port 1");
	cr_expect_eq(used_idx(0, NET_TX), 0, "the chain stays on the ring");
	cr_expect_eq(ports[1].count, NET_BACKLOG_MAX - 3);
	for (unsigned i = 0; i < 4; i++)
		publish(1, NET_RX, 1, (struct gbuf[]){ { BUF + 0x10000 + 0x800ull * i, 1526, 1 } });
	net_serve_rx(&pool, &ports[1]);
	cr_expect_eq(net_release(ports, NPORTS, 1), 1u, "port 0 is let go");
	net_serve_tx(&s, &pool, ports, NPORTS, 0);
	cr_expect_eq(used_idx(0, NET_TX), 1);
	cr_expect_eq(ports[1].count, NET_BACKLOG_MAX - 3 - 4 + 4);
	cr_expect_eq(ports[1].stats.rx_overflow, 0, "nothing dropped");
}
