/* kernel/virtio/svcring.c: the service partition owns the ring's memory and may write its
 * tail, size, head, lost count and entries at any time; between Mica's calls the input says
 * what it writes. Mica's own head moves by exactly one per SVCRING_POSTED and never
 * otherwise; the answer follows the tail as read (POSTED while fewer than size requests
 * wait, FULL at size, BAD_TAIL beyond); a post writes only the entry at head % size (size
 * Mica's, never ring->size: the ring is allocated with exactly size entries) and then the
 * published head, so no more than size requests ever wait past the tail; FULL only counts
 * in lost; BAD_TAIL leaves the ring as it was. svcring_consumed answers 1 for a tail not
 * within size of head, else exactly whether the tail has passed the id. */
#include "tests/fuzz/fuzz.h"
#include "kernel/virtio/svcring.h"

#define LOST_OFF offsetof(struct mica_svc_ring, lost)

static uint8_t before[sizeof(struct mica_svc_ring) + MICA_SVC_RING_MAX * sizeof(struct mica_ioreq)];

/* Bytes [from, to) of the ring unchanged since before[]. */
static int same(const struct mica_svc_ring *ring, size_t from, size_t to)
{
	return !memcmp((const uint8_t *)ring + from, before + from, to - from);
}

static enum svcring_post post(struct mica_svc_ring *ring, uint32_t size, uint32_t *head, struct fuzz_in *in)
{
	const size_t bytes = sizeof(*ring) + size * sizeof(struct mica_ioreq);
	struct mica_ioreq rq, want;
	uint32_t h = *head, tail = ring->tail, used = h - tail;
	uint8_t fill = (uint8_t)fuzz_take(in, 1);

	for (size_t i = 0; i < sizeof(rq); i++)
		((uint8_t *)&rq)[i] = (uint8_t)(fill + i);
	want = rq;
	want.id = h;
	memcpy(before, ring, bytes);
	enum svcring_post r = svcring_post(ring, size, head, &rq);
	if (used > size) {
		FUZZ_CHECK(r == SVCRING_BAD_TAIL, "tail %u, head %u, size %u: %d", tail, h, size, r);
		FUZZ_CHECK(*head == h && same(ring, 0, bytes), "BAD_TAIL changed the ring");
	} else if (used == size) {
		FUZZ_CHECK(r == SVCRING_FULL, "%u waiting of %u: %d", used, size, r);
		uint32_t lost;
		memcpy(&lost, before + LOST_OFF, 4);
		FUZZ_CHECK(*head == h && ring->lost == lost + 1, "FULL: head or lost");
		FUZZ_CHECK(same(ring, 0, LOST_OFF) && same(ring, LOST_OFF + 4, bytes),
			   "FULL wrote more than lost");
	} else {
		FUZZ_CHECK(r == SVCRING_POSTED, "%u waiting of %u: %d", used, size, r);
		FUZZ_CHECK(*head == h + 1 && ring->head == h + 1, "head %u -> %u, published %u", h,
			   *head, ring->head);
		FUZZ_CHECK(*head - tail <= size, "%u requests wait in %u", *head - tail, size);
		size_t e = offsetof(struct mica_svc_ring, req) + (h & (size - 1)) * sizeof(rq);
		FUZZ_CHECK(rq.id == h && !memcmp(&ring->req[h & (size - 1)], &want, sizeof(want)),
			   "entry %u is not the request", h & (size - 1));
		FUZZ_CHECK(same(ring, 4, e) && same(ring, e + sizeof(rq), bytes),
			   "a post wrote outside its entry");
	}
	return r;
}

static void consumed(const struct mica_svc_ring *ring, uint32_t size, uint32_t head,
		     uint32_t id, int near)
{
	uint32_t used = head - ring->tail;
	int32_t back = (int32_t)(head - id); /* > 0: posted that long ago */
	int r = svcring_consumed(ring, size, head, id);

	if (used > size)
		FUZZ_CHECK(r == 1, "a broken tail (%u, head %u) must count as taken", ring->tail, head);
	else if (near)
		FUZZ_CHECK(r == (back > 0 && (uint32_t)back > used),
			   "id %u, head %u, tail %u: consumed %d", id, head, ring->tail, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint32_t n = 1u << (fuzz_take(&in, 1) % 11); /* 1 .. MICA_SVC_RING_MAX */
	uint32_t head = (uint32_t)fuzz_take(&in, 4), head0 = head, posted = 0;
	struct mica_svc_ring *ring = calloc(1, sizeof(*ring) + n * sizeof(struct mica_ioreq));

	if (!ring)
		abort();
	ring->size = n;
	ring->head = ring->tail = head;
	while (in.n) {
		unsigned op = (unsigned)fuzz_take(&in, 1);
		switch (op & 7) {
		case 0: /* the service takes (or gives back) some */
			ring->tail = head - (uint32_t)(int32_t)(int16_t)fuzz_take(&in, 2);
			break;
		case 1: /* any tail */
			ring->tail = (uint32_t)fuzz_take(&in, 4);
			break;
		case 2: /* its own idea of size, head and lost */
			ring->size = (uint32_t)fuzz_take(&in, 4);
			ring->head = (uint32_t)fuzz_take(&in, 4);
			ring->lost = (uint32_t)fuzz_take(&in, 4);
			break;
		case 3: { /* a byte of an entry */
			uint32_t i = (uint32_t)fuzz_take(&in, 2) & (n - 1);
			unsigned b = (unsigned)fuzz_take(&in, 1) % sizeof(struct mica_ioreq);
			((uint8_t *)&ring->req[i])[b] = (uint8_t)fuzz_take(&in, 1);
			break;
		}
		case 4: /* is a recent (or future) request taken? */
			consumed(ring, n, head, head - (uint32_t)(int32_t)(int16_t)fuzz_take(&in, 2), 1);
			break;
		case 5:
			consumed(ring, n, head, (uint32_t)fuzz_take(&in, 4), 0);
			break;
		default:
			posted += post(ring, n, &head, &in) == SVCRING_POSTED;
			break;
		}
	}
	FUZZ_CHECK(head - head0 == posted, "head moved %u for %u posts", head - head0, posted);
	free(ring);
	return 0;
}
