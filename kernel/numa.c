/* NUMA placement (kernel/numa.h). */
#include <stdio.h>

#include "kernel/config.h"
#include "kernel/host/acpi.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/numa.h"
#include "kernel/percpu.h"

/* Read once by the boot CPU before any partition exists; read-only after. */
static struct acpi_numa numa;
static int numa_on;

void numa_init(const struct boot_info *bi)
{
	char line[256];
	int n = 0;

	if (acpi_numa(bi->acpi_rsdp, &numa) || numa.nnodes < 2)
		return;
	numa_on = 1;
	n = snprintf(line, sizeof(line), "numa: %u nodes in the SRAT:", numa.nnodes);
	for (unsigned k = 0; k < numa.nnodes && n < (int)sizeof(line); k++) {
		uint64_t bytes = 0;
		char size[24];
		int first = 1;

		for (unsigned m = 0; m < numa.nmems; m++)
			if (numa.mem[m].node == numa.node[k])
				bytes += numa.mem[m].size;
		cfg_format_size(bytes, size, sizeof(size));
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s node %u: %s, CPUs",
			      k ? ";" : "", numa.node[k], size);
		for (unsigned c = 0; c < ncpus && n < (int)sizeof(line); c++)
			if (acpi_numa_node_of(&numa, cpus[c].apic_id) == (int)numa.node[k]) {
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%u",
					      first ? " " : ",", c);
				first = 0;
			}
		if (first && n < (int)sizeof(line))
			n += snprintf(line + n, sizeof(line) - (size_t)n, " none");
	}
	log_info("%s", line);
}

uint64_t numa_alloc_for(const char *name, uint64_t cpu_mask, uint64_t size, uint64_t align)
{
	char sz[24];
	int node = -1;

	if (!numa_on)
		return mem_alloc_raw(size, align);
	cfg_format_size(size, sz, sizeof(sz));
	for (unsigned c = 0; c < ncpus && node != -2; c++) {
		if (!(cpu_mask & (1ULL << c)))
			continue;
		int n = acpi_numa_node_of(&numa, cpus[c].apic_id);
		node = (n < 0 || (node >= 0 && n != node)) ? -2 : n;
	}
	if (node >= 0) {
		for (unsigned m = 0; m < numa.nmems; m++) {
			if (numa.mem[m].node != (uint32_t)node)
				continue;
			uint64_t pa = mem_alloc_raw_in(size, align, numa.mem[m].base,
						       numa.mem[m].base + numa.mem[m].size);
			if (pa) {
				log_info("partition '%s': %s of RAM at 0x%lx, on NUMA node %d with its "
					 "CPUs", name, sz, pa, node);
				return pa;
			}
		}
		log_info("partition '%s': NUMA node %d (its CPUs') has no free block of %s: its "
			 "RAM comes from another node", name, node, sz);
	} else if (node == -2) {
		log_info("partition '%s': its CPUs are on more than one NUMA node: its RAM comes "
			 "from any node", name);
	}
	return mem_alloc_raw(size, align);
}
