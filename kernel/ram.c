/* Partition RAM zeroed on first touch (kernel/ram.h). Two bitmaps per lazy partition, a
 * bit per 2 MiB piece: `ready` (zeroed and mapped: read without the lock, set with
 * release) and `busy` (a CPU is zeroing it now). Pieces are zeroed outside the lock, so
 * the vCPUs of a big guest clear different pieces at once; a CPU that wants a piece
 * another is clearing waits for it. */
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/config.h"
#include "kernel/cow.h"
#include "kernel/loader/guest_ram.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/ram.h"
#include "kernel/snapshot.h"
#include "kernel/virt.h"
#include "kernel/virtio/service.h"
#include "kernel/zero.h"

#define RWX (S2_READ | S2_WRITE | S2_EXEC)

static int test(const uint64_t *map, uint64_t k)
{
	return (__atomic_load_n(&map[k / 64], __ATOMIC_ACQUIRE) >> (k % 64)) & 1;
}

static void set(uint64_t *map, uint64_t k)
{
	__atomic_or_fetch(&map[k / 64], 1ULL << (k % 64), __ATOMIC_RELEASE);
}

static void clear(uint64_t *map, uint64_t k)
{
	__atomic_and_fetch(&map[k / 64], ~(1ULL << (k % 64)), __ATOMIC_RELEASE);
}

static uint64_t piece_size(const struct partition *p, uint64_t k)
{
	uint64_t off = k * RAM_PIECE;
	return p->ram_size - off < RAM_PIECE ? p->ram_size - off : RAM_PIECE;
}

static int map_piece(struct partition *p, uint64_t k)
{
	return partition_map(p, k * RAM_PIECE, p->ram_hpa + k * RAM_PIECE, piece_size(p, k), RWX);
}

/* Piece k out of p's stage-2 and the service's window; the CPUs forget it before their
 * next entry (partition_unmap). */
static int unmap_piece(struct partition *p, uint64_t k)
{
	int rc = partition_unmap(p, k * RAM_PIECE, piece_size(p, k));
	if (!rc && p->ram_window)
		rc = partition_unmap(service_part, p->ram_window + k * RAM_PIECE, piece_size(p, k));
	return rc;
}

static int map_window_piece(struct partition *p, uint64_t k);
static int src_of(const struct partition *p, uint64_t k);

/* Piece k mapped writable for p and its service, and ready; under p->ram_lock. */
static int map_ready(struct partition *p, uint64_t k)
{
	int rc = map_piece(p, k);
	if (!rc && p->ram_window)
		rc = map_window_piece(p, k);
	if (!rc)
		set(p->ram_ready, k);
	return rc;
}

int ram_lazy_for(const struct cfg_partition *cfg)
{
	return !cfg->npci;
}

int ram_init(struct partition *p)
{
	if (!p->ram_lazy)
		return partition_map(p, 0, p->ram_hpa, p->ram_size, RWX);
	p->ram_pieces = (p->ram_size + RAM_PIECE - 1) / RAM_PIECE;
	uint64_t words = (p->ram_pieces + 63) / 64;
	uint64_t pa = mem_alloc(3 * words * sizeof(uint64_t) + p->ram_pieces, sizeof(uint64_t));
	if (!pa)
		return MICA_EFAULT;
	p->ram_ready = phys_to_virt(pa);
	p->ram_busy = p->ram_ready + words;
	p->ram_frozen = p->ram_busy + words;
	p->ram_src = (uint8_t *)(p->ram_frozen + words);
	/* Each piece mapped once and taken out again: pt_unmap() keeps the tables, so the
	 * pieces' leaves have a place and mapping one later allocates nothing. */
	for (uint64_t k = 0; k < p->ram_pieces; k++) {
		int rc = map_piece(p, k);
		if (rc)
			return rc;
	}
	return partition_unmap(p, 0, p->ram_size);
}

