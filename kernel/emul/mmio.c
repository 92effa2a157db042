#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/emul/decode.h"
#include "kernel/emul/fetch.h"
#include "kernel/emul/gwalk.h"
#include "kernel/emul/mmio.h"
#include "kernel/irq.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"
#include "kernel/vpci/bus.h"

/* The device a guest-physical address belongs to, for partition p. */
enum mmio_dev { MMIO_NONE, MMIO_IOAPIC, MMIO_PCI };

static enum mmio_dev claim(struct partition *p, uint64_t gpa)
{
	if (p->platform && gpa >= VIOAPIC_BASE && gpa < VIOAPIC_BASE + VIOAPIC_SIZE)
		return MMIO_IOAPIC;
	if (p->pci && vpci_mmio_claims(p->pci, gpa))
		return MMIO_PCI;
	return MMIO_NONE;
}

static uint64_t pci_access(struct partition *p, uint64_t gpa, unsigned size, uint64_t val,
			   int write)
{
	uint64_t f = spin_lock(&p->pci_lock);
	uint64_t out = vpci_mmio(p->pci, gpa, size, val, write);
	spin_unlock(&p->pci_lock, f);
	return out;
}

static uint64_t dev_read(struct vcpu *v, enum mmio_dev d, uint64_t gpa, unsigned size)
{
	if (d == MMIO_IOAPIC)
		return irq_ioapic_read(v->part, gpa - VIOAPIC_BASE, size);
	return pci_access(v->part, gpa, size, 0, 0);
}

static void dev_write(struct vcpu *v, enum mmio_dev d, uint64_t gpa, unsigned size, uint64_t val)
{
	if (d == MMIO_IOAPIC)
		irq_ioapic_write(v->part, gpa - VIOAPIC_BASE, size, (uint32_t)val);
	else
		pci_access(v->part, gpa, size, val, 1);
}

int mmio_emulate(struct vcpu *v, const struct vm_exit *e, char *err, unsigned errlen)
{
	struct partition *p = v->part;
	uint64_t gpa = e->fault.gpa;
	enum mmio_dev d = claim(p, gpa);

	if (d == MMIO_NONE)
		return 0;

	struct gwalk_regs r;
	unsigned bits, n = 0;
	uint8_t insn[INSN_MAX];
	struct mmio_insn m;
	vcpu_walk_regs(v, &r, &bits);
	if (bits != 64) {
		snprintf(err, errlen, "%s access from %u-bit code is not emulated",
			 d == MMIO_IOAPIC ? "IOAPIC" : "PCI", bits);
		return MICA_EINVAL;
	}
	if (vcpu_fetch(v, &r, bits, insn, &n, err, errlen) ||
	    decode_mmio(insn, n, MMIO_MODE_64, &m, err, errlen))
		return MICA_EINVAL;

	uint64_t *reg = &v->regs.gpr[m.reg];
	if (m.dir == MMIO_DIR_WRITE) {
		dev_write(v, d, gpa, m.size, mmio_operand(&m, *reg));
	} else {
		uint64_t data = dev_read(v, d, gpa, m.size);
		if (m.dir == MMIO_DIR_READ && m.op == MMIO_OP_MOV) {
			*reg = mmio_load_result(&m, *reg, data);
		} else {
			uint64_t res = mmio_alu(&m, data, mmio_operand(&m, *reg), &v->regs.rflags);
			if (m.dir == MMIO_DIR_RMW)
				dev_write(v, d, gpa, m.size, res);
		}
	}
	v->regs.rip += m.len;
	return 1;
}
