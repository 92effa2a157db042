/* kernel/assign_check.c: a config's pci = lines against the host's functions and its IOMMU
 * tables, each refusal with its sentence and the line at fault. */
#include <criterion/criterion.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/assign_check.h"

static struct cfg cfg;
static struct cfg_error err;
static struct hpci_list pci;
static struct iommu_acpi iommu;
static struct assign_machine machine;

#define PART(name, cpus) "[partition " name "]\ncpus = " cpus "\nmemory = 16M\nimage = x.elf\n"

static struct hpci_dev *add(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t class)
{
	cr_assert_lt(pci.n, HPCI_MAX_DEVS);
	struct hpci_dev *d = &pci.dev[pci.n++];
	memset(d, 0, sizeof(*d));
	d->bus = bus, d->dev = dev, d->fn = fn;
	d->vendor = 0x8086, d->device = 0x1234;
	d->class = class;
	d->rid = (uint16_t)(bus << 8 | dev << 3 | fn);
	d->upstream = -1;
	return d;
}

/* The machine: a host bridge, a root port, QEMU's nvme and edu, an INTx-only device, one
 * with an unassigned BAR, one the firmware reserves memory for, and two functions behind a
 * PCIe-to-PCI bridge that share its requester ID. One VT-d unit takes every device. */
static void machine_setup(void)
{
	struct hpci_dev *d;

	memset(&pci, 0, sizeof(pci));
	memset(&iommu, 0, sizeof(iommu));
	add(0, 0, 0, 0x060000);                               /* host bridge */
	d = add(0, 1, 0, 0x060400);                           /* root port */
	d->header = HPCI_HDR_BRIDGE;
	d = add(0, 0x10, 0, 0x010802);                        /* nvme */
	d->vendor = 0x1b36, d->device = 0x0010;
	d->cap_msix = 0x40;
	d->bar[0] = (struct hpci_bar){ .base = 0xfebf0000, .size = 0x4000, .is64 = 1 };
	d = add(0, 0x11, 0, 0x00ff00);                        /* edu */
	d->vendor = 0x1234, d->device = 0x11e8;
	d->cap_msi = 0x40;
	d->bar[0] = (struct hpci_bar){ .base = 0xfea00000, .size = 0x100000 };
	d = add(0, 0x12, 0, 0x020000);                        /* INTx only */
	d->bar[0] = (struct hpci_bar){ .base = 0xfe000000, .size = 0x1000 };
	d->int_pin = 1;
	d = add(0, 0x13, 0, 0x020000);                        /* BAR 2 left unassigned */
	d->cap_msi = 0x50;
	d->bar[0] = (struct hpci_bar){ .base = 0, .size = 0x20, .io = 1 }; /* I/O: not used */
	d->bar[2] = (struct hpci_bar){ .base = 0, .size = 0x1000 };
	d = add(0, 0x14, 0, 0x0c0330);                        /* USB with an RMRR */
	d->cap_msi = 0x50;
	d = add(2, 1, 0, 0x020000);                           /* behind a PCIe-to-PCI bridge */
	d->cap_msi = 0x50;
	d->rid = 0x0200;
	d = add(2, 2, 0, 0x020000);
	d->cap_msi = 0x50;
	d->rid = 0x0200;

	iommu.kind = IOMMU_VTD;
	iommu.nunits = 1;
	iommu.unit[0].base = 0xfed90000;
	iommu.unit[0].include_all = 1;
	iommu.nresv = 1;
	iommu.resv[0] = (struct iommu_resv){ .base = 0x7b800000, .end = 0x7b9fffff, .nscope = 1 };
	iommu.resv[0].scope[0] = (struct iommu_scope){ .type = IOMMU_SCOPE_DEVICE, .first = 0x00a0,
						       .last = 0x00a0, .alias = 0x00a0 };
	machine = (struct assign_machine){ .pci = &pci, .iommu = &iommu, .no_iommu = NULL };
}

static void parse(const char *text)
{
	struct cfg_error perr;
	cr_assert_eq(cfg_parse(text, strlen(text), &cfg, &perr), 0, "line %u: %s", perr.line,
		     perr.msg);
}

static void expect_ok(const char *text)
{
	parse(text);
	cr_expect_eq(assign_check(&cfg, &machine, &err), 0, "refused (line %u: %s):\n%s",
		     err.line, err.msg, text);
}

