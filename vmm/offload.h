/* virtio-net offloads between the ports of one switch (virtio 1.1, 5.1.6): a driver that
 * took VIRTIO_NET_F_CSUM may send a frame whose TCP or UDP checksum is left for later
 * (NEEDS_CSUM: csum_start, csum_offset), and one that took HOST_TSO4/6 a TCP segment of
 * up to 64 KiB with the size of the segments it stands for (gso_size). A receiver that
 * took GUEST_CSUM and GUEST_TSO4/6 gets such a frame as it is, header and all: a 64 KiB
 * segment crosses the switch as one frame instead of 45. For any other receiver (the
 * test guests' own driver, a frame that must wait in a backlog) the switch finishes the
 * work itself: the checksum written, the segment cut into frames of gso_size bytes of
 * payload, each with its own IP and TCP header and checksums. Pure logic. */
#ifndef MICA_VMM_OFFLOAD_H
#define MICA_VMM_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_NET_F_CSUM       (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_HOST_TSO4  (1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6  (1ULL << 12)

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_GSO_NONE     0u
#define VIRTIO_NET_HDR_GSO_TCPV4    1u
#define VIRTIO_NET_HDR_GSO_TCPV6    4u

/* The largest frame a GSO send may be: an IP packet of 64 KiB behind Ethernet and one
 * 802.1Q tag, rounded up. */
#define NET_GSO_FRAME_MAX (65536u + 64u)

/* struct virtio_net_hdr without num_buffers, in host order. */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Where a GSO frame's headers are, once offload_check() has looked. */
struct net_tso {
	uint32_t l3, l4;    /* IP and TCP header offsets */
	uint32_t payload;   /* first byte after the TCP header */
	uint32_t nseg;      /* frames it becomes: 1 for any frame that is not GSO */
	uint8_t v6;
};

void net_hdr_read(const uint8_t raw[12], struct net_hdr *h);
/* Writes h with num_buffers 1. */
void net_hdr_write(uint8_t raw[12], const struct net_hdr *h);

/* Checks the header of a frame a driver with `features` transmitted: what it asks must be
 * something the driver took, inside the frame, and (GSO) a TCP segment over IPv4 or IPv6
 * whose segments fit a switch frame. 0 with t filled, or -1 with a sentence in why (the
 * driver broke the rules). Flags and bits the spec leaves to the device (DATA_VALID) are
 * ignored. */
int offload_check(const struct net_hdr *h, uint64_t features, const uint8_t *frame, size_t len,
		  struct net_tso *t, char *why, size_t whylen);

/* Does a receiver whose driver took rx_features take a frame with header h as it is? */
int offload_takes(const struct net_hdr *h, uint64_t rx_features);

/* A NEEDS_CSUM frame's checksum, written in place (the field holds the pseudo-header's
 * sum, as 5.1.6.2 says; a result of 0 is written as 0xffff). */
void offload_csum(uint8_t *frame, size_t len, const struct net_hdr *h);

/* Segment k (0 .. t->nseg - 1) of a GSO frame that offload_check() accepted, written whole
 * into out (room for hdrs + gso_size bytes): its length. */
size_t offload_segment(const uint8_t *frame, size_t len, const struct net_hdr *h,
		       const struct net_tso *t, uint32_t k, uint8_t *out);

/* The Internet checksum's ones'-complement sum of [p, p + n), added to sum (not folded). */
uint32_t inet_sum(const uint8_t *p, size_t n, uint32_t sum);
/* sum folded to 16 bits and complemented. */
uint16_t inet_fold(uint32_t sum);

#endif
