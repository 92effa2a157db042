#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/platform/pc.h"
#include "kernel/vcpu.h"

/* The local APIC timer's input clock as guests see it. Linux prefers the TSC-deadline
 * mode (advertised in CPUID) and calibrates this one only as a fallback. */
#define APIC_BUS_HZ 1000000000ULL

void irq_vcpu_reset(struct vcpu *v, int on, int ap)
{
	struct vcpu_irq *q = &v->irq;
	uint64_t f = spin_lock(&q->lock);
	q->on = on;
	vlapic_reset(&q->lapic, v->id, v->id == 0, arch_tsc_hz(), APIC_BUS_HZ);
	q->wait_sipi = on && ap;
	q->sipi_vector = -1;
	q->init = 0;
	q->pv_eoi = NULL;
	q->pv_eoi_msr = 0;
	q->pv_eoi_set = 0;
	q->pvclock = 0;
	spin_unlock(&q->lock, f);
}

/* KVM's PV EOI, the protocol Linux uses when the KVM-compatible CPUID leaf offers it
 * (0x40000101 here, KVM's 0x40000001 one range up: bit 6): before an entry where it is
 * allowed (vlapic_lazy_eoi_ok), Mica sets bit 0 of the guest's word; the
 * guest's EOI then clears the bit instead of writing the EOI register, which saves an exit
 * per interrupt. Before Mica next uses the APIC state of this vCPU (each exit while the bit
 * is out, with the vCPU's lock held), it looks: bit cleared, the guest ended the interrupt
 * and Mica does the EOI now; bit still set, Mica clears it and the guest will write the
 * EOI register as usual. Only this vCPU's CPU touches the word while the vCPU is out of
 * the guest, and the guest clears it with one instruction: no race.
 *
 * Mica writes the word through partition_guest_ptr() every time, never a pointer kept
 * from the enable: the piece of RAM it is in may have been write-protected for a
 * snapshot since (kernel/snapshot.h), and must be copied for the snapshot first. */
static uint32_t *pv_eoi_word(struct vcpu *v)
{
	uint32_t *w = partition_guest_ptr(v->part, v->irq.pv_eoi_msr & ~1ull, sizeof(*w));
	return w ? w : v->irq.pv_eoi; /* checked at the enable: always in its RAM */
}

static void pv_eoi_sync(struct vcpu *v)
{
	struct vcpu_irq *q = &v->irq;
	if (__builtin_expect(!q->pv_eoi_set, 1))
		return;
	q->pv_eoi_set = 0;
	uint32_t *word = pv_eoi_word(v);
	uint32_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
	if (w & 1)
		__atomic_store_n(word, w & ~1u, __ATOMIC_RELAXED);
	else
		vlapic_eoi(&q->lapic); /* edge-triggered only: nothing for the IOAPIC */
}

uint64_t irq_pv_eoi_msr(struct vcpu *v)
{
	return v->irq.pv_eoi_msr;
}

int irq_pv_eoi_enable(struct vcpu *v, uint64_t value)
{
	struct vcpu_irq *q = &v->irq;
	uint32_t *w = NULL;
	if (value & 1) {
		uint64_t gpa = value & ~1ull;
		if (gpa & 3)
			return MICA_EINVAL;
		w = partition_guest_ptr(v->part, gpa, sizeof(*w));
		if (!w)
			return MICA_EINVAL;
	}
	uint64_t f = spin_lock(&q->lock);
	pv_eoi_sync(v);
	q->pv_eoi = w;
	q->pv_eoi_msr = value;
	spin_unlock(&q->lock, f);
	return 0;
}

static void kick(struct vcpu *t)
{
	if (t->cpu != this_cpu())
		arch_kick_cpu(t->cpu);
}

static void post(struct vcpu *t, uint8_t vector, int level)
{
	uint64_t f = spin_lock(&t->irq.lock);
	vlapic_set_irq(&t->irq.lapic, vector, level);
	spin_unlock(&t->irq.lock, f);
	kick(t);
}

static void deliver_ipi(struct vcpu *src, const struct vlapic_ipi *ipi)
{
	struct partition *p = src->part;

	for (unsigned i = 0; i < p->nvcpus; i++) {
		struct vcpu *t = &p->vcpus[i];
		int hit;
		switch (ipi->shorthand) {
		case VLAPIC_SH_SELF: hit = t == src; break;
		case VLAPIC_SH_ALL: hit = 1; break;
		case VLAPIC_SH_OTHERS: hit = t != src; break;
		default: hit = vlapic_accepts(&t->irq.lapic, ipi->dest, ipi->logical); break;
		}
		if (!hit)
			continue;
		switch (ipi->mode) {
		case VLAPIC_DM_FIXED:
		case VLAPIC_DM_LOWEST:
			post(t, ipi->vector, 0);
			if (ipi->mode == VLAPIC_DM_LOWEST)
				return; /* one target is enough */
			break;
		case VLAPIC_DM_INIT:
			if (t != src && !t->irq.wait_sipi) {
				t->irq.init = 1;
				kick(t);
			}
			break;
		case VLAPIC_DM_STARTUP:
			if (t->irq.wait_sipi && t->irq.sipi_vector < 0) {
				__atomic_store_n(&t->irq.sipi_vector, ipi->vector, __ATOMIC_RELEASE);
				kick(t);
			}
			break;
		default:
			break; /* NMI/SMI to a guest: not modelled */
		}
	}
}

