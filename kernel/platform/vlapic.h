/* Virtual local APIC, x2APIC mode only: the register-level logic behind MSRs 0x800-0x8FF,
 * IA32_APIC_BASE and IA32_TSC_DEADLINE (Intel SDM vol. 3A ch. 10/11, "Advanced Programmable
 * Interrupt Controller"). Pure logic (host unit tested): no hardware access, no locks, no
 * clock of its own. The caller owns one struct vlapic per vCPU, serialises every call on it,
 * passes the guest's current TSC, and does the delivery: IPIs, injection, host timers.
 *
 * Caller's loop, in short:
 *  - APIC MSR exits go to vlapic_rdmsr()/vlapic_wrmsr(); MICA_EINVAL means inject #GP.
 *    After any handled write, re-check vlapic_highest_pending() (TPR/EOI/self-IPI) and
 *    vlapic_timer_next() (reprogram the host timer).
 *  - Before entering the guest: vlapic_timer_update(now); v = vlapic_highest_pending();
 *    if v >= 0 and the guest can take it, inject v and call vlapic_accept(v).
 *  - NMI, INIT and STARTUP never touch this state: the caller handles them on the vCPU. */
#ifndef MICA_PLATFORM_VLAPIC_H
#define MICA_PLATFORM_VLAPIC_H

#include <stdint.h>
#include <mica/hypercall.h>

#define VLAPIC_MSR_APIC_BASE    0x01Bu
#define VLAPIC_MSR_TSC_DEADLINE 0x6E0u
#define VLAPIC_MSR_FIRST        0x800u
#define VLAPIC_MSR_LAST         0x8FFu

/* x2APIC MSR = 0x800 + (xAPIC MMIO offset >> 4) (SDM table "x2APIC MSRs"). */
#define VLAPIC_REG_ID        0x802u
#define VLAPIC_REG_VERSION   0x803u
#define VLAPIC_REG_TPR       0x808u
#define VLAPIC_REG_PPR       0x80Au
#define VLAPIC_REG_EOI       0x80Bu
#define VLAPIC_REG_LDR       0x80Du
#define VLAPIC_REG_SVR       0x80Fu
#define VLAPIC_REG_ISR0      0x810u /* ..0x817 */
#define VLAPIC_REG_TMR0      0x818u /* ..0x81F */
#define VLAPIC_REG_IRR0      0x820u /* ..0x827 */
#define VLAPIC_REG_ESR       0x828u
#define VLAPIC_REG_ICR       0x830u
#define VLAPIC_REG_LVT_TIMER 0x832u
#define VLAPIC_REG_LVT_THERM 0x833u
#define VLAPIC_REG_LVT_PERF  0x834u
#define VLAPIC_REG_LVT_LINT0 0x835u
#define VLAPIC_REG_LVT_LINT1 0x836u
#define VLAPIC_REG_LVT_ERROR 0x837u
#define VLAPIC_REG_TMICT     0x838u /* timer initial count */
#define VLAPIC_REG_TMCCT     0x839u /* timer current count */
#define VLAPIC_REG_TDCR      0x83Eu /* timer divide configuration */
#define VLAPIC_REG_SELF_IPI  0x83Fu

#define VLAPIC_BASE_ADDR   0xFEE00000ull
#define VLAPIC_BASE_BSP    (1ull << 8)
#define VLAPIC_BASE_X2APIC (1ull << 10)
#define VLAPIC_BASE_ENABLE (1ull << 11)

/* Version 0x14 (integrated APIC), max LVT entry 5 (timer, thermal, perf, LINT0, LINT1,
 * error: no CMCI), no EOI-broadcast suppression. */
#define VLAPIC_VERSION 0x00050014u

#define VLAPIC_SVR_ENABLE     (1u << 8)
#define VLAPIC_LVT_MASKED     (1u << 16)
#define VLAPIC_TIMER_ONESHOT  (0u << 17)
#define VLAPIC_TIMER_PERIODIC (1u << 17)
#define VLAPIC_TIMER_DEADLINE (2u << 17)
#define VLAPIC_TIMER_MODE     (3u << 17)

