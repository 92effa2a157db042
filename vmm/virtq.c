/* Split virtqueues, device side (virtio 1.x, 2.7). The driver is another partition: it may
 * write anything into its rings, and change them while we read. So every ring field and
 * descriptor is read once into a local copy, the copy is checked, and only the copy is
 * used. Layouts are little-endian, as is every CPU Mica runs on. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "lib/errmsg.h"
#include "vmm/virtq.h"

typedef unsigned long long ull; /* what %llx prints, in every build */

/* Memory ordering. The driver writes descriptors, then avail->idx; we read the index, then
 * the ring entry and descriptors (2.7.13). We write the used element, then used->idx
 * (2.7.8). x86 keeps loads in order with loads and stores with stores, so those two only
 * need the compiler held back. A store followed by a load of another location is the one
 * order x86 does not keep; that is what full_fence() is for. */
#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

static inline void full_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* 2.7.5 struct virtq_desc */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct desc) == 16, "virtq_desc is 16 bytes");

/* One snapshot of guest memory: the barrier stops the compiler from reading the guest's
 * copy again later in place of ours. __builtin_memcpy stays inline when freestanding. */
static uint16_t ld16(const struct vq_mem *m, uint64_t gpa)
{
	uint16_t v;
	__builtin_memcpy(&v, m->base + gpa, sizeof(v));
	compiler_barrier();
	return v;
}

static void ld_desc(const struct vq_mem *m, uint64_t gpa, struct desc *d)
{
	__builtin_memcpy(d, m->base + gpa, sizeof(*d));
	compiler_barrier();
}

static void st16(const struct vq_mem *m, uint64_t gpa, uint16_t v)
{
	__builtin_memcpy(m->base + gpa, &v, sizeof(v));
	compiler_barrier();
}

static void st32(const struct vq_mem *m, uint64_t gpa, uint32_t v)
{
	__builtin_memcpy(m->base + gpa, &v, sizeof(v));
	compiler_barrier();
}

/* [gpa, gpa + len) inside [0, limit), without overflow. */
static int inside(uint64_t gpa, uint64_t len, uint64_t limit)
{
	return len <= limit && gpa <= limit - len;
}

static uint64_t avail_event_gpa(const struct vq *q)
{
	return q->used + 4 + 8ull * q->size; /* 2.7.8: after used->ring[size] */
}

static uint64_t used_event_gpa(const struct vq *q)
{
	return q->avail + 4 + 2ull * q->size; /* 2.7.6: after avail->ring[size] */
}

static int check_ring(const char *what, uint64_t gpa, uint64_t len, uint64_t align,
		      const struct vq_mem *m, char *err, size_t errlen)
{
	if (gpa & (align - 1))
		return errmsg(MICA_EINVAL, err, errlen, "%s at 0x%llx is not %llu-byte aligned",
			      what, (ull)gpa, (ull)align);
	if (!inside(gpa, len, m->size))
		return errmsg(MICA_EINVAL, err, errlen,
			      "%s [0x%llx, +0x%llx) lies outside guest RAM (0x%llx bytes)", what,
			      (ull)gpa, (ull)len, (ull)m->size);
	return 0;
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* both ranges already inside RAM: no overflow */
}

