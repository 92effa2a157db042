/* Virtio devices of partitions: each is a function on its partition's virtual PCI bus
 * (vpci/bus.c), which hands it the accesses to its register regions; the device serves
 * them from its transport (virtio/transport.c) and hands the backend's work to the service
 * partition (virtio/service.c). Lock order: a partition's pci_lock (the bus and its
 * devices), then the service ring's lock, then a vCPU's local APIC lock. */
#include <stdio.h>
#include <string.h>
#include <mica/boot_info.h>
#include <mica/service.h>
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"
#include "kernel/virtio/device.h"
#include "kernel/virtio/service.h"
#include "kernel/vpci/bus.h"

struct vdev vdevs[VDEV_MAX];
unsigned nvdevs;
static unsigned ndisks;
static char switches[CFG_MAX_PARTS][MICA_NAME_MAX];
static unsigned nswitches;

static const char *type_name(unsigned type)
{
	return type == MICA_VIRTIO_NET ? "net" : type == MICA_VIRTIO_BLOCK ? "block" : "console";
}

static struct vdev *add(struct partition *p, unsigned type, unsigned slot)
{
	if (nvdevs == VDEV_MAX) {
		log_info("partition '%s': more than %u virtio devices in all; this one is left out",
			 p->name, VDEV_MAX);
		return NULL;
	}
	struct vdev *d = &vdevs[nvdevs];
	unsigned queues = type == MICA_VIRTIO_BLOCK ? 1 : 2;

	memset(d, 0, sizeof(*d));
	d->index = nvdevs++;
	d->type = type;
	d->slot = slot;
	d->part = p;
	vio_init(&d->vio, queues + 1, queues); /* one vector per queue and one for config */
	p->pci_dev[slot] = d;
	return d;
}

static unsigned switch_index(const char *name)
{
	for (unsigned i = 0; i < nswitches; i++)
		if (!strcmp(switches[i], name))
			return i;
	snprintf(switches[nswitches], MICA_NAME_MAX, "%s", name);
	return nswitches++;
}

int vdev_create(struct partition *p, const struct boot_file *disk)
{
	const struct cfg_partition *c = p->cfg;
	struct vdev *d;

	if (!p->pci)
		return 0;
	if (c->virtio_console && !add(p, MICA_VIRTIO_CONSOLE, VDEV_SLOT_CONSOLE))
		return MICA_EINVAL;
	if (c->disk[0]) {
		if (!disk || (disk->addr & 0xfff) || (disk->size & 0xfff) ||
		    disk->size > MICA_SVC_WINDOW_MAX) {
			log_info("partition '%s': disk %s is %lu bytes; a disk must be a whole number "
				 "of 4 KiB pages, at most %lu GiB (pad the image, e.g. with truncate "
				 "-s)", p->name, c->disk, disk ? disk->size : 0,
				 (unsigned long)(MICA_SVC_WINDOW_MAX >> 30));
			return MICA_EINVAL;
		}
		d = add(p, MICA_VIRTIO_BLOCK, VDEV_SLOT_BLOCK);
		if (!d)
			return MICA_EINVAL;
		d->disk = disk;
		d->disk_index = ndisks++;
	} else if (c->disk_nvme[0]) {
		/* A GPT partition on the NVMe disk the service drives: no file, no window. */
		d = add(p, MICA_VIRTIO_BLOCK, VDEV_SLOT_BLOCK);
		if (!d)
			return MICA_EINVAL;
		d->disk = NULL;
		d->disk_index = MICA_SVC_DISK_NVME;
	}
	if (c->net[0]) {
		d = add(p, MICA_VIRTIO_NET, VDEV_SLOT_NET);
		if (!d)
			return MICA_EINVAL;
		d->net_switch = switch_index(c->net);
		/* Locally administered, unicast: 02:4d:49 ("MI"), then partition and slot. */
		const uint8_t mac[6] = { 0x02, 0x4d, 0x49, 0x00, (uint8_t)p->id, (uint8_t)d->slot };
		memcpy(d->mac, mac, sizeof(mac));
	}
	return 0;
}

/* --- interrupts ------------------------------------------------------------------------ */

/* Signals vector of d's function if the guest allows it now; 0 sent, 1 not (pending). */
static int send_vector(struct vdev *d, uint16_t vector)
{
	if (vector == VIO_NO_VECTOR) {
		d->vio.isr |= VIO_ISR_QUEUE; /* no MSI-X vector: only the ISR shows it */
		return 1;
	}
	return vpci_signal(d->part->pci, d->slot, vector) ? 1 : 0;
}

int vdev_signal(struct vdev *d, unsigned queue)
{
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	int rc = send_vector(d, vio_queue_vector(&d->vio, queue));
	spin_unlock(&p->pci_lock, f);
	return rc;
}

static void signal_config_locked(struct vdev *d)
{
	d->vio.isr |= VIO_ISR_CONFIG;
	send_vector(d, d->vio.msix_config);
}

void vdev_signal_config(struct vdev *d)
{
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	signal_config_locked(d);
	spin_unlock(&p->pci_lock, f);
}