#define VLAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL (1u << 6)

/* Delivery modes (ICR bits 10:8; the IOAPIC uses the same encoding, plus 7 = ExtINT). */
#define VLAPIC_DM_FIXED   0
#define VLAPIC_DM_LOWEST  1
#define VLAPIC_DM_SMI     2
#define VLAPIC_DM_NMI     4
#define VLAPIC_DM_INIT    5
#define VLAPIC_DM_STARTUP 6
#define VLAPIC_DM_EXTINT  7

/* Destination shorthands (ICR bits 19:18). */
#define VLAPIC_SH_NONE   0
#define VLAPIC_SH_SELF   1
#define VLAPIC_SH_ALL    2 /* all including self */
#define VLAPIC_SH_OTHERS 3 /* all excluding self */

#define VLAPIC_BROADCAST 0xFFFFFFFFu

enum vlapic_lvt {
	VLAPIC_LVT_TIMER,
	VLAPIC_LVT_THERMAL,
	VLAPIC_LVT_PERF,
	VLAPIC_LVT_LINT0,
	VLAPIC_LVT_LINT1,
	VLAPIC_LVT_ERROR,
	VLAPIC_LVT_COUNT
};

/* An interrupt a vCPU asks for through ICR or SELF_IPI. */
struct vlapic_ipi {
	uint32_t dest;       /* ICR bits 63:32; meaningless when shorthand != VLAPIC_SH_NONE */
	uint8_t vector;      /* FIXED/LOWEST: >= 16; STARTUP: the start page; else unused */
	uint8_t mode;        /* VLAPIC_DM_FIXED, _LOWEST, _NMI, _INIT or _STARTUP */
	uint8_t logical;     /* 1: dest is a logical (cluster) destination, 0: an x2APIC ID */
	uint8_t shorthand;   /* VLAPIC_SH_* */
	uint8_t level_trig;  /* ICR trigger mode bit, informational (IPIs are edge in effect) */
};

/* vlapic_wrmsr() results besides 0 (done, nothing for the caller to deliver). */
#define VLAPIC_WR_IPI 1 /* *ipi is filled: deliver it */
#define VLAPIC_WR_EOI 2 /* EOI of a level-triggered vector, in ipi->vector: tell the IOAPIC */

/* The shortest period a periodic timer runs with, whatever TMICT says. */
#define VLAPIC_MIN_PERIOD_US 200

struct vlapic {
	uint32_t id;                       /* x2APIC ID = vCPU number */
	uint64_t apic_base;                /* IA32_APIC_BASE, fixed after reset */
	uint32_t tpr;
	uint32_t svr;
	uint32_t esr;                      /* as last latched by a write of ESR */
	uint32_t esr_pending;              /* errors seen since that write */
	uint64_t icr;
	uint32_t lvt[VLAPIC_LVT_COUNT];
	uint32_t isr[8], tmr[8], irr[8];   /* 256 bits each, word i = vectors 32i..32i+31 */
	uint32_t tdcr;
	uint32_t tmict;                    /* initial count as written */
	uint64_t tsc_deadline;             /* armed deadline, 0 = none (deadline mode only) */

	/* Timer arithmetic: the count runs at bus_hz / div. One-shot and periodic runs keep
	 * their origin as an exact TSC value t_origin + t_frac / bus_hz, moved forward by
	 * whole periods only, so periodic expiries never drift. */
	uint64_t tsc_hz, bus_hz;
	uint64_t t_origin, t_frac;
	uint64_t t_period;                 /* bus ticks per period: tmict * t_div, or the
					    * minimum (VLAPIC_MIN_PERIOD_US) */
	uint32_t t_div;                    /* divisor latched when the count was loaded */
	int t_running;                     /* one-shot or periodic count running */
	uint64_t t_next;                   /* TSC of the next one-shot/periodic expiry */
};

