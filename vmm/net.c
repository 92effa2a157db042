/* virtio-net (virtio 1.1, 5.1) through the L2 switch. */
#include <string.h>

#include "lib/bytes.h"
#include "vmm/net.h"
#include "vmm/offload.h"

void net_device(struct vdev *d, uint8_t *ram, uint64_t ram_bytes)
{
	static const char *const names[] = { "receiveq", "transmitq" };

	vdev_init(d, ram, ram_bytes, 2, NET_MAX_BYTES, names);
}

void net_offer(const uint8_t mac[6], struct mica_svc_attach *a)
{
	memset(a, 0, sizeof(*a));
	a->features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
		      VIRTIO_RING_F_EVENT_IDX | VIRTIO_RING_F_INDIRECT_DESC |
		      VIRTIO_NET_F_MRG_RXBUF | NET_OFFLOADS;
	a->num_queues = 2;
	a->queue_max = NET_QUEUE_MAX;
	a->config_len = NET_CONFIG_LEN;
	memcpy(a->config, mac, 6);
	put16(a->config + 6, VIRTIO_NET_S_LINK_UP);
}

/* --- The pool of backlog slots ------------------------------------------------------- */

static uint32_t pool_limit(const struct net_pool *pool)
{
	return pool->limit && pool->limit < NET_POOL_FRAMES ? pool->limit : NET_POOL_FRAMES;
}

static uint32_t pool_free(const struct net_pool *pool)
{
	uint32_t limit = pool_limit(pool);

	return pool->nfree + (pool->fresh < limit ? limit - pool->fresh : 0);
}

/* A free slot, or -1 if every slot holds a waiting frame. */
static int slot_get(struct net_pool *pool)
{
	if (pool->nfree)
		return pool->free[--pool->nfree];
	if (pool->fresh < pool_limit(pool))
		return (int)pool->fresh++;
	return -1;
}

static void slot_put(struct net_pool *pool, uint16_t slot)
{
	pool->free[pool->nfree++] = slot; /* at most every slot once: fits */
}

/* --- One port's backlog --------------------------------------------------------------- */

/* Takes the oldest waiting frame off p's backlog: its slot, now the caller's. */
static uint16_t backlog_pop(struct net_port *p)
{
	uint16_t slot = p->slot[p->first];

	p->first = (uint16_t)((p->first + 1) % NET_BACKLOG_MAX);
	p->count--;
	return slot;
}

/* Every waiting frame of p is dropped. */
static void backlog_flush(struct net_pool *pool, struct net_port *p)
{
	while (p->count) {
		slot_put(pool, backlog_pop(p));
		p->stats.rx_flushed++;
		if (p->d)
			p->d->stats.drops++;
	}
	p->first = 0;
}

/* frame waits at the end of p's backlog: in a new slot if p may take one, else in the
 * slot of p's oldest frame, which is dropped. */
static void backlog_add(struct net_pool *pool, struct net_port *p, const uint8_t *frame,
			size_t len)
{
	int grow = p->count < NET_BACKLOG_MAX && p->count < pool_free(pool);
	int slot = grow ? slot_get(pool) : -1;

	if (slot < 0) {
		p->stats.rx_overflow++;
		p->d->stats.drops++;
		if (!p->count)
			return; /* the pool is empty and p holds none of it: this frame goes */
		slot = backlog_pop(p);
	}
	memcpy(pool->frame[slot], frame, len);
	pool->len[slot] = (uint16_t)len;
	p->slot[(p->first + p->count) % NET_BACKLOG_MAX] = (uint16_t)slot;
	p->count++;
	p->stats.waited++;
	if (p->count > p->stats.backlog_max)
		p->stats.backlog_max = p->count;
}

/* Copies [off, off + n) of the frame (from frame, or with frame NULL from the sender's
 * chain src, behind its header) into chain c from byte coff of its writable bytes. */
static void copy_out(const struct vq_chain *c, uint64_t coff, const uint8_t *frame,
		     const struct vq_chain *src, uint64_t off, uint64_t n)
{
	if (frame)
		chain_scatter(c, coff, frame + off, n);
	else
		chain_copy(c, coff, src, NET_HDR_LEN + off, n);
}

/* The receive chains of one frame for a driver that took MRG_RXBUF (5.1.6.4.2): as many
 * as its header and bytes fill, each written full but the last. */
