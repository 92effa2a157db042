#include <string.h>
#include <mica/hypercall.h>
#include "kernel/fetch.h"
#include "kernel/gwalk.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"

static int read_gpa(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	const void *src = partition_guest_ptr(ctx, gpa, len);
	if (!src)
		return MICA_EFAULT;
	memcpy(buf, src, len);
	return 0;
}

void vcpu_walk_regs(struct vcpu *v, struct gwalk_regs *r, unsigned *code_bits)
{
	memset(r, 0, sizeof(*r));
	virt->get_paging(v, &r->cr0, &r->cr3, &r->cr4, &r->efer, code_bits);
	r->rflags = v->regs.rflags;
}

static unsigned fetch_access(struct vcpu *v)
{
	return GWALK_FETCH | (virt->guest_cpl(v) == 3 ? GWALK_USER : 0);
}

int vcpu_fetch(struct vcpu *v, const struct gwalk_regs *r, uint8_t *buf, unsigned *n,
	       char *err, unsigned errlen)
{
	uint64_t rip = v->regs.rip;
	unsigned first = 4096 - (unsigned)(rip & 4095), access = fetch_access(v);

	if (first > INSN_MAX)
		first = INSN_MAX;
	int rc = gwalk_read(r, rip, access, read_gpa, v->part, buf, first, err, errlen);
	if (rc)
		return rc;
	*n = first;
	/* The rest may lie on the next page, which need not be mapped if not needed. */
	if (first < INSN_MAX && !gwalk_read(r, rip + first, access, read_gpa, v->part,
					    buf + first, INSN_MAX - first, err, errlen))
		*n = INSN_MAX;
	return 0;
}

/* One instruction remembered per vCPU: a guest that loops on CPUID or a hypercall pays for
 * the walk once. It still holds while RIP, CR3 and the code mode are the same and the
 * bytes at the remembered host address are unchanged; a guest that remaps its code page
 * under the same CR3 without changing the old page's bytes could be given the old length,
 * as a stale TLB entry would give it the old instruction. */
unsigned vcpu_insn_len(struct vcpu *v, enum insn_kind kind, unsigned fallback)
{
	struct insn_memo *m = &v->insn_memo;
	struct gwalk_regs r;
	unsigned bits, n;
	uint8_t buf[INSN_MAX];
	char err[8];

	vcpu_walk_regs(v, &r, &bits);
	if (m->len && m->rip == v->regs.rip && m->cr3 == r.cr3 && m->bits == bits &&
	    m->kind == kind && !memcmp(m->host, m->bytes, m->len))
		return m->len;
	if (vcpu_fetch(v, &r, buf, &n, err, sizeof(err)))
		return fallback;
	unsigned len = insn_len(buf, n, bits, kind);
	if (!len)
		return 0;
	uint64_t gpa;
	m->len = 0;
	if ((v->regs.rip & 4095) + len <= 4096 &&
	    !gwalk(&r, v->regs.rip, fetch_access(v), read_gpa, v->part, &gpa, err, sizeof(err)) &&
	    (m->host = partition_guest_ptr(v->part, gpa, len))) {
		m->rip = v->regs.rip;
		m->cr3 = r.cr3;
		m->bits = (uint8_t)bits;
		m->kind = (uint8_t)kind;
		memcpy(m->bytes, buf, len);
		m->len = (uint8_t)len;
	}
	return len;
}