static void expect_refused(const char *text, unsigned line, const char *msg)
{
	parse(text);
	memset(&err, 0x55, sizeof(err));
	err.msg[sizeof(err.msg) - 1] = 0;
	cr_assert_eq(assign_check(&cfg, &machine, &err), MICA_EINVAL, "accepted:\n%s", text);
	cr_expect_str_eq(err.msg, msg, "for:\n%s", text);
	cr_expect_eq(err.line, line, "line %u, expected %u (%s)", err.line, line, err.msg);
}

TestSuite(assign_check, .init = machine_setup);

Test(assign_check, good_config_passes)
{
	expect_ok(PART("a", "0") "pci = 00:10.0, 00:11.0\n" PART("b", "1"));
	expect_ok(PART("a", "0") PART("b", "1") "pci = 0000:00:10.0\n");
	expect_ok(PART("a", "0") "pci = 02:01.0, 02:02.0\n" PART("b", "1") "pci = 00:11.0\n");
	expect_ok(PART("a", "0"));
	/* The machine check is only asked about the devices named: no IOMMU, no matter. */
	machine.no_iommu = "no DMAR or IVRS table";
	machine.iommu = NULL;
	expect_ok(PART("a", "0") PART("b", "1"));
}

Test(assign_check, no_iommu)
{
	machine.no_iommu = "no DMAR or IVRS table";
	machine.iommu = NULL;
	expect_refused(PART("a", "0") "pci = 00:10.0\n", 5,
		       "passthrough needs an IOMMU to confine DMA, and this machine has none "
		       "usable (no DMAR or IVRS table): turn on VT-d or AMD-Vi in the firmware "
		       "setup, or remove this line");
}

/* The longest reason kernel/passthrough.c gives still leaves the advice at the end. */
Test(assign_check, no_iommu_message_fits)
{
	machine.no_iommu = "its IOMMU could not be set up (see above)";
	machine.iommu = NULL;
	parse(PART("a", "0") "pci = 00:10.0\n");
	cr_assert_eq(assign_check(&cfg, &machine, &err), MICA_EINVAL);
	size_t n = strlen(err.msg);
	cr_expect(n >= 16 && !strcmp(err.msg + n - 16, "remove this line"), "cut: %s", err.msg);
}

Test(assign_check, missing_device)
{
	expect_refused(PART("a", "0") "pci = 00:10.0, 00:1f.0\n", 5,
		       "PCI device 00:1f.0 does not exist on this machine (the 'mica: pci' lines "
		       "above list what there is)");
	expect_refused(PART("a", "0") PART("b", "1") "pci = 0001:00:10.0\n", 9,
		       "PCI device 0001:00:10.0 does not exist on this machine (the 'mica: pci' "
		       "lines above list what there is)");
}

Test(assign_check, bridges)
{
	expect_refused(PART("a", "0") "pci = 00:01.0\n", 5,
		       "PCI device 00:01.0 is a bridge (pci-bridge): bridges are never passed "
		       "through (give the devices behind it)");
	expect_refused(PART("a", "0") "pci = 00:00.0\n", 5,
		       "PCI device 00:00.0 is a bridge (host-bridge): bridges are never passed "
		       "through (give the devices behind it)");
	/* A header type 1 is a bridge whatever its class says. */
	pci.dev[1].class = 0x0b4000;
	parse(PART("a", "0") "pci = 00:01.0\n");
	cr_expect_eq(assign_check(&cfg, &machine, &err), MICA_EINVAL);
	cr_expect(!strncmp(err.msg, "PCI device 00:01.0 is a bridge (", 32), "%s", err.msg);
	cr_expect(strstr(err.msg, "bridges are never passed through"), "%s", err.msg);
}

Test(assign_check, intx_only)
{
	expect_refused(PART("a", "0") "pci = 00:12.0\n", 5,
		       "PCI device 00:12.0 (8086:1234) has only INTx interrupts (no MSI or MSI-X), "
		       "which Mica does not route to partitions");
	pci.dev[4].cap_msix = 0x70;
	expect_ok(PART("a", "0") "pci = 00:12.0\n");
}

Test(assign_check, bar_unassigned)
{
	expect_refused(PART("a", "0") "pci = 00:13.0\n", 5,
		       "PCI device 00:13.0: the firmware left its BAR 2 unassigned; Mica uses the "
		       "firmware's assignment");
	pci.dev[5].bar[2].base = 0xfd000000;
	expect_ok(PART("a", "0") "pci = 00:13.0\n");
}

