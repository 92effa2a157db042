/* virtio-net checksum and segmentation offload (vmm/offload.h). */
#include <string.h>

#include "lib/bytes.h"
#include "lib/errmsg.h"
#include "vmm/offload.h"
#include "vmm/switch.h"

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86ddu
#define ETH_P_VLAN 0x8100u
#define IP_TCP 6u
#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

void net_hdr_read(const uint8_t raw[12], struct net_hdr *h)
{
	h->flags = raw[0];
	h->gso_type = raw[1];
	h->hdr_len = rd16(raw + 2);
	h->gso_size = rd16(raw + 4);
	h->csum_start = rd16(raw + 6);
	h->csum_offset = rd16(raw + 8);
}

void net_hdr_write(uint8_t raw[12], const struct net_hdr *h)
{
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	put16(raw + 2, h->hdr_len);
	put16(raw + 4, h->gso_size);
	put16(raw + 6, h->csum_start);
	put16(raw + 8, h->csum_offset);
	put16(raw + 10, 1); /* num_buffers */
}

uint32_t inet_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	uint64_t s = sum;

	for (; n >= 2; p += 2, n -= 2)
		s += be16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

static const char *gso_name(unsigned type)
{
	return type == VIRTIO_NET_HDR_GSO_TCPV4 ? "TCPv4" : "TCPv6";
}

/* Where the IP and TCP headers of a GSO frame are. */
static int parse_tcp(const struct net_hdr *h, const uint8_t *frame, size_t len,
		     struct net_tso *t, char *why, size_t whylen)
{
	int v6 = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6;
	uint32_t l3 = 14;

	if (len < 14)
		return errmsg(-1, why, whylen, "a GSO frame of %zu bytes has no Ethernet header", len);
	uint16_t type = be16(frame + 12);
	if (type == ETH_P_VLAN) {
		l3 = 18;
		if (len < l3)
			return errmsg(-1, why, whylen, "a tagged GSO frame of %zu bytes ends in its "
				      "802.1Q tag", len);
		type = be16(frame + 16);
	}
	if (type != (v6 ? ETH_P_IPV6 : ETH_P_IPV4))
		return errmsg(-1, why, whylen, "a %s GSO frame carries EtherType 0x%04x, not %s",
			      gso_name(h->gso_type), type, v6 ? "IPv6" : "IPv4");
	uint32_t l4;
	if (v6) {
		if (len < l3 + 40u || frame[l3] >> 4 != 6 || frame[l3 + 6] != IP_TCP)
			return errmsg(-1, why, whylen, "a TCPv6 GSO frame whose IPv6 header is cut "
				      "short, not version 6, or not followed by TCP");
		l4 = l3 + 40;
	} else {
		uint32_t ihl = len < l3 + 20u ? 0 : (frame[l3] & 15u) * 4u;
		if (ihl < 20 || frame[l3] >> 4 != 4 || len < l3 + ihl || frame[l3 + 9] != IP_TCP)
			return errmsg(-1, why, whylen, "a TCPv4 GSO frame whose IPv4 header is cut "
				      "short, not version 4, or not followed by TCP");
		l4 = l3 + ihl;
	}
	if (h->csum_start != l4 || h->csum_offset != 16)
		return errmsg(-1, why, whylen, "a %s GSO frame's checksum is at %u + %u, not in its "
			      "TCP header (%u + 16)", gso_name(h->gso_type), h->csum_start,
			      h->csum_offset, l4);
	if (len < l4 + 20u)
		return errmsg(-1, why, whylen, "a %s GSO frame of %zu bytes ends in its TCP header",
			      gso_name(h->gso_type), len);
	uint32_t thl = (frame[l4 + 12] >> 4) * 4u;
	if (thl < 20 || len < l4 + thl)
		return errmsg(-1, why, whylen, "a %s GSO frame's TCP header of %u bytes is shorter "
			      "than 20 or longer than the frame", gso_name(h->gso_type), thl);
	t->l3 = l3;
	t->l4 = l4;
	t->payload = l4 + thl;
	t->v6 = (uint8_t)v6;
	return 0;
}

