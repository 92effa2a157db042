/* The NVMe controller (vmm/nvme.h): registers, the admin and I/O queues, and commands
 * waited for by polling. Facts from NVM Express Base 1.4: registers (3.1), queue entries
 * (4.2, 4.6), Identify (5.15), Create I/O queues (5.3, 5.4), the NVM command set's Read,
 * Write and Flush. */
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "vmm/nvme.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

typedef unsigned long long ull;

/* Controller registers */
#define REG_CAP  0x00
#define REG_VS   0x08
#define REG_CC   0x14
#define REG_CSTS 0x1C
#define REG_AQA  0x24
#define REG_ASQ  0x28
#define REG_ACQ  0x30
#define REG_DB   0x1000

#define CC_EN        (1u << 0)
#define CC_IOSQES    (6u << 16) /* 64-byte submission entries */
#define CC_IOCQES    (4u << 20) /* 16-byte completion entries */
#define CSTS_RDY     (1u << 0)
#define CSTS_CFS     (1u << 1)

/* Opcodes */
#define ADM_CREATE_SQ 0x01
#define ADM_CREATE_CQ 0x05
#define ADM_IDENTIFY  0x06
#define ADM_SET_FEAT  0x09
#define IO_FLUSH      0x00
#define IO_WRITE      0x01
#define IO_READ       0x02
#define FEAT_NQUEUES  0x07

#define QSIZE        64u      /* entries in every queue: one command is ever in flight */
#define CMD_MS       10000u   /* a command answers within 10 s or the controller is reset */
#define ERRORS_SAID  8u       /* failed commands logged; then one line says no more */

/* Queue memory, the Identify buffer and a PRP list: the service's own RAM, identity
 * mapped, so these addresses are the bus addresses the device uses. */
static uint8_t admin_sq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t admin_cq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t io_sq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t io_cq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t ident[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint64_t prp_list[NVME_PAGE / 8] __attribute__((aligned(NVME_PAGE)));

static uint32_t r32(const struct nvme *n, unsigned reg)
{
	return *(volatile uint32_t *)(n->regs + reg);
}

static uint64_t r64(const struct nvme *n, unsigned reg)
{
	return r32(n, reg) | (uint64_t)r32(n, reg + 4) << 32;
}

static void w32(const struct nvme *n, unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(n->regs + reg) = v;
}

static void w64(const struct nvme *n, unsigned reg, uint64_t v)
{
	w32(n, reg, (uint32_t)v);
	w32(n, reg + 4, (uint32_t)(v >> 32));
}

static uint64_t ms_to_tsc(uint64_t ms)
{
	return ms * rt_tsc_khz();
}

/* Waits up to ms for CSTS.RDY to be ready (1 or 0): 0, or -1 after saying why. */
static int wait_ready(struct nvme *n, unsigned ready, const char *doing)
{
	uint64_t end = rdtsc() + ms_to_tsc(n->timeout_ms);

	for (;;) {
		uint32_t csts = r32(n, REG_CSTS);
		if (csts == 0xFFFFFFFFu) {
			say("%s: %s: the controller's registers read as all ones (gone from the "
			    "bus?)", n->where, doing);
			return -1;
		}
		if ((csts & CSTS_CFS) && ready) {
			say("%s: %s: the controller reports a fatal status (CSTS 0x%x)", n->where,
			    doing, csts);
			return -1;
		}
		if ((csts & CSTS_RDY) == (ready ? CSTS_RDY : 0))
			return 0;
		if (rdtsc() > end) {
			say("%s: %s: not %s after %u ms (CSTS 0x%x)", n->where, doing,
			    ready ? "ready" : "stopped", n->timeout_ms, csts);
			return -1;
		}
		__builtin_ia32_pause();
	}
}

static void queue_init(struct nvme_queue *q, uint16_t qid, uint8_t *sq, uint8_t *cq)
{
	memset(sq, 0, NVME_PAGE);
	memset(cq, 0, NVME_PAGE);
	*q = (struct nvme_queue){ .sq = sq, .cq = cq, .qid = qid, .size = QSIZE, .phase = 1 };
}

static void doorbell(const struct nvme *n, unsigned index, uint32_t v)
{
	w32(n, REG_DB + index * n->dstrd, v);
}

/* A command: opcode, namespace, PRPs and CDW10-15. */
struct cmd {
	uint8_t opcode;
	uint32_t nsid;
	uint64_t prp1, prp2;
	uint32_t cdw[6];
};

/* Submits c on q and waits for its completion: 0, or -1 after saying why (what: the
 * command in words). *dw0: the completion's command-specific word. */
static int run(struct nvme *n, struct nvme_queue *q, const struct cmd *c, const char *what,
	       uint32_t *dw0)
{
	uint16_t cid = ++n->cid;
	uint8_t *e = q->sq + (unsigned)q->sq_tail * 64;

	if (n->dead)
		return -1;
	memset(e, 0, 64);
	put32(e, c->opcode | (uint32_t)cid << 16);
	put32(e + 4, c->nsid);
	put64(e + 24, c->prp1);
	put64(e + 32, c->prp2);
	for (int k = 0; k < 6; k++)
		put32(e + 40 + 4 * k, c->cdw[k]);
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->size);
	barrier(); /* the entry is in memory before the doorbell (x86 keeps stores in order) */
	doorbell(n, 2u * q->qid, q->sq_tail);

	uint64_t end = rdtsc() + ms_to_tsc(CMD_MS);
	for (unsigned spins = 0;; spins++) {
		volatile uint8_t *ce = q->cq + (unsigned)q->cq_head * 16;
		uint32_t dw3 = *(volatile uint32_t *)(ce + 12);
		if (((dw3 >> 16) & 1) == q->phase) {
			barrier();
			uint32_t d0 = *(volatile uint32_t *)ce;
			q->cq_head = (uint16_t)((q->cq_head + 1) % q->size);
			if (q->cq_head == 0)
				q->phase ^= 1;
			doorbell(n, 2u * q->qid + 1, q->cq_head);
			if ((dw3 & 0xFFFF) != cid) {
				say("%s: a completion for command %u came while waiting for %u; "
				    "ignored", n->where, dw3 & 0xFFFF, cid);
				continue;
			}
			unsigned sc = (dw3 >> 17) & 0xFF, sct = (dw3 >> 25) & 7;
			if (sc || sct) {
				if (n->errors_said < ERRORS_SAID)
					say("%s: %s failed: %s (status type %u, code 0x%02x)%s",
					    n->where, what, nvme_status_str(sct, sc), sct, sc,
					    ++n->errors_said == ERRORS_SAID
						    ? "; no more such lines" : "");
				return -1;
			}
			if (dw0)
				*dw0 = d0;
			return 0;
		}
		if ((spins & 1023) == 0) {
			uint32_t csts = r32(n, REG_CSTS);
			if (csts == 0xFFFFFFFFu || (csts & CSTS_CFS)) {
				say("%s: %s: the controller reports a fatal status (CSTS 0x%x); "
				    "the disk is given up until the service restarts", n->where, what,
				    csts);
				n->dead = 1;
				return -1;
			}
		}
		if (rdtsc() > end) {
			say("%s: %s got no answer in %u s; the disk is given up until the service "
			    "restarts", n->where, what, CMD_MS / 1000);
			n->dead = 1;
			return -1;
		}
		__builtin_ia32_pause();
	}
}

