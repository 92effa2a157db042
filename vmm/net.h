/* virtio-net backend (virtio 1.1, 5.1): every device is one port of a learning switch
 * (vmm/switch.h) shared with the other devices on the same switch. Checksum and TCP
 * segmentation offload between ports (vmm/offload.h); a frame fills one receive chain, or
 * with MRG_RXBUF as many as it needs (num_buffers says how many). Pure logic. */
#ifndef MICA_VMM_NET_H
#define MICA_VMM_NET_H

#include <stddef.h>
#include <stdint.h>

#include <mica/service.h>

#include "vmm/backend.h"
#include "vmm/offload.h"
#include "vmm/switch.h"

#define VIRTIO_NET_F_MAC    (1ULL << 5)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_S_LINK_UP 1u

#define NET_RX 0u /* receiveq: device -> driver */
#define NET_TX 1u /* transmitq: driver -> device */
#define NET_QUEUE_MAX  256u
#define NET_MAX_BYTES  (128u * 1024) /* a GSO frame, or a receive buffer for one */
#define NET_HDR_LEN    12u /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define NET_CONFIG_LEN 8u  /* mac[6], le16 status */
#define NET_PEEK       SW_FRAME_MAX /* what the switch reads of a frame to send it on */
#define NET_MRG_MAX    64u /* receive buffers one frame may fill (MRG_RXBUF) */

/* d: a net device over guest RAM [0, ram_bytes) at ram (receiveq, transmitq). */
void net_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes);

#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)

/* Checksum and TCP segmentation offload, both ways (vmm/offload.h). */
#define NET_OFFLOADS (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_HOST_TSO4 | \
		      VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6)

/* VERSION_1, MAC, STATUS, EVENT_IDX, INDIRECT_DESC, MRG_RXBUF and NET_OFFLOADS; two
 * queues of NET_QUEUE_MAX; mac and link up. */
void net_offer(const uint8_t mac[6], struct mica_svc_attach *a);

/* A frame for a port whose driver has no receive buffer at that moment waits in the
 * port's backlog, and goes out, oldest first and before any newer frame, as soon as the
 * driver adds receive buffers. Every port takes the slots from one pool in the service's
 * RAM (NET_POOL_FRAMES), shared as shared-memory switches share their buffer: a port may
 * take a slot while it holds fewer than NET_BACKLOG_MAX and fewer than the pool has free
 * (a dynamic threshold: one busy port gets up to half the pool, several share it, and a
 * port that never takes its frames cannot starve the others). A frame the port may not
 * keep holds its sender back instead: the frame stays on the sender's transmit ring, and
 * the sender's queue is served again when the port takes frames (net_release). A port that
 * keeps its senders waiting for two watch ticks (net_tick, about 1-2 s: hung or hostile)
 * is congested: frames for it push its oldest waiting frame out (dropped and counted),
 * with nothing waiting and nothing free the frame itself is dropped, until it takes all
 * it has waiting. Flooded frames (broadcast, multicast, unknown unicast) never hold a
 * sender: they drop as for a congested port (docs/vmm.md, "Net"). */
#define NET_POOL_FRAMES 512u
#define NET_BACKLOG_MAX 256u /* a whole transmit ring (NET_QUEUE_MAX) of one sender */
#define NET_SLOT_BYTES  ((SW_FRAME_MAX + 7u) & ~7u)

struct net_pool {
	uint32_t limit;  /* slots the pool may use; 0: NET_POOL_FRAMES (tests use fewer) */
	uint32_t fresh;  /* slots [fresh, limit) were never used */
	uint32_t nfree;  /* free[0 .. nfree) were used and given back */
	uint16_t free[NET_POOL_FRAMES];
	uint16_t len[NET_POOL_FRAMES];
	uint8_t frame[NET_POOL_FRAMES][NET_SLOT_BYTES];
};

/* Per port, for people; kept across resets. Sent: frames the port's driver transmitted;
 * received: frames written into its receive buffers. */
struct net_stats {
	uint64_t tx_frames, tx_bytes; /* taken by the switch (frames it drops included) */
	uint64_t tx_bad;              /* no header, or over SW_FRAME_MAX: dropped */
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_small;            /* dropped: the receive buffer was too small */
	uint64_t rx_overflow;         /* dropped: the backlog could not grow (see above) */
	uint64_t rx_flushed;          /* dropped: waiting when the port was reset or broke */
	uint64_t waited;              /* frames that went into the backlog */
	uint32_t backlog_max;         /* most frames ever waiting at once */
	uint64_t held;                /* times this sender was held back for a full port */
	uint64_t congested;           /* times this receiver kept its senders too long */
};

/* One port of a switch as the backend sees it. Zero is a port with nothing attached. */
struct net_port {
	struct vdev *d;                 /* the port's device; NULL: nothing attached */
	uint16_t slot[NET_BACKLOG_MAX]; /* pool slots of the waiting frames, a ring */
	uint16_t first, count;          /* the oldest waiting frame, how many wait */
	uint8_t held;                   /* sender: 1 + the full port it waits for; 0: none */
	uint8_t held_ticks;             /* net_tick() calls while held */
	uint8_t congested;              /* receiver: kept senders too long, frames drop */
	struct net_stats stats;
};

/* Serves the transmit queue of port `in` of switch s, whose ports are port[0 .. nports).
 * Each frame goes through the switch to every port it is for whose device is serving its
 * receive queue: into a receive buffer, or into that port's backlog; or, for one port
 * whose backlog may not grow, it stays on the ring and port `in` is held back (above). Stats (the port's
 * and its device's): the sender counts its frames and bytes, and drops frames without a
 * header or over SW_FRAME_MAX; a receiver counts frames and bytes received, and drops
 * what its backlog pushes out, and frames for a receive buffer too small (which it gets
 * back with nothing written). A receiver whose driver broke the rules is broken (its
 * backlog is dropped), the sender goes on. */
void net_serve_tx(struct sw *s, struct net_pool *pool, struct net_port port[], unsigned nports,
		  unsigned in);

/* The driver of p may have added receive buffers: its waiting frames go out, in order,
 * while there are buffers (if p's device is serving its receive queue). A congested port
 * that took everything is no longer congested. */
void net_serve_rx(struct net_pool *pool, struct net_port *p);

/* Port rx took frames, or went down: the senders held back for it are let go. Returns
 * the mask of those ports, whose transmit queues the caller serves again. */
uint32_t net_release(struct net_port port[], unsigned nports, unsigned rx);

/* The watch's tick (about once a second): a sender held at two ticks in a row makes the
 * port it waits for congested and is let go. Returns the mask of senders let go. */
uint32_t net_tick(struct net_port port[], unsigned nports);

/* p's device was reset: its waiting frames are dropped (counted in rx_flushed), it is
 * held back for nobody and no longer congested. The caller lets go of those held back
 * for it (net_release). */
void net_port_reset(struct net_pool *pool, struct net_port *p);

#endif
