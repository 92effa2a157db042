#include <string.h>
#include <mica/hypercall.h>
#include "kernel/emul/fetch.h"
#include "kernel/emul/gwalk.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"

int guest_read_gpa(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	const void *src = partition_guest_ptr(ctx, gpa, len);
	if (!src)
		return MICA_EFAULT;
	memcpy(buf, src, len);
	return 0;
}

void vcpu_walk_regs(struct vcpu *v, struct gwalk_regs *r, unsigned *code_bits)
{
	*r = (struct gwalk_regs){ .rflags = v->regs.rflags };
	virt->get_paging(v, &r->cr0, &r->cr3, &r->cr4, &r->efer, code_bits);
}

static unsigned fetch_access(struct vcpu *v)
{
	return GWALK_FETCH | (virt->guest_cpl(v) == 3 ? GWALK_USER : 0);
}

uint64_t vcpu_rip_linear(struct vcpu *v, unsigned code_bits)
{
	if (code_bits == 64)
		return v->regs.rip;
	return (uint32_t)(virt->cs_base(v) + v->regs.rip);
}

int vcpu_fetch(struct vcpu *v, const struct gwalk_regs *r, unsigned code_bits, uint8_t *buf,
	       unsigned *n, char *err, unsigned errlen)
{
	uint64_t la = vcpu_rip_linear(v, code_bits);
	unsigned first = 4096 - (unsigned)(la & 4095), access = fetch_access(v);

	if (first > INSN_MAX)
		first = INSN_MAX;
	int rc = gwalk_read(r, la, access, guest_read_gpa, v->part, buf, first, err, errlen);
	if (rc)
		return rc;
	*n = first;
	/* The rest may lie on the next page, which need not be mapped if not needed. */
	if (first < INSN_MAX && !gwalk_read(r, la + first, access, guest_read_gpa, v->part,
					    buf + first, INSN_MAX - first, err, errlen))
		*n = INSN_MAX;
	return 0;
}

static int same_bytes(const struct insn_memo *m)
{
	for (unsigned i = 0; i < m->len; i++)
		if (m->host[i] != m->bytes[i])
			return 0;
	return 1;
}

static unsigned __attribute__((noinline)) decode_len(struct vcpu *v, struct insn_memo *m,
						     uint64_t la, enum insn_kind kind,
						     unsigned fallback)
{
	struct gwalk_regs r;
	unsigned bits, n;
	uint8_t buf[INSN_MAX];
	char err[8];
	uint64_t gpa;

	vcpu_walk_regs(v, &r, &bits);
	if (vcpu_fetch(v, &r, bits, buf, &n, err, sizeof(err)))
		return fallback;
	unsigned len = insn_len(buf, n, bits, kind);
	if (!len)
		return fallback; /* not that instruction (any more): as before decoding existed */
	m->len = 0;
	if ((la & 4095) + len <= 4096 &&
	    !gwalk(&r, la, fetch_access(v), guest_read_gpa, v->part, &gpa, err, sizeof(err)) &&
	    (m->host = partition_guest_ptr(v->part, gpa, len))) {
		m->la = la;
		m->cr3 = r.cr3;
		m->bits = (uint8_t)bits;
		m->kind = (uint8_t)kind;
		memcpy(m->bytes, buf, len);
		m->len = (uint8_t)len;
	}
	return len;
}

/* A few instructions remembered per vCPU (by linear address): a guest that loops on CPUID,
 * a hypercall, WRMSR or HLT pays for the walk once. One still holds while the address, CR3
 * and the code mode are the same and the bytes at the remembered host address are
 * unchanged; a guest that remaps its code page under the same CR3 without changing the
 * old page's bytes could be given the old length, as a stale TLB entry would give it the
 * old instruction. Only where the CPU does not report lengths (SVM without NRIPS). */
unsigned vcpu_insn_len(struct vcpu *v, enum insn_kind kind, unsigned fallback)
{
	uint64_t cr0, cr3, cr4, efer;
	unsigned bits;

	virt->get_paging(v, &cr0, &cr3, &cr4, &efer, &bits);
	uint64_t la = vcpu_rip_linear(v, bits);
	struct insn_memo *m = &v->insn_memo[(la ^ (la >> 5)) & (INSN_MEMOS - 1)];
	if (m->len && m->la == la && m->cr3 == cr3 && m->bits == bits && m->kind == kind &&
	    same_bytes(m))
		return m->len;
	return decode_len(v, m, la, kind, fallback);
}
