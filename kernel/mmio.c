#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/decode.h"
#include "kernel/gwalk.h"
#include "kernel/irq.h"
#include "kernel/mmio.h"
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

static int fetch(struct vcpu *v, const struct gwalk_regs *r, uint8_t *buf, unsigned *n,
		 char *err, unsigned errlen)
{
	uint64_t rip = v->regs.rip;
	unsigned first = 4096 - (unsigned)(rip & 4095);

	if (first > MMIO_INSN_MAX)
		first = MMIO_INSN_MAX;
	int rc = gwalk_read(r, rip, GWALK_FETCH, read_gpa, v->part, buf, first, err, errlen);
	if (rc)
		return rc;
	*n = first;
	/* The rest may lie on the next page, which need not be mapped if not needed. */
	if (first < MMIO_INSN_MAX && !gwalk_read(r, rip + first, GWALK_FETCH, read_gpa, v->part,
						 buf + first, MMIO_INSN_MAX - first, err, errlen))
		*n = MMIO_INSN_MAX;
	return 0;
}

int mmio_emulate(struct vcpu *v, const struct vm_exit *e, char *err, unsigned errlen)
{
	struct partition *p = v->part;
	uint64_t gpa = e->fault.gpa;

	if (!p->platform || gpa < VIOAPIC_BASE || gpa >= VIOAPIC_BASE + VIOAPIC_SIZE)
		return 0;

	struct gwalk_regs r = { 0 };
	unsigned bits, n = 0;
	uint8_t insn[MMIO_INSN_MAX];
	struct mmio_insn m;
	virt->get_paging(v, &r.cr0, &r.cr3, &r.cr4, &r.efer, &bits);
	r.rflags = v->regs.rflags;
	if (bits != 64) {
		snprintf(err, errlen, "IOAPIC access from %u-bit code is not emulated", bits);
		return MICA_EINVAL;
	}
	if (fetch(v, &r, insn, &n, err, errlen) ||
	    decode_mmio(insn, n, MMIO_MODE_64, &m, err, errlen))
		return MICA_EINVAL;

	uint64_t off = gpa - VIOAPIC_BASE;
	uint64_t *reg = &v->regs.gpr[m.reg];
	if (m.dir == MMIO_DIR_WRITE) {
		irq_ioapic_write(p, off, m.size, (uint32_t)mmio_operand(&m, *reg));
	} else {
		uint64_t data = irq_ioapic_read(p, off, m.size);
		if (m.dir == MMIO_DIR_READ && m.op == MMIO_OP_MOV) {
			*reg = mmio_load_result(&m, *reg, data);
		} else {
			uint64_t res = mmio_alu(&m, data, mmio_operand(&m, *reg), &v->regs.rflags);
			if (m.dir == MMIO_DIR_RMW)
				irq_ioapic_write(p, off, m.size, (uint32_t)res);
		}
	}
	v->regs.rip += m.len;
	return 1;
}
