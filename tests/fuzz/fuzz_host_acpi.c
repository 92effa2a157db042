/* kernel/host/acpi.c: the firmware's MADT and MCFG bodies are anything (the RSDP and XSDT
 * that lead to them are built here, checksums fixed, so that the fuzzer reaches the
 * entries). The CPU list stays within ACPI_MAX_CPUS with the rest counted, the I/O APIC
 * answer names a GSI at or above its base, and every MCFG window kept has a base and its
 * buses in order. The input is also an SRAT's body (acpi_srat_parse). */
#include "tests/fuzz/fuzz.h"
#include <sys/mman.h>
#include <mica/hypercall.h>
#include "kernel/host/acpi.h"
#include "tests/acpi_sum.h"

#define BODY_MAX 4096u

static uint8_t *mem; /* below 4 GiB: the RSDT's pointers are 32-bit */

static void header(uint8_t *t, const char *sig, uint32_t len)
{
	memset(t, 0, 36);
	memcpy(t, sig, 4);
	memcpy(t + 4, &len, 4);
	t[8] = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!mem) {
		mem = mmap(NULL, 4 * BODY_MAX, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (mem == MAP_FAILED)
			abort();
	}
	if (size < 2)
		return 0;
	/* The first byte splits the rest between the MADT's body and the MCFG's. */
	size_t rest = size - 1, madt_body = rest * data[0] / 255;
	if (madt_body > BODY_MAX - 44)
		madt_body = BODY_MAX - 44;
	size_t mcfg_body = rest - madt_body > BODY_MAX - 44 ? BODY_MAX - 44 : rest - madt_body;
	uint8_t *rsdp = mem, *xsdt = mem + 64, *madt = mem + BODY_MAX, *mcfg = mem + 2 * BODY_MAX;

	uint32_t madt_len = (uint32_t)(44 + madt_body), mcfg_len = (uint32_t)(44 + mcfg_body);
	header(madt, "APIC", madt_len);
	memcpy(madt + 36, data + 1, madt_body); /* local APIC address, flags, then entries */
	if (madt_body < 8)
		memset(madt + 36 + madt_body, 0, 8 - madt_body);
	acpi_fix_sum(madt, madt_len, 9);
	header(mcfg, "MCFG", mcfg_len);
	memset(mcfg + 36, 0, 8);
	memcpy(mcfg + 44, data + 1 + madt_body, mcfg_body); /* after 8 reserved bytes */
	acpi_fix_sum(mcfg, mcfg_len, 9);

	uint64_t p[2] = { (uint64_t)(uintptr_t)madt, (uint64_t)(uintptr_t)mcfg };
	header(xsdt, "XSDT", 36 + 16);
	memcpy(xsdt + 36, p, 16);
	acpi_fix_sum(xsdt, 52, 9);
	memset(rsdp, 0, 36);
	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = 2;
	uint32_t len = 36;
	uint64_t x = (uint64_t)(uintptr_t)xsdt;
	memcpy(rsdp + 20, &len, 4);
	memcpy(rsdp + 24, &x, 8);
	acpi_fix_sum(rsdp, 20, 8);
	acpi_fix_sum(rsdp, 36, 32);

	uint64_t r = (uint64_t)(uintptr_t)rsdp;
	struct acpi_cpus cpus;
	char err[200];
	err[0] = 0;
	if (acpi_madt_cpus(r, &cpus, err, sizeof(err)) == 0)
		FUZZ_CHECK(cpus.n <= ACPI_MAX_CPUS, "%u CPUs", cpus.n);
	else
		fuzz_check_msg(err, sizeof(err));
	uint64_t ioapic;
	uint32_t base, gsi;
	uint16_t flags;
	for (unsigned irq = 0; irq < 16; irq += 4)
		if (acpi_madt_ioapic(r, irq, &ioapic, &base, &gsi, &flags) == 0)
			FUZZ_CHECK(gsi >= base, "IRQ %u: GSI %u below its I/O APIC's base %u", irq,
				   gsi, base);
	struct acpi_mcfg m;
	if (acpi_mcfg(r, &m) == 0) {
		FUZZ_CHECK(m.n <= ACPI_MCFG_MAX, "%u windows", m.n);
		for (unsigned i = 0; i < m.n; i++)
			FUZZ_CHECK(m.win[i].base && m.win[i].start_bus <= m.win[i].end_bus,
				   "window %u", i);
	}
	/* The whole input as an SRAT's structures: every entry kept is one the table holds,
	 * within the limits, and its node is in the node list. */
	static uint8_t srat[48 + BODY_MAX];
	static struct acpi_numa numa;
	size_t body = size - 1 > BODY_MAX ? BODY_MAX : size - 1;
	header(srat, "SRAT", (uint32_t)(48 + body));
	memset(srat + 36, 0, 12);
	memcpy(srat + 48, data + 1, body);
	if (acpi_srat_parse(srat, 48 + body, &numa) == 0) {
		FUZZ_CHECK(numa.ncpus <= ACPI_NUMA_CPUS && numa.nmems <= ACPI_NUMA_MEMS,
			   "%u CPUs, %u ranges", numa.ncpus, numa.nmems);
		FUZZ_CHECK(numa.nnodes <= numa.ncpus + numa.nmems, "%u nodes", numa.nnodes);
		for (unsigned i = 0; i < numa.ncpus; i++) {
			unsigned k = 0;
			while (k < numa.nnodes && numa.node[k] != numa.cpu[i].node)
				k++;
			FUZZ_CHECK(k < numa.nnodes, "CPU %u's node %u not listed", i, numa.cpu[i].node);
		}
	} else {
		FUZZ_CHECK(!numa.ncpus && !numa.nmems && !numa.nnodes, "a refused SRAT left entries");
	}
	return 0;
}
