/* The legacy ports of a partition's PC (platform/pc.h). Lock: the partition's dev_lock
 * around the models; the partition is ended with it released. */
#include <stdint.h>
#include "kernel/arch.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/platform/acpi_tables.h"
#include "kernel/platform/pc.h"

/* The clock's next interrupt, after any change to it (under dev_lock): only a partition
 * with an IOAPIC has a line for it. Returns whether the deadline moved. */
static int rtc_rearm(struct partition *p, uint64_t now)
{
	uint64_t next = p->platform ? vrtc_next_irq(&p->rtc, now) : 0;
	volatile uint64_t *d = &p->vcpus[0].irq.rtc_deadline;
	int moved = next != *d;
	*d = next;
	return moved;
}

void pc_rtc_tick(struct partition *p, uint64_t now)
{
	uint64_t f = spin_lock(&p->dev_lock);
	int raise = vrtc_irq_update(&p->rtc, now);
	rtc_rearm(p, now);
	spin_unlock(&p->dev_lock, f);
	if (raise) { /* an ISA edge */
		irq_line(p, VRTC_IRQ, 1);
		irq_line(p, VRTC_IRQ, 0);
	}
}

/* Resets that come from the legacy ports rather than the PM block. */
#define VPM_RESET_KBC (-100)
#define VPM_RESET_92  (-101)

int pc_debug_exit(struct vcpu *v, uint16_t port, int in, uint32_t val)
{
	struct partition *p = v->part;

	if (!p->cfg->debug_exit || port != p->cfg->debug_exit)
		return 0;
	if (!in)
		partition_end(v, 0, "debug exit: the guest wrote 0x%x to port 0x%x (QEMU's "
			      "isa-debug-exit would exit with status %u)", val, port,
			      ((val << 1) | 1) & 0xFF);
	return 1;
}

void pc_reset(struct partition *p, uint64_t now)
{
	uint64_t wall, wall_tsc;
	arch_boot_time(&wall, &wall_tsc);
	uint64_t f = spin_lock(&p->dev_lock);
	com1_reset(&p->com1);
	if (p->platform || p->legacy) {
		vpit_reset(&p->pit, arch_tsc_hz());
		vrtc_reset(&p->rtc, wall + (now - wall_tsc) / arch_tsc_hz(), now, arch_tsc_hz(),
			   p->ram_size);
		vpic_reset(&p->pic);
		p->port92 = 0x02; /* A20 on */
	}
	p->vcpus[0].irq.rtc_deadline = 0;
	if (p->platform) {
		vpm_reset(&p->pm, ACPI_PM1A_EVT_PORT, ACPI_PM1A_CNT_PORT, ACPI_PM_TMR_PORT,
			  arch_tsc_hz(), now);
		vpm_gpe_block(&p->pm, ACPI_GPE0_PORT);
	}
	p->sci_level = 0;
	spin_unlock(&p->dev_lock, f);
}

/* IRQ 9 follows the PM and GPE registers; called with p->dev_lock held, it returns the
 * level to drive, or -1 when it did not change. */
static int sci_changed(struct partition *p)
{
	int level = vpm_sci_level(&p->pm);
	if (level == p->sci_level)
		return -1;
	p->sci_level = level;
	return level;
}

void pc_gpe_raise(struct partition *p, unsigned gpe)
{
	if (!p->platform)
		return;
	uint64_t f = spin_lock(&p->dev_lock);
	vpm_gpe_raise(&p->pm, gpe);
	sci_changed(p);
	int sci = p->sci_level;
	spin_unlock(&p->dev_lock, f);
	/* Driven even when unchanged: after a restore the I/O APIC's pin is the snapshot's. */
	irq_line(p, ACPI_SCI_IRQ, sci);
}

int pc_port_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val,
		   uint32_t *result, uint64_t now)
{
	struct partition *p = v->part;
	int action = VPM_NONE, rtc_moved = 0, sci = -1;

	uint64_t f = spin_lock(&p->dev_lock);
	if (vrtc_claims(port) || vpic_claims(port)) {
		/* byte-wide devices: split wider accesses */
		uint32_t out = 0;
		for (unsigned i = 0; i < size; i++) {
			uint16_t pt = (uint16_t)(port + i);
			uint8_t b = (uint8_t)(val >> (8 * i));
			uint8_t r = 0xFF;
			if (vrtc_claims(pt) && in)
				r = vrtc_read(&p->rtc, pt, now);
			else if (vrtc_claims(pt))
				vrtc_write(&p->rtc, pt, b, now);
			else if (vpic_claims(pt) && in)
				r = vpic_read(&p->pic, pt);
			else if (vpic_claims(pt))
				vpic_write(&p->pic, pt, b);
			out |= (uint32_t)r << (8 * i);
		}
		*result = out;
		if (vrtc_claims(port) && rtc_rearm(p, now) && v->id != 0)
			rtc_moved = 1; /* vCPU 0 may be asleep on an older deadline */
	} else if (port == 0x80) {
		*result = 0xFFFFFFFFu; /* POST codes: written, never read back */
	} else if (port == 0x60 || port == 0x64) {
		/* The keyboard controller: no keyboard, buffers empty (so polls end), system
		 * flag set; command 0xFE pulses the CPU's reset line. */
		if (in)
			*result = port == 0x64 ? 0x1C : 0x00;
		else if (port == 0x64 && (val & 0xFF) == 0xFE)
			action = VPM_RESET_KBC;
	} else if (port == 0x92) {
		if (in) {
			*result = p->port92;
		} else {
			p->port92 = (uint8_t)(val & 0x02);
			if (val & 1)
				action = VPM_RESET_92;
		}
	} else if (vpit_claims(port)) {
		/* byte-wide device: split wider accesses */
		uint32_t out = 0;
		for (unsigned i = 0; i < size; i++) {
			if (in)
				out |= (uint32_t)vpit_read(&p->pit, (uint16_t)(port + i), now) << (8 * i);
			else
				vpit_write(&p->pit, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)), now);
		}
		*result = out;
	} else if (p->platform && vpm_claims(&p->pm, port, size)) {
		if (in)
			*result = vpm_read(&p->pm, port, size, now);
		else
			action = vpm_write(&p->pm, port, size, val, now);
		sci = sci_changed(p);
	} else {
		spin_unlock(&p->dev_lock, f);
		return 0;
	}
	int sleep_type = p->pm.sleep_type;
	spin_unlock(&p->dev_lock, f);

	if (rtc_moved)
		arch_kick_cpu(p->vcpus[0].cpu);
	if (sci >= 0)
		irq_line(p, ACPI_SCI_IRQ, sci);
	if (action == VPM_POWEROFF)
		partition_end(v, 0, "powered off (ACPI S5)");
	else if (action == VPM_RESET)
		partition_end(v, 1, "reset by the guest (port 0xCF9)");
	else if (action == VPM_RESET_KBC)
		partition_end(v, 1, "reset by the guest (keyboard controller, port 0x64)");
	else if (action == VPM_RESET_92)
		partition_end(v, 1, "reset by the guest (fast reset, port 0x92)");
	else if (action == VPM_SLEEP_UNSUPPORTED)
		log_info("partition '%s' asked for ACPI sleep state %d, which Mica does not offer",
			 p->name, sleep_type);
	return 1;
}
