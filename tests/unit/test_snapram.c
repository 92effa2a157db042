/* kernel/snapram.c: copy-on-write bookkeeping of snapshot RAM. A model partition of a few
 * pieces (one number each) and a pool of numbered blocks: whatever is done to the
 * partition, every snapshot must still read what the partition held when it was taken,
 * spares must match live pieces one for one, and dropping every snapshot must give every
 * block back. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/snapram.h"

#define NP     8
#define BLOCKS 64
#define BSIZE  (2ULL << 20)
#define NSNAP  4

static uint64_t live[NP];      /* the partition's pieces */
static int touched[NP];
static uint64_t blk[BLOCKS];   /* the blocks' contents */
static int used[BLOCKS];
static unsigned in_use, limit = BLOCKS;
static unsigned copies_made;

static uint64_t addr(unsigned i) { return (uint64_t)(i + 1) * BSIZE; }
static unsigned index_of(uint64_t a)
{
	cr_assert(a % BSIZE == 0 && a >= BSIZE && a <= BLOCKS * BSIZE, "bad block %#llx",
		  (unsigned long long)a);
	return (unsigned)(a / BSIZE - 1);
}

static uint64_t m_alloc(void *ctx)
{
	(void)ctx;
	if (in_use >= limit)
		return 0;
	for (unsigned i = 0; i < BLOCKS; i++)
		if (!used[i]) {
			used[i] = 1;
			in_use++;
			blk[i] = 0xdeadULL; /* not zeroed: whatever was there */
			return addr(i);
		}
	return 0;
}

static void m_free(void *ctx, uint64_t b)
{
	(void)ctx;
	unsigned i = index_of(b);
	cr_assert(used[i], "block %u freed twice", i);
	used[i] = 0;
	in_use--;
}

static void m_copy_out(void *ctx, uint64_t b, uint64_t k)
{
	(void)ctx;
	cr_assert(used[index_of(b)]);
	blk[index_of(b)] = live[k];
	copies_made++;
}

static void m_copy_in(void *ctx, uint64_t k, uint64_t b)
{
	(void)ctx;
	live[k] = blk[index_of(b)];
	touched[k] = 1;
}

static void m_absent(void *ctx, uint64_t k)
{
	(void)ctx;
	live[k] = 0;
	touched[k] = 0;
}

static int m_touched(void *ctx, uint64_t k)
{
	(void)ctx;
	return touched[k];
}

static const struct snapram_env env = { m_alloc, m_free, m_copy_out, m_copy_in, m_absent, NULL };

struct snap {
	struct snapram r;
	uint64_t piece[NP], spare[NP];
	uint64_t expect[NP];
	int on;
};
static struct snap snaps[NSNAP];

static unsigned all(struct snapram **out, const struct snap *except)
{
	unsigned n = 0;
	for (unsigned i = 0; i < NSNAP; i++)
		if (snaps[i].on && &snaps[i] != except)
			out[n++] = &snaps[i].r;
	return n;
}

static void reset_model(void)
{
	memset(live, 0, sizeof(live));
	memset(touched, 0, sizeof(touched));
	memset(used, 0, sizeof(used));
	memset(snaps, 0, sizeof(snaps));
	in_use = 0;
	limit = BLOCKS;
	copies_made = 0;
}

/* The partition writes piece k, as Mica lets it: a live piece is unshared first. */
static void write_piece(uint64_t k, uint64_t val)
{
	struct snapram *a[NSNAP];
	unsigned n = all(a, NULL);
	if (snapram_live(a, n, k))
		cr_assert(snapram_unshare(a, n, k, &env) > 0);
	live[k] = val;
	touched[k] = 1;
}

static void restart(void)
{
	struct snapram *a[NSNAP];
	unsigned n = all(a, NULL);
	for (uint64_t k = 0; k < NP; k++) {
		snapram_unshare(a, n, k, &env);
		live[k] = 0;
		touched[k] = 0;
	}
}

static int take(unsigned i)
{
	struct snap *s = &snaps[i];
	s->r.piece = s->piece;
	s->r.spare = s->spare;
	if (snapram_take(&s->r, NP, m_touched, &env))
		return -1;
	memcpy(s->expect, live, sizeof(live));
	s->on = 1;
	return 0;
}

static void restore(unsigned i)
{
	struct snapram *a[NSNAP];
	snapram_restore(&snaps[i].r, a, all(a, NULL), &env);
	cr_assert(!memcmp(live, snaps[i].expect, sizeof(live)), "restore %u: RAM differs", i);
}

static void drop(unsigned i)
{
	struct snapram *a[NSNAP];
	snapram_drop(&snaps[i].r, a, all(a, &snaps[i]), &env);
	snaps[i].on = 0;
}

