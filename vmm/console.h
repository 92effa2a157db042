/* virtio-console backend (virtio 1.1, 5.3): one port, no MULTIPORT, no SIZE. What the guest
 * transmits goes to Mica's serial under its name; what is typed for it is kept (up to 4 KiB)
 * until the driver has receive buffers. Pure logic. */
#ifndef MICA_VMM_CONSOLE_H
#define MICA_VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <mica/service.h>

#include "vmm/backend.h"

#define CON_RX 0u /* receiveq0: device -> driver */
#define CON_TX 1u /* transmitq0: driver -> device */
#define CON_QUEUE_MAX  64u
#define CON_MAX_BYTES  (64u * 1024)
#define CON_INPUT_MAX  4096u
#define CON_CONFIG_LEN 12u /* cols, rows, max_nr_ports, emerg_wr: all 0, none offered */

/* Typed input not yet delivered: a circular buffer. */
struct con {
	uint8_t in[CON_INPUT_MAX];
	uint32_t in_head; /* first pending byte */
	uint32_t in_len;  /* pending bytes */
};

/* d: a console over guest RAM [0, ram_bytes) at ram (receiveq0, transmitq0). */
void con_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes);

/* VIRTIO_F_VERSION_1, two queues of CON_QUEUE_MAX, a zero config. */
void con_offer(struct mica_svc_attach *a);

/* Forgets pending input. */
void con_reset(struct con *k);

/* Keeps len typed bytes for delivery; what does not fit is dropped and counted in
 * d->stats.drops. Then delivers what it can (con_serve_rx). */
void con_input(struct con *k, struct vdev *d, const uint8_t *data, size_t len);

/* Fills receive buffers with pending input while there is both. */
void con_serve_rx(struct con *k, struct vdev *d);

/* Where transmitted bytes go: the caller's sink (the service sends them to Mica). */
typedef void con_emit_fn(void *ctx, const uint8_t *buf, size_t len);

/* Serves the transmit queue until it is empty: each chain's readable bytes go to emit in
 * pieces of at most cap bytes, copied through buf. Writable segments are left alone. */
void con_serve_tx(struct vdev *d, uint8_t *buf, size_t cap, con_emit_fn *emit, void *ctx);

#endif
