/* Start-up: which devices to serve, the windows onto their guests' RAM and disks, and the
 * offer each backend makes (vmm/setup.h). */
#include <stdio.h>
#include <string.h>

#include <mica/service.h>

#include "vmm/rt/rt.h"
#include "vmm/setup.h"
#include "vmm/storage.h"

typedef unsigned long long ull;

#define SWITCH_MAX_AGE_MS 300000u /* a MAC not heard from for 5 minutes is forgotten */

struct svc_dev devs[DEV_MAX];
unsigned ndevs;
struct svc_switch switches[SWITCH_MAX];
unsigned nswitches;

/* A window MICA_HC_SVC_MAP gave and we mapped: a partition's RAM or a disk. */
struct window {
	uint32_t kind, index;
	uint8_t *base; /* NULL: mapping failed, said so already */
	uint64_t bytes;
};
static struct window windows[2 * DEV_MAX];
static unsigned nwindows;

const char *dev_type_name(uint32_t type)
{
	static char other[24];

	switch (type) {
	case MICA_VIRTIO_NET:
		return "net";
	case MICA_VIRTIO_BLOCK:
		return "block";
	case MICA_VIRTIO_CONSOLE:
		return "console";
	}
	snprintf(other, sizeof(other), "virtio type %u", type);
	return other;
}

/* The window for (kind, index), asked for and mapped on first use. */
static struct window *window(uint32_t kind, uint32_t index, uint64_t bytes, const char *what)
{
	for (unsigned i = 0; i < nwindows; i++)
		if (windows[i].kind == kind && windows[i].index == index)
			return &windows[i];
	if (nwindows == sizeof(windows) / sizeof(windows[0]))
		return NULL; /* cannot happen: two windows per device at most */

	struct window *w = &windows[nwindows++];
	*w = (struct window){ .kind = kind, .index = index, .bytes = bytes };
	long gpa = hcall(MICA_HC_SVC_MAP, kind, index, 0);
	if (gpa == MICA_EPERM)
		say("%s: not ours to reach (a partition destroyed from the management console, "
		    "or not one we serve): its device is not served", what);
	else if (gpa < 0)
		say("%s: MICA_HC_SVC_MAP refused (%ld)", what, gpa);
	else if (bytes == 0 || bytes > MICA_SVC_WINDOW_MAX)
		say("%s: %llu bytes do not fit a window (1 .. %llu)", what, (ull)bytes,
		    (ull)MICA_SVC_WINDOW_MAX);
	else if (rt_map_window((uint64_t)gpa, bytes) == 0)
		w->base = (uint8_t *)(uintptr_t)gpa;
	return w;
}

/* Reads the device list from device `from` on: MICA_HC_SVC_DEVICE until MICA_EINVAL. */
static void list_devices(unsigned from)
{
	for (unsigned i = from;; i++) {
		struct mica_svc_device info;
		memset(&info, 0, sizeof(info));
		long rc = hcall(MICA_HC_SVC_DEVICE, i, (long)(uintptr_t)&info, sizeof(info));
		if (rc == MICA_EINVAL)
			return;
		if (rc < 0) {
			say("device %u: MICA_HC_SVC_DEVICE failed (%ld); serving %u devices", i,
			    rc, i);
			return;
		}
		if (i == DEV_MAX) {
			say("more than %u devices: device %u and later get no backend", DEV_MAX, i);
			return;
		}
		info.partition_name[MICA_NAME_MAX - 1] = '\0';
		info.what[MICA_NAME_MAX - 1] = '\0';
		if (info.device != i)
			say("device %u: Mica calls it device %u; using %u", i, info.device, i);
		devs[i].info = info;
		ndevs = i + 1;
	}
}

/* Gives net device d its switch and port: switches are made in the order they show up. */
static int join_switch(struct svc_dev *d, unsigned i)
{
	unsigned s = 0;

	while (s < nswitches && switches[s].id != d->info.net_switch)
		s++;
	if (s == nswitches) {
		if (nswitches == SWITCH_MAX) {
			say("device %u: more than %u switches", i, SWITCH_MAX);
			return -1;
		}
		switches[nswitches++].id = d->info.net_switch;
	}
	if (switches[s].nports == SW_MAX_PORTS) {
		say("device %u: %s already has %u ports", i, d->info.what, SW_MAX_PORTS);
		return -1;
	}
	d->be.net.sw = s;
	d->be.net.port = switches[s].nports++;
	return 0;
}

