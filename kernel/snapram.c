/* The RAM of a partition's snapshots (kernel/snapram.h). */
#include "kernel/snapram.h"

static int is_copy(uint64_t e)
{
	return e != SNAP_ZERO && e != SNAP_LIVE;
}

int snapram_take(struct snapram *s, uint64_t npieces, int (*touched)(void *ctx, uint64_t k),
		 const struct snapram_env *env)
{
	s->npieces = npieces;
	s->nspare = 0;
	for (uint64_t k = 0; k < npieces; k++) {
		s->piece[k] = SNAP_ZERO;
		if (!touched(env->ctx, k))
			continue;
		uint64_t b = env->alloc(env->ctx);
		if (!b) {
			while (s->nspare)
				env->free(env->ctx, s->spare[--s->nspare]);
			return -1;
		}
		s->spare[s->nspare++] = b;
		s->piece[k] = SNAP_LIVE;
	}
	return 0;
}

unsigned snapram_unshare(struct snapram *const *all, unsigned n, uint64_t k,
			 const struct snapram_env *env)
{
	uint64_t copy = 0;
	unsigned users = 0;

	for (unsigned i = 0; i < n; i++) {
		struct snapram *s = all[i];
		if (k >= s->npieces || s->piece[k] != SNAP_LIVE)
			continue;
		/* Every LIVE entry has its spare: nspare > 0 here. The first one's becomes the
		 * copy, the others' go back. */
		uint64_t b = s->spare[--s->nspare];
		if (!copy) {
			copy = b;
			env->copy_out(env->ctx, copy, k);
		} else {
			env->free(env->ctx, b);
		}
		s->piece[k] = copy;
		users++;
	}
	return users;
}

int snapram_live(struct snapram *const *all, unsigned n, uint64_t k)
{
	for (unsigned i = 0; i < n; i++)
		if (k < all[i]->npieces && all[i]->piece[k] == SNAP_LIVE)
			return 1;
	return 0;
}

void snapram_restore(const struct snapram *s, struct snapram *const *all, unsigned n,
		     const struct snapram_env *env)
{
	for (uint64_t k = 0; k < s->npieces; k++) {
		uint64_t e = s->piece[k];
		if (e == SNAP_LIVE)
			continue;
		snapram_unshare(all, n, k, env);
		if (e == SNAP_ZERO)
			env->absent(env->ctx, k);
		else
			env->copy_in(env->ctx, k, e);
	}
}

void snapram_drop(struct snapram *s, struct snapram *const *others, unsigned n,
		  const struct snapram_env *env)
{
	for (uint64_t k = 0; k < s->npieces; k++) {
		uint64_t e = s->piece[k];
		if (!is_copy(e))
			continue;
		int shared = 0;
		for (unsigned i = 0; i < n && !shared; i++)
			shared = k < others[i]->npieces && others[i]->piece[k] == e;
		if (!shared)
			env->free(env->ctx, e);
		s->piece[k] = SNAP_ZERO;
	}
	while (s->nspare)
		env->free(env->ctx, s->spare[--s->nspare]);
	s->npieces = 0;
}

uint64_t snapram_bytes(const struct snapram *s, uint64_t piece_size)
{
	uint64_t copies = 0;

	for (uint64_t k = 0; k < s->npieces; k++)
		copies += is_copy(s->piece[k]);
	return (copies + s->nspare) * piece_size;
}
