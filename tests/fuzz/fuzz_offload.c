/* vmm/offload.c: any virtio-net header (the input's first 12 bytes) with any frame (the
 * rest). When the input's next byte is odd the harness first lays a plausible Ethernet,
 * IPv4 or IPv6 (by gso_type) and TCP skeleton over the frame and points csum_start at its
 * TCP header, so the checks past the bounds get exercised too. A frame offload_check
 * accepts, from a driver that took every offload: the checksum it leaves is written
 * inside the frame and sums right with the pseudo-header's sum the field held; its segments each fit a switch frame, carry every
 * payload byte once, in order, and have correct IPv4 header and TCP checksums. */
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "vmm/net.h"
#include "vmm/offload.h"

static uint8_t seg[SW_FRAME_MAX];

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void skeleton(uint8_t *f, size_t len, struct net_hdr *h, unsigned shape)
{
	int v6 = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6, vlan = shape & 2;
	size_t l3 = vlan ? 18 : 14, l4 = l3 + (v6 ? 40 : 20);
	if (len < l4 + 20)
		return;
	if (vlan) {
		f[12] = 0x81;
		f[13] = 0;
	}
	f[l3 - 2] = v6 ? 0x86 : 0x08;
	f[l3 - 1] = v6 ? 0xdd : 0x00;
	f[l3] = v6 ? 0x60 : 0x45;
	f[l3 + (v6 ? 6 : 9)] = 6;
	f[l4 + 12] = (uint8_t)((f[l4 + 12] % 11 + 5) << 4); /* 20 .. 60 bytes */
	h->csum_start = (uint16_t)l4;
	h->csum_offset = 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t raw[12];
	struct net_hdr h;
	struct net_tso t;
	char why[160];

	for (unsigned i = 0; i < 12; i++)
		raw[i] = (uint8_t)fuzz_take(&in, 1);
	net_hdr_read(raw, &h);
	unsigned shape = (unsigned)fuzz_take(&in, 1);
	size_t len = in.n;
	uint8_t *f = malloc(len ? len : 1); /* exactly the frame: ASan sees every overrun */
	if (!f)
		return 0;
	memcpy(f, in.p, len);
	if (shape & 1)
		skeleton(f, len, &h, shape);
	if (offload_check(&h, NET_OFFLOADS, f, len, &t, why, sizeof(why))) {
		FUZZ_CHECK(why[0], "refused without a sentence");
		free(f);
		return 0;
	}
	FUZZ_CHECK(t.nseg >= 1, "no segments");
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		/* the field held the pseudo-header's sum: with it, the whole sums to zero */
		uint32_t pseudo = be16(f + h.csum_start + h.csum_offset);
		offload_csum(f, len, &h);
		FUZZ_CHECK(h.csum_offset % 2 || /* a field across two words: only bounds */
			   !inet_fold(inet_sum(f + h.csum_start, len - h.csum_start, pseudo)),
			   "the checksum written does not sum to zero");
	}
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		size_t data_at = t.payload;
		for (uint32_t k = 0; k < t.nseg; k++) {
			size_t n = offload_segment(f, len, &h, &t, k, seg);
			FUZZ_CHECK(n >= t.payload && n <= SW_FRAME_MAX, "segment %u of %zu bytes", k, n);
			FUZZ_CHECK(!memcmp(seg + t.payload, f + data_at, n - t.payload),
				   "segment %u carries the wrong bytes", k);
			data_at += n - t.payload;
			uint32_t l4_len = (uint32_t)(n - t.l4), pseudo;
			if (t.v6) {
				pseudo = inet_sum(seg + t.l3 + 8, 32, 0) + 6 + l4_len;
			} else {
				FUZZ_CHECK(!inet_fold(inet_sum(seg + t.l3, t.l4 - t.l3, 0)) &&
					   be16(seg + t.l3 + 2) == n - t.l3, "segment %u: IPv4 header", k);
				pseudo = inet_sum(seg + t.l3 + 12, 8, 0) + 6 + l4_len;
			}
			FUZZ_CHECK(!inet_fold(inet_sum(seg + t.l4, l4_len, pseudo)),
				   "segment %u: TCP checksum", k);
		}
		FUZZ_CHECK(data_at == len, "segments carry %zu of %zu bytes", data_at, len);
	}
	free(f);
	return 0;
}
