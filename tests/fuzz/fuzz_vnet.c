/* vmm/net.c, vmm/switch.c: three ports on one switch (aging and pool size from the input),
 * each a guest with 16 KiB of RAM and hostile queues. Each step gives a port a receive
 * chain (then net_serve_rx) or a transmit chain: a 12-byte header and a frame of any
 * length (then net_serve_tx); the drivers take no offload, so a header that asks for one
 * (where overlapping buffers write frame bytes over it) breaks the sender, with nothing
 * sent. Receivers get a zero header whatever else the sender's said. A receiver whose
 * driver took MRG_RXBUF (from the input) may take several chains for one frame: checked
 * for used lengths and memory only. After each step: the switch sends a frame only to ports that
 * exist, never back to its sender, and none gets a frame without a header or over
 * SW_FRAME_MAX; the sender changes only its transmit used ring (lengths 0), ports a frame
 * is not for nothing; a receiver only its receive used ring and, in each chain it took,
 * the first "used length" writable bytes: 0, or a one-buffer header and a frame of
 * SW_FRAME_MIN..SW_FRAME_MAX bytes that fits; with nothing waiting, the frame itself goes
 * to the next chain; backlogs fit the pool. A sender held back for a full port has its
 * chain untaken, and two watch ticks let it go (the step then ends as for a congested
 * port). Receive chains with writable buffers in the
 * rings or overlapping each other are checked for memory safety only. */
/* 16 KiB of guest RAM: room for the rings and every buffer, and several times the
 * executions per second of 64 KiB (each step copies and compares all of it). */
#define RAM (16u << 10)
#include "tests/fuzz/fuzz_chain.h"
#include "vmm/net.h"

#define NPORTS 3u

struct guest {
	uint8_t ram[RAM], before[RAM];
	struct vdev d;
	struct vq was;                 /* the receive queue before the step */
	struct fuzz_drv drv[2];        /* the driver's queues (no INDIRECT on receive) */
	uint16_t waited;
	uint8_t mrg;                   /* the driver took MRG_RXBUF: a frame may fill several */
};

static struct guest g[NPORTS] __attribute__((aligned(4096)));
static struct net_port port[NPORTS];
static struct net_pool pool;
static struct sw s, shadow;
static struct vq_chain c, rx[QSIZE];
static uint8_t undo[RAM];
static uint8_t frame[NET_HDR_LEN + 2048], sent[NET_HDR_LEN + SW_FRAME_MAX] = { [10] = 1 };
static unsigned p, tx;   /* the step's port; does it transmit */
static uint32_t mask;    /* where the switch sends its frame */
static uint64_t len;     /* the frame's length */

/* Does a writable segment of ch lie in the rings, or overlap another? Then what the
 * device writes into it changes the next chain, or its own bytes. */
static int wild(const struct vq_chain *ch)
{
	for (unsigned a = ch->nread; a < ch->nsegs; a++)
		for (unsigned b = ch->nread; b <= a; b++)
			if (ch->seg[a].gpa < 0x1000 || (b < a && ch->seg[b].gpa < ch->seg[a].gpa +
			    ch->seg[a].len && ch->seg[a].gpa < ch->seg[b].gpa + ch->seg[b].len))
				return 1;
	return 0;
}