void irq_raise(struct vcpu *t, uint8_t vector)
{
	if (t->irq.on)
		post(t, vector, 0);
}

void irq_msi(struct partition *p, uint64_t addr, uint32_t data)
{
	/* An MSI is a write of data to 0xFEExxxxx: destination ID in address bits 19:12,
	 * destination mode (logical) in bit 2; vector and delivery mode in data bits 7:0 and
	 * 10:8 (Intel SDM vol. 3, 11.11). Anything else is not an interrupt: dropped. */
	if ((addr >> 20) != 0xfee)
		return;
	uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
	int logical = (int)(addr >> 2) & 1;
	unsigned mode = (data >> 8) & 7;
	if (mode != VLAPIC_DM_FIXED && mode != VLAPIC_DM_LOWEST)
		return;
	if ((data & 0xff) < 16)
		return; /* vectors 0-15 are illegal for interrupts (a local APIC drops them) */
	for (unsigned i = 0; i < p->nvcpus; i++) {
		struct vcpu *t = &p->vcpus[i];
		if (!t->irq.on || !vlapic_accepts(&t->irq.lapic, dest, logical))
			continue;
		post(t, (uint8_t)data, 0);
		if (mode == VLAPIC_DM_LOWEST)
			break;
	}
}

static void ioapic_deliver(struct partition *p, const struct vioapic_msg *m, int n)
{
	for (int k = 0; k < n; k++)
		for (unsigned i = 0; i < p->nvcpus; i++) {
			struct vcpu *t = &p->vcpus[i];
			if (!vlapic_accepts(&t->irq.lapic, m[k].dest, m[k].logical))
				continue;
			post(t, m[k].vector, m[k].level);
			if (m[k].mode == VLAPIC_DM_LOWEST)
				break;
		}
}

int irq_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	if (!v->irq.on)
		return MICA_ENOSYS;
	uint64_t f = spin_lock(&v->irq.lock);
	pv_eoi_sync(v);
	int rc = vlapic_rdmsr(&v->irq.lapic, msr, rdtsc(), val);
	spin_unlock(&v->irq.lock, f);
	return rc;
}

int irq_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct vlapic_ipi ipi;

	if (!v->irq.on)
		return MICA_ENOSYS;
	uint64_t f = spin_lock(&v->irq.lock);
	pv_eoi_sync(v);
	int rc = vlapic_wrmsr(&v->irq.lapic, msr, val, rdtsc(), &ipi);
	spin_unlock(&v->irq.lock, f);
	if (rc == VLAPIC_WR_IPI) {
		deliver_ipi(v, &ipi);
	} else if (rc == VLAPIC_WR_EOI) {
		struct vioapic_msg m[VIOAPIC_PINS];
		struct partition *p = v->part;
		uint64_t g = spin_lock(&p->ioapic_lock);
		int n = vioapic_eoi(&p->ioapic, ipi.vector, m);
		spin_unlock(&p->ioapic_lock, g);
		ioapic_deliver(p, m, n);
	}
	return rc < 0 ? rc : 0;
}

void irq_wait_sipi(struct vcpu *v)
{
	struct partition *p = v->part;
	unsigned g = v->generation;

	uint64_t f = spin_lock(&v->irq.lock);
	vlapic_reset(&v->irq.lapic, v->id, v->id == 0, arch_tsc_hz(), APIC_BUS_HZ);
	v->irq.init = 0;
	v->irq.wait_sipi = 1;
	spin_unlock(&v->irq.lock, f);

	irq_disable();
	while (__atomic_load_n(&v->irq.sipi_vector, __ATOMIC_ACQUIRE) < 0 &&
	       p->state == PART_RUNNING && p->generation == g)
		cpu_idle();
	irq_enable();
	if (p->state != PART_RUNNING || p->generation != g)
		return; /* stopping or restarting: partition_check() takes over */

	struct vcpu_boot_state st;
	memset(&st, 0, sizeof(st));
	st.mode = VCPU_MODE_REAL16;
	st.code_sel = (uint16_t)(v->irq.sipi_vector << 8);
	st.cs_base = (uint64_t)v->irq.sipi_vector << 12;
	st.cr0 = CR0_ET;
	virt->vcpu_reset(v, &st);
	v->irq.sipi_vector = -1;
	v->irq.wait_sipi = 0;
}