int offload_check(const struct net_hdr *h, uint64_t features, const uint8_t *frame, size_t len,
		  struct net_tso *t, char *why, size_t whylen)
{
	memset(t, 0, sizeof(*t));
	t->nseg = 1;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & VIRTIO_NET_F_CSUM))
			return errmsg(-1, why, whylen, "a frame with NEEDS_CSUM set, from a driver "
				      "that did not take VIRTIO_NET_F_CSUM");
		if ((size_t)h->csum_start + h->csum_offset + 2 > len)
			return errmsg(-1, why, whylen, "checksum at %u + %u lies past the frame's "
				      "%zu bytes", h->csum_start, h->csum_offset, len);
	}
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if (h->gso_type != VIRTIO_NET_HDR_GSO_TCPV4 && h->gso_type != VIRTIO_NET_HDR_GSO_TCPV6)
		return errmsg(-1, why, whylen, "GSO type 0x%x was never offered (TCPv4 and TCPv6 "
			      "are, without ECN)", h->gso_type);
	uint64_t need = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_F_HOST_TSO4
								 : VIRTIO_NET_F_HOST_TSO6;
	if (!(features & need))
		return errmsg(-1, why, whylen, "a %s GSO frame from a driver that did not take "
			      "VIRTIO_NET_F_HOST_TSO%c", gso_name(h->gso_type),
			      h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ? '4' : '6');
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return errmsg(-1, why, whylen, "a %s GSO frame without NEEDS_CSUM",
			      gso_name(h->gso_type));
	if (h->gso_size == 0)
		return errmsg(-1, why, whylen, "a %s GSO frame with gso_size 0",
			      gso_name(h->gso_type));
	if (parse_tcp(h, frame, len, t, why, whylen))
		return -1;
	if (t->payload + h->gso_size > SW_FRAME_MAX)
		return errmsg(-1, why, whylen, "gso_size %u: with %u bytes of headers its segments "
			      "are larger than the switch's %u-byte frames", h->gso_size,
			      t->payload, SW_FRAME_MAX);
	size_t data = len - t->payload;
	t->nseg = data ? (uint32_t)((data + h->gso_size - 1) / h->gso_size) : 1;
	return 0;
}

int offload_takes(const struct net_hdr *h, uint64_t rx_features)
{
	if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4)
		return (rx_features & VIRTIO_NET_F_GUEST_CSUM) &&
		       (rx_features & VIRTIO_NET_F_GUEST_TSO4);
	if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6)
		return (rx_features & VIRTIO_NET_F_GUEST_CSUM) &&
		       (rx_features & VIRTIO_NET_F_GUEST_TSO6);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return (rx_features & VIRTIO_NET_F_GUEST_CSUM) != 0;
	return 1;
}

void offload_csum(uint8_t *frame, size_t len, const struct net_hdr *h)
{
	uint16_t c = inet_fold(inet_sum(frame + h->csum_start, len - h->csum_start, 0));

	put_be16(frame + h->csum_start + h->csum_offset, c ? c : 0xffff);
}

size_t offload_segment(const uint8_t *frame, size_t len, const struct net_hdr *h,
		       const struct net_tso *t, uint32_t k, uint8_t *out)
{
	size_t data = len - t->payload, off = (size_t)k * h->gso_size;
	size_t n = data > off ? data - off : 0;
	if (n > h->gso_size)
		n = h->gso_size;
	int last = k + 1 >= t->nseg;
	uint8_t *ip = out + t->l3, *tcp = out + t->l4;

	memcpy(out, frame, t->payload);
	memcpy(out + t->payload, frame + t->payload + off, n);
	uint32_t l4_len = (uint32_t)(t->payload - t->l4 + n);
	uint32_t pseudo;
	if (t->v6) {
		put_be16(ip + 4, (uint16_t)l4_len); /* payload length: TCP only, no extensions */
		pseudo = inet_sum(ip + 8, 32, 0) + IP_TCP + l4_len;
	} else {
		uint32_t ihl = t->l4 - t->l3;
		put_be16(ip + 2, (uint16_t)(ihl + l4_len));
		put_be16(ip + 4, (uint16_t)(be16(frame + t->l3 + 4) + k));
		put_be16(ip + 10, 0);
		put_be16(ip + 10, inet_fold(inet_sum(ip, ihl, 0)));
		pseudo = inet_sum(ip + 12, 8, 0) + IP_TCP + l4_len;
	}
	put_be32(tcp + 4, be32(frame + t->l4 + 4) + (uint32_t)off);
	if (!last)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (k)
		tcp[13] &= (uint8_t)~TCP_CWR;
	put_be16(tcp + 16, 0);
	put_be16(tcp + 16, inet_fold(inet_sum(tcp, l4_len, pseudo)));
	return t->payload + n;
}
