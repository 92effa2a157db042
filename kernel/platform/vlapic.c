/* Virtual local APIC in x2APIC mode: registers, priorities and the timer, following the
 * Intel SDM vol. 3A APIC chapter. Pure logic; vlapic.h describes the caller's side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vlapic.h"

typedef unsigned __int128 u128;

/* Writable bits of each LVT; delivery status (12) and remote IRR (14) are read-only and
 * ignored on write; any other bit set is reserved (#GP in x2APIC mode). */
static const uint32_t lvt_writable[VLAPIC_LVT_COUNT] = {
	[VLAPIC_LVT_TIMER] = 0x000700FFu,   /* vector, mask, timer mode 18:17 */
	[VLAPIC_LVT_THERMAL] = 0x000107FFu, /* vector, delivery mode, mask */
	[VLAPIC_LVT_PERF] = 0x000107FFu,
	[VLAPIC_LVT_LINT0] = 0x0001A7FFu,   /* ... plus polarity (13) and trigger mode (15) */
	[VLAPIC_LVT_LINT1] = 0x0001A7FFu,
	[VLAPIC_LVT_ERROR] = 0x000100FFu,
};
#define LVT_READ_ONLY 0x00005000u

#define TPR_WRITABLE  0xFFu
#define SVR_WRITABLE  0x3FFu       /* vector, enable, focus checking; no EOI suppression */
#define TDCR_WRITABLE 0xBu
/* x2APIC ICR: delivery status (12) is gone; 13, 17:16 and 31:20 are reserved. */
#define ICR_RESERVED  0xFFF33000ull

/* Floor of n / d and its remainder, without libgcc (the core links without it): the
 * quotient saturates at UINT64_MAX when it does not fit (rem is then 0). */
static uint64_t div128(u128 n, uint64_t d, uint64_t *rem)
{
	uint64_t hi = (uint64_t)(n >> 64), lo = (uint64_t)n, r = 0;

	if (!hi) {
		r = lo % d;
		lo /= d;
	} else if (hi >= d) {
		lo = UINT64_MAX;
	} else {
		/* Restoring division: hi is the running remainder, lo collects quotient bits. */
		for (int i = 0; i < 64; i++) {
			uint64_t carry = hi >> 63;
			hi = hi << 1 | lo >> 63;
			lo <<= 1;
			if (carry || hi >= d) {
				hi -= d;
				lo |= 1;
			}
		}
		r = hi;
	}
	if (rem)
		*rem = r;
	return lo;
}

static int test_vec(const uint32_t *bits, unsigned v)
{
	return (bits[v >> 5] >> (v & 31)) & 1;
}

static void set_vec(uint32_t *bits, unsigned v)
{
	bits[v >> 5] |= 1u << (v & 31);
}

static void clear_vec(uint32_t *bits, unsigned v)
{
	bits[v >> 5] &= ~(1u << (v & 31));
}

static int highest_vec(const uint32_t *bits)
{
	for (int i = 7; i >= 0; i--)
		if (bits[i])
			return i * 32 + 31 - __builtin_clz(bits[i]);
	return -1;
}

static int sw_enabled(const struct vlapic *a)
{
	return (a->svr & VLAPIC_SVR_ENABLE) != 0;
}

static uint32_t timer_mode(const struct vlapic *a)
{
	return a->lvt[VLAPIC_LVT_TIMER] & VLAPIC_TIMER_MODE;
}

/* SDM "Divide Configuration Register": bits 3,1:0 = 111b divide by 1, else 2 << code. */
static uint32_t divisor(uint32_t tdcr)
{
	uint32_t code = (tdcr & 3) | ((tdcr >> 1) & 4);

	return code == 7 ? 1 : 2u << code;
}

/* An error the APIC detects: latched into ESR by the next ESR write; raises the LVT error
 * interrupt unless masked (a bad vector there would only recurse, so it is dropped). */
static void raise_error(struct vlapic *a, uint32_t bit)
{
	uint32_t lvt = a->lvt[VLAPIC_LVT_ERROR];

	a->esr_pending |= bit;
	if (!(lvt & VLAPIC_LVT_MASKED) && (lvt & 0xFF) >= 16)
		vlapic_set_irq(a, lvt & 0xFF, 0);
}