static struct vq_chain mrg[NET_MRG_MAX];

/* Takes receive chains (at most max) of r until they hold `need` bytes: how many; 0 if the
 * ring ran out first, -1 if max chains were not enough (both with every chain given
 * back); -2 if the driver broke the rules. */
static int take_chains(struct vdev *r, uint64_t need, unsigned max)
{
	uint64_t got = 0;
	unsigned n = 0;

	while (got < need) {
		int rc = n < max ? vdev_next(r, NET_RX, &mrg[n]) : 0;
		if (rc < 0)
			return -2;
		if (rc == 0) {
			for (unsigned i = 0; i < n; i++)
				vdev_unget(r, NET_RX);
			return n < max ? 0 : -1;
		}
		got += mrg[n++].write_bytes;
	}
	return (int)n;
}

/* One frame into p's next receive buffers behind header h, from frame, or (frame NULL)
 * straight from the sender's chain src, behind its header: 1 if buffers took it (a buffer
 * too small takes a plain frame too, comes back empty and counts a drop), 2 if the
 * buffers are too small for a GSO frame (they stay on the ring: the frame's segments may
 * fit), 0 if there is no buffer, < 0 if the driver broke the rules (p's device is broken
 * now). One buffer per frame; with MRG_RXBUF as many as it fills. */
static int put(struct net_port *p, const struct net_hdr *h, const uint8_t *frame,
	       const struct vq_chain *src, size_t len)
{
	struct vdev *r = p->d;
	int gso = h->gso_type != VIRTIO_NET_HDR_GSO_NONE;
	uint64_t need = NET_HDR_LEN + (uint64_t)len;
	int n = take_chains(r, need, r->features & VIRTIO_NET_F_MRG_RXBUF ? NET_MRG_MAX : 1);

	if (n < -1)
		return -1;
	if (n == 0)
		return 0; /* not enough buffers yet (a segment is cut for those there are) */
	if (n < 0) {
		/* Not enough room in NET_MRG_MAX buffers (one, without MRG_RXBUF). A segment
		 * is cut for them; a plain frame is dropped and the first buffer comes back
		 * empty, as one too small. */
		if (gso)
			return 2;
		if (vdev_next(r, NET_RX, &mrg[0]) <= 0)
			return -1;
		r->stats.drops++;
		p->stats.rx_small++;
		vdev_push(r, NET_RX, mrg[0].head, 0);
		return 1;
	}
	uint8_t hdr[NET_HDR_LEN];
	net_hdr_write(hdr, h);
	put16(hdr + 10, (uint16_t)n); /* num_buffers */
	uint64_t off = 0; /* of header and frame */
	uint16_t heads[NET_MRG_MAX];
	uint32_t lens[NET_MRG_MAX];
	for (int i = 0; i < n; i++) {
		uint64_t room = mrg[i].write_bytes, w = need - off < room ? need - off : room;
		uint64_t at = 0;
		if (off < NET_HDR_LEN) {
			at = NET_HDR_LEN - off < w ? NET_HDR_LEN - off : w;
			chain_scatter(&mrg[i], 0, hdr + off, at);
		}
		if (w > at)
			copy_out(&mrg[i], at, frame, src, off + at - NET_HDR_LEN, w - at);
		off += w;
		heads[i] = mrg[i].head;
		lens[i] = (uint32_t)w;
	}
	vdev_push_many(r, NET_RX, heads, lens, (unsigned)n); /* the driver sees all or none */
	r->stats.requests++;
	r->stats.bytes += len;
	p->stats.rx_frames++;
	p->stats.rx_bytes += len;
	return 1;
}

static const struct net_hdr plain; /* 5.1.6.4: no checksum or GSO information */

/* p's waiting frames, oldest first, while it has receive buffers: 1 if none is left
 * waiting and p can take more, 0 if not (no buffer, or p broke: its backlog is gone). */
static int drain(struct net_pool *pool, struct net_port *p)
{
	while (p->count) {
		uint16_t slot = p->slot[p->first];
		int rc = put(p, &plain, pool->frame[slot], NULL, pool->len[slot]);
		if (rc == 0)
			return 0;
		if (rc < 0) {
			backlog_flush(pool, p);
			return 0;
		}
		slot_put(pool, backlog_pop(p));
	}
	return 1;
}

