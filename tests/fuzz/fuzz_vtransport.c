/* kernel/virtio/transport.c: a guest drives the common config, ISR and device config
 * registers at any offset, width and value; a hostile service attaches anything, detaches,
 * completes resets and fails the device; the guest partition restarts. Checked, from
 * transport.h: reads hold only the bytes of their width (0 for a width or place that is no
 * field, for queue fields of a queue >= num_queues and for config bytes past config_len);
 * such writes, writes to read-only fields and every common write while a reset is pending
 * change nothing; vio_attach fails exactly when its checks say, then with a message and d
 * unchanged; nothing is reported while detached; status bits are set only by the driver
 * (FEATURES_OK only for a valid subset of the offer, with an event) or by fail/detach
 * (NEEDS_RESET) and cleared only by a reset, a reset waits for vio_reset_done; a live
 * disabled queue's size is a power of two <= queue_max, every vector < nvec or none. */
#include "tests/fuzz/fuzz.h"
#include "kernel/virtio/transport.h"

static struct vio d, was; /* was: d before the operation */

static const uint8_t width[VIO_C_LEN] = {
	[VIO_C_DFSELECT] = 4, [VIO_C_DF] = 4, [VIO_C_GFSELECT] = 4, [VIO_C_GF] = 4,
	[VIO_C_MSIX_CONFIG] = 2, [VIO_C_NUM_QUEUES] = 2, [VIO_C_STATUS] = 1, [VIO_C_CFG_GEN] = 1,
	[VIO_C_Q_SELECT] = 2, [VIO_C_Q_SIZE] = 2, [VIO_C_Q_MSIX] = 2, [VIO_C_Q_ENABLE] = 2,
	[VIO_C_Q_NOTIFY_OFF] = 2, [VIO_C_Q_DESC] = 8, [VIO_C_Q_DRIVER] = 8, [VIO_C_Q_DEVICE] = 8,
};

/* The field an access hits (a 64-bit one also as either 32-bit half), -1 for none. */
static int field(unsigned off, unsigned size)
{
	if (off >= VIO_C_LEN || (size != 1 && size != 2 && size != 4 && size != 8))
		return -1;
	if (width[off] == size || (size == 4 && width[off] == 8))
		return (int)off;
	return size == 4 && off >= 4 && width[off - 4] == 8 ? (int)off - 4 : -1;
}

#define rd(off, size) ((unsigned)vio_common_read(&d, off, size))
#define pow2(v) ((v) && !((v) & ((v) - 1)))

static void common_write(unsigned off, unsigned size, uint64_t val, unsigned st)
{
	struct vio_event ev;
	int f = field(off, size), live = rd(VIO_C_Q_SELECT, 2) < rd(VIO_C_NUM_QUEUES, 2);
	int r = vio_common_write(&d, off, size, val, &ev);

	FUZZ_CHECK(r == (ev.type != 0) && (d.attached || !r), "event %u, returned %d", ev.type, r);
	/* Ignored: what is no field, read-only fields, queues >= num_queues, all while resetting. */
	if (was.reset_pending || f < 0 || f == VIO_C_DF || f == VIO_C_NUM_QUEUES ||
	    f == VIO_C_CFG_GEN || f == VIO_C_Q_NOTIFY_OFF || (f >= VIO_C_Q_SIZE && !live))
		FUZZ_CHECK(!memcmp(&d, &was, sizeof(d)), "ignored write %u@0x%x changed d", size, off);
	if (f == VIO_C_STATUS && !was.reset_pending) {
		unsigned v = (uint8_t)val, now = rd(VIO_C_STATUS, 1), set = now & ~st;
		int reset = v == 0 && was.attached && st != 0;
		FUZZ_CHECK(reset == (ev.type == MICA_IOREQ_RESET) && reset == d.reset_pending &&
			   (v ? (now & st) == st && !(now & ~(st | v)) : now == (reset ? st : 0)),
			   "status 0x%x, wrote 0x%x: reads 0x%x", st, v, now);
		FUZZ_CHECK(!(set & VIO_S_FEATURES_OK) || (d.attached && ev.type &&
			   (d.drv_features & VIO_F_VERSION_1) && !(d.drv_features & ~d.dev_features) &&
			   ev.arg[0] == d.drv_features), "FEATURES_OK for 0x%llx",
			   (unsigned long long)d.drv_features);
		FUZZ_CHECK(!(set & VIO_S_DRIVER_OK) || !(now & VIO_S_FEATURES_OK) || !d.attached ||
			   ev.type == MICA_IOREQ_DRIVER_OK, "DRIVER_OK: event %u", ev.type);
		FUZZ_CHECK(v || (!rd(VIO_C_DFSELECT, 4) && !rd(VIO_C_GFSELECT, 4) && !d.isr &&
			   !rd(VIO_C_Q_SELECT, 2) && rd(VIO_C_MSIX_CONFIG, 2) == VIO_NO_VECTOR &&
			   rd(VIO_C_Q_SIZE, 2) == (rd(VIO_C_NUM_QUEUES, 2) ? d.queue_max : 0)),
			   "reset values");
	}
	if (ev.type == MICA_IOREQ_QUEUE)
		FUZZ_CHECK(f == VIO_C_Q_ENABLE && (st & VIO_S_FEATURES_OK) && ev.queue < d.num_queues &&
			   pow2(ev.size) && ev.size <= d.queue_max, "queue %u of size %u", ev.queue, ev.size);
}

