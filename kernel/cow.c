/* Copy-on-write sharing of RAM between partitions and their clones (kernel/cow.h). */
#include "kernel/cow.h"

static int src_of(const struct cow_ops *o, unsigned i, uint64_t k)
{
	const uint8_t *t = o->table(o->ctx, i);
	return t ? __atomic_load_n(&t[k], __ATOMIC_ACQUIRE) : 0;
}

static void set_src(const struct cow_ops *o, unsigned i, uint64_t k, int s)
{
	uint8_t *t = o->table(o->ctx, i);
	if (t)
		__atomic_store_n(&t[k], (uint8_t)s, __ATOMIC_RELEASE);
}

uint64_t cow_share(const struct cow_ops *o, unsigned child, unsigned origin, uint64_t npieces,
		   int (*holds)(void *ctx, uint64_t k), void (*freeze)(void *ctx, uint64_t k),
		   void *arg)
{
	uint64_t shared = 0;

	for (uint64_t k = 0; k < npieces; k++) {
		int s = src_of(o, origin, k);
		if (!s && holds(arg, k)) {
			s = (int)origin + 1;
			freeze(arg, k);
		}
		set_src(o, child, k, s);
		shared += s != 0;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return shared;
}

int cow_pull(const struct cow_ops *o, unsigned i, uint64_t k)
{
	int s = src_of(o, i, k);
	if (!s)
		return 0;
	o->copy(o->ctx, i, (unsigned)s - 1, k);
	set_src(o, i, k, 0);
	return 1;
}

void cow_push(const struct cow_ops *o, unsigned i, uint64_t k)
{
	for (unsigned c = i + 1; c < o->nparts; c++) {
		if (src_of(o, c, k) != (int)i + 1)
			continue;
		o->take(o->ctx, c, k);
		if (cow_pull(o, c, k)) /* unless it pulled it itself meanwhile */
			o->placed(o->ctx, c, k);
		o->give(o->ctx, c, k);
	}
}

int cow_shared_out(const struct cow_ops *o, unsigned i, uint64_t k)
{
	for (unsigned c = i + 1; c < o->nparts; c++)
		if (src_of(o, c, k) == (int)i + 1)
			return 1;
	return 0;
}

uint64_t cow_shared_in(const struct cow_ops *o, unsigned i, uint64_t npieces)
{
	uint64_t n = 0;
	for (uint64_t k = 0; k < npieces; k++)
		n += src_of(o, i, k) != 0;
	return n;
}

void cow_settle(const struct cow_ops *o, unsigned i, uint64_t npieces, int keep)
{
	for (uint64_t k = 0; k < npieces; k++) {
		if (!src_of(o, i, k) && !cow_shared_out(o, i, k))
			continue;
		o->take(o->ctx, i, k);
		if (keep && cow_pull(o, i, k))
			o->placed(o->ctx, i, k);
		set_src(o, i, k, 0);
		cow_push(o, i, k);
		o->give(o->ctx, i, k);
	}
}
