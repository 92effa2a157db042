/* INS and OUTS (REP or not) on the ports Mica models, element by element through the
 * guest's own page tables (SDM vol. 2 "INS", "OUTS", "REP"): RCX, RSI/RDI and RIP end as
 * the CPU leaves them. A long REP is done in batches: RIP stays on the instruction until
 * the count reaches 0, so the guest re-executes it and goes on, as after an interrupt in
 * the middle of a REP on a CPU. Emulated in 64-bit code (flat segments, FS/GS bases from
 * the MSRs); elsewhere, and for an element (or the instruction) that does not translate,
 * the guest gets #GP, with a log line. */
#include <string.h>
#include "arch/x86/cpu.h"
#include "kernel/emul/fetch.h"
#include "kernel/emul/gwalk.h"
#include "kernel/emul/pio.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"

#define BATCH 128   /* elements per exit */
#define VEC_GP 13
#define RFLAGS_DF (1ULL << 10)

/* Copies len bytes between buf and guest-virtual gva, one byte's walk per page touched. */
static int copy_virt(struct vcpu *v, const struct gwalk_regs *r, uint64_t gva, uint8_t *buf,
		     unsigned len, int to_guest)
{
	unsigned access = (to_guest ? GWALK_WRITE : 0) | (virt->guest_cpl(v) == 3 ? GWALK_USER : 0);
	char err[8];

	while (len) {
		unsigned chunk = 4096 - (unsigned)(gva & 4095);
		uint64_t gpa;
		if (chunk > len)
			chunk = len;
		if (gwalk(r, gva, access, guest_read_gpa, v->part, &gpa, err, sizeof(err)))
			return -1;
		uint8_t *host = partition_guest_ptr(v->part, gpa, chunk);
		if (!host)
			return -1;
		if (to_guest)
			memcpy(host, buf, chunk);
		else
			memcpy(buf, host, chunk);
		gva += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static void refuse(struct vcpu *v, uint16_t port, const char *why)
{
	struct partition *p = v->part;
	if (p->gp_logged < 16) {
		p->gp_logged++;
		log_info("partition '%s': string I/O to port 0x%x gets #GP (RIP 0x%lx): %s",
			 p->name, port, v->regs.rip, why);
	}
	virt->inject_exception(v, VEC_GP, 1, 0);
}

void pio_string(struct vcpu *v, const struct vm_exit *e)
{
	struct partition *p = v->part;
	struct gwalk_regs r;
	unsigned bits, n, k = 0, size = e->io.size;
	uint8_t insn[INSN_MAX];
	char err[8];
	int addr32 = 0, rep = 0;
	uint32_t base_msr = 0;

	vcpu_walk_regs(v, &r, &bits);
	if (bits != 64) {
		refuse(v, e->io.port, "only 64-bit code is emulated");
		return;
	}
	if (vcpu_fetch(v, &r, bits, insn, &n, err, sizeof(err))) {
		refuse(v, e->io.port, "its code does not translate");
		return;
	}
	for (; k < n && insn_is_prefix(insn[k], bits); k++) {
		uint8_t b = insn[k];
		if (b == 0x67)
			addr32 = 1;
		else if (b == 0xf2 || b == 0xf3)
			rep = 1;
		else if (b == 0x64 || b == 0x65)
			base_msr = b == 0x64 ? MSR_FS_BASE : MSR_GS_BASE;
	}
	uint8_t op = k < n ? insn[k] : 0;
	if ((e->io.in && op != 0x6c && op != 0x6d) || (!e->io.in && op != 0x6e && op != 0x6f))
		return; /* not the instruction that exited any more: it runs again */
	unsigned len = k + 1;

	uint64_t *idx = &v->regs.gpr[e->io.in ? REG_RDI : REG_RSI];
	uint64_t *cnt = &v->regs.gpr[REG_RCX];
	uint64_t base = 0;
	if (!e->io.in && base_msr)
		virt->msr_read(v, base_msr, &base); /* INS always writes through ES (base 0) */
	uint64_t step = (v->regs.rflags & RFLAGS_DF) ? (uint64_t)0 - size : size;
	uint64_t count = rep ? (addr32 ? (uint32_t)*cnt : *cnt) : 1;
	unsigned gen = p->generation, restarts = p->restarts;

	for (unsigned i = 0; i < BATCH && count; i++, count--) {
		uint64_t la = base + (addr32 ? (uint32_t)*idx : *idx);
		uint8_t data[4] = { 0 };
		uint32_t val;
		if (e->io.in) {
			val = pio_access(v, e->io.port, size, 1, 0);
			if (p->generation != gen || p->restarts != restarts || p->state != PART_RUNNING)
				return; /* the access ended or restarted the partition */
			for (unsigned j = 0; j < size; j++)
				data[j] = (uint8_t)(val >> (8 * j));
			if (copy_virt(v, &r, la, data, size, 1)) {
				refuse(v, e->io.port, "its buffer does not translate");
				return;
			}
		} else {
			if (copy_virt(v, &r, la, data, size, 0)) {
				refuse(v, e->io.port, "its buffer does not translate");
				return;
			}
			val = data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			      (uint32_t)data[3] << 24;
			pio_access(v, e->io.port, size, 0, val);
			if (p->generation != gen || p->restarts != restarts || p->state != PART_RUNNING)
				return;
		}
		*idx = addr32 ? (uint32_t)(*idx + step) : *idx + step;
		if (rep)
			*cnt = addr32 ? (uint32_t)(*cnt - 1) : *cnt - 1;
	}
	if (!count)
		v->regs.rip += len;
}