/* This CPU's timer to fire at next (0: not at all), unless it already will. Called with
 * interrupts off (under a vCPU's lock), so the timer's interrupt cannot slip in between. */
static void timer_sync(uint64_t next)
{
	struct pcpu *c = this_cpu();

	if (next != c->timer_armed) {
		arch_timer_arm(next);
		c->timer_armed = next;
	}
}

/* vCPU 0 keeps the time for its partition's clock interrupt (IRQ 8, q->rtc_deadline set by
 * platform/pc.c): raises it when due. Called without the vCPU's lock (the interrupt may be
 * for this vCPU), and only while a deadline is set: the exit path pays one load for it. */
static void __attribute__((noinline)) rtc_poll(struct vcpu *v)
{
	uint64_t now = rdtsc();
	if (now >= v->irq.rtc_deadline)
		pc_rtc_tick(v->part, now);
}

/* The CPU's timer: the local APIC's next deadline, or the clock's if that comes first. */
static inline uint64_t next_deadline(const struct vcpu_irq *q)
{
	uint64_t next = vlapic_timer_next(&q->lapic), rtc = q->rtc_deadline;
	if (__builtin_expect(rtc != 0, 0) && (!next || rtc < next))
		next = rtc;
	return next;
}

void irq_before_entry(struct vcpu *v)
{
	struct vcpu_irq *q = &v->irq;

	while (q->init || q->wait_sipi) {
		irq_wait_sipi(v);
		partition_check(v); /* parks while the partition stops or restarts */
	}
	if (__builtin_expect(q->rtc_deadline != 0, 0))
		rtc_poll(v);
	uint64_t f = spin_lock(&q->lock);
	pv_eoi_sync(v);
	vlapic_timer_update(&q->lapic, rdtsc());
	int vec = vlapic_highest_pending(&q->lapic);
	if (vec >= 0) {
		if (virt->irq_ready(v)) {
			virt->inject_irq(v, (uint8_t)vec);
			vlapic_accept(&q->lapic, (uint8_t)vec);
		} else {
			virt->irq_window(v, 1);
		}
	}
	if (q->pv_eoi && vlapic_lazy_eoi_ok(&q->lapic)) {
		uint32_t *word = pv_eoi_word(v);
		__atomic_store_n(word, *word | 1u, __ATOMIC_RELAXED);
		q->pv_eoi_set = 1;
	}
	timer_sync(next_deadline(q));
	spin_unlock(&q->lock, f);
}

void irq_halt(struct vcpu *v, int guest_if)
{
	struct vcpu_irq *q = &v->irq;
	struct partition *p = v->part;
	unsigned g = v->generation;

	irq_disable();
	for (;;) {
		if (p->state != PART_RUNNING || p->generation != g || q->init)
			break;
		if (q->rtc_deadline)
			rtc_poll(v);
		uint64_t f = spin_lock(&q->lock);
		pv_eoi_sync(v);
		vlapic_timer_update(&q->lapic, rdtsc());
		int pending = vlapic_highest_pending(&q->lapic) >= 0;
		if (!(pending && guest_if))
			timer_sync(next_deadline(q));
		spin_unlock(&q->lock, f);
		if (pending && guest_if)
			break;
		cpu_idle(); /* the host timer, a kick or any interrupt ends it */
	}
	kick_clear(v->cpu); /* the exit path looks at everything a kick can announce next */
	irq_enable();
}

void irq_line(struct partition *p, unsigned pin, int level)
{
	struct vioapic_msg m;
	uint64_t f = spin_lock(&p->ioapic_lock);
	int n = vioapic_set_irq(&p->ioapic, pin, level, &m);
	spin_unlock(&p->ioapic_lock, f);
	if (n > 0)
		ioapic_deliver(p, &m, 1);
}

uint32_t irq_ioapic_read(struct partition *p, uint64_t offset, unsigned size)
{
	uint64_t f = spin_lock(&p->ioapic_lock);
	uint32_t v = vioapic_read(&p->ioapic, offset, size);
	spin_unlock(&p->ioapic_lock, f);
	return v;
}

void irq_ioapic_write(struct partition *p, uint64_t offset, unsigned size, uint32_t val)
{
	struct vioapic_msg m[VIOAPIC_PINS];
	uint64_t f = spin_lock(&p->ioapic_lock);
	int n = vioapic_write(&p->ioapic, offset, size, val, m);
	spin_unlock(&p->ioapic_lock, f);
	ioapic_deliver(p, m, n);
}
