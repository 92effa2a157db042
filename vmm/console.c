/* virtio-console, one port (virtio 1.1, 5.3). */
#include <string.h>

#include "vmm/console.h"

void con_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes)
{
	static const char *const names[] = { "receiveq0", "transmitq0" };

	vdev_init(d, ram, ram_bytes, 2, CON_MAX_BYTES, names);
}

void con_offer(struct mica_svc_attach *a)
{
	memset(a, 0, sizeof(*a));
	a->features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX;
	a->num_queues = 2;
	a->queue_max = CON_QUEUE_MAX;
	a->config_len = CON_CONFIG_LEN; /* read by no driver without SIZE or MULTIPORT */
}

void con_reset(struct con *k)
{
	k->in_head = k->in_len = 0;
}

void con_input(struct con *k, struct vdev *d, const uint8_t *data, size_t len)
{
	size_t room = CON_INPUT_MAX - k->in_len;
	size_t n = len < room ? len : room;

	for (size_t i = 0; i < n; i++)
		k->in[(k->in_head + k->in_len + i) % CON_INPUT_MAX] = data[i];
	k->in_len += (uint32_t)n;
	d->stats.drops += len - n;
	con_serve_rx(k, d);
}

void con_serve_rx(struct con *k, struct vdev *d)
{
	struct vq_chain c;

	while (k->in_len && vdev_next(d, CON_RX, &c) > 0) {
		uint64_t n = c.write_bytes < k->in_len ? c.write_bytes : k->in_len;
		/* At most two pieces: up to the end of the buffer, then from its start. */
		uint64_t first = CON_INPUT_MAX - k->in_head;
		if (first > n)
			first = n;
		chain_scatter(&c, 0, k->in + k->in_head, first);
		chain_scatter(&c, first, k->in, n - first);
		k->in_head = (uint32_t)((k->in_head + n) % CON_INPUT_MAX);
		k->in_len -= (uint32_t)n;
		d->stats.requests++;
		d->stats.bytes += n;
		vdev_push(d, CON_RX, c.head, (uint32_t)n);
	}
}

void con_serve_tx(struct vdev *d, uint8_t *buf, size_t cap, con_emit_fn *emit, void *ctx)
{
	struct vq_chain c;

	if (cap == 0)
		return;
	while (vdev_next(d, CON_TX, &c) > 0) {
		for (uint64_t off = 0; off < c.read_bytes;) {
			uint64_t n = chain_gather(&c, off, buf, cap);
			emit(ctx, buf, n);
			off += n;
		}
		d->stats.requests++;
		d->stats.bytes += c.read_bytes;
		vdev_push(d, CON_TX, c.head, 0);
	}
}
