/* What each request from Mica means for a device (vmm/serve.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mica/service.h>

#include "vmm/crashtest.h"
#include "vmm/mgmt.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"
#include "vmm/serve.h"
#include "vmm/setup.h"

#define BAD_REQUESTS_SAID 8u /* requests Mica should never send: the first few are logged */

/* Console output goes to Mica from here: the service's own RAM, as the call needs. */
static uint8_t console_out[MICA_CONSOLE_MAX];
static unsigned bad_requests;

static void bad_request(const struct mica_ioreq *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad_request(const struct mica_ioreq *r, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	if (bad_requests++ >= BAD_REQUESTS_SAID)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("request %u (type %u, device %u, queue %u) skipped: %s%s", r->id, r->type,
	    r->device, r->queue, why,
	    bad_requests == BAD_REQUESTS_SAID ? " (no more such lines)" : "");
}

/* Block devices whose queue had more requests when their turn's budget ran out. */
#define BLK_BUDGET 8u
static uint8_t backlog[DEV_MAX];

static unsigned index_of(const struct svc_dev *d)
{
	return (unsigned)(d - devs);
}

/* Carries out what the backend left on d: the failure first, then the signals. */
static void flush(struct svc_dev *d)
{
	struct vdev *v = &d->v;
	unsigned i = index_of(d);

	if (v->fail_pending) {
		v->fail_pending = 0;
		long rc = hcall(MICA_HC_SVC_FAIL, i, (long)(uintptr_t)v->why,
				(long)strnlen(v->why, sizeof(v->why)));
		if (rc < 0)
			say("device %u: MICA_HC_SVC_FAIL refused (%ld): %s", i, rc, v->why);
	}
	for (unsigned q = 0; q < v->nqueues; q++) {
		if (!(v->pushed & (1u << q)))
			continue;
		v->pushed &= (uint8_t)~(1u << q);
		if (vq_needs_notify(&v->q[q], &v->mem) == 1)
			hcall(MICA_HC_SVC_SIGNAL, i, q, 0);
	}
}

/* --- Benchmark hook (scripts/bench.py virtio-notify, tests/guests/vbench.c) ------------
 * Under QEMU -icount RDTSC is one clock for every CPU, counting instructions. vbench reads
 * it (t0) just before a queue notify and sends t0 in a console transmit buffer that starts
 * with BENCH_MARK; we read it (t1) as soon as the NOTIFY request is off the ring, and for
 * such a buffer say both instead of forwarding the bytes: t1 - t0 is the notify path.
 * Harmless for everyone else: text never holds the marker (it starts with a NUL), the
 * line says only two numbers, and a normal request costs one RDTSC. */
#define BENCH_MARK     "\0MICA-BENCH-NTFY" /* 16 bytes; must match tests/guests/vbench.c */
#define BENCH_MARK_LEN 16u

static uint64_t bench_notify_tsc[DEV_MAX]; /* t1 of the last NOTIFY per device; 0: none */

/* 1 if buf is a benchmark buffer (said, not forwarded). */
static int bench_console(struct svc_dev *d, const uint8_t *buf, size_t len)
{
	uint64_t t0;
	unsigned i = index_of(d);

	if (len < BENCH_MARK_LEN + sizeof(t0) || memcmp(buf, BENCH_MARK, BENCH_MARK_LEN))
		return 0;
	memcpy(&t0, buf + BENCH_MARK_LEN, sizeof(t0));
	say("bench-notify: device %u t0=%llu t1=%llu", i, (unsigned long long)t0,
	    (unsigned long long)bench_notify_tsc[i]);
	bench_notify_tsc[i] = 0;
	return 1;
}
/* --- end of the benchmark hook -------------------------------------------------------- */

static void emit_console(void *ctx, const uint8_t *buf, size_t len)
{
	struct svc_dev *d = ctx;

	if (bench_console(d, buf, len))
		return; /* benchmark hook, above */
	crashtest_check(buf, len);
	long rc = hcall(MICA_HC_SVC_CONSOLE, d->info.partition, (long)(uintptr_t)buf, (long)len);

	if (rc < 0 && !d->said_console) {
		d->said_console = 1;
		say("device %u: MICA_HC_SVC_CONSOLE refused (%ld); output of '%s' is lost",
		    index_of(d), rc, d->info.partition_name);
	}
}

/* The net backend's side of each switch's ports (backlogs, counters), and the pool the
 * backlogs take their slots from: all in our own RAM. */
static struct net_pool net_pool;
static struct net_port net_ports[SWITCH_MAX][SW_MAX_PORTS];

/* The ports of net device d's switch, each with its device (if attached). */
static struct net_port *net_ports_of(const struct svc_dev *d)
{
	struct svc_switch *s = &switches[d->be.net.sw];
	struct net_port *ports = net_ports[d->be.net.sw];

	for (unsigned p = 0; p < s->nports; p++)
		ports[p].d = s->port[p];
	return ports;
}

static void serve_net_tx(struct svc_dev *d)
{
	struct svc_switch *s = &switches[d->be.net.sw];
	struct net_port *ports = net_ports_of(d);

	sw_set_time(&s->sw, rdtsc() / rt_tsc_khz()); /* milliseconds */
	net_serve_tx(&s->sw, &net_pool, ports, s->nports, d->be.net.port);
	/* The frames went to other ports: their receive queues may need a signal, and a
	 * driver that gave a bad receive chain gets its device failed. */
	for (unsigned p = 0; p < s->nports; p++)
		if (s->dev[p] && s->dev[p] != d)
			flush(s->dev[p]);
}

/* Senders (a mask of switch sw's ports) that were held back go on: their transmit
 * queues are served again (a sender still blocked is held again). */
static void serve_released(unsigned sw, uint32_t senders)
{
	struct svc_switch *s = &switches[sw];

	for (unsigned p = 0; p < s->nports && senders; p++)
		if ((senders & (1u << p)) && s->dev[p] && vdev_serving(&s->dev[p]->v, NET_TX)) {
			serve_net_tx(s->dev[p]);
			flush(s->dev[p]);
		}
}

/* The driver of net device d may have added receive buffers: frames waiting for them,
 * then the senders held back for this port. */
static void serve_net_rx(struct svc_dev *d)
{
	struct net_port *ports = net_ports_of(d);
	struct svc_switch *s = &switches[d->be.net.sw];

	net_serve_rx(&net_pool, &ports[d->be.net.port]);
	flush(d); /* what the senders bring next comes after these */
	serve_released(d->be.net.sw, net_release(ports, s->nports, d->be.net.port));
}

/* "1.5 KiB": bytes for people, in one short field. */
static void size_str(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	uint64_t rem = 0;
	unsigned u = 0;

	while (bytes >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		rem = bytes % 1024;
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu.%u %s", (unsigned long long)bytes,
			 (unsigned)(rem * 10 / 1024), unit[u]);
}

/* How much a net port has done: what its last line said, per port. */
static uint64_t net_said[SWITCH_MAX][SW_MAX_PORTS];

static uint64_t net_activity(const struct net_stats *n)
{
	return n->tx_frames + n->tx_bad + n->rx_frames + n->waited + n->rx_small +
	       n->rx_overflow + n->rx_flushed;
}

/* One line with a net device's counters (kept across resets, so since the service
 * began), if it moved anything since its last line: so one line per run of its guest
 * whether the driver resets the device as the guest shuts down (Linux does) or the
 * partition restarts or stops under a live driver (MICA_IOREQ_RESET with arg[0] = 1). */
static void say_net_stats(struct svc_dev *d)
{
	const struct net_stats *n = &net_ports_of(d)[d->be.net.port].stats;
	uint64_t *said = &net_said[d->be.net.sw][d->be.net.port];
	char sent[24], received[24];
	typedef unsigned long long ull;

	if (net_activity(n) == *said)
		return;
	*said = net_activity(n);
	size_str(sent, sizeof(sent), n->tx_bytes);
	size_str(received, sizeof(received), n->rx_bytes);
	/* Short enough for one console line (160 characters) with the usual numbers. */
	say("device %u: net '%s' sent %llu (%s), received %llu (%s), backlog max %u (%llu "
	    "waited, %llu held), drops: %llu bad, %llu full, %llu small, %llu reset",
	    index_of(d), d->info.partition_name, (ull)n->tx_frames, sent, (ull)n->rx_frames,
	    received, n->backlog_max, (ull)n->waited, (ull)n->held, (ull)n->tx_bad,
	    (ull)n->rx_overflow, (ull)n->rx_small, (ull)n->rx_flushed);
}

/* Whatever queue q of d has to do, if d is serving it. */
static void serve_queue(struct svc_dev *d, unsigned q)
{
	if (!vdev_serving(&d->v, q))
		return;
	switch (d->info.type) {
	case MICA_VIRTIO_BLOCK:
		/* A few requests per turn: the other disks' requests are served in between
		 * (serve_backlog), so one busy guest cannot starve another. */
		if (blk_serve(&d->be.blk, &d->v, BLK_BUDGET))
			backlog[index_of(d)] = 1;
		break;
	case MICA_VIRTIO_CONSOLE:
		if (q == CON_RX)
			con_serve_rx(&d->be.con, &d->v);
		else
			con_serve_tx(&d->v, console_out, sizeof(console_out), emit_console, d);
		break;
	case MICA_VIRTIO_NET:
		if (q == NET_TX)
			serve_net_tx(d);
		else
			serve_net_rx(d);
		break;
	}
	flush(d);
}

int serve_backlog(void)
{
	int more = 0;

	for (unsigned i = 0; i < ndevs; i++) {
		if (!backlog[i])
			continue;
		backlog[i] = 0;
		serve_queue(&devs[i], 0);
		more |= backlog[i];
	}
	return more;
}

static void serve_device(struct svc_dev *d)
{
	for (unsigned q = 0; q < d->v.nqueues; q++)
		serve_queue(d, q);
}

void serve_all(void)
{
	for (unsigned i = 0; i < ndevs; i++)
		if (devs[i].attached)
			serve_device(&devs[i]);
}

/* --- the watch: once a second, a queue left waiting is found and served ----------------
 * Every queue's work is announced (a NOTIFY from Mica, or a signal we send), so a queue
 * that shows the same waiting state at two looks a second apart has lost its
 * announcement: available requests nobody told us about, or a used entry the driver asked
 * to hear of with no decision to interrupt since (vq_look). Either would stop that queue
 * for good (with EVENT_IDX the driver does not notify again until we take what it has
 * given). The watch serves or signals it and says so once per device: it is a defect to
 * report. */
struct watch {
	struct vq_look look;
	uint8_t seen;  /* look holds the last one's */
};
static struct watch watches[DEV_MAX][VDEV_QUEUES];
static uint8_t watch_said[DEV_MAX];

/* Queues whose available entries are requests (not buffers waiting for input) that the
 * backend would take now: a net sender held back for a full port waits on purpose. */
static int work_queue(const struct svc_dev *d, unsigned q)
{
	if (d->info.type == MICA_VIRTIO_NET)
		return q == NET_TX && !net_ports[d->be.net.sw][d->be.net.port].held;
	return d->info.type == MICA_VIRTIO_BLOCK || (d->info.type == MICA_VIRTIO_CONSOLE &&
						      q != CON_RX);
}

/* Net ports that keep their senders waiting two ticks become congested (vmm/net.h); the
 * first few times per port it is said. */
#define CONGESTED_SAID 4u
static uint8_t congested_said[SWITCH_MAX][SW_MAX_PORTS];

static void watch_switches(void)
{
	for (unsigned sw = 0; sw < nswitches; sw++) {
		struct svc_switch *s = &switches[sw];
		struct net_port *ports = net_ports[sw];
		uint64_t before[SW_MAX_PORTS];
		for (unsigned p = 0; p < s->nports; p++)
			before[p] = ports[p].stats.congested;
		uint32_t let_go = net_tick(ports, s->nports);
		for (unsigned p = 0; p < s->nports; p++)
			if (ports[p].stats.congested != before[p] && s->dev[p] &&
			    congested_said[sw][p] < CONGESTED_SAID && ++congested_said[sw][p])
				say("device %u: net '%s' left its senders waiting 2 s for receive "
				    "buffers: frames for it drop until it takes what waits%s",
				    index_of(s->dev[p]), s->dev[p]->info.partition_name,
				    congested_said[sw][p] == CONGESTED_SAID ? " (no more such lines)"
									    : "");
		serve_released(sw, let_go);
	}
}

static void watch_queue(struct svc_dev *d, unsigned q)
{
	struct watch *w = &watches[index_of(d)][q];
	struct vq_look now;

	if (!vdev_serving(&d->v, q) || vq_look(&d->v.q[q], &d->v.mem, &now)) {
		w->seen = 0;
		return;
	}
	int same = w->seen && !memcmp(&now, &w->look, sizeof(now));
	int lost_notify = same && now.pending && work_queue(d, q);
	int lost_signal = same && now.unheard;
	w->look = now;
	w->seen = !(lost_notify || lost_signal); /* acted on: the next look starts afresh */
	if (!lost_notify && !lost_signal)
		return;
	if (!watch_said[index_of(d)] && (watch_said[index_of(d)] = 1))
		say("device %u ('%s' %s): %s waited a second unannounced (avail %u ahead of %u, "
		    "used %u, event %u): %s", index_of(d), d->info.partition_name,
		    d->v.qname[q], lost_notify ? "requests" : "a used entry", now.pending,
		    now.last_avail, now.used_idx, now.used_event,
		    lost_notify ? "served now" : "signalled now");
	if (lost_notify)
		serve_queue(d, q);
	else
		hcall(MICA_HC_SVC_SIGNAL, index_of(d), q, 0);
}

void serve_watch(void)
{
	watch_switches();
	for (unsigned i = 0; i < ndevs; i++)
		for (unsigned q = 0; q < devs[i].v.nqueues; q++) {
			if (devs[i].attached)
				watch_queue(&devs[i], q);
			else
				watches[i][q].seen = 0;
		}
}

static void reset(struct svc_dev *d, const struct mica_ioreq *r)
{
	vdev_reset(&d->v);
	if (d->info.type == MICA_VIRTIO_CONSOLE)
		con_reset(&d->be.con);
	if (d->info.type == MICA_VIRTIO_NET) {
		struct net_port *ports = net_ports_of(d);
		sw_flush_port(&switches[d->be.net.sw].sw, d->be.net.port);
		net_port_reset(&net_pool, &ports[d->be.net.port]);
		if (r->arg[0] != MICA_IOREQ_RESET_RESTORED) /* said by forget_devices() already */
			say_net_stats(d);
		/* senders held back for it: it is down, their frames for it go nowhere */
		serve_released(d->be.net.sw, net_release(ports, switches[d->be.net.sw].nports,
							 d->be.net.port));
	}
	if (r->arg[0] == 1 || r->arg[0] == MICA_IOREQ_RESET_RESTORED)
		return; /* the guest partition restarted, stopped or was restored: nobody waits */
	long rc = hcall(MICA_HC_SVC_DONE, r->id, 0, 0);
	if (rc < 0)
		say("device %u: MICA_HC_SVC_DONE(%u) refused (%ld)", index_of(d), r->id, rc);
}

/* The driver's features, as Mica passed them: only what we offered counts. */
static uint64_t features(struct svc_dev *d, const struct mica_ioreq *r)
{
	if (r->arg[0] & ~d->offer)
		bad_request(r, "features 0x%llx include some not offered (0x%llx)",
			    (unsigned long long)r->arg[0], (unsigned long long)d->offer);
	return r->arg[0] & d->offer;
}

/* --- the management console (vmm/mgmt.c) ---------------------------------------------- */

static long mg_part(void *ctx, unsigned index, struct mica_mgmt_part *out)
{
	return hcall(MICA_HC_MGMT_PART, index, (long)(uintptr_t)out, sizeof(*out));
}

static void forget_devices(unsigned partition);

static long mg_ctl(void *ctx, unsigned index, unsigned op)
{
	long rc = hcall(MICA_HC_MGMT_CTL, index, op, 0);
	if (!rc && op == MICA_MGMT_OP_DESTROY)
		forget_devices(index); /* its RAM is no longer ours to reach */
	return rc;
}

static long mg_pool(void *ctx, struct mica_mgmt_pool *out)
{
	return hcall(MICA_HC_MGMT_POOL, (long)(uintptr_t)out, sizeof(*out), 0);
}

static void mg_write(void *ctx, const char *s, size_t n)
{
	hcall(MICA_HC_MGMT_WRITE, (long)(uintptr_t)s, (long)n, 0);
}

static void mg_leave(void *ctx)
{
	hcall(MICA_HC_MGMT_LEAVE, 0, 0, 0);
}

static long mg_attach(void *ctx, unsigned index)
{
	return hcall(MICA_HC_MGMT_ATTACH, index, 0, 0);
}

static long mg_log(void *ctx, unsigned index, char *buf, size_t len, uint64_t from)
{
	return hcall5(MICA_HC_MGMT_LOG, index, (long)(uintptr_t)buf, (long)len, (long)from, 0);
}

/* Partition `partition` was just restored from a snapshot: what its devices' queues say
 * here is of the RAM it had before. Forget it now, before any request already waiting on
 * the ring (another partition's packet through the switch) could put a buffer of the old
 * queues into the restored ring; Mica's RESET (MICA_IOREQ_RESET_RESTORED) and the set-up
 * requests after it bring the devices back. The same when it was destroyed: its window is
 * gone, and its devices never come back (their switch ports drop what comes for them). */
static void forget_devices(unsigned partition)
{
	struct mica_ioreq r;

	memset(&r, 0, sizeof(r));
	r.type = MICA_IOREQ_RESET;
	r.arg[0] = 1; /* as for a restart: nobody waits; the net stats are said here */
	for (unsigned i = 0; i < ndevs; i++)
		if (devs[i].attached && devs[i].info.partition == partition)
			reset(&devs[i], &r);
}

static long mg_snap(void *ctx, unsigned call, unsigned index, const char *tag, size_t len)
{
	long rc = hcall(call, index, (long)(uintptr_t)tag, (long)len);
	if (!rc && call == MICA_HC_MGMT_RESTORE)
		forget_devices(index);
	return rc;
}

static long mg_clone(void *ctx, unsigned index, const char *name, uint64_t cpus)
{
	struct mica_mgmt_clone c;

	memset(&c, 0, sizeof(c));
	c.cpus = cpus;
	snprintf(c.name, sizeof(c.name), "%s", name);
	long rc = hcall(MICA_HC_MGMT_CLONE, index, (long)(uintptr_t)&c, sizeof(c));
	if (rc >= 0)
		dev_setup_more(); /* the clone's devices: attached, then resumed by Mica */
	return rc;
}

static long mg_snaps(void *ctx, unsigned slot, struct mica_mgmt_snap *out)
{
	return hcall(MICA_HC_MGMT_SNAPS, slot, (long)(uintptr_t)out, sizeof(*out));
}

static struct mgmt console;

void serve_manage_keys(const uint8_t *keys, size_t n)
{
	static int ready;
	if (!ready) {
		const struct mgmt_ops ops = {
			.part = mg_part, .ctl = mg_ctl, .write = mg_write, .leave = mg_leave,
			.log = mg_log, .attach = mg_attach, .snap = mg_snap, .snaps = mg_snaps,
			.pool = mg_pool,
			.clone = mg_clone,
		};
		mgmt_init(&console, &ops);
		ready = 1;
	}
	mgmt_keys(&console, keys, n);
}

static void manage(const struct mica_ioreq *r)
{
	if (r->len > sizeof(r->data)) {
		bad_request(r, "management input of %u bytes", r->len);
		return;
	}
	serve_manage_keys(r->data, r->len);
}

void serve_request(const struct mica_ioreq *r)
{
	if (r->type == MICA_IOREQ_CANCELLED)
		return; /* withdrawn by Mica: a restore's set-up follows */
	if (r->type == MICA_IOREQ_MANAGE) {
		manage(r);
		return;
	}
	if (r->type == MICA_IOREQ_NOTIFY && r->device < DEV_MAX)
		bench_notify_tsc[r->device] = rdtsc(); /* benchmark hook, above emit_console */
	if (r->device >= ndevs) {
		bad_request(r, "there are %u devices", ndevs);
		return;
	}
	struct svc_dev *d = &devs[r->device];
	if (!d->attached) {
		if (r->type == MICA_IOREQ_RESET)
			hcall(MICA_HC_SVC_DONE, r->id, 0, 0); /* never leave a driver waiting */
		bad_request(r, "the device has no backend");
		return;
	}
	if ((r->type == MICA_IOREQ_QUEUE || r->type == MICA_IOREQ_NOTIFY) &&
	    r->queue >= d->v.nqueues) {
		bad_request(r, "the device has %u queues", d->v.nqueues);
		return;
	}

	switch (r->type) {
	case MICA_IOREQ_FEATURES:
		vdev_set_features(&d->v, features(d, r));
		flush(d);
		break;
	case MICA_IOREQ_QUEUE:
		vdev_setup_queue(&d->v, r->queue, r->size, r->arg[0], r->arg[1], r->arg[2]);
		if (r->data[0] == MICA_IOREQ_QUEUE_RESUME)
			vdev_resume_queue(&d->v, r->queue);
		serve_queue(d, r->queue); /* a queue enabled after DRIVER_OK may have buffers */
		flush(d);
		break;
	case MICA_IOREQ_DRIVER_OK:
		vdev_set_features(&d->v, features(d, r));
		d->v.live = 1;
		serve_device(d); /* buffers posted before DRIVER_OK */
		flush(d);
		break;
	case MICA_IOREQ_NOTIFY:
		serve_queue(d, r->queue);
		break;
	case MICA_IOREQ_RESET:
		reset(d, r);
		break;
	case MICA_IOREQ_CONFIG:
		/* No backend has writable config fields; Mica has stored the bytes anyway. */
		if (!d->said_config) {
			d->said_config = 1;
			say("device %u: the driver wrote config offset %llu (ignored)", r->device,
			    (unsigned long long)r->arg[0]);
		}
		break;
	case MICA_IOREQ_INPUT:
		if (d->info.type != MICA_VIRTIO_CONSOLE || r->len > sizeof(r->data)) {
			bad_request(r, "input of %u bytes for a %s device", r->len,
				    dev_type_name(d->info.type));
			break;
		}
		con_input(&d->be.con, &d->v, r->data, r->len);
		flush(d);
		break;
	default:
		bad_request(r, "unknown request type");
		break;
	}
}
