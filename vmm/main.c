/* Mica's service partition: serves the virtio devices of other partitions (docs/vmm.md).
 * Start-up registers the request ring and attaches every device; then the one loop takes
 * requests off the ring, and sleeps when there are none. */
#include <string.h>

#include <mica/service.h>

#include "vmm/mgmttest.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"
#include "vmm/serve.h"
#include "vmm/setup.h"

#define RING_ENTRIES 256u
#define RING_BYTES   (sizeof(struct mica_svc_ring) + RING_ENTRIES * sizeof(struct mica_ioreq))

/* Our RAM is identity mapped: this address is the ring's guest-physical address too. */
static uint8_t ring_area[RING_BYTES] __attribute__((aligned(4096)));

static struct mica_svc_ring *ring_setup(void)
{
	struct mica_svc_ring *ring = (struct mica_svc_ring *)ring_area;
	long rc = hcall(MICA_HC_SVC_SETUP, (long)(uintptr_t)ring_area, RING_BYTES,
			RT_NOTIFY_VECTOR);

	if (rc < 0) {
		say("MICA_HC_SVC_SETUP refused (%ld)%s", rc,
		    rc == MICA_EPERM ? ": this partition is not the service (service = yes)" : "");
		return NULL;
	}
	if (ring->size != RING_ENTRIES) {
		say("Mica made the ring %u requests long, not %u", ring->size, RING_ENTRIES);
		return NULL;
	}
	return ring;
}

/* Takes every request Mica has posted. Each is copied out of the ring and its slot handed
 * back (tail) before it is carried out: Mica posts a queue's next NOTIFY only once the
 * last one is off the ring, so a notify that comes while we work on the queue is never
 * lost (docs/hypercalls.md, "The service role"). */
static void take_requests(struct mica_svc_ring *ring, uint32_t *tail)
{
	uint32_t head = ring->head;

	barrier(); /* the entries are read after head */
	if (head - *tail > RING_ENTRIES) {
		say("ring head %u is more than %u requests ahead of tail %u: skipping to it",
		    head, RING_ENTRIES, *tail);
		*tail = head;
		ring->tail = head;
		return;
	}
	while (*tail != head) {
		struct mica_ioreq r;
		memcpy(&r, &ring->req[*tail % RING_ENTRIES], sizeof(r));
		++*tail;
		barrier(); /* work on our copy only */
		ring->tail = *tail;
		barrier();
		serve_request(&r);
	}
}

int main(void)
{
	if (rt_init())
		rt_crash(); /* not on Mica: no way to say anything */
	long v = hcall(MICA_HC_VERSION, 0, 0, 0);
	say("Mica service partition, built for ABI %u.%u, Mica speaks %ld.%ld", MICA_ABI_MAJOR,
	    MICA_ABI_MINOR, v >> 16, v & 0xffff);

	struct mica_svc_ring *ring = ring_setup();
	if (!ring)
		return 1;
	unsigned n = dev_setup();
	say("serving %u of %u devices", n, ndevs);
	mgmttest_run(); /* the management test build's script; nothing otherwise */

	uint32_t tail = 0, lost = 0;
	int backlog = 0;
	const uint64_t second = rt_tsc_khz() * 1000;
	uint64_t watch = rdtsc() + second;
	rt_timer_at(watch);
	for (;;) {
		cli();
		if (ring->head == tail && !backlog && rdtsc() < watch) {
			sti_hlt(); /* the notification vector or the timer wakes us */
			continue;
		}
		sti();
		if (rdtsc() >= watch) {
			serve_watch();
			watch = rdtsc() + second;
			rt_timer_at(watch);
		}
		take_requests(ring, &tail);
		uint32_t now_lost = ring->lost;
		if (now_lost != lost) {
			if (lost == 0)
				say("the request ring overflowed: Mica lost %u requests", now_lost);
			lost = now_lost;
			serve_all(); /* a lost notify must not leave a queue waiting */
		}
		/* last: whatever served a queue above may have left it a backlog */
		backlog = serve_backlog();
	}
}