int vq_setup(struct vq *q, const struct vq_mem *m, const struct vq_config *cfg, char *err,
	     size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!q || !m || !m->base || !cfg)
		return errmsg(MICA_EINVAL, err, errlen, "no queue, guest memory or configuration");
	memset(q, 0, sizeof(*q));
	q->broken = 1; /* until every check below has passed */

	uint32_t n = cfg->size;
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return errmsg(MICA_EINVAL, err, errlen,
			      "queue size %u is not a power of two between 1 and %u", n,
			      VQ_MAX_SIZE);
	uint64_t dlen = 16ull * n, alen = 6 + 2ull * n, ulen = 6 + 8ull * n;
	int rc = check_ring("descriptor table", cfg->desc, dlen, 16, m, err, errlen);
	if (!rc)
		rc = check_ring("available ring", cfg->avail, alen, 2, m, err, errlen);
	if (!rc)
		rc = check_ring("used ring", cfg->used, ulen, 4, m, err, errlen);
	if (rc)
		return rc;
	/* The device writes the used ring; letting those writes land in what it reads next
	 * helps no correct driver. */
	if (overlap(cfg->used, ulen, cfg->desc, dlen))
		return errmsg(MICA_EINVAL, err, errlen,
			      "used ring [0x%llx, +0x%llx) overlaps the descriptor table [0x%llx, +0x%llx)",
			      (ull)cfg->used, (ull)ulen, (ull)cfg->desc, (ull)dlen);
	if (overlap(cfg->used, ulen, cfg->avail, alen))
		return errmsg(MICA_EINVAL, err, errlen,
			      "used ring [0x%llx, +0x%llx) overlaps the available ring [0x%llx, +0x%llx)",
			      (ull)cfg->used, (ull)ulen, (ull)cfg->avail, (ull)alen);
	if (cfg->max_bytes == 0)
		return errmsg(MICA_EINVAL, err, errlen, "largest chain length is 0 bytes");

	q->desc = cfg->desc;
	q->avail = cfg->avail;
	q->used = cfg->used;
	q->size = n;
	q->max_bytes = cfg->max_bytes;
	q->event_idx = cfg->event_idx ? 1 : 0;
	q->ring_end = cfg->desc + dlen;
	if (cfg->avail + alen > q->ring_end)
		q->ring_end = cfg->avail + alen;
	if (cfg->used + ulen > q->ring_end)
		q->ring_end = cfg->used + ulen;
	q->broken = 0;
	return 0;
}

/* Names a descriptor for people: "descriptor 7", or "descriptor 3 of the indirect table
 * in descriptor 7". */
static const char *desc_name(char *buf, size_t len, int indirect, unsigned outer, unsigned i)
{
	if (indirect)
		snprintf(buf, len, "descriptor %u of the indirect table in descriptor %u", i, outer);
	else
		snprintf(buf, len, "descriptor %u", i);
	return buf;
}

/* The walk over one chain. Loops: the indexes visited in the current table are kept, and a
 * NEXT back to one of them is a loop, which also means no chain gets longer than its
 * table (2.7.5.2: never longer than the queue size). At most VQ_MAX_SEGS + 1 descriptors
 * are visited per table (each one but an indirect one becomes a segment), so the list is
 * short. */