void ram_fini(struct partition *p)
{
	if (!p->ram_ready)
		return;
	uint64_t words = (p->ram_pieces + 63) / 64;
	mem_free(virt_to_phys(p->ram_ready), 3 * words * sizeof(uint64_t) + p->ram_pieces);
	p->ram_ready = p->ram_busy = p->ram_frozen = NULL;
	p->ram_src = NULL;
}

/* Piece k in the service's window onto p (read/write, never executable), under
 * p->ram_lock: the service sees a piece once it is zeroed, never before. */
static int map_window_piece(struct partition *p, uint64_t k)
{
	return partition_map(service_part, p->ram_window + k * RAM_PIECE,
			     p->ram_hpa + k * RAM_PIECE, piece_size(p, k),
			     test(p->ram_frozen, k) ? S2_READ : S2_READ | S2_WRITE);
}

int ram_window_open(struct partition *p, uint64_t gpa)
{
	int rc = 0;
	uint64_t f = spin_lock(&p->ram_lock);
	if (!p->ram_window) {
		p->ram_window = gpa;
		for (uint64_t k = 0; k < p->ram_pieces && !rc; k++)
			if ((test(p->ram_ready, k) || test(p->ram_frozen, k)) && !src_of(p, k))
				rc = map_window_piece(p, k);
	}
	spin_unlock(&p->ram_lock, f);
	return rc;
}

void ram_window_close(struct partition *p)
{
	uint64_t f = spin_lock(&p->ram_lock);
	__atomic_store_n(&p->ram_window, 0, __ATOMIC_RELEASE);
	spin_unlock(&p->ram_lock, f);
}

/* Takes piece k of p for this CPU (its busy bit); waits while another CPU has it. */
static void piece_take(struct partition *p, uint64_t k)
{
	for (;;) {
		uint64_t f = spin_lock(&p->ram_lock);
		if (!test(p->ram_busy, k)) {
			set(p->ram_busy, k);
			spin_unlock(&p->ram_lock, f);
			return;
		}
		spin_unlock(&p->ram_lock, f);
		cpu_relax();
	}
}

static void piece_give(struct partition *p, uint64_t k)
{
	uint64_t f = spin_lock(&p->ram_lock);
	clear(p->ram_busy, k);
	spin_unlock(&p->ram_lock, f);
}

/* --- clones: RAM shared copy on write (kernel/cow.h keeps the books) --------------------- */

static uint8_t *cow_table(void *ctx, unsigned i)
{
	(void)ctx;
	return partitions[i].ram_src;
}

static void cow_copy(void *ctx, unsigned to, unsigned from, uint64_t k)
{
	(void)ctx;
	const struct partition *t = &partitions[to], *f = &partitions[from];
	memcpy(phys_to_virt(t->ram_hpa + k * RAM_PIECE), phys_to_virt(f->ram_hpa + k * RAM_PIECE),
	       piece_size(t, k));
}

static void cow_take(void *ctx, unsigned i, uint64_t k)
{
	(void)ctx;
	piece_take(&partitions[i], k);
}

static void cow_give(void *ctx, unsigned i, uint64_t k)
{
	(void)ctx;
	piece_give(&partitions[i], k);
}

/* Piece k mapped for p as it holds it now: writable and ready, or read-only while a
 * snapshot of p reads it in place. Under the piece (busy). */
static int map_held(struct partition *p, uint64_t k);

static void cow_placed(void *ctx, unsigned i, uint64_t k)
{
	(void)ctx;
	if (map_held(&partitions[i], k))
		log_info("partition '%s': cannot map its RAM at 0x%lx", partitions[i].name,
			 k * RAM_PIECE);
}

static struct cow_ops cow_ops(void)
{
	return (struct cow_ops){ cow_table, cow_copy, cow_take, cow_give, cow_placed,
				 __atomic_load_n(&npartitions, __ATOMIC_ACQUIRE), NULL };
}

static int src_of(const struct partition *p, uint64_t k)
{
	return p->ram_src ? __atomic_load_n(&p->ram_src[k], __ATOMIC_ACQUIRE) : 0;
}

