/* vmm/virtq.c: the driver's rings and descriptors are hostile. The input gives the queue's
 * configuration and 64 KiB of guest RAM; every chain the device takes has at most
 * VQ_MAX_SEGS segments, readable ones first, lengths that add up and stay within
 * max_bytes, and every segment lies inside guest RAM (host pointer = base + gpa). The
 * used ring is pushed back so that the walk goes on; a broken queue stays broken. */
#include "tests/fuzz/fuzz.h"
#include "vmm/virtq.h"

#define RAM (64u << 10)

static uint8_t ram[RAM];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct vq_config cfg;
	cfg.size = 1u << (fuzz_take(&in, 1) % 9);
	cfg.desc = fuzz_take(&in, 2);
	cfg.avail = fuzz_take(&in, 2);
	cfg.used = fuzz_take(&in, 2);
	cfg.event_idx = (int)(fuzz_take(&in, 1) & 1);
	cfg.max_bytes = fuzz_take(&in, 3);
	memset(ram, 0, sizeof(ram));
	memcpy(ram, in.p, in.n < RAM ? in.n : RAM);

	const struct vq_mem m = { ram, RAM };
	struct vq q;
	static struct vq_chain c;
	char err[200];
	err[0] = 0;
	if (vq_setup(&q, &m, &cfg, err, sizeof(err))) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	for (unsigned round = 0; round < 2 * cfg.size + 2; round++) {
		int rc = vq_next(&q, &m, &c, err, sizeof(err));
		if (rc < 0) {
			fuzz_check_msg(err, sizeof(err));
			FUZZ_CHECK(vq_next(&q, &m, &c, err, sizeof(err)) < 0, "a broken queue went on");
			break;
		}
		if (rc == 0)
			break;
		FUZZ_CHECK(c.nsegs >= 1 && c.nsegs <= VQ_MAX_SEGS && c.nread <= c.nsegs,
			   "%u segments, %u readable", c.nsegs, c.nread);
		FUZZ_CHECK(c.head < cfg.size, "head %u of %u", c.head, cfg.size);
		uint64_t rd = 0, wr = 0;
		for (unsigned i = 0; i < c.nsegs; i++) {
			const struct vq_seg *s = &c.seg[i];
			FUZZ_CHECK(s->len && s->gpa < RAM && s->len <= RAM - s->gpa,
				   "segment %u [0x%llx, +0x%x) outside RAM", i,
				   (unsigned long long)s->gpa, s->len);
			FUZZ_CHECK(s->ptr == ram + s->gpa, "segment %u's host pointer", i);
			FUZZ_CHECK(s->writable == (i >= c.nread), "segment %u out of order", i);
			*(s->writable ? &wr : &rd) += s->len;
		}
		FUZZ_CHECK(rd == c.read_bytes && wr == c.write_bytes, "byte counts");
		FUZZ_CHECK(rd + wr <= cfg.max_bytes || !cfg.max_bytes, "chain of %llu bytes > %llu",
			   (unsigned long long)(rd + wr), (unsigned long long)cfg.max_bytes);
		vq_push(&q, &m, c.head, (uint32_t)(wr > 16 ? 16 : wr));
		vq_needs_notify(&q, &m);
	}
	return 0;
}