/* Power-on / INIT state: ID id, IA32_APIC_BASE = 0xFEE00000 | enable | x2APIC (| BSP),
 * software-disabled (SVR 0xFF), every LVT masked, timer stopped. tsc_hz and bus_hz (the
 * rate the timer counts at before division) must be non-zero. */
void vlapic_reset(struct vlapic *a, uint32_t id, int bsp, uint64_t tsc_hz, uint64_t bus_hz);

/* RDMSR: 0 and *val, MICA_ENOSYS if msr is none of ours (the caller tries others), or
 * MICA_EINVAL (#GP) for unimplemented or write-only registers (EOI, SELF_IPI, ICR2, DFR). */
int vlapic_rdmsr(struct vlapic *a, uint32_t msr, uint64_t now_tsc, uint64_t *val);

/* WRMSR: 0, VLAPIC_WR_IPI, VLAPIC_WR_EOI (see above), MICA_ENOSYS (not ours), or
 * MICA_EINVAL (#GP): read-only or unimplemented register, reserved bits set, non-zero EOI or
 * ESR value, or an IA32_APIC_BASE value other than the current one (x2APIC mode cannot be
 * left and the base cannot move; the BSP bit is ignored). Fixed/lowest IPIs with a vector
 * below 16 set ESR "send illegal vector" instead of being sent; an INIT level de-assert
 * (level 0, trigger level) is dropped, as x2APIC-era CPUs do. */
int vlapic_wrmsr(struct vlapic *a, uint32_t msr, uint64_t val, uint64_t now_tsc,
		 struct vlapic_ipi *ipi);

/* Whether this APIC is a target of dest (x2APIC physical ID or logical cluster/mask;
 * VLAPIC_BROADCAST matches everyone in both modes). Shorthands are the caller's. */
int vlapic_accepts(const struct vlapic *a, uint32_t dest, int logical);

/* A fixed interrupt arrives (IPI, IOAPIC, MSI): sets IRR, and TMR if level_triggered.
 * Returns 1 if it is now pending, 0 if it was dropped (software-disabled APIC, or vector
 * < 16: that sets ESR "receive illegal vector") or merged with one already pending. */
int vlapic_set_irq(struct vlapic *a, uint8_t vector, int level_triggered);

/* The vector to inject now: the highest in IRR whose priority class is above PPR's, or -1
 * (none, or APIC software-disabled). */
int vlapic_highest_pending(const struct vlapic *a);

/* The guest took vector (the one vlapic_highest_pending returned): IRR -> ISR. */
void vlapic_accept(struct vlapic *a, uint8_t vector);

/* Whether the guest may end the interrupt in service without telling the APIC (KVM's PV
 * EOI, kernel/irq.c): exactly one vector is in service, it is edge-triggered (no IOAPIC to
 * tell), and nothing is pending behind it. The EOI is then done later, by the hypervisor. */
int vlapic_lazy_eoi_ok(const struct vlapic *a);

/* EOI: retires the highest in-service vector. Returns it if it was level-triggered (the
 * caller forwards it to the IOAPIC), else -1. */
int vlapic_eoi(struct vlapic *a);

/* Fires an expired timer: sets the LVT timer vector in IRR (unless masked), re-arms a
 * periodic count from its exact period boundary, disarms one-shot and TSC-deadline.
 * However late it is called, at most one interrupt is raised. */
void vlapic_timer_update(struct vlapic *a, uint64_t now_tsc);

/* TSC value at which the host timer must next look at this timer, 0 if never: none armed,
 * or a periodic one whose expiry would raise nothing new (masked, or its vector still in
 * IRR: re-arming for it is what livelocks a vCPU that keeps interrupts off). */
uint64_t vlapic_timer_next(const struct vlapic *a);

/* Processor priority (PPR), derived from TPR and the highest in-service vector. */
uint32_t vlapic_ppr(const struct vlapic *a);

#endif