static const struct vpci_ops virtio_ops;

/* --- requests to the service ------------------------------------------------------------ */

/* Called under the partition's pci_lock. */
static void post_event(struct vdev *d, const struct vio_event *ev)
{
	struct mica_ioreq rq;

	memset(&rq, 0, sizeof(rq));
	rq.type = (uint16_t)ev->type;
	rq.device = (uint16_t)d->index;
	rq.queue = (uint16_t)ev->queue;
	rq.size = (uint16_t)ev->size;
	rq.len = ev->type == MICA_IOREQ_CONFIG ? ev->size : 0;
	memcpy(rq.arg, ev->arg, sizeof(rq.arg));
	int rc = service_post(&rq);
	if (ev->type == MICA_IOREQ_RESET) {
		memset(d->notify_posted, 0, sizeof(d->notify_posted));
		if (rc)
			vio_reset_done(&d->vio); /* no service to wait for */
		else
			d->reset_id = rq.id;
	}
}

static void notify(struct vdev *d, unsigned queue)
{
	if (queue >= VIO_QUEUES_MAX || !vio_notify_ok(&d->vio, queue))
		return;
	/* One NOTIFY per queue waits on the ring at a time: the service takes a request off
	 * the ring before it looks at the queue, so a later notify is never lost. */
	if (d->notify_posted[queue] && !service_consumed(d->notify_id[queue]))
		return;
	struct mica_ioreq rq;
	memset(&rq, 0, sizeof(rq));
	rq.type = MICA_IOREQ_NOTIFY;
	rq.device = (uint16_t)d->index;
	rq.queue = (uint16_t)queue;
	if (!service_post(&rq)) {
		d->notify_posted[queue] = 1;
		d->notify_id[queue] = rq.id;
	}
}

void vdev_partition_reset(struct partition *p)
{
	char err[CFG_MSG_MAX];
	struct vio_event ev;

	if (!p->pci)
		return;
	uint64_t f = spin_lock(&p->pci_lock);
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		struct vdev *d = p->pci_dev[s];
		if (!d)
			continue;
		if (vpci_add_virtio(p->pci, s, d->type, d->vio.nvec, MICA_SVC_CONFIG_MAX, 0xff, err,
				    sizeof(err)) ||
		    vpci_assign_bar(p->pci, s, p->pci->host->mem_base + (uint64_t)s * VPCI_BAR_SIZE) ||
		    vpci_assign_io_bar(p->pci, s, (uint16_t)(p->pci->host->io_base +
							     s * VPCI_PIO_SIZE)))
			log_info("partition '%s': virtio %s at 00:%02x.0: %s", p->name,
				 type_name(d->type), s, err);
		vpci_attach(p->pci, s, &virtio_ops, d);
		memset(d->notify_posted, 0, sizeof(d->notify_posted));
		if (vio_guest_reset(&d->vio)) {
			memset(&ev, 0, sizeof(ev));
			ev.type = MICA_IOREQ_RESET;
			ev.arg[0] = 1;
			post_event(d, &ev);
			vio_reset_done(&d->vio); /* the guest does not wait for it */
		}
	}
	spin_unlock(&p->pci_lock, f);
}

void vdev_save(struct partition *p, struct vio *out)
{
	uint64_t f = spin_lock(&p->pci_lock);
	for (unsigned s = 1; s < VPCI_SLOTS; s++)
		if (p->pci_dev[s])
			out[s] = p->pci_dev[s]->vio;
	spin_unlock(&p->pci_lock, f);
}

static void post(struct vdev *d, uint16_t type, uint16_t queue, uint16_t size, uint64_t a0,
		 uint64_t a1, uint64_t a2, uint8_t flag)
{
	struct mica_ioreq rq;

	memset(&rq, 0, sizeof(rq));
	rq.type = type;
	rq.device = (uint16_t)d->index;
	rq.queue = queue;
	rq.size = size;
	rq.arg[0] = a0;
	rq.arg[1] = a1;
	rq.arg[2] = a2;
	rq.data[0] = flag;
	if (service_post(&rq))
		log_info("partition '%s': the service did not take the restored state of its "
			 "virtio %s (its ring is full or it is not running)", d->part->name,
			 type_name(d->type));
}

/* The service is told that d was reset and set up again as its driver has it, each
 * queue taking up where its used ring stands. Under d's partition's pci_lock. */
static void post_resume(struct vdev *d)
{
	struct vio *v = &d->vio;

	post(d, MICA_IOREQ_RESET, 0, 0, MICA_IOREQ_RESET_RESTORED, 0, 0, 0);
	if (!(v->status & VIO_S_FEATURES_OK))
		return;
	post(d, MICA_IOREQ_FEATURES, 0, 0, v->drv_features, 0, 0, 0);
	for (unsigned q = 0; q < v->num_queues && q < VIO_QUEUES_MAX; q++)
		if (v->q[q].enable)
			post(d, MICA_IOREQ_QUEUE, (uint16_t)q, v->q[q].size, v->q[q].desc,
			     v->q[q].driver, v->q[q].device, MICA_IOREQ_QUEUE_RESUME);
	if (v->status & VIO_S_DRIVER_OK)
		post(d, MICA_IOREQ_DRIVER_OK, 0, 0, v->drv_features, 0, 0, 0);
}

