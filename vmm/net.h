/* virtio-net backend (virtio 1.1, 5.1): every device is one port of a learning switch
 * (vmm/switch.h) shared with the other devices on the same switch. No offloads, no
 * mergeable buffers: one frame per receive chain. Pure logic. */
#ifndef MICA_VMM_NET_H
#define MICA_VMM_NET_H

#include <stddef.h>
#include <stdint.h>

#include <mica/service.h>

#include "vmm/device.h"
#include "vmm/switch.h"

#define VIRTIO_NET_F_MAC    (1ULL << 5)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_S_LINK_UP 1u

#define NET_RX 0u /* receiveq: device -> driver */
#define NET_TX 1u /* transmitq: driver -> device */
#define NET_QUEUE_MAX  256u
#define NET_MAX_BYTES  (64u * 1024)
#define NET_HDR_LEN    12u /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define NET_CONFIG_LEN 8u  /* mac[6], le16 status */

/* d: a net device over guest RAM [0, ram_bytes) at ram (receiveq, transmitq). */
void net_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes);

/* VERSION_1, MAC, STATUS, EVENT_IDX; two queues of NET_QUEUE_MAX; mac and link up. */
void net_offer(const uint8_t mac[6], struct mica_svc_attach *a);

/* Writes frame into receive chain c behind a header that says one buffer: the bytes
 * written, or 0 if the chain has no room for both. */
uint32_t net_rx_fill(const struct vq_chain *c, const uint8_t *frame, size_t len);

/* Serves the transmit queue of port `in` of switch s. port[p] is the device of port p
 * (NULL if none). Each frame goes through the switch to the receive queue of every port
 * it is for whose device is serving that queue; stats: the sender counts its frames and
 * bytes, and drops frames without a header or over SW_FRAME_MAX; a receiver counts frames
 * and bytes received, and drops when it has no receive buffer or one too small (which it
 * gets back with nothing written). A receiver whose driver broke the rules is broken, the
 * sender goes on. */
void net_serve_tx(struct sw *s, struct vdev *const port[], unsigned nports, unsigned in);

#endif
