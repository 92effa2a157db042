/* Virtual ACPI fixed hardware (ACPI spec, "ACPI Hardware Specification": PM1 event and
 * control registers, PM timer) plus the reset register at 0xCF9 that the FADT names. Ports
 * as kernel/platform/acpi_tables.h announces them. Pure logic (host unit tested): no clock of its
 * own; the PM timer counts at ACPI_PM_TMR_HZ derived from the guest TSC passed in.
 *
 * Caller: route an access to vpm_read()/vpm_write() when vpm_claims() says it is ours.
 * vpm_write() returns an action (VPM_POWEROFF, VPM_RESET, VPM_SLEEP_UNSUPPORTED) to carry
 * out. The SCI (IRQ 9, level) follows vpm_sci_level(); while TMR_EN is set, call
 * vpm_update() at vpm_next_event() so the timer's carry raises it. Serialise calls. */
#ifndef MICA_PLATFORM_VPM_H
#define MICA_PLATFORM_VPM_H

#include <stdint.h>

#include "kernel/platform/acpi_tables.h"

/* PM1_STS (write one to clear) and PM1_EN bits. */
#define VPM_STS_TMR     0x0001 /* PM timer bit 31 changed */
#define VPM_STS_BM      0x0010
#define VPM_STS_GBL     0x0020
#define VPM_STS_PWRBTN  0x0100
#define VPM_STS_SLPBTN  0x0200
#define VPM_STS_RTC     0x0400
#define VPM_STS_PCIEXP  0x4000
#define VPM_STS_WAK     0x8000
#define VPM_STS_MASK    0xC731
#define VPM_EN_MASK     0x4721 /* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */
#define VPM_SCI_SOURCES 0x0721 /* status bits that raise the SCI when enabled */

/* PM1_CNT bits kept (BM_RLD, SLP_TYP); SCI_EN always reads 1; GBL_RLS and SLP_EN are
 * write-only. */
#define VPM_CNT_BM_RLD  0x0002
#define VPM_CNT_GBL_RLS 0x0004
#define VPM_CNT_KEPT    0x1C02

/* 0xCF9: bit 2 (RST_CPU) set in a write resets; bits 1 (SYS_RST) and 3 (FULL_RST) only
 * choose the flavour, which does not matter here. */
#define VPM_RESET_RST_CPU 0x04

/* vpm_write() results. */
#define VPM_NONE              0
#define VPM_POWEROFF          1 /* SLP_EN with SLP_TYP = ACPI_SLP_TYP_S5 */
#define VPM_RESET             2 /* 0xCF9 written with RST_CPU */
#define VPM_SLEEP_UNSUPPORTED 3 /* SLP_EN with another SLP_TYP (in sleep_type): log, ignore */

#define VPM_EVT_LEN 4
#define VPM_CNT_LEN 2
#define VPM_TMR_LEN 4
#define VPM_GPE_LEN 4 /* GPE0_STS (16 bits), GPE0_EN (16 bits) */

struct vpm {
	uint16_t evt_port, cnt_port, tmr_port;
	uint64_t tsc_hz;
	uint64_t tsc_base;   /* guest TSC at which the PM timer read 0 */
	uint64_t tmr_carry;  /* bit-31 toggles of the timer already folded into TMR_STS */
	uint16_t sts, en, cnt;
	uint16_t gpe_port;   /* GPE0_BLK (vpm_gpe_block), 0: none */
	uint16_t gpe_sts, gpe_en; /* GPE0_STS (write one to clear) and GPE0_EN */
	uint8_t reset_reg;   /* the last byte written to 0xCF9 */
	uint8_t sleep_type;  /* SLP_TYP of the last sleep request */
};

/* Power-on state at guest TSC now: timer 0, status and enables clear, SCI_EN set. Ports
 * are the FADT's (ACPI_PM1A_EVT_PORT, ACPI_PM1A_CNT_PORT, ACPI_PM_TMR_PORT by default);
 * tsc_hz must be non-zero. */
void vpm_reset(struct vpm *pm, uint16_t evt_port, uint16_t cnt_port, uint16_t tmr_port,
	       uint64_t tsc_hz, uint64_t now);

/* Adds a general-purpose event block at port (the FADT's GPE0_BLK, VPM_GPE_LEN bytes:
 * GPE0_STS then GPE0_EN, 16 events), events clear and disabled. */
void vpm_gpe_block(struct vpm *pm, uint16_t port);

/* Sets the status of general-purpose event gpe (0-15): the SCI rises if the guest enabled
 * it. No effect without a GPE block. */
void vpm_gpe_raise(struct vpm *pm, unsigned gpe);

/* Whether an access of size bytes (1, 2 or 4) at port is ours: wholly inside the PM1 event
 * block, the PM1 control block, the timer or the GPE block, or a byte at ACPI_RESET_PORT
 * (0xCF8-0xCFB as a dword is PCI's CONFIG_ADDRESS, not ours). */
int vpm_claims(const struct vpm *pm, uint16_t port, unsigned size);

/* IN at guest TSC now; any width within a register block works (bytes little-endian). An
 * access vpm_claims() rejects reads as all ones. */
uint32_t vpm_read(struct vpm *pm, uint16_t port, unsigned size, uint64_t now);

/* OUT at guest TSC now. Returns VPM_NONE or an action (above); rejected accesses and
 * writes to the timer are ignored. */
int vpm_write(struct vpm *pm, uint16_t port, unsigned size, uint32_t val, uint64_t now);

/* Folds the timer's bit-31 carries up to now into TMR_STS. */
void vpm_update(struct vpm *pm, uint64_t now);

/* The SCI line: an enabled PM1 or GPE status bit is set (as of the last call that took a
 * TSC). The caller drives IRQ 9 with it after every access and every vpm_gpe_raise(). */
int vpm_sci_level(const struct vpm *pm);

/* TSC at which TMR_STS will next be set, if that would raise the SCI (TMR_EN set, TMR_STS
 * clear); else 0. */
uint64_t vpm_next_event(const struct vpm *pm);

/* The PM timer's 32-bit value at guest TSC now. */
uint32_t vpm_timer(const struct vpm *pm, uint64_t now);

#endif
