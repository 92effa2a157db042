/* Virtual ACPI PM1 registers, PM timer and reset register (ACPI spec, "PM1 Event Grouping",
 * "PM1 Control Grouping", "Power Management Timer"). Pure logic; vpm.h describes the
 * caller's side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vpm.h"

typedef unsigned __int128 u128;

static uint64_t pm_ticks(const struct vpm *pm, uint64_t now)
{
	if (now <= pm->tsc_base)
		return 0;
	return (uint64_t)((u128)(now - pm->tsc_base) * ACPI_PM_TMR_HZ / pm->tsc_hz);
}

uint32_t vpm_timer(const struct vpm *pm, uint64_t now)
{
	return (uint32_t)pm_ticks(pm, now); /* TMR_VAL_EXT: all 32 bits count, then wrap */
}

void vpm_update(struct vpm *pm, uint64_t now)
{
	uint64_t carry = pm_ticks(pm, now) >> 31;

	if (carry > pm->tmr_carry) {
		pm->tmr_carry = carry;
		pm->sts |= VPM_STS_TMR;
	}
}

void vpm_reset(struct vpm *pm, uint16_t evt_port, uint16_t cnt_port, uint16_t tmr_port,
	       uint64_t tsc_hz, uint64_t now)
{
	memset(pm, 0, sizeof(*pm));
	pm->evt_port = evt_port;
	pm->cnt_port = cnt_port;
	pm->tmr_port = tmr_port;
	pm->tsc_hz = tsc_hz;
	pm->tsc_base = now;
}

static int inside(uint16_t port, unsigned size, uint16_t base, unsigned len)
{
	return port >= base && (uint32_t)port + size <= (uint32_t)base + len;
}

void vpm_gpe_block(struct vpm *pm, uint16_t port)
{
	pm->gpe_port = port;
	pm->gpe_sts = pm->gpe_en = 0;
}

void vpm_gpe_raise(struct vpm *pm, unsigned gpe)
{
	if (pm->gpe_port && gpe < 16)
		pm->gpe_sts |= (uint16_t)(1u << gpe);
}

int vpm_claims(const struct vpm *pm, uint16_t port, unsigned size)
{
	if (size != 1 && size != 2 && size != 4)
		return 0;
	return inside(port, size, pm->evt_port, VPM_EVT_LEN) ||
	       inside(port, size, pm->cnt_port, VPM_CNT_LEN) ||
	       inside(port, size, pm->tmr_port, VPM_TMR_LEN) ||
	       (pm->gpe_port && inside(port, size, pm->gpe_port, VPM_GPE_LEN)) ||
	       (port == ACPI_RESET_PORT && size == 1);
}

/* The register block an access lies in, its contents (as of now) and the offset. */
static uint32_t block_value(const struct vpm *pm, uint16_t port, uint64_t now, unsigned *off)
{
	if (inside(port, 1, pm->evt_port, VPM_EVT_LEN)) {
		*off = port - pm->evt_port;
		return (uint32_t)pm->en << 16 | pm->sts;
	}
	if (inside(port, 1, pm->cnt_port, VPM_CNT_LEN)) {
		*off = port - pm->cnt_port;
		return (pm->cnt & VPM_CNT_KEPT) | ACPI_PM1_CNT_SCI_EN;
	}
	if (inside(port, 1, pm->tmr_port, VPM_TMR_LEN)) {
		*off = port - pm->tmr_port;
		return vpm_timer(pm, now);
	}
	if (pm->gpe_port && inside(port, 1, pm->gpe_port, VPM_GPE_LEN)) {
		*off = port - pm->gpe_port;
		return (uint32_t)pm->gpe_en << 16 | pm->gpe_sts;
	}
	*off = 0;
	return pm->reset_reg;
}

uint32_t vpm_read(struct vpm *pm, uint16_t port, unsigned size, uint64_t now)
{
	unsigned off;
	uint32_t v;

	if (!vpm_claims(pm, port, size))
		return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
	vpm_update(pm, now);
	v = block_value(pm, port, now, &off);
	v >>= 8 * off;
	return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

int vpm_write(struct vpm *pm, uint16_t port, unsigned size, uint32_t val, uint64_t now)
{
	uint32_t mask = size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;

	if (!vpm_claims(pm, port, size))
		return VPM_NONE;
	vpm_update(pm, now);
	if (port == ACPI_RESET_PORT) {
		pm->reset_reg = (uint8_t)val;
		return val & VPM_RESET_RST_CPU ? VPM_RESET : VPM_NONE;
	}
	if (inside(port, 1, pm->evt_port, VPM_EVT_LEN)) {
		/* Shift the written bytes into place in the 32-bit block: PM1_STS is write one
		 * to clear, PM1_EN read/write. */
		uint32_t shift = 8 * (port - pm->evt_port);
		uint32_t bits = (val & mask) << shift, which = mask << shift;

		pm->sts &= (uint16_t)~(bits & VPM_STS_MASK);
		pm->en = (uint16_t)((pm->en & ~(which >> 16)) | ((bits >> 16) & VPM_EN_MASK));
		return VPM_NONE;
	}
	if (pm->gpe_port && inside(port, 1, pm->gpe_port, VPM_GPE_LEN)) {
		/* As PM1's: status write one to clear, enables read/write. */
		uint32_t shift = 8 * (port - pm->gpe_port);
		uint32_t bits = (val & mask) << shift, which = mask << shift;

		pm->gpe_sts &= (uint16_t)~bits;
		pm->gpe_en = (uint16_t)((pm->gpe_en & ~(which >> 16)) | (bits >> 16));
		return VPM_NONE;
	}
	if (inside(port, 1, pm->cnt_port, VPM_CNT_LEN)) {
		uint32_t shift = 8 * (port - pm->cnt_port);
		uint32_t bits = (val & mask) << shift, which = (mask << shift) & 0xFFFF;
		unsigned typ;

		pm->cnt = (uint16_t)((pm->cnt & ~which) | (bits & VPM_CNT_KEPT));
		if (!(bits & ACPI_PM1_CNT_SLP_EN))
			return VPM_NONE;
		/* SLP_TYP and SLP_EN share the high byte, so a byte write carries both. */
		typ = (pm->cnt >> 10) & 7;
		pm->sleep_type = (uint8_t)typ;
		return typ == ACPI_SLP_TYP_S5 ? VPM_POWEROFF : VPM_SLEEP_UNSUPPORTED;
	}
	return VPM_NONE; /* the timer is read only */
}

int vpm_sci_level(const struct vpm *pm)
{
	return (pm->sts & pm->en & VPM_SCI_SOURCES) != 0 || (pm->gpe_sts & pm->gpe_en) != 0;
}

uint64_t vpm_next_event(const struct vpm *pm)
{
	u128 t;

	if (!(pm->en & VPM_STS_TMR) || (pm->sts & VPM_STS_TMR))
		return 0;
	/* The first TSC at which pm_ticks() reaches the next multiple of 2^31. */
	t = (((u128)(pm->tmr_carry + 1) << 31) * pm->tsc_hz + ACPI_PM_TMR_HZ - 1) /
	    ACPI_PM_TMR_HZ;
	t += pm->tsc_base;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}