static void copy_text(char *dst, const uint8_t *src, unsigned len)
{
	unsigned k = 0;

	for (; k < len && src[k] >= 0x20 && src[k] < 0x7F; k++)
		dst[k] = (char)src[k];
	while (k > 0 && dst[k - 1] == ' ')
		k--; /* Identify pads with spaces */
	dst[k] = '\0';
}

/* Identify controller and namespace 1. */
static int identify(struct nvme *n, unsigned mpsmin_shift)
{
	struct cmd c = { .opcode = ADM_IDENTIFY, .prp1 = (uintptr_t)ident };

	c.cdw[0] = 1; /* CNS 1: the controller */
	if (run(n, &n->admin, &c, "Identify controller", NULL))
		return -1;
	copy_text(n->serial, ident + 4, 20);
	copy_text(n->model, ident + 24, 40);
	unsigned mdts = ident[77];
	n->vwc = ident[525] & 1;
	uint32_t nn = rd32(ident + 516);
	uint64_t max = NVME_PAGE * (NVME_PAGE / 8); /* what one PRP list page reaches */
	if (mdts && mdts + mpsmin_shift < 32 && (1ull << (mdts + mpsmin_shift)) < max)
		max = 1ull << (mdts + mpsmin_shift);
	n->max_bytes = (uint32_t)max;
	if (nn < 1) {
		say("%s: the controller has no namespaces", n->where);
		return -1;
	}

	c.cdw[0] = 0; /* CNS 0: namespace nsid */
	c.nsid = 1;
	if (run(n, &n->admin, &c, "Identify namespace 1", NULL))
		return -1;
	n->blocks = rd64(ident + 0);
	unsigned fmt = ident[26] & 0xF;
	uint32_t lbaf = rd32(ident + 128 + 4 * fmt);
	unsigned ms = lbaf & 0xFFFF, lbads = (lbaf >> 16) & 0xFF;
	if (n->blocks == 0) {
		say("%s: namespace 1 is not active (size 0)", n->where);
		return -1;
	}
	if ((lbads != 9 && lbads != 12) || ms) {
		say("%s: namespace 1 has blocks of 2^%u bytes with %u bytes of metadata; Mica "
		    "serves 512 or 4096 without metadata (reformat it, e.g. nvme format -l)",
		    n->where, lbads, ms);
		return -1;
	}
	n->block = 1u << lbads;
	return 0;
}

