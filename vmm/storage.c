/* Disks on NVMe (vmm/storage.h). Every request is checked twice against the GPT partition:
 * by the block backend against the disk's size, and here against the partition's LBAs, so
 * a guest never reaches a block outside its own partition. */
#include <stdio.h>
#include <string.h>

#include "vmm/gpt.h"
#include "vmm/nvme.h"
#include "vmm/pci.h"
#include "vmm/rt/rt.h"
#include "vmm/setup.h"
#include "vmm/storage.h"

typedef unsigned long long ull;

#define CLASS_NVME 0x010802u /* mass storage, non-volatile memory, NVM Express */
#define OWN_MAP_END (4ull << 30) /* Mica's identity map of the service: [0, 4 GiB) */

struct nvme_disk {
	struct blk_medium m;
	struct nvme *n;
	uint64_t first, blocks;  /* the GPT partition: LBAs [first, first + blocks) */
	unsigned number;
	unsigned said;           /* refused requests logged */
	char label[64];          /* "nvme:web-root for 'web'" */
};

static struct nvme ctrl;
static int ctrl_state;       /* 0: not tried, 1: ready with its table, -1: failed */
static struct gpt table;
static struct nvme_disk disks[DEV_MAX];
static unsigned ndisks;

/* Request data goes through here: requests are served one at a time. */
static uint8_t bounce[BLK_MAX_BYTES] __attribute__((aligned(NVME_PAGE)));
/* The GPT is read into here. */
static uint8_t scratch[GPT_ARRAY_MAX + 2 * 4096] __attribute__((aligned(NVME_PAGE)));

static int gpt_read_blocks(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
	struct nvme *n = ctx;
	return nvme_rw(n, 0, lba, count, buf);
}

static int disk_rw(void *ctx, int write, uint64_t off, void *buf, uint64_t len)
{
	struct nvme_disk *d = ctx;
	uint32_t bs = d->n->block;

	if (off % bs || len % bs || off / bs > d->blocks || len / bs > d->blocks - off / bs) {
		if (d->said++ < 4)
			say("%s: a %s of %llu bytes at byte %llu would leave the partition (%llu "
			    "blocks of %u): refused", d->label, write ? "write" : "read",
			    (ull)len, (ull)off, (ull)d->blocks, bs);
		return -1;
	}
	return nvme_rw(d->n, write, d->first + off / bs, len / bs, buf);
}

static int disk_flush(void *ctx)
{
	struct nvme_disk *d = ctx;
	return nvme_flush(d->n);
}

/* Finds the controller on our bus, sets it up and reads its table: 0, or -1. */
static int controller_setup(void)
{
	char where[24], err[200];
	int slot = pci_find_class(0, CLASS_NVME);

	if (slot < 0) {
		say("nvme: no NVMe controller on this partition's PCI bus (give one to the "
		    "service partition with pci = BB:DD.F; the boot log's 'mica: pci' lines list "
		    "them)");
		return -1;
	}
	snprintf(where, sizeof(where), "nvme 00:%02x.0", (unsigned)slot);
	uint64_t bar = pci_bar((unsigned)slot, 0);
	if (bar == 0 || bar >= OWN_MAP_END) {
		say("%s: its BAR0 is at 0x%llx; the service reaches its registers only below 4 "
		    "GiB", where, (ull)bar);
		return -1;
	}
	pci_enable((unsigned)slot);
	if (nvme_init(&ctrl, (volatile uint8_t *)(uintptr_t)bar, where))
		return -1;
	const struct gpt_io io = { gpt_read_blocks, &ctrl, ctrl.block, ctrl.blocks, scratch };
	if (gpt_read(&io, &table, err, sizeof(err))) {
		say("%s: %s", where, err);
		say("%s: none of its disks is served (check the table with sgdisk -v)", where);
		return -1;
	}
	say("%s: GPT with %u partition%s", where, table.nparts, table.nparts == 1 ? "" : "s");
	for (unsigned i = 0; i < table.nparts; i++) {
		const struct gpt_part *p = &table.part[i];
		say("%s: partition %u '%s': LBA %llu to %llu (%llu MiB)", where, p->number,
		    p->name, (ull)p->first, (ull)p->last,
		    (ull)((p->last - p->first + 1) * ctrl.block >> 20));
	}
	return 0;
}

int storage_disk(const struct mica_svc_device *info, const struct blk_medium **m,
		 uint64_t *bytes, uint32_t *blk_size)
{
	char err[200];
	struct gpt_part part;

	if (ctrl_state == 0)
		ctrl_state = controller_setup() ? -1 : 1;
	if (ctrl_state < 0) {
		say("device %u: disk nvme:%s for '%s' is not served: the NVMe disk cannot be used "
		    "(see above)", info->device, info->disk_name, info->partition_name);
		return -1;
	}
	if (gpt_find(&table, info->disk_name, &part, err, sizeof(err))) {
		say("device %u: disk nvme:%s for '%s' is not served:", info->device,
		    info->disk_name, info->partition_name);
		say("device %u: %s", info->device, err);
		return -1;
	}
	if (ndisks == DEV_MAX)
		return -1; /* cannot happen: one disk per device */
	struct nvme_disk *d = &disks[ndisks++];
	d->n = &ctrl;
	d->first = part.first;
	d->blocks = part.last - part.first + 1;
	d->number = part.number;
	snprintf(d->label, sizeof(d->label), "nvme:%s for '%s'", info->disk_name,
		 info->partition_name);
	d->m = (struct blk_medium){ disk_rw, disk_flush, d, bounce };
	*m = &d->m;
	*bytes = d->blocks * ctrl.block;
	*blk_size = ctrl.block;
	return 0;
}
