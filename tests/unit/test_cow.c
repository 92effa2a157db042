/* kernel/cow.c: the books of RAM shared copy on write between partitions and their clones,
 * against a model. Each partition's pieces hold numbers; what each partition must read is
 * kept beside (what it last wrote there, or what its origin held when it was cloned).
 * Reads go where the books say the content lies; every operation the kernel does (a
 * write, a first touch, a clone, a clone of a clone, a restore's settle, a restart, a
 * destroy) is done the way kernel/ram.c does it, in many random orders. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/cow.h"

#define PARTS 8
#define PIECES 6

static int ram[PARTS][PIECES];
static uint8_t tables[PARTS][PIECES];
static int want[PARTS][PIECES];
static int alive[PARTS], frozen[PARTS][PIECES];
static unsigned nparts, taken[PARTS][PIECES], copies, placed_calls;

static uint8_t *t_table(void *ctx, unsigned i)
{
	return tables[i];
}

static void t_copy(void *ctx, unsigned to, unsigned from, uint64_t k)
{
	cr_assert(alive[from], "copied from partition %u, which is gone", from);
	cr_assert(tables[from][k] == 0, "copied piece %lu from %u, which does not hold it", k,
		  from);
	ram[to][k] = ram[from][k];
	copies++;
}

static void t_take(void *ctx, unsigned i, uint64_t k)
{
	cr_assert(!taken[i][k], "piece %lu of %u taken twice", k, i);
	taken[i][k] = 1;
}

static void t_give(void *ctx, unsigned i, uint64_t k)
{
	cr_assert(taken[i][k]);
	taken[i][k] = 0;
}

static void t_placed(void *ctx, unsigned i, uint64_t k)
{
	cr_assert(taken[i][k], "placed without holding the piece");
	placed_calls++;
}

static struct cow_ops ops(void)
{
	return (struct cow_ops){ t_table, t_copy, t_take, t_give, t_placed, nparts, NULL };
}

static void reset(void)
{
	memset(ram, 0, sizeof(ram));
	memset(tables, 0, sizeof(tables));
	memset(want, 0, sizeof(want));
	memset(alive, 0, sizeof(alive));
	memset(frozen, 0, sizeof(frozen));
	memset(taken, 0, sizeof(taken));
	nparts = 1;
	alive[0] = 1;
	copies = placed_calls = 0;
}

TestSuite(cow, .init = reset);

/* What partition i reads at piece k: where the books say it lies. */
static int read_piece(unsigned i, uint64_t k)
{
	return tables[i][k] ? ram[tables[i][k] - 1][k] : ram[i][k];
}

/* A write, as make_ready() then the guest do it: the piece taken, its content pulled in,
 * pushed out to those who read it here if it is write-protected, then written. */
static void write_piece(unsigned i, uint64_t k, int v)
{
	struct cow_ops o = ops();
	o.take(NULL, i, k);
	cow_pull(&o, i, k);
	if (frozen[i][k]) {
		cow_push(&o, i, k);
		frozen[i][k] = 0;
	}
	cr_assert(!cow_shared_out(&o, i, k), "written while partition %u reads it in place", i);
	ram[i][k] = v;
	want[i][k] = v;
	o.give(NULL, i, k);
}

/* A first touch that only reads (a clone's guest, or the service's window). */
static void touch_piece(unsigned i, uint64_t k)
{
	struct cow_ops o = ops();
	o.take(NULL, i, k);
	cow_pull(&o, i, k);
	o.give(NULL, i, k);
}

static int holds(void *ctx, uint64_t k)
{
	unsigned o = *(unsigned *)ctx;
	return ram[o][k] != 0 || frozen[o][k];
}

static void freeze(void *ctx, uint64_t k)
{
	frozen[*(unsigned *)ctx][k] = 1;
}

static unsigned clone_of(unsigned origin)
{
	cr_assert(nparts < PARTS);
	unsigned c = nparts++;
	alive[c] = 1;
	struct cow_ops o = ops();
	cow_share(&o, c, origin, PIECES, holds, freeze, &origin);
	memcpy(want[c], want[origin], sizeof(want[c]));
	return c;
}

static void destroy(unsigned i)
{
	struct cow_ops o = ops();
	cow_settle(&o, i, PIECES, 0);
	alive[i] = 0;
	memset(ram[i], 0x5a, sizeof(ram[i])); /* its RAM is anybody's now */
}

/* A restart: what others read here is pushed to them, then the RAM reads as zeros. */
static void restart(unsigned i)
{
	struct cow_ops o = ops();
	cow_settle(&o, i, PIECES, 0);
	memset(ram[i], 0, sizeof(ram[i]));
	memset(want[i], 0, sizeof(want[i]));
	memset(frozen[i], 0, sizeof(frozen[i]));
}