/* Sets up the backend of device i over its windows and fills its offer. */
static int prepare(struct svc_dev *d, unsigned i, struct mica_svc_attach *a)
{
	char what[96];
	const struct mica_svc_device *in = &d->info;

	snprintf(what, sizeof(what), "RAM of '%s'", in->partition_name);
	struct window *ram = window(MICA_SVC_MAP_RAM, in->partition, in->ram_bytes, what);
	if (!ram || !ram->base)
		return -1;
	uint64_t ram_bytes = in->ram_bytes < ram->bytes ? in->ram_bytes : ram->bytes;

	switch (in->type) {
	case MICA_VIRTIO_BLOCK: {
		if (in->disk == MICA_SVC_DISK_NVME) {
			const struct blk_medium *m;
			uint64_t bytes;
			uint32_t bs;
			if (storage_disk(in, &m, &bytes, &bs))
				return -1;
			blk_device(&d->v, ram->base, ram_bytes);
			blk_init_medium(&d->be.blk, m, bytes, bs, in->partition_name);
			blk_offer(&d->be.blk, a);
			return 0;
		}
		snprintf(what, sizeof(what), "disk %u (%s)", in->disk, in->what);
		struct window *disk = window(MICA_SVC_MAP_DISK, in->disk, in->disk_bytes, what);
		if (!disk || !disk->base)
			return -1;
		uint64_t bytes = in->disk_bytes < disk->bytes ? in->disk_bytes : disk->bytes;
		blk_device(&d->v, ram->base, ram_bytes);
		blk_init(&d->be.blk, disk->base, bytes, in->partition_name);
		blk_offer(&d->be.blk, a);
		return 0;
	}
	case MICA_VIRTIO_CONSOLE:
		con_device(&d->v, ram->base, ram_bytes);
		con_reset(&d->be.con);
		con_offer(a);
		return 0;
	case MICA_VIRTIO_NET:
		if (join_switch(d, i))
			return -1;
		net_device(&d->v, ram->base, ram_bytes);
		net_offer(in->mac, a);
		return 0;
	}
	say("device %u: %s for '%s' is not served", i, dev_type_name(in->type),
	    in->partition_name);
	return -1;
}

static void say_attached(const struct svc_dev *d, unsigned i)
{
	const struct mica_svc_device *in = &d->info;
	char head[96];

	snprintf(head, sizeof(head), "device %u: %s for '%s' (00:%02x.0)", i,
		 dev_type_name(in->type), in->partition_name, in->pci_slot);
	switch (in->type) {
	case MICA_VIRTIO_BLOCK:
		say("%s, %s, %llu KiB", head, in->what, (ull)(d->be.blk.bytes >> 10));
		break;
	case MICA_VIRTIO_NET:
		say("%s, %s port %u, mac %02x:%02x:%02x:%02x:%02x:%02x", head, in->what,
		    d->be.net.port, in->mac[0], in->mac[1], in->mac[2], in->mac[3], in->mac[4],
		    in->mac[5]);
		break;
	default:
		say("%s", head);
		break;
	}
}

/* Attaches devices [from, ndevs), then gives each switch its new ports. */
static unsigned attach_from(unsigned from)
{
	struct mica_svc_attach a;
	unsigned attached = 0, switches_before = nswitches;
	char err[96];

	list_devices(from);
	for (unsigned i = from; i < ndevs; i++) {
		struct svc_dev *d = &devs[i];
		if (prepare(d, i, &a))
			continue;
		if (a.num_queues > d->info.max_queues) {
			say("device %u: needs %u queues, the transport holds %u", i, a.num_queues,
			    d->info.max_queues);
			continue;
		}
		if (d->info.type == MICA_VIRTIO_NET) {
			/* on its switch before Mica resumes a clone's queues (on attach) */
			struct svc_switch *s = &switches[d->be.net.sw];
			s->port[d->be.net.port] = &d->v;
			s->dev[d->be.net.port] = d;
			if (d->be.net.sw < switches_before)
				s->sw.nports = s->nports; /* a port more on a running switch */
		}
		long rc = hcall(MICA_HC_SVC_ATTACH, i, (long)(uintptr_t)&a, sizeof(a));
		if (rc < 0) {
			say("device %u: MICA_HC_SVC_ATTACH refused (%ld)", i, rc);
			if (d->info.type == MICA_VIRTIO_NET)
				switches[d->be.net.sw].port[d->be.net.port] = NULL;
			continue;
		}
		d->offer = a.features;
		d->attached = 1;
		attached++;
		say_attached(d, i);
	}
	for (unsigned s = switches_before; s < nswitches; s++) {
		if (sw_init(&switches[s].sw, switches[s].nports,
			    SWITCH_MAX_AGE_MS, err, sizeof(err)))
			say("switch %u: %s", s, err); /* cannot happen: 1 .. SW_MAX_PORTS ports */
	}
	return attached;
}

unsigned dev_setup(void)
{
	return attach_from(0);
}

unsigned dev_setup_more(void)
{
	return attach_from(ndevs);
}