void net_serve_rx(struct net_pool *pool, struct net_port *p)
{
	if (p->d && vdev_serving(p->d, NET_RX) && drain(pool, p))
		p->congested = 0;
}

void net_port_reset(struct net_pool *pool, struct net_port *p)
{
	backlog_flush(pool, p);
	p->held = p->held_ticks = p->congested = 0;
}

uint32_t net_release(struct net_port port[], unsigned nports, unsigned rx)
{
	uint32_t mask = 0;

	for (unsigned i = 0; i < nports; i++)
		if (port[i].held == rx + 1) {
			port[i].held = port[i].held_ticks = 0;
			mask |= 1u << i;
		}
	return mask;
}

uint32_t net_tick(struct net_port port[], unsigned nports)
{
	uint32_t mask = 0;

	for (unsigned i = 0; i < nports; i++) {
		struct net_port *p = &port[i];
		if (!p->held || ++p->held_ticks < 2)
			continue;
		if (p->held <= nports && !port[p->held - 1].congested) {
			port[p->held - 1].congested = 1;
			port[p->held - 1].stats.congested++;
		}
		p->held = p->held_ticks = 0;
		mask |= 1u << i;
	}
	return mask;
}

/* The one port a frame from port in is for, if it is a unicast the switch has learned;
 * else -1 (flooded or dropped: never a reason to hold the sender). */
static int unicast_port(const struct sw *s, unsigned in, const uint8_t *frame, size_t len)
{
	if (len < SW_FRAME_MIN || (frame[0] & 1))
		return -1;
	int p = sw_lookup(s, frame);
	return p == (int)in ? -1 : p;
}

/* Would `need` frames for p have to push some of p's waiting frames out (or be dropped)?
 * Only while p is up and not congested, after its backlog went into whatever buffers it
 * has. */
static int full(struct net_pool *pool, struct net_port *p, uint32_t need)
{
	if (!p->d || !vdev_serving(p->d, NET_RX) || p->congested)
		return 0;
	if (drain(pool, p))
		return 0; /* nothing waits: buffers take the frame, or it starts the backlog (to
			   * hold the sender then, no frame of p's would come to let it go) */
	return !(p->count + need <= NET_BACKLOG_MAX && p->count + need <= pool_free(pool));
}

/* One plain frame (nothing left to do to it) to one receiving port: after what waits
 * there, into a receive buffer if it has one, else into its backlog. */
static void deliver_plain(struct net_pool *pool, struct net_port *p, const uint8_t *frame,
			  size_t len)
{
	if (!vdev_serving(p->d, NET_RX))
		return;
	if (drain(pool, p) && put(p, &plain, frame, NULL, len) != 0)
		return; /* delivered, or the driver broke the rules: p is broken now */
	if (vdev_serving(p->d, NET_RX))
		backlog_add(pool, p, frame, len);
}

/* A transmitted frame, its header, and what finishing it takes (vmm/offload.h). A frame
 * longer than a switch frame (GSO) is copied out of the sender's chain only if some
 * receiver needs it finished; one that a receiver takes whole goes chain to chain. */
struct tx_frame {
	uint8_t *frame;     /* its first NET_PEEK bytes, or all of it once `whole` */
	const struct vq_chain *src;
	size_t len;
	int whole;
	struct net_hdr h;
	struct net_tso t;
	int csum_done; /* done[] holds the frame with its checksum written */
};

static uint8_t done[SW_FRAME_MAX]; /* the service serves one queue at a time */
static uint8_t seg[SW_FRAME_MAX];

/* f finished by the switch (its checksum written, or cut into its segments) to p. */
static void deliver_finished(struct net_pool *pool, struct net_port *p, struct tx_frame *f)
{
	if (!f->whole) {
		chain_gather(f->src, NET_HDR_LEN, f->frame, f->len);
		f->whole = 1;
	}
	if (f->h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		for (uint32_t k = 0; k < f->t.nseg; k++)
			deliver_plain(pool, p, seg, offload_segment(f->frame, f->len, &f->h, &f->t, k,
								     seg));
		return;
	}
	if (f->h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!f->csum_done) {
			memcpy(done, f->frame, f->len);
			offload_csum(done, f->len, &f->h);
			f->csum_done = 1;
		}
		deliver_plain(pool, p, done, f->len);
		return;
	}
	deliver_plain(pool, p, f->frame, f->len);
}

