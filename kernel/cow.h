/* Copy-on-write sharing of RAM between partitions and their clones: the bookkeeping, pure
 * and host unit tested (tests/unit/test_cow.c); kernel/ram.c gives it memory, locks and
 * stage-2 mappings (docs/management.md, "Clones").
 *
 * Each partition has a table with a byte per 2 MiB piece of its RAM: 0 when the partition
 * holds the piece itself (or nothing: it reads as zeros), else s, the piece's content lies
 * in place in partition s - 1's RAM, which keeps it unchanged (write-protected) for as
 * long as any table names it there. A clone's first touch of such a piece copies it in
 * (pull); the first write of the partition that holds it copies it out to every partition
 * that still reads it there (push). A clone is always newer than the partitions it reads
 * from (a higher index), so a CPU holding a piece of one partition only ever waits for the
 * same piece of a newer one: the waits cannot go round in a circle. */
#ifndef MICA_COW_H
#define MICA_COW_H

#include <stdint.h>

struct cow_ops {
	/* Partition i's table (NULL: it shares nothing, ever); i < nparts. */
	uint8_t *(*table)(void *ctx, unsigned i);
	/* Piece k of partition from's RAM into partition to's, whole. */
	void (*copy)(void *ctx, unsigned to, unsigned from, uint64_t k);
	/* Piece k of partition i for this CPU alone (and back): no other pull, push or
	 * first touch of it meanwhile. */
	void (*take)(void *ctx, unsigned i, uint64_t k);
	void (*give)(void *ctx, unsigned i, uint64_t k);
	/* Piece k of partition i holds its own content now (a push filled it): map it as i
	 * holds it. */
	void (*placed)(void *ctx, unsigned i, uint64_t k);
	unsigned nparts;
	void *ctx;
};

/* A new clone's table (child, not yet running) from its origin's (origin held still):
 * every piece the origin holds itself and holds(k) says holds anything is read from the
 * origin, which must keep it unchanged: freeze(k) is called for it; every piece the
 * origin still reads from elsewhere is read from there too. Returns how many pieces the
 * clone shares. */
uint64_t cow_share(const struct cow_ops *o, unsigned child, unsigned origin, uint64_t npieces,
		   int (*holds)(void *ctx, uint64_t k), void (*freeze)(void *ctx, uint64_t k),
		   void *arg);

/* Piece k of partition i, taken by the caller: its content copied in from where it lies,
 * if elsewhere. 1 if it was copied. */
int cow_pull(const struct cow_ops *o, unsigned i, uint64_t k);

/* Piece k of partition i (taken by the caller, its content in place) is about to change:
 * every partition that reads it from i gets its copy first. */
void cow_push(const struct cow_ops *o, unsigned i, uint64_t k);

/* Does any partition read piece k from partition i? */
int cow_shared_out(const struct cow_ops *o, unsigned i, uint64_t k);

/* The pieces of partition i that it reads from elsewhere. */
uint64_t cow_shared_in(const struct cow_ops *o, unsigned i, uint64_t npieces);

/* Nothing of partition i is shared any more: every piece others read from it is pushed
 * to them, and its own pieces read from elsewhere are pulled in (keep: it goes on, a
 * restore) or forgotten (it is gone, or its RAM is about to be cleared). Each piece is
 * taken while it is settled; placed() is called for the pieces pulled. */
void cow_settle(const struct cow_ops *o, unsigned i, uint64_t npieces, int keep);

#endif
