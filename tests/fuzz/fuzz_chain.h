/* Shared by the virtio device harnesses (fuzz_vblk.c, fuzz_vnet.c, fuzz_vconsole.c): the
 * fake guest's layout (RAM bytes; queue q's descriptors at RING(q), its available and used
 * rings at AVAIL(q) and USED(q), QSIZE entries each), the driver's side of a queue that the
 * input fills with chains (fuzz_chain_publish, or its steps), and RAM helpers for checks. */
#ifndef MICA_TESTS_FUZZ_CHAIN_H
#define MICA_TESTS_FUZZ_CHAIN_H

#include "tests/fuzz/fuzz.h"
#include "lib/bytes.h"
#include "vmm/virtq.h"

#ifndef RAM /* a harness may take less: every step copies and compares all of it */
#define RAM             (64u << 10)
#endif
#define QSIZE           16u
#define RING(q)         (0x400u * (q))
#define AVAIL(q)        (RING(q) + 0x100u)
#define USED(q)         (RING(q) + 0x200u)
#define USED_LEN        (6u + 8u * QSIZE)
#define USED_ELEM(q, i) (USED(q) + 4u + 8u * ((i) % QSIZE)) /* its entry for used index i */
#define CHAIN_MAX       8u

/* The driver's side of queue q of the guest at ram: the descriptor flags the input may set
 * (a mask), the next descriptor slot it writes and its available index. */
struct fuzz_drv {
	uint8_t *ram;
	unsigned q, flags;
	uint16_t slot, idx;
};

/* A chain as the input gives it. */
struct fuzz_chain {
	unsigned n;
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		uint8_t next;
	} d[CHAIN_MAX];
};

/* The input's next chain: n (1-8), then per descriptor le16 address, le16 length, flags
 * (those v allows), next (0: the following slot, 0xff: past the table). */
static inline void fuzz_chain_take(const struct fuzz_drv *v, struct fuzz_chain *ch,
				   struct fuzz_in *in)
{
	ch->n = 1 + fuzz_take(in, 1) % CHAIN_MAX;
	for (unsigned i = 0; i < ch->n; i++) {
		/* Mostly inside RAM, a fifth of the range past it (with 64 KiB: any le16). */
		ch->d[i].addr = fuzz_take(in, 2) % (RAM + RAM / 4);
		ch->d[i].len = (uint32_t)fuzz_take(in, 2);
		ch->d[i].flags = fuzz_take(in, 1) & v->flags;
		ch->d[i].next = (uint8_t)fuzz_take(in, 1);
	}
}

/* len bytes of pl into the chain's first buffer, cut at the end of RAM. */
static inline void fuzz_chain_fill(const struct fuzz_drv *v, const struct fuzz_chain *ch,
				   const uint8_t *pl, size_t len)
{
	uint64_t at = ch->d[0].addr;

	if (len)
		memcpy(v->ram + at, pl, len < RAM - at ? len : RAM - at);
}

/* The chain's descriptors from v->slot on, and its head in the available ring at v->idx;
 * the available index is left to fuzz_chain_offer. */
static inline void fuzz_chain_write(struct fuzz_drv *v, const struct fuzz_chain *ch)
{
	uint16_t head = v->slot;

	for (unsigned i = 0; i < ch->n; i++, v->slot = (v->slot + 1) % QSIZE) {
		uint8_t *e = v->ram + RING(v->q) + 16 * v->slot;
		unsigned nb = ch->d[i].next;
		put64(e, ch->d[i].addr);
		put32(e + 8, ch->d[i].len);
		put16(e + 12, ch->d[i].flags);
		put16(e + 14, nb == 0xff ? QSIZE : (v->slot + 1 + nb) % QSIZE);
	}
	put16(v->ram + AVAIL(v->q) + 4 + 2 * (v->idx % QSIZE), head);
}

/* The next available index: the device may take what fuzz_chain_write put in the ring. */
static inline void fuzz_chain_offer(struct fuzz_drv *v)
{
	put16(v->ram + AVAIL(v->q) + 2, ++v->idx);
}

/* The input's next chain on v, then len bytes of pl into its first buffer (which may cover
 * the rings), then the available index. */
static inline void fuzz_chain_publish(struct fuzz_drv *v, struct fuzz_in *in,
				      const uint8_t *pl, size_t len)
{
	struct fuzz_chain ch;

	fuzz_chain_take(v, &ch, in);
	fuzz_chain_write(v, &ch);
	fuzz_chain_fill(v, &ch, pl, len);
	fuzz_chain_offer(v);
}

/* A fresh guest in ram: 0 below 0x1000 (the rings), a pattern of odd bytes above. */
static inline void fuzz_ram_fresh(uint8_t *ram)
{
	static uint8_t fresh[RAM];

	if (!fresh[RAM - 1])
		for (size_t i = 0x1000; i < RAM; i++)
			fresh[i] = (uint8_t)(i * 13 + 7) | 1;
	memcpy(ram, fresh, RAM);
}

/* Byte off of ch's writable part is at this guest address (RAM past its end). */
static inline uint64_t fuzz_chain_wgpa(const struct vq_chain *ch, uint64_t off)
{
	for (unsigned i = ch->nread; i < ch->nsegs; off -= ch->seg[i++].len)
		if (off < ch->seg[i].len)
			return ch->seg[i].gpa + off;
	return RAM;
}

/* The first index from i on where a and b differ, or RAM: equal 256-byte blocks skipped. */
static inline size_t fuzz_ram_diff(const uint8_t *a, const uint8_t *b, size_t i)
{
	for (; i < RAM; i++) {
		if (i % 256 == 0 && !memcmp(a + i, b + i, 256))
			i += 255;
		else if (a[i] != b[i])
			return i;
	}
	return RAM;
}

#endif