/* One frame to one receiving port: as it is, header and all, if p's driver takes that and
 * has a buffer for it with nothing waiting before it; else finished by the switch. */
static void deliver(struct net_pool *pool, struct net_port *p, struct tx_frame *f)
{
	if (!vdev_serving(p->d, NET_RX)) {
		/* The port is down: like a cable that is not plugged in. A port broken by
		 * its transmit queue has its waiting frames dropped here (a reset would
		 * drop them anyway), giving the slots back. */
		backlog_flush(pool, p);
		return;
	}
	if (offload_takes(&f->h, p->d->features) && drain(pool, p)) {
		int rc = put(p, &f->h, f->whole ? f->frame : NULL, f->src, f->len);
		if (rc == 1 || rc < 0)
			return; /* delivered, or the driver broke the rules */
	}
	deliver_finished(pool, p, f); /* no buffer (it waits), or one too small for it */
}

/* How many backlog slots f may need at a port: its segments (a receiver that takes it
 * whole may lack the buffers for it and get it cut too), at most 64: a longer run pushes
 * older waiting frames out rather than hold the sender forever. */
static uint32_t need_of(const struct tx_frame *f)
{
	return f->t.nseg < 64 ? f->t.nseg : 64;
}

void net_serve_tx(struct sw *s, struct net_pool *pool, struct net_port port[], unsigned nports,
		  unsigned in)
{
	struct vdev *d = in < nports ? port[in].d : NULL;
	static uint8_t frame[NET_GSO_FRAME_MAX];
	struct vq_chain c;

	if (!d)
		return;
	port[in].held = port[in].held_ticks = 0;
	while (vdev_next(d, NET_TX, &c) > 0) {
		uint64_t len = c.read_bytes >= NET_HDR_LEN ? c.read_bytes - NET_HDR_LEN : 0;
		uint8_t raw[NET_HDR_LEN] = { 0 }; /* a chain shorter than a header: all zero */
		struct tx_frame f = { .frame = frame, .src = &c, .len = len,
				      .whole = len <= NET_PEEK };
		uint32_t mask = 0;

		chain_gather(&c, 0, raw, sizeof(raw));
		net_hdr_read(raw, &f.h);
		if (c.read_bytes < NET_HDR_LEN || len > NET_GSO_FRAME_MAX ||
		    (len > SW_FRAME_MAX && f.h.gso_type == VIRTIO_NET_HDR_GSO_NONE)) {
			d->stats.requests++;
			d->stats.drops++;
			port[in].stats.tx_bad++;
		} else {
			char why[VDEV_WHY_MAX - 16];
			chain_gather(&c, NET_HDR_LEN, frame, f.whole ? len : NET_PEEK);
			if (offload_check(&f.h, d->features, frame, len, &f.t, why, sizeof(why))) {
				port[in].stats.tx_bad++;
				vdev_break(d, "%s: %s", d->qname[NET_TX], why);
				return;
			}
			/* Receivers get what was asked, nothing else (not DATA_VALID, say). */
			f.h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
			if (!f.h.flags)
				f.h.csum_start = f.h.csum_offset = 0;
			if (f.h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
				f.h.gso_size = f.h.hdr_len = 0;
			int to = unicast_port(s, in, frame, len);
			if (to >= 0 && (unsigned)to < nports &&
			    full(pool, &port[to], need_of(&f))) {
				/* Untaken: the chain stays first on the ring for the next turn. */
				vdev_unget(d, NET_TX);
				port[in].held = (uint8_t)(to + 1);
				port[in].stats.held++;
				return;
			}
			d->stats.requests++;
			d->stats.bytes += len;
			port[in].stats.tx_frames++;
			port[in].stats.tx_bytes += len;
			/* What the switch drops (runts, forged sources, hairpins) it counts. It
			 * sees a GSO frame as the frames it stands for, each at most a frame. */
			sw_input(s, in, frame, len < SW_FRAME_MAX ? len : SW_FRAME_MAX, &mask);
		}
		for (unsigned p = 0; p < nports && mask; p++) {
			if (!(mask & (1u << p)))
				continue;
			mask &= ~(1u << p);
			if (port[p].d)
				deliver(pool, &port[p], &f);
		}
		vdev_push(d, NET_TX, c.head, 0);
	}
}