void vdev_restore(struct partition *p, const struct vio *in)
{
	uint64_t f = spin_lock(&p->pci_lock);
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		struct vdev *d = p->pci_dev[s];
		if (!d)
			continue;
		/* The driver's side as it was; what the backend offers stays as it is now. */
		struct vio now = d->vio, *v = &d->vio;
		*v = in[s];
		v->nvec = now.nvec;
		v->max_queues = now.max_queues;
		v->attached = now.attached;
		v->dev_features = now.dev_features;
		v->num_queues = now.num_queues;
		v->queue_max = now.queue_max;
		v->config_len = now.config_len;
		memcpy(v->config, now.config, sizeof(v->config));
		v->config_generation = now.config_generation;
		v->reset_pending = 0;
		d->reset_id = 0;
		memset(d->notify_posted, 0, sizeof(d->notify_posted));
		if (!v->attached)
			continue;
		/* What the service has not taken yet was asked of the device as it was before
		 * the restore (a NOTIFY against queue positions it no longer has): withdrawn. */
		service_cancel(d->index);
		post_resume(d);
	}
	spin_unlock(&p->pci_lock, f);
}

void vdev_cloned(struct partition *c)
{
	uint64_t f = spin_lock(&c->pci_lock);
	if (c->pci) {
		c->pci->host = &c->pci_host;
		for (unsigned s = 1; s < VPCI_SLOTS; s++)
			if (c->pci_dev[s]) {
				c->pci->fn[s].dev = c->pci_dev[s];
				c->pci_dev[s]->resume_on_attach = 1;
			}
	}
	spin_unlock(&c->pci_lock, f);
}

void vdev_attached(struct vdev *d)
{
	if (!d->resume_on_attach)
		return;
	d->resume_on_attach = 0;
	post_resume(d);
}

unsigned vdev_service_gone(void)
{
	unsigned broken = 0;

	for (unsigned i = 0; i < nvdevs; i++) {
		struct vdev *d = &vdevs[i];
		struct partition *p = d->part;
		uint64_t f = spin_lock(&p->pci_lock);
		memset(d->notify_posted, 0, sizeof(d->notify_posted));
		if (vio_detach(&d->vio)) {
			signal_config_locked(d);
			broken++;
		}
		spin_unlock(&p->pci_lock, f);
	}
	return broken;
}

int vdev_console_input(struct partition *p, const uint8_t *bytes, size_t n)
{
	struct vdev *d = p->pci ? p->pci_dev[VDEV_SLOT_CONSOLE] : NULL;
	struct mica_ioreq rq;

	if (!d)
		return 0;
	while (n) {
		size_t k = n < sizeof(rq.data) ? n : sizeof(rq.data);
		memset(&rq, 0, sizeof(rq));
		rq.type = MICA_IOREQ_INPUT;
		rq.device = (uint16_t)d->index;
		rq.len = (uint32_t)k;
		memcpy(rq.data, bytes, k);
		if (service_post(&rq))
			break; /* no service: typing goes nowhere, as on a console with no reader */
		bytes += k;
		n -= k;
	}
	return 1;
}

/* --- guest accesses ------------------------------------------------------------------- */

/* One access to a virtio register region of d, from its BAR or the PCI_CFG window; the
 * bus calls it under pci_lock. */
static uint64_t region_access(void *dev, enum vpci_region r, uint64_t off, unsigned size,
			      uint64_t val, int write)
{
	struct vdev *d = dev;
	struct vio_event ev;
	uint64_t out = 0;

	memset(&ev, 0, sizeof(ev));
	switch (r) {
	case VPCI_REGION_COMMON:
		if (off >= VIO_C_LEN)
			break;
		if (!write)
			out = vio_common_read(&d->vio, (unsigned)off, size);
		else if (vio_common_write(&d->vio, (unsigned)off, size, val, &ev))
			post_event(d, &ev);
		break;
	case VPCI_REGION_NOTIFY:
		if (write && off % VPCI_NOTIFY_MULT == 0)
			notify(d, (unsigned)(off / VPCI_NOTIFY_MULT));
		break;
	case VPCI_REGION_ISR:
		if (!write && off == 0)
			out = vio_isr_read(&d->vio);
		break;
	case VPCI_REGION_DEVICE:
		if (off >= VPCI_DEVICE_MAX || size > 4)
			break;
		if (!write)
			out = vio_config_read(&d->vio, (unsigned)off, size);
		else if (vio_config_write(&d->vio, (unsigned)off, size, (uint32_t)val, &ev))
			post_event(d, &ev);
		break;
	default:
		break; /* MSI-X is the bus's */
	}
	return out;
}

static const struct vpci_ops virtio_ops = { .region = region_access };