static void pull(struct partition *p, uint64_t k)
{
	struct cow_ops o = cow_ops();
	cow_pull(&o, p->id, k);
}

static void push(struct partition *p, uint64_t k)
{
	struct cow_ops o = cow_ops();
	cow_push(&o, p->id, k);
}

static int shared_out(const struct partition *p, uint64_t k)
{
	struct cow_ops o = cow_ops();
	return cow_shared_out(&o, p->id, k);
}

/* Zeroes (or copies in, for a clone) and maps piece k unless it is ready; waits while
 * another CPU does. */
static int make_ready(struct partition *p, uint64_t k)
{
	piece_take(p, k);
	if (test(p->ram_ready, k)) { /* another CPU made it ready meanwhile */
		piece_give(p, k);
		return 0;
	}
	int had_src = src_of(p, k), frozen = test(p->ram_frozen, k), rc = 0;
	pull(p, k);
	if (frozen) {
		/* Written for the first time since a snapshot or a clone: the snapshots and
		 * clones that read it in place get their copy, then it is the partition's own
		 * again. */
		snapshot_unshare(p, k);
		push(p, k);
		rc = unmap_piece(p, k);
	} else if (!had_src) {
		zero_bytes(phys_to_virt(p->ram_hpa + k * RAM_PIECE), piece_size(p, k));
	}
	uint64_t f = spin_lock(&p->ram_lock);
	clear(p->ram_frozen, k);
	if (!rc)
		rc = map_ready(p, k);
	clear(p->ram_busy, k);
	spin_unlock(&p->ram_lock, f);
	if (rc)
		log_info("partition '%s': cannot map its RAM at 0x%lx (error %d)", p->name,
			 k * RAM_PIECE, rc);
	return rc;
}

int ram_touch(struct partition *p, uint64_t gpa, uint64_t len)
{
	if (!p->ram_lazy || !len)
		return 0;
	for (uint64_t k = gpa / RAM_PIECE, last = (gpa + len - 1) / RAM_PIECE;
	     k <= last && k < p->ram_pieces; k++)
		if (!test(p->ram_ready, k) && make_ready(p, k))
			return MICA_EFAULT;
	return 0;
}

/* vCPU v faulted on piece k of p (its own RAM, or the service's window onto p's). */
static int piece_fault(struct vcpu *v, struct partition *p, uint64_t k)
{
	if (!test(p->ram_ready, k))
		return make_ready(p, k) ? MICA_EFAULT : 1;
	/* Ready already: another CPU mapped it after this one faulted. Whatever this CPU may
	 * hold of the absent entry goes before the retry (as after partition_unmap). */
	__atomic_store_n(&v->s2_stale, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&this_cpu()->kick_pending, 1, __ATOMIC_SEQ_CST);
	return 1;
}

/* The service's stage-2 fault at gpa: inside its window onto a partition whose RAM is
 * zeroed on first touch, the piece is made ready (and so mapped into the window). */
static int window_fault(struct vcpu *v, uint64_t gpa)
{
	uint64_t first = MICA_SVC_RAM_WINDOW(0);
	if (gpa < first || gpa >= MICA_SVC_RAM_WINDOW(CFG_MAX_PARTS))
		return 0;
	uint64_t i = (gpa - first) / MICA_SVC_WINDOW_MAX, off = gpa - MICA_SVC_RAM_WINDOW(i);
	if (i >= npartitions)
		return 0;
	struct partition *p = &partitions[i];
	if (!p->ram_lazy || !__atomic_load_n(&p->ram_window, __ATOMIC_ACQUIRE) ||
	    off >= p->ram_size)
		return 0;
	return piece_fault(v, p, off / RAM_PIECE);
}

int ram_fault(struct vcpu *v, uint64_t gpa)
{
	struct partition *p = v->part;

	if (p == service_part && gpa >= p->ram_size)
		return window_fault(v, gpa);
	if (!p->ram_lazy || gpa >= p->ram_size)
		return 0;
	return piece_fault(v, p, gpa / RAM_PIECE);
}