static void check_all(const char *after)
{
	for (unsigned i = 0; i < nparts; i++) {
		if (!alive[i])
			continue;
		for (uint64_t k = 0; k < PIECES; k++) {
			cr_assert_eq(read_piece(i, k), want[i][k],
				     "after %s: partition %u piece %lu reads %d, expected %d", after, i,
				     k, read_piece(i, k), want[i][k]);
			unsigned s = tables[i][k];
			if (s) {
				cr_assert(s - 1 < i, "partition %u reads from a newer one (%u)", i, s - 1);
				cr_assert(alive[s - 1], "partition %u reads from %u, which is gone", i,
					  s - 1);
				cr_assert_eq(tables[s - 1][k], 0, "partition %u reads piece %lu from %u, "
					     "which does not hold it itself", i, k, s - 1);
				cr_assert(frozen[s - 1][k], "the piece %u reads in place is writable", i);
			}
			cr_assert(!taken[i][k]);
		}
	}
}

Test(cow, a_clone_reads_its_origin_until_either_writes)
{
	write_piece(0, 1, 11);
	write_piece(0, 3, 33);
	unsigned c = clone_of(0);
	cr_assert_eq(tables[c][1], 1);
	cr_assert_eq(tables[c][0], 0, "a piece the origin never held reads as zeros");
	cr_assert(frozen[0][1] && frozen[0][3] && !frozen[0][0]);
	check_all("the clone");
	cr_assert_eq(copies, 0, "a clone copies nothing at first");

	write_piece(0, 1, 12); /* the origin's write pushes the old content to the clone */
	cr_assert_eq(copies, 1);
	cr_assert_eq(placed_calls, 1);
	cr_assert_eq(tables[c][1], 0);
	check_all("the origin's write");

	write_piece(c, 3, 34); /* the clone's write pulls first, then writes its own */
	cr_assert_eq(copies, 2);
	check_all("the clone's write");
	cr_assert_eq(read_piece(0, 3), 33, "the origin does not see the clone's write");

	struct cow_ops o = ops();
	cr_assert_eq(cow_shared_in(&o, c, PIECES), 0);
	cr_assert(!cow_shared_out(&o, 0, 3));
}

Test(cow, a_clone_of_a_clone_reads_where_the_content_lies)
{
	write_piece(0, 2, 22);
	write_piece(0, 4, 44);
	unsigned c = clone_of(0);
	write_piece(c, 4, 45);
	unsigned g = clone_of(c);
	cr_assert_eq(tables[g][2], 1, "still in the first origin: read from there");
	cr_assert_eq(tables[g][4], c + 1, "the clone's own piece: read from the clone");
	check_all("the clone of the clone");
	write_piece(0, 2, 23); /* pushed to both */
	cr_assert_eq(tables[c][2], 0);
	cr_assert_eq(tables[g][2], 0);
	check_all("the first origin's write");
	write_piece(c, 4, 46);
	check_all("the clone's write");
	cr_assert_eq(read_piece(g, 4), 45);
}

Test(cow, destroying_an_origin_hands_its_clones_their_copies)
{
	for (uint64_t k = 0; k < PIECES; k++)
		write_piece(0, k, 100 + (int)k);
	unsigned c = clone_of(0);
	unsigned g = clone_of(c);
	touch_piece(c, 1);
	destroy(c); /* g reads nothing from c: it reads from 0 */
	check_all("destroying the middle clone");
	destroy(0);
	check_all("destroying the first origin");
	struct cow_ops o = ops();
	cr_assert_eq(cow_shared_in(&o, g, PIECES), 0);
}

Test(cow, a_restore_settles_both_ways)
{
	write_piece(0, 0, 7);
	unsigned c = clone_of(0);
	write_piece(c, 5, 9);
	unsigned g = clone_of(c);
	struct cow_ops o = ops();
	cow_settle(&o, c, PIECES, 1); /* c is restored: it shares nothing any more */
	check_all("the settle");
	cr_assert_eq(cow_shared_in(&o, c, PIECES), 0);
	for (uint64_t k = 0; k < PIECES; k++)
		cr_assert(!cow_shared_out(&o, c, k));
	cr_assert_eq(tables[g][0], 1, "g still reads piece 0 from partition 0");
}

Test(cow, random_orders)
{
	srand(12345);
	for (unsigned round = 0; round < 300; round++) {
		reset();
		for (unsigned step = 0; step < 60; step++) {
			unsigned i = (unsigned)rand() % nparts;
			uint64_t k = (uint64_t)rand() % PIECES;
			if (!alive[i])
				continue;
			switch (rand() % 10) {
			case 0:
				if (nparts < PARTS)
					clone_of(i);
				break;
			case 1:
				if (i && rand() % 3 == 0)
					destroy(i);
				break;
			case 2:
				if (rand() % 4 == 0)
					restart(i);
				break;
			case 3: {
				struct cow_ops o = ops();
				cow_settle(&o, i, PIECES, 1);
				break;
			}
			case 4:
			case 5:
				touch_piece(i, k);
				break;
			default:
				write_piece(i, k, (int)(round * 1000 + step + 1));
				break;
			}
			check_all("a random step");
		}
	}
}
