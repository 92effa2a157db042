/* vmm/console.c: a console over 16 KiB of guest RAM whose queues are hostile. Each step of
 * the input gives the driver a transmit chain, served by con_serve_tx through a buffer of
 * 1 to 64 bytes; or a receive chain, then con_serve_rx; or typed input (bytes from the
 * input, or up to 8 KiB of a pattern) for con_input. Checked against a model of the
 * pending input: what is emitted is exactly the chain's readable bytes, in pieces of 1 to
 * cap bytes with the caller's context, and transmitting changes only the transmit used
 * ring (lengths 0); input is kept up to CON_INPUT_MAX bytes, the rest counted as drops,
 * and comes out in order, each receive chain taken getting min(writable bytes, pending)
 * bytes as its used length says; RAM changes only there and in the receive used ring; no
 * input stays pending while a good receive chain is. Receive chains with writable buffers
 * in the rings or overlapping each other are checked for memory safety only (the model
 * then takes the device's word for what is pending). */
/* 16 KiB of guest RAM: room for the rings and every buffer, and four times the
 * executions per second of 64 KiB (each step copies and compares all of it). */
#define RAM (16u << 10)
#include "tests/fuzz/fuzz_chain.h"
#include "vmm/console.h"

static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t before[RAM], undo[RAM], typed[8192];
static uint8_t out[CON_MAX_BYTES], want[CON_MAX_BYTES], pend[CON_INPUT_MAX];
static size_t out_len, npend, cap;
static uint64_t drops;
static struct vdev d;
static struct con k;
static struct vq_chain c, rx[QSIZE];
static struct fuzz_drv drv[2]; /* the driver's queues (no INDIRECT on receive) */

/* Does receive chain j write the rings, or what chains 0..j write? */
static int tangled(unsigned j)
{
	int hit = 0;
	for (unsigned a = rx[j].nread; a < rx[j].nsegs; a++) {
		uint64_t lo = rx[j].seg[a].gpa, hi = lo + rx[j].seg[a].len;
		hit |= lo < 0x1000;
		for (unsigned i = 0; i <= j; i++)
			for (unsigned b = rx[i].nread; b < rx[i].nsegs; b++)
				hit |= (i != j || b != a) && rx[i].seg[b].gpa < hi &&
				       lo < rx[i].seg[b].gpa + rx[i].seg[b].len;
	}
	return hit;
}

static void emit(void *ctx, const uint8_t *buf, size_t len)
{
	FUZZ_CHECK(ctx == &k && len && len <= cap && out_len + len <= sizeof(out),
		   "a piece of %zu bytes (cap %zu) after %zu", len, cap, out_len);
	memcpy(out + out_len, buf, len);
	out_len += len;
}

