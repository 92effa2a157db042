/* vmm/virtq.c's vq_resume(): a queue set up again after its partition was restored from a
 * snapshot takes up at the used ring's index (docs/snapshots.md). */
#include <criterion/criterion.h>
#include <string.h>

#include <mica/hypercall.h>
#include "vmm/virtq.h"

#define RAM_SIZE 0x10000ull
#define DESC     0x1000ull
#define AVAIL    0x2000ull
#define USED     0x3000ull
#define BUF      0x8000ull

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static const struct vq_mem mem = { ram, RAM_SIZE };
static const struct vq_config cfg = { .size = 16, .desc = DESC, .avail = AVAIL, .used = USED,
				      .max_bytes = 1 << 20 };

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram + gpa, 2);
	return v;
}

/* The driver makes n chains of one 100-byte buffer available (heads 0 .. n-1). */
static void offer(unsigned n)
{
	for (uint16_t i = 0; i < n; i++) {
		uint64_t addr = BUF + 0x100ull * i;
		uint32_t len = 100;
		memcpy(ram + DESC + 16ull * i, &addr, 8);
		memcpy(ram + DESC + 16ull * i + 8, &len, 4);
		memcpy(ram + AVAIL + 4 + 2ull * i, &i, 2);
	}
	memcpy(ram + AVAIL + 2, &(uint16_t){ (uint16_t)n }, 2);
}

static int take(struct vq *q, struct vq_chain *c)
{
	char err[128];
	return vq_next(q, &mem, c, err, sizeof(err));
}

Test(virtq_resume, takes_up_at_the_used_index)
{
	struct vq q, none = { 0 };
	struct vq_chain c;
	char err[128];

	memset(ram, 0, sizeof(ram));
	cr_expect_eq(vq_resume(&none, &mem), MICA_EINVAL, "a queue not set up");
	cr_assert_eq(vq_setup(&q, &mem, &cfg, err, sizeof(err)), 0, "%s", err);
	offer(3);
	cr_assert_eq(take(&q, &c), 1);
	cr_assert_eq(vq_push(&q, &mem, c.head, 0), 0);
	cr_assert_eq(take(&q, &c), 1); /* taken, not answered: a restore replays it */
	/* the restore: set up again, then resumed */
	cr_assert_eq(vq_setup(&q, &mem, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vq_resume(&q, &mem), 0);
	cr_expect(q.last_avail_idx == 1 && q.used_idx == 1);
	cr_assert_eq(take(&q, &c), 1);
	cr_expect_eq(c.head, 1, "the unanswered chain again");
	cr_assert_eq(take(&q, &c), 1);
	cr_expect_eq(c.head, 2);
	cr_expect_eq(take(&q, &c), 0, "nothing more");
	cr_assert_eq(vq_push(&q, &mem, 1, 0), 0);
	cr_expect_eq(rd16(USED + 2), 2, "the used index goes on from the ring's");
}