static int create_queues(struct nvme *n)
{
	struct cmd c = { .opcode = ADM_SET_FEAT };

	c.cdw[0] = FEAT_NQUEUES;
	c.cdw[1] = 0; /* one submission and one completion queue (0-based counts) */
	if (run(n, &n->admin, &c, "Set Features (number of queues)", NULL))
		return -1;
	queue_init(&n->io, 1, io_sq, io_cq);
	c = (struct cmd){ .opcode = ADM_CREATE_CQ, .prp1 = (uintptr_t)io_cq };
	c.cdw[0] = 1u | (uint32_t)(QSIZE - 1) << 16;
	c.cdw[1] = 1u; /* physically contiguous, no interrupts: we poll */
	if (run(n, &n->admin, &c, "Create I/O completion queue", NULL))
		return -1;
	c = (struct cmd){ .opcode = ADM_CREATE_SQ, .prp1 = (uintptr_t)io_sq };
	c.cdw[0] = 1u | (uint32_t)(QSIZE - 1) << 16;
	c.cdw[1] = 1u | 1u << 16; /* physically contiguous, completions to queue 1 */
	return run(n, &n->admin, &c, "Create I/O submission queue", NULL);
}

int nvme_init(struct nvme *n, volatile uint8_t *regs, const char *where)
{
	memset(n, 0, sizeof(*n));
	n->regs = regs;
	snprintf(n->where, sizeof(n->where), "%s", where);
	uint64_t cap = r64(n, REG_CAP);
	uint32_t vs = r32(n, REG_VS);
	if (cap == ~0ull) {
		say("%s: its registers read as all ones: no controller answers at BAR0", where);
		return -1;
	}
	n->dstrd = 4u << ((cap >> 32) & 0xF);
	n->timeout_ms = (uint32_t)((cap >> 24) & 0xFF) * 500;
	if (n->timeout_ms == 0)
		n->timeout_ms = 500;
	unsigned mpsmin = (unsigned)(cap >> 48) & 0xF;
	if (!((cap >> 37) & 1) || mpsmin != 0) {
		say("%s: the controller lacks the NVM command set or 4 KiB pages (CAP 0x%llx)",
		    where, (ull)cap);
		return -1;
	}
	if ((cap & 0xFFFF) + 1 < QSIZE) {
		say("%s: its queues hold %u entries; Mica needs %u", where,
		    (unsigned)(cap & 0xFFFF) + 1, QSIZE);
		return -1;
	}
	/* Reset: disable (a controller the firmware or an earlier service left running). */
	if (r32(n, REG_CC) & CC_EN) {
		w32(n, REG_CC, r32(n, REG_CC) & ~CC_EN);
		if (wait_ready(n, 0, "reset"))
			return -1;
	} else if (wait_ready(n, 0, "reset")) {
		return -1;
	}
	queue_init(&n->admin, 0, admin_sq, admin_cq);
	w32(n, REG_AQA, (QSIZE - 1) << 16 | (QSIZE - 1));
	w64(n, REG_ASQ, (uintptr_t)admin_sq);
	w64(n, REG_ACQ, (uintptr_t)admin_cq);
	w32(n, REG_CC, CC_IOCQES | CC_IOSQES | CC_EN); /* NVM command set, 4 KiB pages */
	if (wait_ready(n, 1, "enable") || identify(n, 12 + mpsmin) || create_queues(n))
		return -1;
	say("%s: %s (serial %s), NVMe %u.%u: namespace 1 has %llu blocks of %u bytes (%llu MiB), "
	    "%s write cache, %u KiB per command", where, n->model[0] ? n->model : "?",
	    n->serial[0] ? n->serial : "?", vs >> 16, (vs >> 8) & 0xFF, (ull)n->blocks, n->block,
	    (ull)(n->blocks * n->block >> 20), n->vwc ? "a volatile" : "no", n->max_bytes >> 10);
	return 0;
}

int nvme_rw(struct nvme *n, int write, uint64_t lba, uint64_t count, void *buf)
{
	uint8_t *p = buf;
	uint64_t per = n->max_bytes / n->block;
	char what[80];

	while (count) {
		uint64_t k = count < per ? count : per;
		struct cmd c = { .opcode = write ? IO_WRITE : IO_READ, .nsid = 1 };
		if (nvme_prp((uintptr_t)p, k * n->block, prp_list, (uintptr_t)prp_list, &c.prp1,
			     &c.prp2)) {
			say("%s: a transfer of %llu bytes needs more than one PRP list", n->where,
			    (ull)(k * n->block));
			return -1;
		}
		c.cdw[0] = (uint32_t)lba;
		c.cdw[1] = (uint32_t)(lba >> 32);
		c.cdw[2] = (uint32_t)(k - 1); /* 0-based block count */
		snprintf(what, sizeof(what), "%s of %llu blocks at LBA %llu",
			 write ? "write" : "read", (ull)k, (ull)lba);
		if (run(n, &n->io, &c, what, NULL))
			return -1;
		lba += k;
		count -= k;
		p += k * n->block;
	}
	return 0;
}

int nvme_flush(struct nvme *n)
{
	struct cmd c = { .opcode = IO_FLUSH, .nsid = 1 };

	return run(n, &n->io, &c, "flush", NULL);
}