void ram_reset(struct partition *p, int *zeroed)
{
	if (!p->ram_lazy) {
		if (!*zeroed)
			memset(phys_to_virt(p->ram_hpa), 0, p->ram_size);
		*zeroed = 0;
		return;
	}
	uint64_t words = (p->ram_pieces + 63) / 64;
	for (uint64_t k = 0; k < p->ram_pieces; k++) {
		if (!test(p->ram_frozen, k) && !src_of(p, k))
			continue;
		piece_take(p, k);
		if (test(p->ram_frozen, k)) {
			/* the snapshots and clones keep what is about to go */
			pull(p, k);
			snapshot_unshare(p, k);
			push(p, k);
			clear(p->ram_frozen, k);
		}
		if (p->ram_src)
			__atomic_store_n(&p->ram_src[k], 0, __ATOMIC_RELEASE); /* read as zero now */
		piece_give(p, k);
	}
	uint64_t f = spin_lock(&p->ram_lock);
	for (uint64_t w = 0; w < words; w++)
		while (__atomic_load_n(&p->ram_busy[w], __ATOMIC_ACQUIRE)) {
			/* a CPU is still clearing a piece (Mica on the guest's behalf) */
			spin_unlock(&p->ram_lock, f);
			cpu_relax();
			f = spin_lock(&p->ram_lock);
		}
	if (partition_unmap(p, 0, p->ram_size) ||
	    (p->ram_window && partition_unmap(service_part, p->ram_window, p->ram_size)))
		log_info("partition '%s': cannot take its RAM out of the stage-2 tables", p->name);
	memset(p->ram_ready, 0, words * sizeof(uint64_t));
	spin_unlock(&p->ram_lock, f);
	*zeroed = 0;
}

/* --- snapshots (kernel/snapshot.c): p's vCPUs are parked ---------------------------- */

int ram_piece_touched(struct partition *p, uint64_t k)
{
	return test(p->ram_ready, k) || test(p->ram_frozen, k) || src_of(p, k);
}

/* Piece k read-only in a stage-2 (unmapped and mapped again: pt_map() maps over nothing),
 * without the kicks of partition_unmap(): ram_freeze_done() asks for the flushes once. */
static int s2_read_only(struct partition *owner, uint64_t gpa, uint64_t hpa, uint64_t size,
			unsigned perm)
{
	int rc = virt->stage2_unmap(&owner->s2, gpa, size);
	return rc ? rc : virt->stage2_map(&owner->s2, gpa, hpa, size, perm);
}

/* Piece k read-only for p and its service, under p->ram_lock. */
static int map_read_only(struct partition *p, uint64_t k)
{
	uint64_t hpa = p->ram_hpa + k * RAM_PIECE, len = piece_size(p, k);
	int rc = s2_read_only(p, k * RAM_PIECE, hpa, len, S2_READ | S2_EXEC);
	if (!rc && p->ram_window)
		rc = s2_read_only(service_part, p->ram_window + k * RAM_PIECE, hpa, len, S2_READ);
	return rc;
}

static int map_held(struct partition *p, uint64_t k)
{
	uint64_t f = spin_lock(&p->ram_lock);
	int rc = test(p->ram_frozen, k) ? map_read_only(p, k) : map_ready(p, k);
	spin_unlock(&p->ram_lock, f);
	return rc;
}

int ram_freeze(struct partition *p, uint64_t k)
{
	if (test(p->ram_frozen, k))
		return 0;
	uint64_t f = spin_lock(&p->ram_lock);
	while (test(p->ram_busy, k)) { /* the service may be making it ready now */
		spin_unlock(&p->ram_lock, f);
		cpu_relax();
		f = spin_lock(&p->ram_lock);
	}
	clear(p->ram_ready, k);
	set(p->ram_frozen, k);
	/* A clone's piece still read from its origin is not mapped: its first touch copies
	 * it in, and a write then copies it out for the snapshot. */
	int rc = src_of(p, k) ? 0 : map_read_only(p, k);
	spin_unlock(&p->ram_lock, f);
	return rc;
}

