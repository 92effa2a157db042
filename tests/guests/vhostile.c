/* vhostile: a virtio console driver that breaks the rules on purpose. It finds its virtio
 * console on the virtual PCI bus, initialises it as virtio 1.1 3.1.1 says, sends one good
 * line, then hands the transmit queue six hostile chains, one at a time. After each, the
 * device must say DEVICE_NEEDS_RESET (the service refused the chain); the guest resets it,
 * initialises it again and sends a good line, which must come back used: the device works
 * again. Last, one good line is made available with no notify: the service's watch must
 * find it by itself. The power-off code is 0 if all six were refused and every good line
 * was used.
 * The driver's ordinary part (finding the device, initialisation, queues) is lib/vdrv.c.
 *
 * Everything is polled (interrupts stay off, MSI-X is never enabled), and every poll has a
 * timeout, so the guest always gets to its summary line. The lines that travel through the
 * virtio console ("hello through virtio", "after <case>: still served") are never printed by
 * this guest itself, so finding them on the serial proves the service printed them; the
 * hostile buffers hold "SHOULD NOT APPEAR", which no correct service prints. */
#include <string.h>
#include "lib/guest.h"
#include "lib/vdrv.h" /* the driver: finding the device, initialisation, the queues */

#define INDIRECT_ENTRIES 200

static struct vdesc indirect_table[INDIRECT_ENTRIES] __attribute__((aligned(4096)));
static char badbuf[256] __attribute__((aligned(64))); /* what hostile chains point at */

static uint64_t ram_bytes;

/* --- the hostile chains: each puts something on the transmit queue, not yet notified --- */

static void bad_loop(struct vdrv_queue *q)
{
	vdrv_set_desc(q, 0, (uintptr_t)badbuf, 8, D_NEXT, 1);
	vdrv_set_desc(q, 1, (uintptr_t)badbuf + 8, 8, D_NEXT, 0);
	vdrv_publish(q, 0);
}

/* The first byte past guest RAM: the tightest "outside". */
static void bad_outside(struct vdrv_queue *q)
{
	vdrv_set_desc(q, 0, ram_bytes, 16, 0, 0);
	vdrv_publish(q, 0);
}

static void bad_huge(struct vdrv_queue *q)
{
	vdrv_set_desc(q, 0, (uintptr_t)badbuf, 0xFFFFFFF0u, 0, 0);
	vdrv_publish(q, 0);
}

static void bad_zero(struct vdrv_queue *q)
{
	vdrv_set_desc(q, 0, (uintptr_t)badbuf, 0, 0, 0);
	vdrv_publish(q, 0);
}

/* VIRTIO_F_INDIRECT_DESC is not negotiated, so INDIRECT alone breaks the rules; the table
 * is also a 200-buffer chain, more than any device here takes. */
static void bad_indirect(struct vdrv_queue *q)
{
	size_t n = strlen(badbuf);

	for (unsigned i = 0; i < INDIRECT_ENTRIES; i++) {
		volatile struct vdesc *e = &indirect_table[i];
		e->addr = (uintptr_t)badbuf + i % n;
		e->len = 1;
		e->flags = i + 1 < INDIRECT_ENTRIES ? D_NEXT : 0;
		e->next = (uint16_t)(i + 1 < INDIRECT_ENTRIES ? i + 1 : 0);
	}
	fence();
	vdrv_set_desc(q, 0, (uintptr_t)indirect_table, sizeof(indirect_table), D_INDIRECT, 0);
	vdrv_publish(q, 0);
}

/* avail->idx 100 ahead of what the device has seen: more than the queue holds. */
static void bad_avail_jump(struct vdrv_queue *q)
{
	volatile struct vavail *a = &q->r->avail;

	q->avail_idx = (uint16_t)(q->avail_idx + 100);
	fence();
	a->idx = q->avail_idx;
	fence();
}

static const struct hostile {
	const char *name;
	void (*build)(struct vdrv_queue *q);
} cases[] = {
	{ "looping chain", bad_loop },
	{ "address outside RAM", bad_outside },
	{ "length 0xfffffff0", bad_huge },
	{ "zero-length descriptor", bad_zero },
	{ "indirect table of 200", bad_indirect },
	{ "avail index +100", bad_avail_jump },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Runs one case; returns 1 if it was detected. *served: the good line after it was used. */
static int run_case(struct vdrv *d, const struct hostile *c, int *served, int *alive)
{
	uint8_t s;
	int detected;

	snprintf(badbuf, sizeof(badbuf), "vhostile: SHOULD NOT APPEAR (%s)\n", c->name);
	fence();
	c->build(&d->q[TXQ]);
	vdrv_notify(d, TXQ);
	detected = vdrv_wait_status(d, S_NEEDS_RESET, S_NEEDS_RESET, VDRV_TIMEOUT_MS, &s);
	if (detected)
		printf("vhostile: %s: device needs reset (ok)\n", c->name);
	else
		printf("vhostile: %s: FAILED, status 0x%02x after 2 s\n", c->name, s);

	*served = 0;
	if (vdrv_init(d, VDRV_TIMEOUT_MS)) {
		printf("vhostile: FAILED: the device did not come back after %s\n", c->name);
		*alive = 0;
		return detected;
	}
	char line[96], what[96];
	snprintf(line, sizeof(line), "vhostile: after %s: still served\n", c->name);
	snprintf(what, sizeof(what), "the good line after %s", c->name);
	*served = vdrv_send(d, line, what);
	return detected;
}

int main(unsigned vcpu)
{
	struct mica_self_info info;
	struct vdrv dev = { .name = "vhostile" };
	struct vdrv *d = &dev;

	if (vcpu != 0)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	if (self_info(&info) != (long)sizeof(info)) {
		printf("vhostile: FAILED: SELF_INFO\n");
		return 1;
	}
	ram_bytes = info.mem_bytes;

	if (vdrv_start(d, VDRV_ATTACH_MS))
		return 1;
	int ok = vdrv_send(d, "vhostile: hello through virtio\n", "the hello line");

	unsigned detected = 0;
	int alive = 1;
	for (unsigned i = 0; i < NCASES && alive; i++) {
		int served;
		detected += (unsigned)run_case(d, &cases[i], &served, &alive);
		ok &= served;
	}
	printf("vhostile: done, %u of %u hostile cases detected\n", detected,
	       (unsigned)NCASES);
	/* A line made available with no notify at all (a driver that forgot, or a notify
	 * lost on the way): the service's watch must find it within a few seconds. */
	if (alive) {
		struct vdrv_queue *q = &d->q[TXQ];
		static char quiet[] = "vhostile: never notified, still served\n";
		/* The service's pass over the queue for the last line may still be looking
		 * for more (it takes what is there until the ring is empty): a line put
		 * there now could be taken in that pass, with no watch needed. Let it end. */
		delay_ms(300);
		vdrv_set_desc(q, 0, (uintptr_t)quiet, sizeof(quiet) - 1, 0, 0);
		vdrv_publish(q, 0);
		ok &= vdrv_wait_used(d, TXQ, 0, "the line never notified");
	}
	if (detected != NCASES || !ok)
		return 1;
	return 0;
}
