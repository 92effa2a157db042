/* kernel/host/dmar.c and ivrs.c: any table, as DMAR or IVRS by the first input byte (the
 * rest is the table; its length field is not trusted: the parser gets the input's length).
 * A parsed table stays within the limits, every scope names a RID range in order, every
 * reserved region is a range, and the lookup of any RID answers a unit that exists. */
#include "tests/fuzz/fuzz.h"
#include "kernel/host/iommu_acpi.h"

static struct iommu_acpi a;

/* A machine whose every bridge has buses 1..4 below it (the DMAR's scope paths). */
static int buses(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
		 uint8_t *secondary, uint8_t *subordinate)
{
	(void)ctx; (void)seg; (void)fn;
	if ((dev & 3) == 3)
		return -1;
	*secondary = (uint8_t)(bus + 1 + (dev & 3));
	*subordinate = (uint8_t)(*secondary + 3);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct iommu_bus_ops ops = { buses, NULL };
	char err[200];
	int rc;
	if (size < 1)
		return 0;
	err[0] = 0;
	if (data[0] & 1)
		rc = dmar_parse(data + 1, size - 1, &ops, &a, err, sizeof(err));
	else
		rc = ivrs_parse(data + 1, size - 1, &a, err, sizeof(err));
	if (rc) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(a.nunits <= IOMMU_UNITS_MAX, "%u units", a.nunits);
	FUZZ_CHECK(a.nresv <= IOMMU_RESV_MAX, "%u reserved regions", a.nresv);
	for (unsigned u = 0; u < a.nunits; u++) {
		FUZZ_CHECK(a.unit[u].nscope <= IOMMU_SCOPE_MAX, "%u scopes", a.unit[u].nscope);
		for (unsigned s = 0; s < a.unit[u].nscope; s++)
			FUZZ_CHECK(a.unit[u].scope[s].first <= a.unit[u].scope[s].last,
				   "scope 0x%x..0x%x", a.unit[u].scope[s].first,
				   a.unit[u].scope[s].last);
	}
	for (unsigned r = 0; r < a.nresv; r++) {
		FUZZ_CHECK(a.resv[r].base <= a.resv[r].end, "region 0x%llx..0x%llx",
			   (unsigned long long)a.resv[r].base, (unsigned long long)a.resv[r].end);
		FUZZ_CHECK(a.resv[r].nscope <= IOMMU_RESV_SCOPE_MAX, "region scopes");
	}
	for (unsigned rid = 0; rid < 0x10000; rid += 0x101) {
		int u = iommu_acpi_unit_for(&a, 0, (uint16_t)rid);
		FUZZ_CHECK(u >= -1 && u < (int)a.nunits, "RID 0x%x -> unit %d", rid, u);
	}
	return 0;
}