/* Bus ticks counted between the timer origin and now. */
static uint64_t bus_elapsed(const struct vlapic *a, uint64_t now)
{
	u128 x;

	if (now <= a->t_origin)
		return 0;
	x = (u128)(now - a->t_origin) * a->bus_hz;
	if (x <= a->t_frac)
		return 0;
	return div128(x - a->t_frac, a->tsc_hz, NULL);
}

/* First TSC at which bus_elapsed() reaches ticks (>= 1): ceil((ticks * tsc_hz + frac) /
 * bus_hz) after the origin; saturates rather than wrapping. */
static uint64_t tsc_at(const struct vlapic *a, uint64_t ticks)
{
	uint64_t rem, q = div128((u128)ticks * a->tsc_hz + a->t_frac, a->bus_hz, &rem);

	if (rem && q != UINT64_MAX)
		q++;
	return q > UINT64_MAX - a->t_origin ? UINT64_MAX : a->t_origin + q;
}

static void timer_stop(struct vlapic *a)
{
	a->t_running = 0;
	a->t_next = 0;
}

/* Loads the count from TMICT at now: a new one-shot or periodic run, or a stop for 0.
 * A periodic run is never shorter than VLAPIC_MIN_PERIOD_US (as KVM does): an initial count
 * of 1 would otherwise ask for an interrupt every bus tick, and the vCPU would do nothing
 * but exit for it. The count still reads as counting down from TMICT. */
static void timer_load(struct vlapic *a, uint64_t now)
{
	if (!a->tmict) {
		timer_stop(a);
		return;
	}
	a->t_div = divisor(a->tdcr);
	a->t_origin = now;
	a->t_frac = 0;
	a->t_period = (uint64_t)a->tmict * a->t_div;
	uint64_t min = a->bus_hz / (1000000 / VLAPIC_MIN_PERIOD_US);
	if (timer_mode(a) == VLAPIC_TIMER_PERIODIC && a->t_period < min)
		a->t_period = min;
	a->t_running = 1;
	a->t_next = tsc_at(a, a->t_period);
}

static uint32_t current_count(const struct vlapic *a, uint64_t now)
{
	uint64_t c;

	if (!a->t_running)
		return 0;
	if (timer_mode(a) == VLAPIC_TIMER_PERIODIC) {
		/* where in the period, scaled to the count (the period may be stretched) */
		uint64_t in = bus_elapsed(a, now) % a->t_period;
		return a->tmict - (uint32_t)div128((u128)in * a->tmict, a->t_period, NULL);
	}
	c = bus_elapsed(a, now) / a->t_div;
	return c >= a->tmict ? 0 : a->tmict - (uint32_t)c;
}

static void timer_fire(struct vlapic *a)
{
	uint32_t lvt = a->lvt[VLAPIC_LVT_TIMER];

	if (!(lvt & VLAPIC_LVT_MASKED))
		vlapic_set_irq(a, lvt & 0xFF, 0);
}

void vlapic_timer_update(struct vlapic *a, uint64_t now_tsc)
{
	if (timer_mode(a) == VLAPIC_TIMER_DEADLINE) {
		if (a->tsc_deadline && now_tsc >= a->tsc_deadline) {
			a->tsc_deadline = 0;
			timer_fire(a);
		}
		return;
	}
	if (!a->t_running || now_tsc < a->t_next)
		return;
	if (timer_mode(a) == VLAPIC_TIMER_PERIODIC) {
		/* Move the origin to the last period boundary reached, exactly: the integer
		 * part into t_origin, the fraction of a TSC tick (in 1/bus_hz) into t_frac. */
		uint64_t k = bus_elapsed(a, now_tsc) / a->t_period, rem;
		u128 total = (u128)(k * a->t_period) * a->tsc_hz + a->t_frac;

		a->t_origin += div128(total, a->bus_hz, &rem);
		a->t_frac = rem;
		a->t_next = tsc_at(a, a->t_period);
	} else {
		timer_stop(a);
	}
	timer_fire(a);
}

