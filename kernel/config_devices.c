/* The config keys that give a partition devices: `disk = nvme:NAME` (a GPT partition on
 * the service's NVMe, docs/storage.md) and `pci = ...` (passthrough, docs/passthrough.md),
 * and the checks of the service partition against the partitions it serves, once the
 * whole text is read. Pure logic, as kernel/config.c. */
#include <string.h>

#include "kernel/config_parse.h"
#include "kernel/host/pci.h"

/* disk = nvme:NAME: the GPT partition named NAME on the NVMe disk the service partition
 * drives (docs/storage.md). Names as sgdisk -c writes them, limited to characters that
 * need no quoting anywhere: 1..36 of A-Z a-z 0-9 . _ - */
int cfg_parse_nvme_disk(struct parser *ps, struct span v)
{
	struct cfg_partition *cur = ps->cur;
	char ex[EXCERPT_MAX + 8];
	struct span name = { v.p + 5, v.n - 5 };

	if (name.n == 0 || name.n > CFG_NVME_NAME_MAX - 1)
		return cfg_fail(ps->err, ps->line,
			    "disk '%s': expected nvme:NAME with a GPT partition name of 1 to %u "
			    "characters", cfg_excerpt(ex, v, EXCERPT_MAX), CFG_NVME_NAME_MAX - 1);
	for (unsigned k = 0; k < name.n; k++) {
		char ch = name.p[k];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return cfg_fail(ps->err, ps->line,
				    "disk '%s': a GPT partition name here may have only A-Z a-z "
				    "0-9 . _ - (rename it with sgdisk -c N:NAME)",
				    cfg_excerpt(ex, v, EXCERPT_MAX));
	}
	for (unsigned k = 0; k + 1 < ps->out->nparts; k++)
		if (cfg_span_is(name, ps->out->part[k].disk_nvme))
			return cfg_fail(ps->err, ps->line,
				    "disk 'nvme:%s' already belongs to partition '%s' (line %u); "
				    "a disk belongs to one partition",
				    ps->out->part[k].disk_nvme, ps->out->part[k].name,
				    ps->out->part[k].disk_line);
	cfg_span_copy(cur->disk_nvme, name);
	cur->disk_line = ps->line;
	return 0;
}

/* pci = ADDR[, ADDR ...]: host PCI functions ([segment:]bus:device.function, hex), each
 * given to one partition only. Whether they exist and may be passed through is checked
 * against the machine later (kernel/assign_check.c). */
int cfg_parse_pci(struct parser *ps, struct span v)
{
	struct cfg_partition *cur = ps->cur;
	char ex[EXCERPT_MAX + 4];
	size_t i = 0;

	cur->pci_line = ps->line;
	for (;;) {
		while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		if (i == v.n)
			break;
		size_t start = i;
		while (i < v.n && v.p[i] != ' ' && v.p[i] != '\t' && v.p[i] != ',')
			i++;
		struct span a = { v.p + start, i - start };
		struct cfg_pci d;
		memset(&d, 0, sizeof(d)); /* compared whole with memcmp below: no stray padding */
		if (hpci_parse_addr(a.p, a.n, &d.seg, &d.bus, &d.dev, &d.fn))
			return cfg_fail(ps->err, ps->line,
				    "pci '%s': expected a PCI address bus:device.function in hex "
				    "(e.g. 00:04.0, or 0000:00:04.0 with the segment)",
				    cfg_excerpt(ex, a, EXCERPT_MAX));
		for (unsigned k = 0; k < ps->out->nparts; k++) {
			const struct cfg_partition *o = &ps->out->part[k];
			for (unsigned j = 0; j < o->npci; j++)
				if (!memcmp(&o->pci[j], &d, sizeof(d)))
					return cfg_fail(ps->err, ps->line,
						    "PCI device %04x:%02x:%02x.%x is given twice "
						    "(also to partition '%s', line %u); a device "
						    "belongs to one partition", d.seg, d.bus, d.dev,
						    d.fn, o->name, o->pci_line);
		}
		if (cur->npci == CFG_PCI_MAX)
			return cfg_fail(ps->err, ps->line,
				    "more than %u PCI devices; at most %u per partition",
				    CFG_PCI_MAX, CFG_PCI_MAX);
		cur->pci[cur->npci++] = d;
	}
	if (!cur->npci)
		return cfg_fail(ps->err, ps->line, "pci: expected one or more PCI addresses (e.g. 00:04.0)");
	return 0;
}

int cfg_check_devices(const struct cfg *c, struct cfg_error *err)
{
	const struct cfg_partition *svc = NULL;

	for (unsigned i = 0; i < c->nparts; i++) {
		const struct cfg_partition *p = &c->part[i];
		if (!p->service)
			continue;
		if (svc)
			return cfg_fail(err, p->service_line,
				    "partition '%s' is a second service partition ('%s' is one, line "
				    "%u); there can be only one", p->name, svc->name,
				    svc->service_line);
		if (cfg_has_virtio(p))
			return cfg_fail(err, p->line,
				    "the service partition '%s' cannot have virtio devices itself "
				    "(console = virtio, disk or net)", p->name);
		if (p->initrd[0] || p->cmdline[0])
			return cfg_fail(err, p->initrd[0] ? p->initrd_line : p->cmdline_line,
				    "the service partition '%s' runs Mica's service program "
				    "(an ELF image): initrd and cmdline do not apply", p->name);
		if (p->start_stopped)
			return cfg_fail(err, p->start_line,
				    "the service partition '%s' cannot wait with 'start = no': it "
				    "runs the management console that starts the others", p->name);
		svc = p;
	}
	for (unsigned i = 0; i < c->nparts; i++) {
		const struct cfg_partition *p = &c->part[i];
		if (p->disk_nvme[0] && svc && !svc->npci)
			return cfg_fail(err, p->disk_line,
				    "partition '%s' has disk = nvme:%s, but the service partition "
				    "'%s' has no NVMe controller to serve it from (give it the "
				    "controller: pci = BB:DD.F in its section; docs/storage.md)",
				    p->name, p->disk_nvme, svc->name);
	}
	for (unsigned i = 0; i < c->nparts; i++) {
		const struct cfg_partition *p = &c->part[i];
		if (!svc && p->start_stopped)
			return cfg_fail(err, p->start_line,
				    "partition '%s' has 'start = no', but only the management "
				    "console can start it, and it needs a partition with "
				    "'service = yes' (docs/management.md)", p->name);
		if (!svc && cfg_has_virtio(p)) {
			unsigned line = p->virtio_console ? p->console_line :
					(p->disk[0] || p->disk_nvme[0]) ? p->disk_line : p->net_line;
			return cfg_fail(err, line,
				    "partition '%s' has a virtio device, but no partition is marked "
				    "'service = yes' to serve it (add the service partition, see "
				    "docs/config.md)", p->name);
		}
	}
	return 0;
}