void ram_freeze_done(struct partition *p)
{
	partition_s2_stale(p);
	if (p->ram_window)
		partition_s2_stale(service_part);
}

int ram_thaw(struct partition *p, uint64_t k)
{
	if (!test(p->ram_frozen, k) || shared_out(p, k))
		return 0; /* a clone reads it in place: it stays read-only until a write */
	uint64_t f = spin_lock(&p->ram_lock);
	clear(p->ram_frozen, k);
	int rc = src_of(p, k) ? 0 : unmap_piece(p, k);
	if (!rc && !src_of(p, k))
		rc = map_ready(p, k);
	spin_unlock(&p->ram_lock, f);
	return rc;
}

void ram_piece_absent(struct partition *p, uint64_t k)
{
	uint64_t f = spin_lock(&p->ram_lock);
	clear(p->ram_ready, k);
	clear(p->ram_frozen, k);
	if (unmap_piece(p, k))
		log_info("partition '%s': cannot take its RAM at 0x%lx out of the stage-2 tables",
			 p->name, k * RAM_PIECE);
	spin_unlock(&p->ram_lock, f);
}

/* Maps piece k as it is (a restore writes all of it next). */
static int map_dirty(struct partition *p, uint64_t k)
{
	uint64_t f = spin_lock(&p->ram_lock);
	int rc = map_ready(p, k);
	spin_unlock(&p->ram_lock, f);
	return rc;
}

void *ram_piece_writable(struct partition *p, uint64_t k)
{
	if (test(p->ram_frozen, k) ? ram_thaw(p, k) : !test(p->ram_ready, k) ? map_dirty(p, k) : 0)
		return NULL;
	return phys_to_virt(p->ram_hpa + k * RAM_PIECE);
}

/* --- clones (kernel/clone.c) ------------------------------------------------------------ */

static int origin_holds(void *ctx, uint64_t k)
{
	struct partition *o = ctx;
	return test(o->ram_ready, k) || test(o->ram_frozen, k);
}

static void origin_freeze(void *ctx, uint64_t k)
{
	struct partition *o = ctx;
	if (ram_freeze(o, k))
		log_info("partition '%s': cannot write-protect its RAM at 0x%lx", o->name,
			 k * RAM_PIECE);
}

uint64_t ram_share(struct partition *c, struct partition *o)
{
	struct cow_ops ops = cow_ops();
	uint64_t n = o->ram_pieces < c->ram_pieces ? o->ram_pieces : c->ram_pieces;
	uint64_t pieces = cow_share(&ops, c->id, o->id, n, origin_holds, origin_freeze, o);
	return pieces * RAM_PIECE < c->ram_size ? pieces * RAM_PIECE : c->ram_size;
}

void ram_settle(struct partition *p, int keep)
{
	if (!p->ram_lazy)
		return;
	struct cow_ops o = cow_ops();
	cow_settle(&o, p->id, p->ram_pieces, keep);
}

uint64_t ram_shared_bytes(const struct partition *p)
{
	struct cow_ops o = cow_ops();
	uint64_t n = cow_shared_in(&o, p->id, p->ram_pieces) * RAM_PIECE;
	return n < p->ram_size ? n : p->ram_size;
}

/* The loaders' announcement (kernel/loader/guest_ram.h): ram is a partition's RAM. */
void guest_ram_prepare(void *ram, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < CFG_MAX_PARTS; i++) {
		struct partition *p = &partitions[i];
		if (p->ram_hpa && phys_to_virt(p->ram_hpa) == ram) {
			if (len <= p->ram_size && gpa <= p->ram_size - len)
				ram_touch(p, gpa, len);
			return;
		}
	}
}