uint64_t vlapic_timer_next(const struct vlapic *a)
{
	uint32_t lvt = a->lvt[VLAPIC_LVT_TIMER];

	if (timer_mode(a) == VLAPIC_TIMER_DEADLINE)
		return a->tsc_deadline;
	/* A periodic expiry that would raise nothing new needs no host timer: the vector is
	 * still pending (IRR), or masked. The next update catches up on the periods missed. */
	if (timer_mode(a) == VLAPIC_TIMER_PERIODIC &&
	    ((lvt & VLAPIC_LVT_MASKED) || test_vec(a->irr, lvt & 0xFF)))
		return 0;
	return a->t_running ? a->t_next : 0;
}

void vlapic_reset(struct vlapic *a, uint32_t id, int bsp, uint64_t tsc_hz, uint64_t bus_hz)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->apic_base = VLAPIC_BASE_ADDR | VLAPIC_BASE_ENABLE | VLAPIC_BASE_X2APIC |
		       (bsp ? VLAPIC_BASE_BSP : 0);
	a->svr = 0xFF;
	for (int i = 0; i < VLAPIC_LVT_COUNT; i++)
		a->lvt[i] = VLAPIC_LVT_MASKED;
	a->tsc_hz = tsc_hz ? tsc_hz : 1;
	a->bus_hz = bus_hz ? bus_hz : 1;
	a->t_div = divisor(0);
}