Test(assign_check, shared_requester_id)
{
	expect_refused(PART("a", "0") "pci = 02:01.0\n" PART("b", "1") "pci = 02:02.0\n", 5,
		       "PCI device 02:01.0 shares its DMA requester ID 02:00.0 with 02:02.0, which "
		       "partition 'b' has (devices behind a PCIe-to-PCI bridge all DMA as the "
		       "bridge): give them to one partition");
	/* Not given to anyone, the other one does not matter. */
	expect_ok(PART("a", "0") "pci = 02:01.0\n" PART("b", "1"));
	/* The same RID on another segment is another device. */
	pci.dev[8].seg = 1;
	iommu.unit[1] = (struct iommu_unit){ .segment = 1, .include_all = 1 };
	iommu.nunits = 2;
	expect_ok(PART("a", "0") "pci = 02:01.0\n" PART("b", "1") "pci = 0001:02:02.0\n");
}

Test(assign_check, no_unit_covers_it)
{
	iommu.unit[0].include_all = 0;
	iommu.unit[0].nscope = 1;
	iommu.unit[0].scope[0] = (struct iommu_scope){ .type = IOMMU_SCOPE_DEVICE, .first = 0x0080,
						       .last = 0x0080, .alias = 0x0080 };
	expect_ok(PART("a", "0") "pci = 00:10.0\n");
	expect_refused(PART("a", "0") "pci = 00:10.0\n" PART("b", "1") "pci = 00:11.0\n", 10,
		       "PCI device 00:11.0: no IOMMU unit translates its DMA (the DMAR table "
		       "covers no requester ID 0088)");
	iommu.kind = IOMMU_AMDVI;
	expect_refused(PART("a", "0") "pci = 00:11.0\n", 5,
		       "PCI device 00:11.0: no IOMMU unit translates its DMA (the IVRS table "
		       "covers no requester ID 0088)");
	/* include_all on another segment covers nothing here. */
	iommu.unit[1].segment = 1;
	iommu.unit[1].include_all = 1;
	iommu.nunits = 2;
	expect_refused(PART("a", "0") "pci = 00:11.0\n", 5,
		       "PCI device 00:11.0: no IOMMU unit translates its DMA (the IVRS table "
		       "covers no requester ID 0088)");
	iommu.unit[1].segment = 0;
	expect_ok(PART("a", "0") "pci = 00:11.0\n");
}

Test(assign_check, reserved_memory)
{
	expect_refused(PART("a", "0") "pci = 00:14.0\n", 5,
		       "PCI device 00:14.0: the firmware keeps memory 0x7b800000-0x7b9fffff for its "
		       "DMA (RMRR); Mica does not pass through such devices (often USB "
		       "controllers and integrated graphics)");
	/* A region naming a device's own address while its DMA carries an alias. */
	iommu.resv[0].scope[0].first = iommu.resv[0].scope[0].last = 0x0210;
	expect_ok(PART("a", "0") "pci = 00:14.0\n");
	iommu.kind = IOMMU_AMDVI;
	expect_refused(PART("a", "0") "pci = 02:02.0\n", 5,
		       "PCI device 02:02.0: the firmware keeps memory 0x7b800000-0x7b9fffff for its "
		       "DMA (IVMD); Mica does not pass through such devices (often USB "
		       "controllers and integrated graphics)");
	/* An IVMD for every device. */
	iommu.resv[0].nscope = 0;
	iommu.resv[0].all = 1;
	expect_refused(PART("a", "0") "pci = 00:11.0\n", 5,
		       "PCI device 00:11.0: the firmware keeps memory 0x7b800000-0x7b9fffff for its "
		       "DMA (IVMD); Mica does not pass through such devices (often USB "
		       "controllers and integrated graphics)");
}

Test(assign_check, first_fault_wins)
{
	/* Partition order, then list order: b's missing device comes after a's bridge. */
	expect_refused(PART("a", "0") "pci = 00:10.0, 00:01.0\n" PART("b", "1")
		       "pci = 00:1e.0\n", 5,
		       "PCI device 00:01.0 is a bridge (pci-bridge): bridges are never passed "
		       "through (give the devices behind it)");
}

Test(assign_check, owner)
{
	parse(PART("a", "0") "pci = 00:10.0\n" PART("b", "1") PART("c", "2")
	      "pci = 00:11.0, 02:01.0\n");
	cr_expect_eq(assign_owner(&cfg, &pci.dev[2]), 0);
	cr_expect_eq(assign_owner(&cfg, &pci.dev[3]), 2);
	cr_expect_eq(assign_owner(&cfg, &pci.dev[7]), 2);
	cr_expect_eq(assign_owner(&cfg, &pci.dev[8]), -1);
	cr_expect_eq(assign_owner(&cfg, &pci.dev[0]), -1);
	pci.dev[2].seg = 1;
	cr_expect_eq(assign_owner(&cfg, &pci.dev[2]), -1, "segment differs");
}
