/* The legacy ports of a partition's PC platform (platform/pc.h). Lock: the partition's
 * dev_lock around the models; the partition is ended with it released. */
#include <stdint.h>
#include "kernel/arch.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/platform/acpi_tables.h"
#include "kernel/platform/pc.h"

void pc_reset(struct partition *p, uint64_t now)
{
	uint64_t f = spin_lock(&p->dev_lock);
	com1_reset(&p->com1);
	if (p->platform) {
		vpit_reset(&p->pit, arch_tsc_hz());
		vpm_reset(&p->pm, ACPI_PM1A_EVT_PORT, ACPI_PM1A_CNT_PORT, ACPI_PM_TMR_PORT,
			  arch_tsc_hz(), now);
	}
	spin_unlock(&p->dev_lock, f);
}

int pc_port_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val,
		   uint32_t *result, uint64_t now)
{
	struct partition *p = v->part;
	int action = VPM_NONE;

	uint64_t f = spin_lock(&p->dev_lock);
	if (vpit_claims(port)) {
		/* byte-wide device: split wider accesses */
		uint32_t out = 0;
		for (unsigned i = 0; i < size; i++) {
			if (in)
				out |= (uint32_t)vpit_read(&p->pit, (uint16_t)(port + i), now) << (8 * i);
			else
				vpit_write(&p->pit, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)), now);
		}
		*result = out;
	} else if (vpm_claims(&p->pm, port, size)) {
		if (in)
			*result = vpm_read(&p->pm, port, size, now);
		else
			action = vpm_write(&p->pm, port, size, val, now);
	} else {
		spin_unlock(&p->dev_lock, f);
		return 0;
	}
	int sleep_type = p->pm.sleep_type;
	spin_unlock(&p->dev_lock, f);

	if (action == VPM_POWEROFF)
		partition_end(v, 0, "powered off (ACPI S5)");
	else if (action == VPM_RESET)
		partition_end(v, 1, "reset by the guest (port 0xCF9)");
	else if (action == VPM_SLEEP_UNSUPPORTED)
		log_info("partition '%s' asked for ACPI sleep state %d, which Mica does not offer",
			 p->name, sleep_type);
	return 1;
}