static void attach(struct fuzz_in *in)
{
	static struct mica_svc_attach a;
	char err[200] = "";

	a.features = fuzz_take(in, 8);
	a.num_queues = (uint32_t)fuzz_take(in, 4);
	a.queue_max = (uint32_t)fuzz_take(in, 4);
	a.config_len = (uint32_t)fuzz_take(in, 4);
	memset(a.config, (int)fuzz_take(in, 1), sizeof(a.config));
	int ok = (a.features & VIO_F_VERSION_1) && a.num_queues >= 1 &&
		 a.num_queues <= d.max_queues && pow2(a.queue_max) && a.queue_max <= 32768 &&
		 a.config_len <= MICA_SVC_CONFIG_MAX;
	int r = vio_attach(&d, &a, err, sizeof(err));
	FUZZ_CHECK((r == 0) == ok, "attach returned %d", r);
	if (r) {
		fuzz_check_msg(err, sizeof(err));
		FUZZ_CHECK(!memcmp(&d, &was, sizeof(d)), "a refused attach changed d");
		return;
	}
	FUZZ_CHECK(rd(VIO_C_NUM_QUEUES, 2) == a.num_queues, "num_queues after attach");
	FUZZ_CHECK(!was.attached || (uint8_t)(was.config_generation + 1) == d.config_generation,
		   "config_generation not bumped");
	for (unsigned i = 0; i < a.config_len; i++)
		FUZZ_CHECK(vio_config_read(&d, i, 1) == a.config[0], "config byte %u", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned nvec = (unsigned)fuzz_take(&in, 1);

	vio_init(&d, nvec, (unsigned)fuzz_take(&in, 1) % (VIO_QUEUES_MAX + 2));
	while (in.n) {
		unsigned op = (unsigned)fuzz_take(&in, 1), k = op & 15, sz = op >> 4, off = 0, r = 0;
		unsigned st = rd(VIO_C_STATUS, 1), now, nq = rd(VIO_C_NUM_QUEUES, 2), mask;
		uint64_t v;
		struct vio_event ev;

		k = k > 10 ? 1 : k; /* 1 and 11-15: a common write */
		memcpy(&was, &d, sizeof(d));
		switch (k) {
		case 0: /* common read */
			off = (unsigned)fuzz_take(&in, 1);
			v = vio_common_read(&d, off, sz);
			FUZZ_CHECK((field(off, sz) >= 0 || !v) && (sz >= 8 || !(v >> (8 * sz))) &&
				   (field(off, sz) < VIO_C_Q_SIZE || rd(VIO_C_Q_SELECT, 2) < nq || !v),
				   "%u@0x%x read 0x%llx", sz, off, (unsigned long long)v);
			break;
		case 1:
			off = (unsigned)fuzz_take(&in, 1);
			common_write(off, sz, fuzz_take(&in, 8), st);
			break;
		case 2: /* device config read: only the bytes inside config_len */
			off = (unsigned)fuzz_take(&in, 2);
			mask = 0;
			for (unsigned i = 0; i < sz && i < 4 && off + i < d.config_len; i++)
				mask |= 0xffu << (8 * i);
			v = vio_config_read(&d, off, sz);
			FUZZ_CHECK(!(v & ~(uint64_t)(sz == 1 || sz == 2 || sz == 4 ? mask : 0)),
				   "config %u@0x%x read 0x%llx", sz, off, (unsigned long long)v);
			break;
		case 3: /* device config write */
			off = (unsigned)fuzz_take(&in, 2);
			v = fuzz_take(&in, 4);
			r = (unsigned)vio_config_write(&d, off, sz, (uint32_t)v, &ev);
			FUZZ_CHECK(r == (ev.type != 0) && (!r || (d.attached && off + sz <= d.config_len &&
				   vio_config_read(&d, off, sz) == (v & (0xffffffffu >> (32 - 8 * sz))))),
				   "config write %u@0x%x reported %u", sz, off, ev.type);
			break;
		case 4:
			vio_isr_read(&d);
			FUZZ_CHECK(vio_isr_read(&d) == 0, "ISR not cleared by its read");
			break;
		case 5:
			attach(&in);
			break;
		case 6: /* detach: a pending reset counts as done */
			r = (unsigned)vio_detach(&d);
			FUZZ_CHECK(!d.attached && !d.reset_pending && !rd(VIO_C_NUM_QUEUES, 2) &&
				   !rd(VIO_C_DF, 4) && r == (was.attached && was.status &&
				   !(was.status & VIO_S_NEEDS_RESET)), "detach returned %u", r);
			break;
		case 7:
			vio_reset_done(&d);
			break;
		case 8:
			r = (unsigned)vio_guest_reset(&d);
			FUZZ_CHECK(r == (was.attached && was.status) && !d.reset_pending && !d.isr &&
				   rd(VIO_C_Q_SIZE, 2) == (nq ? d.queue_max : 0), "guest reset returned %u", r);
			break;
		case 9:
			r = (unsigned)vio_fail(&d);
			FUZZ_CHECK(r == (was.status && !(was.status & VIO_S_NEEDS_RESET)) &&
				   (!r || (d.isr & VIO_ISR_CONFIG)), "fail returned %u", r);
			break;
		default: /* 10 */
			off = (unsigned)fuzz_take(&in, 1);
			FUZZ_CHECK(!vio_notify_ok(&d, off) || (off < nq && !d.reset_pending &&
				   d.q[off].enable), "notify of queue %u", off);
			break;
		}
		/* Status bits clear only by a reset; only the driver sets them, or NEEDS_RESET. */
		now = rd(VIO_C_STATUS, 1);
		int reset = k == 7 || k == 8 || (k == 6 && was.reset_pending) ||
			    (k == 1 && field(off, sz) == VIO_C_STATUS);
		mask = k == 1 ? 0xff : k == 6 || k == 9 ? VIO_S_NEEDS_RESET : 0;
		FUZZ_CHECK((reset || (now & st) == st) && !(now & ~st & ~mask) &&
			   (!r || (k != 6 && k != 9) || (now & VIO_S_NEEDS_RESET)) &&
			   (!(k == 8 || (was.reset_pending && (k == 6 || k == 7))) || !now),
			   "op %u: status 0x%x -> 0x%x", k, st, now);
		nq = rd(VIO_C_NUM_QUEUES, 2);
		FUZZ_CHECK(nq <= d.max_queues && (!nq || d.attached), "%u queues", nq);
		for (unsigned i = 0; i <= VIO_QUEUES_MAX; i++) { /* VIO_QUEUES_MAX: config's */
			uint16_t vec = i < VIO_QUEUES_MAX ? vio_queue_vector(&d, i) : vio_config_vector(&d);
			FUZZ_CHECK((vec < d.nvec || vec == VIO_NO_VECTOR) && (i >= nq || d.q[i].enable ||
				   (pow2(d.q[i].size) && d.q[i].size <= d.queue_max)), "queue %u: vector %u,"
				   " size %u", i, vec, i < nq ? d.q[i].size : 0);
		}
	}
	return 0;
}