static int walk(const struct vq *q, const struct vq_mem *m, uint16_t head, struct vq_chain *c,
		char *err, size_t errlen)
{
	uint16_t seen[VQ_MAX_SEGS + 1];
	unsigned nseen = 0;
	uint64_t table = q->desc;
	uint32_t entries = q->size;
	uint32_t i = head, outer = head;
	uint64_t total = 0;
	int indirect = 0;
	char name[64];

	c->head = head;
	if (head >= q->size)
		return errmsg(MICA_EINVAL, err, errlen,
			      "available ring entry %u names descriptor %u, beyond the queue size %u",
			      (unsigned)(q->last_avail_idx & (q->size - 1)), head, q->size);
	seen[nseen++] = (uint16_t)i;

	for (;;) {
		struct desc d;
		ld_desc(m, table + 16ull * i, &d);
		desc_name(name, sizeof(name), indirect, outer, i);

		if (d.flags & VQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: one table per chain, at its end; WRITE is ignored here. */
			if (indirect)
				return errmsg(MICA_EINVAL, err, errlen,
					      "%s is itself indirect (an indirect table must not hold "
					      "indirect descriptors)", name);
			if (d.flags & VQ_DESC_F_NEXT)
				return errmsg(MICA_EINVAL, err, errlen,
					      "%s is indirect and also has NEXT set", name);
			if (d.len == 0 || d.len % 16)
				return errmsg(MICA_EINVAL, err, errlen,
					      "%s: indirect table length %u is not a non-zero multiple "
					      "of 16", name, d.len);
			if (!inside(d.addr, d.len, m->size))
				return errmsg(MICA_EINVAL, err, errlen,
					      "%s: indirect table [0x%llx, +0x%llx) lies outside guest "
					      "RAM (0x%llx bytes)", name, (ull)d.addr, (ull)d.len,
					      (ull)m->size);
			table = d.addr;
			entries = d.len / 16;
			outer = i;
			i = 0;
			indirect = 1;
			nseen = 0;
			seen[nseen++] = 0;
			continue;
		}

		/* Zero-length buffers are refused: no driver needs them, and a chain of them
		 * would cost walking without moving any data. */
		if (d.len == 0)
			return errmsg(MICA_EINVAL, err, errlen, "%s has length 0", name);
		if (d.addr + d.len < d.addr)
			return errmsg(MICA_EINVAL, err, errlen,
				      "%s: [0x%llx, +0x%x) wraps around the address space", name,
				      (ull)d.addr, d.len);
		if (!inside(d.addr, d.len, m->size))
			return errmsg(MICA_EINVAL, err, errlen,
				      "%s points outside guest RAM: [0x%llx, +0x%x) beyond 0x%llx",
				      name, (ull)d.addr, d.len, (ull)m->size);
		int writable = (d.flags & VQ_DESC_F_WRITE) != 0;
		/* 2.7.4.2: readable before writable; a device may refuse otherwise, and does. */
		if (!writable && c->nsegs > c->nread)
			return errmsg(MICA_EINVAL, err, errlen,
				      "%s is readable but follows a writable descriptor", name);
		if (c->nsegs == VQ_MAX_SEGS)
			return errmsg(MICA_EINVAL, err, errlen,
				      "descriptor chain from head %u has more than %u buffers", head,
				      VQ_MAX_SEGS);
		total += d.len;
		if (total > q->max_bytes)
			return errmsg(MICA_EINVAL, err, errlen,
				      "descriptor chain from head %u is longer than %llu bytes", head,
				      (ull)q->max_bytes);
		struct vq_seg *s = &c->seg[c->nsegs++];
		s->ptr = m->base + d.addr;
		s->gpa = d.addr;
		s->len = d.len;
		s->writable = (uint8_t)writable;
		if (writable) {
			c->write_bytes += d.len;
		} else {
			c->nread++;
			c->read_bytes += d.len;
		}

		if (!(d.flags & VQ_DESC_F_NEXT))
			return 0;
		if (d.next >= entries)
			return errmsg(MICA_EINVAL, err, errlen,
				      "%s links to descriptor %u, beyond its table of %u", name,
				      d.next, entries);
		for (unsigned k = 0; k < nseen; k++)
			if (seen[k] == d.next)
				return errmsg(MICA_EINVAL, err, errlen,
					      "descriptor chain loops: %s links back to descriptor %u",
					      name, d.next);
		/* nseen <= nsegs + 1 <= VQ_MAX_SEGS here, by the check above. */
		seen[nseen++] = d.next;
		i = d.next;
	}
}

int vq_next(struct vq *q, const struct vq_mem *m, struct vq_chain *c, char *err,
	    size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	c->nsegs = c->nread = 0;
	c->read_bytes = c->write_bytes = 0;
	if (q->broken)
		return errmsg(MICA_EINVAL, err, errlen, "queue is broken or not set up");
	if (!m || !m->base || m->size < q->ring_end) {
		q->broken = 1;
		return errmsg(MICA_EINVAL, err, errlen,
			      "guest RAM no longer holds the rings (they reach 0x%llx)",
			      (ull)q->ring_end);
	}

	uint16_t avail_idx = ld16(m, q->avail + 2);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail_idx);
	if (pending == 0 && q->event_idx) {
		/* About to go idle: ask for a notification at the next entry, then look again,
		 * since the driver may have added one before it could see our request. */
		st16(m, avail_event_gpa(q), q->last_avail_idx);
		full_fence();
		avail_idx = ld16(m, q->avail + 2);
		pending = (uint16_t)(avail_idx - q->last_avail_idx);
	}
	if (pending == 0)
		return 0;
	if (pending > q->size) {
		q->broken = 1;
		return errmsg(MICA_EINVAL, err, errlen,
			      "available index %u is %u entries ahead of the device's %u, more than "
			      "the queue size %u", avail_idx, pending, q->last_avail_idx, q->size);
	}
	/* The ring entry and its descriptors are read after the index (x86: in order). */
	compiler_barrier();
	uint16_t head = ld16(m, q->avail + 4 + 2ull * (q->last_avail_idx & (q->size - 1)));
	int rc = walk(q, m, head, c, err, errlen);
	if (rc) {
		q->broken = 1;
		c->nsegs = c->nread = 0;
		c->read_bytes = c->write_bytes = 0;
		return rc;
	}
	q->last_avail_idx++;
	return 1;
}