/* The receive side after a step: the chains taken against the model of pending input. */
static void check_rx(const struct vq *was)
{
	struct vq v = *was;
	const struct vq_mem bm = { before, RAM }, now = { ram, RAM };
	uint16_t n = (uint16_t)(d.q[CON_RX].used_idx - was->used_idx);
	uint64_t taken = 0;
	char err[VDEV_WHY_MAX];

	for (unsigned j = 0; j < n; j++) {
		FUZZ_CHECK(j < QSIZE && vq_next(&v, &bm, &rx[j], err, sizeof(err)) == 1,
			   "took a receive chain the driver did not give");
		if (tangled(j)) { /* the model takes the device's word */
			for (npend = 0; npend < k.in_len; npend++)
				pend[npend] = k.in[(k.in_head + npend) % CON_INPUT_MAX];
			return;
		}
	}
	/* Undo what the step may write: the rest must be as it was. */
	memcpy(undo, ram, RAM);
	memcpy(undo + USED(CON_RX), before + USED(CON_RX), USED_LEN);
	for (unsigned j = 0; j < n; j++) {
		uint64_t e = USED_ELEM(CON_RX, was->used_idx + j);
		uint64_t len = rd32(ram + e + 4), left = npend - taken;
		FUZZ_CHECK(rd32(ram + e) == rx[j].head && len == (left < rx[j].write_bytes ? left :
			   rx[j].write_bytes), "receive chain %u: used length %llu, %llu pending", j,
			   (unsigned long long)len, (unsigned long long)left);
		for (uint64_t o = 0; o < len; o++, taken++) {
			uint64_t a = fuzz_chain_wgpa(&rx[j], o);
			FUZZ_CHECK(ram[a] == pend[taken], "input byte %llu", (unsigned long long)taken);
			undo[a] = before[a];
		}
	}
	FUZZ_CHECK(!memcmp(undo, before, RAM), "guest RAM at 0x%zx written",
		   fuzz_ram_diff(undo, before, 0));
	memmove(pend, pend + taken, npend - taken);
	npend -= taken;
	v = d.q[CON_RX];
	FUZZ_CHECK(!npend || !vdev_serving(&d, CON_RX) || vq_next(&v, &now, &c, err, sizeof(err)) != 1,
		   "input left pending while a receive chain is");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char err[VDEV_WHY_MAX];

	fuzz_ram_fresh(ram);
	npend = drops = 0;
	con_device(&d, ram, RAM);
	con_reset(&k);
	vdev_set_features(&d, VIRTIO_F_VERSION_1);
	for (unsigned q = 0; q < 2; q++) {
		drv[q] = (struct fuzz_drv){ .ram = ram, .q = q, .flags = q == CON_RX ? 3 : 7 };
		FUZZ_CHECK(!vdev_setup_queue(&d, q, QSIZE, RING(q), AVAIL(q), USED(q)), "%s",
			   d.why);
	}
	d.live = 1;

	for (unsigned t = 0; in.n && t < 64; t++) {
		unsigned op = (unsigned)fuzz_take(&in, 1) % 3, arg = (unsigned)fuzz_take(&in, 1);
		struct vq was = d.q[CON_RX], v = d.q[CON_TX];
		const struct vq_mem bm = { before, RAM };
		size_t len = arg < 0x80 ? arg : (arg - 0x7f) * 64ull, room = CON_INPUT_MAX - npend;
		uint8_t buf[64];
		int rc = 0;

		if (op == 2) { /* typed: arg bytes of the input, or (arg - 127) * 64 of a pattern */
			for (size_t i = 0; i < len; i++)
				typed[i] = (uint8_t)(arg < 0x80 ? fuzz_take(&in, 1) : i * 5 + t);
			memcpy(pend + npend, typed, len < room ? len : room);
			npend += len < room ? len : room;
			drops += len < room ? 0 : len - room;
		} else {
			fuzz_chain_publish(&drv[op == 0 ? CON_TX : CON_RX], &in, NULL, 0);
		}
		memcpy(before, ram, RAM);
		if (op != 0) {
			if (op == 2)
				con_input(&k, &d, typed, len);
			else
				con_serve_rx(&k, &d);
			check_rx(&was);
		} else {
			memset(&c, 0, sizeof(c));
			if (vdev_serving(&d, CON_TX))
				rc = vq_next(&v, &bm, &c, err, sizeof(err));
			out_len = 0;
			cap = 1 + arg % 64;
			con_serve_tx(&d, buf, cap, emit, &k);
			uint16_t n = (uint16_t)(d.q[CON_TX].used_idx - v.used_idx);
			uint64_t e = USED_ELEM(CON_TX, v.used_idx);
			FUZZ_CHECK(n == (rc == 1) && (rc >= 0 || d.broken) &&
				   (!n || (rd32(ram + e) == c.head && !rd32(ram + e + 4))),
				   "transmit: rc %d, %u used elements", rc, n);
			for (unsigned i = 0, o = 0; i < c.nread; o += c.seg[i++].len)
				memcpy(want + o, before + c.seg[i].gpa, c.seg[i].len);
			FUZZ_CHECK(out_len == c.read_bytes && !memcmp(out, want, out_len),
				   "emitted %zu bytes of a chain's %llu readable ones", out_len,
				   (unsigned long long)c.read_bytes);
			memcpy(undo, ram, RAM);
			memcpy(undo + USED(CON_TX), before + USED(CON_TX), USED_LEN);
			FUZZ_CHECK(!memcmp(undo, before, RAM), "transmit: guest RAM at 0x%zx written",
				   fuzz_ram_diff(undo, before, 0));
		}
		FUZZ_CHECK(k.in_len == npend && d.stats.drops == drops, "%u bytes pending, not %zu; "
			   "%llu dropped, not %llu", k.in_len, npend,
			   (unsigned long long)d.stats.drops, (unsigned long long)drops);
	}
	return 0;
}