/* Every snapshot reads what it took; spares match LIVE entries; blocks are accounted. */
static void check(void)
{
	unsigned owned = 0;
	for (unsigned i = 0; i < NSNAP; i++) {
		const struct snap *s = &snaps[i];
		if (!s->on)
			continue;
		unsigned nlive = 0;
		for (unsigned k = 0; k < NP; k++) {
			uint64_t e = s->r.piece[k], got;
			if (e == SNAP_ZERO) {
				got = 0;
			} else if (e == SNAP_LIVE) {
				nlive++;
				got = live[k];
				cr_assert(touched[k], "snapshot %u reads untouched piece %u live", i, k);
			} else {
				cr_assert(used[index_of(e)], "snapshot %u piece %u in a free block", i, k);
				got = blk[index_of(e)];
				/* a copy is counted once, by the first snapshot that holds it */
				int first = 1;
				for (unsigned j = 0; j < i; j++)
					if (snaps[j].on && snaps[j].r.piece[k] == e)
						first = 0;
				owned += first;
			}
			cr_assert_eq(got, s->expect[k], "snapshot %u piece %u reads %llu, took %llu", i,
				     k, (unsigned long long)got, (unsigned long long)s->expect[k]);
		}
		cr_assert_eq(s->r.nspare, nlive, "snapshot %u: %llu spares for %u live pieces", i,
			     (unsigned long long)s->r.nspare, nlive);
		owned += nlive;
	}
	cr_assert_eq(in_use, owned, "%u blocks in use, snapshots own %u", in_use, owned);
}

TestSuite(snapram, .init = reset_model);

Test(snapram, take_copies_nothing_until_a_write)
{
	write_piece(0, 10);
	write_piece(3, 13);
	cr_assert_eq(take(0), 0);
	cr_assert_eq(in_use, 2, "a spare for each touched piece");
	cr_assert_eq(copies_made, 0);
	write_piece(3, 23); /* first write: one copy */
	write_piece(3, 33); /* second: none */
	write_piece(5, 15); /* untouched at the snapshot: none */
	cr_assert_eq(copies_made, 1);
	check();
	restore(0);
	check();
	write_piece(0, 99);
	restore(0); /* again, after more writes */
	check();
	drop(0);
	cr_assert_eq(in_use, 0, "every block back");
}

Test(snapram, two_snapshots_share_one_copy)
{
	write_piece(1, 1);
	take(0);
	take(1);
	cr_assert_eq(in_use, 2);
	write_piece(1, 2);
	cr_assert_eq(copies_made, 1);
	cr_assert_eq(snaps[0].r.piece[1], snaps[1].r.piece[1], "one copy for both");
	cr_assert_eq(in_use, 1, "the second spare went back");
	check();
	drop(0);
	check(); /* the shared copy stays for snapshot 1 */
	cr_assert_eq(in_use, 1);
	restore(1);
	drop(1);
	cr_assert_eq(in_use, 0);
}

Test(snapram, restore_takes_out_pieces_touched_since)
{
	write_piece(2, 7);
	take(0);
	write_piece(6, 8); /* after the snapshot */
	take(1);
	restore(0);
	cr_assert(!touched[6], "piece 6 was untouched at snapshot 0");
	check(); /* snapshot 1 still reads piece 6 as 8: it was unshared before it left */
	restore(1);
	cr_assert_eq(live[6], 8);
	check();
}

Test(snapram, take_without_room_keeps_nothing)
{
	for (uint64_t k = 0; k < NP; k++)
		write_piece(k, k + 1);
	limit = NP - 1;
	cr_assert_eq(take(0), -1);
	cr_assert_eq(in_use, 0, "the spares taken were given back");
	limit = BLOCKS;
	cr_assert_eq(take(0), 0);
	check();
}

Test(snapram, restart_keeps_snapshots)
{
	write_piece(4, 44);
	take(0);
	restart();
	check();
	cr_assert_eq(live[4], 0);
	restore(0);
	cr_assert_eq(live[4], 44);
}

Test(snapram, bytes)
{
	write_piece(0, 1);
	write_piece(1, 1);
	take(0);
	cr_assert_eq(snapram_bytes(&snaps[0].r, BSIZE), 2 * BSIZE);
	write_piece(0, 2);
	cr_assert_eq(snapram_bytes(&snaps[0].r, BSIZE), 2 * BSIZE, "a spare became a copy");
}

/* Random writes, restarts, snapshots, restores and drops, checked after each step. */
Test(snapram, random_sequences)
{
	srand(7);
	for (int step = 0; step < 5000; step++) {
		unsigned op = (unsigned)rand() % 10, i = (unsigned)rand() % NSNAP;
		if (op < 5)
			write_piece((uint64_t)rand() % NP, (uint64_t)rand() % 1000 + 1);
		else if (op == 5 && !snaps[i].on)
			take(i);
		else if (op == 6 && snaps[i].on)
			restore(i);
		else if (op == 7 && snaps[i].on)
			drop(i);
		else if (op == 8 && rand() % 8 == 0)
			restart();
		check();
	}
	for (unsigned i = 0; i < NSNAP; i++)
		if (snaps[i].on)
			drop(i);
	cr_assert_eq(in_use, 0, "every block back");
}
