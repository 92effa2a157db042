/* VM generation ID and counter (kernel/vmgenid.h). */
#include <string.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/irq.h"
#include "kernel/partition.h"
#include "kernel/platform/acpi_tables.h"
#include "kernel/platform/pc.h"
#include "kernel/vmgenid.h"

/* 64 random bits: RDRAND where the CPU has it (retried a few times, as Intel advises),
 * else the TSC stirred with a counter (unique per call, not secret: the ID must differ
 * from every earlier one, which this gives). */
static uint64_t random64(void)
{
	static uint64_t stir;
	uint32_t r[4];

	cpuid_count(1, 0, r);
	if (r[2] & (1u << 30)) {
		for (int i = 0; i < 10; i++) {
			uint64_t v;
			if (rdrand64(&v))
				return v;
		}
	}
	/* splitmix64 over the TSC and a counter */
	uint64_t z = rdtsc() + __atomic_add_fetch(&stir, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void write_id(uint8_t *id)
{
	uint64_t v[2] = { random64(), random64() };
	memcpy(id, v, sizeof(v));
}

void vmgenid_init(struct partition *p, uint64_t gpa, uint8_t *ram)
{
	p->vmgenid_gpa = gpa;
	write_id(ram + gpa); /* as the loader wrote the tables: into the RAM it loads */
}

void vmgenid_changed(struct partition *p)
{
	__atomic_add_fetch(&p->vm_generation, 1, __ATOMIC_RELEASE);
	uint8_t *id = p->vmgenid_gpa ? partition_guest_ptr(p, p->vmgenid_gpa, ACPI_VMGENID_LEN)
				     : NULL;
	if (!id)
		return;
	write_id(id);
	pc_gpe_raise(p, ACPI_GPE_VMGENID);
}