uint32_t vlapic_ppr(const struct vlapic *a)
{
	int isrv = highest_vec(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;

	return (a->tpr & 0xF0) >= isr_class ? a->tpr : isr_class;
}

int vlapic_set_irq(struct vlapic *a, uint8_t vector, int level_triggered)
{
	if (!sw_enabled(a))
		return 0;
	if (vector < 16) {
		raise_error(a, VLAPIC_ESR_RECV_ILLEGAL);
		return 0;
	}
	if (test_vec(a->irr, vector))
		return 0;
	set_vec(a->irr, vector);
	if (level_triggered)
		set_vec(a->tmr, vector);
	else
		clear_vec(a->tmr, vector);
	return 1;
}

int vlapic_highest_pending(const struct vlapic *a)
{
	int v = highest_vec(a->irr);

	if (!sw_enabled(a) || v < 0)
		return -1;
	return ((uint32_t)v & 0xF0) > (vlapic_ppr(a) & 0xF0) ? v : -1;
}

void vlapic_accept(struct vlapic *a, uint8_t vector)
{
	clear_vec(a->irr, vector);
	set_vec(a->isr, vector);
}

int vlapic_lazy_eoi_ok(const struct vlapic *a)
{
	/* Runs before every entry with PV EOI on: the plain loops are the cheap way. */
	int v = highest_vec(a->isr);
	if (v < 0 || test_vec(a->tmr, (unsigned)v))
		return 0;
	uint32_t irr = 0;
	for (unsigned i = 0; i < 8; i++)
		irr |= a->irr[i];
	if (irr)
		return 0;
	/* One vector in service: the lowest one set is the highest. */
	unsigned i = 0;
	while (!a->isr[i])
		i++;
	return (int)(i * 32 + (unsigned)__builtin_ctz(a->isr[i])) == v;
}

int vlapic_eoi(struct vlapic *a)
{
	int v = highest_vec(a->isr);

	if (v < 0)
		return -1;
	clear_vec(a->isr, (unsigned)v);
	return test_vec(a->tmr, (unsigned)v) ? v : -1;
}

int vlapic_accepts(const struct vlapic *a, uint32_t dest, int logical)
{
	if (dest == VLAPIC_BROADCAST)
		return 1;
	if (!logical)
		return dest == a->id;
	/* x2APIC logical ID: cluster id[31:4] in bits 31:16, one bit of 16 in bits 15:0. */
	return (dest >> 16) == (a->id >> 4) && ((dest >> (a->id & 15)) & 1);
}

static uint32_t ldr(const struct vlapic *a)
{
	return ((a->id >> 4) << 16) | (1u << (a->id & 15));
}

int vlapic_rdmsr(struct vlapic *a, uint32_t msr, uint64_t now_tsc, uint64_t *val)
{
	uint64_t v;

	if (msr == VLAPIC_MSR_APIC_BASE) {
		*val = a->apic_base;
		return 0;
	}
	if (msr == VLAPIC_MSR_TSC_DEADLINE) {
		/* Reads 0 outside TSC-deadline mode and once the deadline has passed. */
		*val = timer_mode(a) == VLAPIC_TIMER_DEADLINE ? a->tsc_deadline : 0;
		return 0;
	}
	if (msr < VLAPIC_MSR_FIRST || msr > VLAPIC_MSR_LAST)
		return MICA_ENOSYS;

	switch (msr) {
	case VLAPIC_REG_ID:        v = a->id; break;
	case VLAPIC_REG_VERSION:   v = VLAPIC_VERSION; break;
	case VLAPIC_REG_TPR:       v = a->tpr; break;
	case VLAPIC_REG_PPR:       v = vlapic_ppr(a); break;
	case VLAPIC_REG_LDR:       v = ldr(a); break;
	case VLAPIC_REG_SVR:       v = a->svr; break;
	case VLAPIC_REG_ESR:       v = a->esr; break;
	case VLAPIC_REG_ICR:       v = a->icr; break;
	case VLAPIC_REG_LVT_TIMER: v = a->lvt[VLAPIC_LVT_TIMER]; break;
	case VLAPIC_REG_LVT_THERM: v = a->lvt[VLAPIC_LVT_THERMAL]; break;
	case VLAPIC_REG_LVT_PERF:  v = a->lvt[VLAPIC_LVT_PERF]; break;
	case VLAPIC_REG_LVT_LINT0: v = a->lvt[VLAPIC_LVT_LINT0]; break;
	case VLAPIC_REG_LVT_LINT1: v = a->lvt[VLAPIC_LVT_LINT1]; break;
	case VLAPIC_REG_LVT_ERROR: v = a->lvt[VLAPIC_LVT_ERROR]; break;
	case VLAPIC_REG_TMICT:     v = a->tmict; break;
	case VLAPIC_REG_TMCCT:     v = current_count(a, now_tsc); break;
	case VLAPIC_REG_TDCR:      v = a->tdcr; break;
	default:
		if (msr >= VLAPIC_REG_ISR0 && msr < VLAPIC_REG_ISR0 + 8)
			v = a->isr[msr - VLAPIC_REG_ISR0];
		else if (msr >= VLAPIC_REG_TMR0 && msr < VLAPIC_REG_TMR0 + 8)
			v = a->tmr[msr - VLAPIC_REG_TMR0];
		else if (msr >= VLAPIC_REG_IRR0 && msr < VLAPIC_REG_IRR0 + 8)
			v = a->irr[msr - VLAPIC_REG_IRR0];
		else
			return MICA_EINVAL; /* EOI, SELF_IPI (write-only) and the unimplemented */
	}
	*val = v;
	return 0;
}

static int write_lvt(struct vlapic *a, enum vlapic_lvt i, uint32_t v)
{
	if (v & ~(lvt_writable[i] | LVT_READ_ONLY))
		return MICA_EINVAL;
	v &= lvt_writable[i];
	if (i == VLAPIC_LVT_TIMER) {
		if ((v & VLAPIC_TIMER_MODE) == VLAPIC_TIMER_MODE)
			return MICA_EINVAL; /* mode 11b is reserved */
		if ((v & VLAPIC_TIMER_MODE) != timer_mode(a)) {
			/* SDM: a write that changes the timer mode disarms the timer. */
			timer_stop(a);
			a->tmict = 0;
			a->tsc_deadline = 0;
		}
	}
	if (!sw_enabled(a))
		v |= VLAPIC_LVT_MASKED; /* a software-disabled APIC keeps every LVT masked */
	a->lvt[i] = v;
	return 0;
}

/* Decodes an ICR value (reserved bits already checked) into *ipi. */
static int send_ipi(struct vlapic *a, uint64_t icr, struct vlapic_ipi *ipi)
{
	memset(ipi, 0, sizeof(*ipi));
	ipi->vector = icr & 0xFF;
	ipi->mode = (icr >> 8) & 7;
	ipi->logical = (icr >> 11) & 1;
	ipi->level_trig = (icr >> 15) & 1;
	ipi->shorthand = (icr >> 18) & 3;
	ipi->dest = (uint32_t)(icr >> 32);

	switch (ipi->mode) {
	case VLAPIC_DM_FIXED:
	case VLAPIC_DM_LOWEST:
		if (ipi->vector < 16) {
			raise_error(a, VLAPIC_ESR_SEND_ILLEGAL);
			return 0;
		}
		return VLAPIC_WR_IPI;
	case VLAPIC_DM_INIT:
		if (ipi->level_trig && !((icr >> 14) & 1))
			return 0; /* INIT level de-assert: no effect since the Pentium 4 */
		return VLAPIC_WR_IPI;
	case VLAPIC_DM_NMI:
	case VLAPIC_DM_STARTUP:
		return VLAPIC_WR_IPI;
	default:
		return 0; /* SMI (no SMM here) and the reserved modes are dropped */
	}
}

int vlapic_wrmsr(struct vlapic *a, uint32_t msr, uint64_t val, uint64_t now_tsc,
		 struct vlapic_ipi *ipi)
{
	uint32_t v = (uint32_t)val;
	int rc;

	if (msr == VLAPIC_MSR_APIC_BASE)
		return (val ^ a->apic_base) & ~VLAPIC_BASE_BSP ? MICA_EINVAL : 0;
	if (msr == VLAPIC_MSR_TSC_DEADLINE) {
		if (timer_mode(a) != VLAPIC_TIMER_DEADLINE)
			return 0; /* ignored in the other timer modes */
		a->tsc_deadline = val;
		vlapic_timer_update(a, now_tsc); /* a deadline already passed fires now */
		return 0;
	}
	if (msr < VLAPIC_MSR_FIRST || msr > VLAPIC_MSR_LAST)
		return MICA_ENOSYS;
	if (msr == VLAPIC_REG_ICR) {
		if (val & ICR_RESERVED)
			return MICA_EINVAL;
		a->icr = val;
		return send_ipi(a, val, ipi);
	}
	if (val >> 32)
		return MICA_EINVAL; /* every other x2APIC register is 32 bits wide */

	switch (msr) {
	case VLAPIC_REG_TPR:
		if (v & ~TPR_WRITABLE)
			return MICA_EINVAL;
		a->tpr = v;
		return 0;
	case VLAPIC_REG_EOI:
		if (v)
			return MICA_EINVAL;
		rc = vlapic_eoi(a);
		if (rc < 0)
			return 0;
		memset(ipi, 0, sizeof(*ipi));
		ipi->vector = (uint8_t)rc;
		return VLAPIC_WR_EOI;
	case VLAPIC_REG_SVR:
		if (v & ~SVR_WRITABLE)
			return MICA_EINVAL;
		a->svr = v;
		if (!sw_enabled(a))
			for (int i = 0; i < VLAPIC_LVT_COUNT; i++)
				a->lvt[i] |= VLAPIC_LVT_MASKED;
		return 0;
	case VLAPIC_REG_ESR:
		if (v)
			return MICA_EINVAL;
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return 0;
	case VLAPIC_REG_LVT_TIMER: return write_lvt(a, VLAPIC_LVT_TIMER, v);
	case VLAPIC_REG_LVT_THERM: return write_lvt(a, VLAPIC_LVT_THERMAL, v);
	case VLAPIC_REG_LVT_PERF:  return write_lvt(a, VLAPIC_LVT_PERF, v);
	case VLAPIC_REG_LVT_LINT0: return write_lvt(a, VLAPIC_LVT_LINT0, v);
	case VLAPIC_REG_LVT_LINT1: return write_lvt(a, VLAPIC_LVT_LINT1, v);
	case VLAPIC_REG_LVT_ERROR: return write_lvt(a, VLAPIC_LVT_ERROR, v);
	case VLAPIC_REG_TMICT:
		if (timer_mode(a) == VLAPIC_TIMER_DEADLINE)
			return 0; /* ignored in TSC-deadline mode */
		a->tmict = v;
		timer_load(a, now_tsc);
		return 0;
	case VLAPIC_REG_TDCR:
		if (v & ~TDCR_WRITABLE)
			return MICA_EINVAL;
		a->tdcr = v; /* takes effect when the count is next loaded */
		return 0;
	case VLAPIC_REG_SELF_IPI:
		if (v & ~0xFFu)
			return MICA_EINVAL;
		return send_ipi(a, (uint64_t)a->id << 32 | (uint64_t)VLAPIC_SH_SELF << 18 | v, ipi);
	default:
		return MICA_EINVAL; /* read-only or unimplemented (ICR2, DFR, APR, ...) */
	}
}
