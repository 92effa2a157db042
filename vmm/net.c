/* virtio-net (virtio 1.1, 5.1) through the L2 switch. */
#include <string.h>

#include "kernel/bytes.h"
#include "vmm/net.h"

void net_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes)
{
	static const char *const names[] = { "receiveq", "transmitq" };

	vdev_init(d, ram, ram_bytes, 2, NET_MAX_BYTES, names);
}

void net_offer(const uint8_t mac[6], struct mica_svc_attach *a)
{
	memset(a, 0, sizeof(*a));
	a->features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
		      VIRTIO_RING_F_EVENT_IDX;
	a->num_queues = 2;
	a->queue_max = NET_QUEUE_MAX;
	a->config_len = NET_CONFIG_LEN;
	memcpy(a->config, mac, 6);
	put16(a->config + 6, VIRTIO_NET_S_LINK_UP);
}

uint32_t net_rx_fill(const struct vq_chain *c, const uint8_t *frame, size_t len)
{
	uint8_t hdr[NET_HDR_LEN];

	if (c->write_bytes < NET_HDR_LEN + (uint64_t)len)
		return 0;
	/* 5.1.6.4: no checksum or GSO information; num_buffers (le16 at 10) is 1. */
	memset(hdr, 0, sizeof(hdr));
	put16(hdr + 10, 1);
	chain_scatter(c, 0, hdr, sizeof(hdr));
	chain_scatter(c, NET_HDR_LEN, frame, len);
	return (uint32_t)(NET_HDR_LEN + len);
}

/* One frame to one receiving port. */
static void deliver(struct vdev *r, const uint8_t *frame, size_t len)
{
	struct vq_chain c;

	if (!vdev_serving(r, NET_RX))
		return; /* the port is down: like a cable that is not plugged in */
	int rc = vdev_next(r, NET_RX, &c);
	if (rc < 0)
		return; /* its driver broke the rules: r is broken now */
	if (rc == 0) {
		r->stats.drops++; /* no receive buffer */
		return;
	}
	uint32_t written = net_rx_fill(&c, frame, len);
	if (written) {
		r->stats.requests++;
		r->stats.bytes += len;
	} else {
		r->stats.drops++;
	}
	vdev_push(r, NET_RX, c.head, written);
}

void net_serve_tx(struct sw *s, struct vdev *const port[], unsigned nports, unsigned in)
{
	struct vdev *d = in < nports ? port[in] : NULL;
	uint8_t frame[SW_FRAME_MAX];
	struct vq_chain c;

	if (!d)
		return;
	while (vdev_next(d, NET_TX, &c) > 0) {
		uint64_t len = c.read_bytes >= NET_HDR_LEN ? c.read_bytes - NET_HDR_LEN : 0;
		uint32_t mask = 0;

		d->stats.requests++;
		if (c.read_bytes < NET_HDR_LEN || len > SW_FRAME_MAX) {
			d->stats.drops++;
		} else {
			/* The header asks for nothing we offered (no checksum, no GSO): skip it. */
			chain_gather(&c, NET_HDR_LEN, frame, len);
			d->stats.bytes += len;
			/* What the switch drops (runts, forged sources, hairpins) it counts. */
			sw_input(s, in, frame, len, &mask);
		}
		for (unsigned p = 0; p < nports && mask; p++) {
			if (!(mask & (1u << p)))
				continue;
			mask &= ~(1u << p);
			if (port[p])
				deliver(port[p], frame, len);
		}
		vdev_push(d, NET_TX, c.head, 0);
	}
}