void vq_unget(struct vq *q)
{
	if (q->last_avail_idx != q->used_idx)
		q->last_avail_idx--;
}

int vq_resume(struct vq *q, const struct vq_mem *m)
{
	if (!m || !m->base || m->size < q->ring_end || q->size == 0 || q->broken)
		return MICA_EINVAL;
	uint16_t idx = ld16(m, q->used + 2);
	q->last_avail_idx = q->used_idx = q->signalled_used = q->told_idx = idx;
	q->signalled_valid = 0;
	return 0;
}

int vq_push(struct vq *q, const struct vq_mem *m, uint16_t head, uint32_t written)
{
	return vq_push_many(q, m, &head, &written, 1);
}

int vq_push_many(struct vq *q, const struct vq_mem *m, const uint16_t *head,
		 const uint32_t *written, unsigned n)
{
	if (!m || !m->base || m->size < q->ring_end || q->size == 0)
		return MICA_EINVAL;
	if ((uint16_t)(q->last_avail_idx - q->used_idx) < n)
		return MICA_EINVAL; /* fewer taken that are not already returned */
	for (unsigned i = 0; i < n; i++)
		if (head[i] >= q->size)
			return MICA_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t elem = q->used + 4 + 8ull * ((q->used_idx + i) & (q->size - 1));
		st32(m, elem, head[i]);
		st32(m, elem + 4, written[i]);
	}
	/* 2.7.8: the elements must be visible before the index that publishes them; x86
	 * keeps stores in order, and st32/st16 hold the compiler back. */
	q->used_idx = (uint16_t)(q->used_idx + n);
	st16(m, q->used + 2, q->used_idx);
	return 0;
}

/* 2.7.10: with event_idx, interrupt if used_event lies in (old, new]: the driver asked to
 * hear about the entry at index used_event, and it is among those pushed since the last
 * decision. */
static int event_passed(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

int vq_needs_notify(struct vq *q, const struct vq_mem *m)
{
	if (!m || !m->base || m->size < q->ring_end || q->size == 0)
		return MICA_EINVAL;
	/* Our used->idx store must be visible before we read what the driver asked for,
	 * or both sides can decide the other will act (store then load: a real fence). */
	full_fence();
	uint16_t old_idx = q->signalled_used, new_idx = q->used_idx;
	int valid = q->signalled_valid;
	q->signalled_used = new_idx;
	q->signalled_valid = 1;
	int yes;
	if (q->event_idx) {
		uint16_t event = ld16(m, used_event_gpa(q));
		yes = !valid || event_passed(event, new_idx, old_idx);
	} else {
		yes = !(ld16(m, q->avail) & VQ_AVAIL_F_NO_INTERRUPT);
	}
	if (yes)
		q->told_idx = new_idx;
	return yes;
}

int vq_look(const struct vq *q, const struct vq_mem *m, struct vq_look *l)
{
	memset(l, 0, sizeof(*l));
	if (q->broken || q->size == 0 || !m || !m->base || m->size < q->ring_end)
		return MICA_EINVAL;
	l->last_avail = q->last_avail_idx;
	l->pending = (uint16_t)(ld16(m, q->avail + 2) - q->last_avail_idx);
	l->used_idx = q->used_idx;
	if (q->event_idx && q->signalled_valid) {
		l->used_event = ld16(m, used_event_gpa(q));
		/* The driver wants to hear when entry used_event is pushed: it is, if it lies
		 * in [used_idx - size, used_idx); and it was told if it also lies below the
		 * used index of the last decision to interrupt. */
		uint16_t pushed = (uint16_t)(q->used_idx - l->used_event);
		uint16_t told = (uint16_t)(q->told_idx - l->used_event);
		l->unheard = pushed >= 1 && pushed <= q->size && !(told >= 1 && told <= q->size);
	}
	return 0;
}