/* Port q after a step: the receive chains it took, and where its RAM changed. */
static void check_port(unsigned q)
{
	struct guest *x = &g[q];
	struct vq v = x->was;
	const struct vq_mem bm = { x->before, RAM };
	int target = tx ? (int)(mask >> q & 1) : q == p;
	int direct = tx && target && !x->waited; /* nothing waited: this frame goes first */
	uint64_t used = target ? USED(NET_RX) : USED(NET_TX);
	uint16_t k = (uint16_t)(x->d.q[NET_RX].used_idx - v.used_idx);
	char err[VDEV_WHY_MAX];

	FUZZ_CHECK(target || (!k && port[q].count == x->waited), "port %u got a frame not for it", q);
	FUZZ_CHECK(!direct || k <= 1 || x->mrg, "port %u took %u chains for one frame", q, k);
	for (unsigned j = 0; j < k; j++) {
		FUZZ_CHECK(j < QSIZE && vq_next(&v, &bm, &rx[j], err, sizeof(err)) == 1,
			   "port %u took a receive chain the driver did not give", q);
		if (wild(&rx[j]))
			return;
	}
	/* Undo what the step may write: the rest must be as it was. */
	memcpy(undo, x->ram, RAM);
	if (target || (tx && q == p))
		memcpy(undo + used, x->before + used, USED_LEN);
	for (unsigned j = 0; j < k; j++) {
		uint64_t e = USED_ELEM(NET_RX, x->was.used_idx + j);
		uint32_t n = rd32(x->ram + e + 4);
		uint64_t fits = rx[j].write_bytes >= NET_HDR_LEN + len ? NET_HDR_LEN + len : 0;
		FUZZ_CHECK(rd32(x->ram + e) == rx[j].head && n <= rx[j].write_bytes &&
			   (x->mrg || (direct ? n == fits : !n ||
			   (n >= NET_HDR_LEN + SW_FRAME_MIN && n <= NET_HDR_LEN + SW_FRAME_MAX &&
			    n <= rx[j].write_bytes))), "port %u: used length %u of a chain of %llu "
			   "writable bytes", q, n, (unsigned long long)rx[j].write_bytes);
		for (uint32_t o = 0; o < n; o++) {
			uint64_t a = fuzz_chain_wgpa(&rx[j], o);
			FUZZ_CHECK((o >= NET_HDR_LEN && !direct) || k > 1 || x->mrg || x->ram[a] == sent[o],
				   "port %u: received byte %u", q, o);
			undo[a] = x->before[a];
		}
	}
	FUZZ_CHECK(!memcmp(undo, x->before, RAM), "port %u: guest RAM at 0x%zx written", q,
		   fuzz_ram_diff(undo, x->before, 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char err[VDEV_WHY_MAX];

	sw_init(&s, NPORTS, fuzz_take(&in, 1) % 4, err, sizeof(err));
	pool.limit = 1 + (uint32_t)fuzz_take(&in, 1) % 32;
	pool.fresh = pool.nfree = 0;
	unsigned mrg = (unsigned)fuzz_take(&in, 1);
	for (unsigned q = 0; q < NPORTS; q++) {
		struct guest *x = &g[q];
		x->mrg = (uint8_t)(mrg >> q & 1);
		memset(x->ram, 0, 0x1000);
		memset(x->ram + 0x1000, 0xee, RAM - 0x1000);
		net_device(&x->d, x->ram, RAM);
		vdev_set_features(&x->d, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC |
					 (x->mrg ? VIRTIO_NET_F_MRG_RXBUF : 0));
		for (unsigned r = 0; r < 2; r++) {
			x->drv[r] = (struct fuzz_drv){ .ram = x->ram, .q = r, .flags = r == NET_RX ? 3 : 7 };
			FUZZ_CHECK(!vdev_setup_queue(&x->d, r, QSIZE, RING(r), AVAIL(r), USED(r)),
				   "%s", x->d.why);
		}
		x->d.live = 1;
		memset(&port[q], 0, sizeof(port[q]));
		port[q].d = &x->d;
	}

	for (unsigned t = 0; in.n && t < 64; t++) {
		unsigned op = (unsigned)fuzz_take(&in, 1);
		struct guest *x = &g[p = (op >> 1) % NPORTS];
		uint32_t total = 0;
		int rc = 0;

		tx = op & 1; /* a transmit chain: length, MACs, chain; a zero header, a pattern */
		size_t flen = tx ? fuzz_take(&in, 2) % 2048 : 0;
		for (size_t i = NET_HDR_LEN; i < sizeof(frame); i++)
			frame[i] = (uint8_t)(i < NET_HDR_LEN + 12 && tx ? fuzz_take(&in, 1) : i * 3 + t);
		fuzz_chain_publish(&x->drv[tx ? NET_TX : NET_RX], &in, frame,
				   tx ? NET_HDR_LEN + flen : 0);
		for (unsigned q = 0; q < NPORTS; q++) {
			memcpy(g[q].before, g[q].ram, RAM);
			g[q].was = g[q].d.q[NET_RX];
			g[q].waited = port[q].count;
		}

		/* The frame the sender gives, and where the switch sends it, from copies. */
		struct vq v = x->d.q[NET_TX];
		const struct vq_mem bm = { x->before, RAM };
		sw_set_time(&s, t);
		mask = 0;
		if (tx && vdev_serving(&x->d, NET_TX))
			rc = vq_next(&v, &bm, &c, err, sizeof(err));
		len = c.read_bytes - NET_HDR_LEN;
		/* A header that asks for an offload this driver did not take breaks it. */
		uint8_t hdr[NET_HDR_LEN] = { 0 };
		if (rc == 1)
			chain_gather(&c, 0, hdr, NET_HDR_LEN);
		int bad = rc == 1 && c.read_bytes >= NET_HDR_LEN && (len <= SW_FRAME_MAX || hdr[1]) &&
			  ((hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr[1]);
		if (rc == 1 && c.read_bytes >= NET_HDR_LEN && len <= SW_FRAME_MAX && !bad) {
			chain_gather(&c, NET_HDR_LEN, sent + NET_HDR_LEN, len);
			shadow = s;
			sw_input(&shadow, p, sent + NET_HDR_LEN, len, &mask);
			FUZZ_CHECK(mask < 1u << NPORTS && !(mask >> p & 1), "frame from port %u sent "
				   "to ports 0x%x", p, mask);
		}
		if (tx) {
			net_serve_tx(&s, &pool, port, NPORTS, p);
			if (port[p].held) {
				/* Held back for a full port: only a learned unicast for a port
				 * with frames waiting, the chain untaken. Then the watch gives
				 * up on that port at once, and the step ends as it would for
				 * a congested port: the frame taken, the oldest pushed out. */
				unsigned r = port[p].held - 1u;
				FUZZ_CHECK(r < NPORTS && mask == 1u << r && port[r].count &&
					   x->d.q[NET_TX].used_idx == v.used_idx,
					   "sender %u held for port %u (mask 0x%x, %u waiting)", p, r,
					   mask, r < NPORTS ? port[r].count : 0);
				FUZZ_CHECK(!net_tick(port, NPORTS) && net_tick(port, NPORTS) ==
					   1u << p && port[r].congested && !port[p].held,
					   "two ticks did not let sender %u go", p);
				g[r].waited = port[r].count; /* what the first try drained */
				g[r].was = g[r].d.q[NET_RX];
				memcpy(g[r].before, g[r].ram, RAM);
				net_serve_tx(&s, &pool, port, NPORTS, p);
			}
		} else {
			net_serve_rx(&pool, &port[p]);
		}
		uint16_t k = (uint16_t)(x->d.q[NET_TX].used_idx - v.used_idx);
		uint64_t e = USED_ELEM(NET_TX, v.used_idx);
		FUZZ_CHECK(!bad || (x->d.broken && !k && !port[p].held), "sender: header 0x%02x "
			   "0x%02x taken from a driver without offloads", hdr[0], hdr[1]);
		FUZZ_CHECK(k == (rc == 1 && !bad) && (rc >= 0 || x->d.broken) &&
			   (!k || (rd32(x->ram + e) == c.head && !rd32(x->ram + e + 4))),
			   "sender: rc %d, %u used elements", rc, k);
		for (unsigned q = 0; q < NPORTS; q++) {
			check_port(q);
			total += port[q].count;
		}
		FUZZ_CHECK(total <= pool.limit, "%u frames wait in a pool of %u", total, pool.limit);
	}
	return 0;
}
