/* The RAM of a partition's snapshots, 2 MiB piece by piece (docs/snapshots.md). Pure
 * bookkeeping, host unit tested; kernel/snapshot.c gives it memory and does the copying.
 *
 * Taking a snapshot copies nothing: each piece the partition has touched is marked LIVE
 * (the partition's RAM still holds it) and write-protected. The first write to such a
 * piece copies it once, for every snapshot that still reads it live, and lets the write
 * go on: the partition pauses only for as long as it takes to write-protect its RAM.
 * So that a write can never fail for want of memory, a snapshot reserves a spare 2 MiB
 * block for each of its LIVE pieces when it is taken: the first write spends one spare
 * and gives back the spares of the other snapshots that now share the copy. */
#ifndef MICA_SNAPRAM_H
#define MICA_SNAPRAM_H

#include <stdint.h>

/* A piece table entry: one of these, or the host-physical address of the piece's copy
 * (2 MiB aligned, never 0 or 1). */
#define SNAP_ZERO 0ULL /* never touched when it was taken: all zero */
#define SNAP_LIVE 1ULL /* unchanged since: the partition's RAM holds it (write-protected) */

struct snapram {
	uint64_t npieces;
	uint64_t *piece;  /* npieces entries */
	uint64_t *spare;  /* reserved blocks, one for each LIVE entry: nspare of them */
	uint64_t nspare;
};

/* What the bookkeeping asks of its owner. copy_out: the partition's piece k into block;
 * copy_in: block back into piece k (mapped and writable by then); absent: piece k leaves
 * the partition (it reads as zeros again when next touched). */
struct snapram_env {
	uint64_t (*alloc)(void *ctx);           /* a 2 MiB block, or 0 */
	void (*free)(void *ctx, uint64_t block);
	void (*copy_out)(void *ctx, uint64_t block, uint64_t k);
	void (*copy_in)(void *ctx, uint64_t k, uint64_t block);
	void (*absent)(void *ctx, uint64_t k);
	void *ctx;
};

/* Takes s over the partition's pieces: touched(ctx, k) says which hold anything. s->piece
 * and s->spare have room for npieces entries. 0, or -1 (nothing kept, every block given
 * back) when the spares cannot all be had. */
int snapram_take(struct snapram *s, uint64_t npieces, int (*touched)(void *ctx, uint64_t k),
		 const struct snapram_env *env);

/* Piece k of the partition is about to change (a write, a restart, a restore): each of
 * the n snapshots in all that reads it live gets its own copy first (one copy shared by
 * all of them). Returns how many snapshots read it live before (0: nothing was done). */
unsigned snapram_unshare(struct snapram *const *all, unsigned n, uint64_t k,
			 const struct snapram_env *env);

/* Is piece k live in any of the n snapshots (so still write-protected)? */
int snapram_live(struct snapram *const *all, unsigned n, uint64_t k);

/* The partition's RAM back to s, which is one of all: every piece s copied is copied
 * back, every piece s found untouched leaves, pieces s reads live stay as they are.
 * Others' live pieces among those that change are unshared first. */
void snapram_restore(const struct snapram *s, struct snapram *const *all, unsigned n,
		     const struct snapram_env *env);

/* s goes: its copies that no other of the n snapshots in others shares, and its spares,
 * are freed. s must not be among others. */
void snapram_drop(struct snapram *s, struct snapram *const *others, unsigned n,
		  const struct snapram_env *env);

/* Bytes of RAM s holds: its copies (counted whole, also when shared) and spares. */
uint64_t snapram_bytes(const struct snapram *s, uint64_t piece_size);

#endif
