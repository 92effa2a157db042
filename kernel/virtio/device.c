/* Virtio devices of partitions: the virtual PCI bus behind ECAM, the BAR regions of each
 * virtio function, MSI-X delivery, and the hand-off of backend work to the service
 * partition. Lock order: a partition's pci_lock, then the service ring's lock, then a
 * vCPU's local APIC lock. */
#include <stdio.h>
#include <string.h>
#include <mica/boot_info.h>
#include <mica/service.h>
#include "kernel/platform/acpi_tables.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/virtio/service.h"
#include "kernel/vcpu.h"
#include "kernel/virtio/device.h"
#include "kernel/vpci/bus.h"

#define ECAM_SIZE (1ULL << 20) /* bus 0 only */

struct vdev vdevs[VDEV_MAX];
unsigned nvdevs;
static struct vpci buses[CFG_MAX_PARTS];
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

	if (!cfg_has_virtio(c))
		return 0;
	p->pci = &buses[p->id];
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

/* --- MSI-X ---------------------------------------------------------------------------- */

/* Sends vector of d's function if the guest allows it now; 0 sent, 1 not (pending). */
static int msix_send(struct vdev *d, uint16_t vector)
{
	uint64_t addr;
	uint32_t data;

	if (vector == VIO_NO_VECTOR) {
		d->vio.isr |= VIO_ISR_QUEUE; /* no MSI-X vector: only the ISR shows it */
		return 1;
	}
	if (vpci_msix_message(d->part->pci, d->slot, vector, &addr, &data))
		return 1;
	irq_msi(d->part, addr, data);
	return 0;
}

/* After a guest write that may have unmasked vectors of slot: send what was pending. */
static void msix_flush(struct partition *p, unsigned slot)
{
	uint64_t addr;
	uint32_t data;
	int vec;

	while ((vec = vpci_msix_pop_pending(p->pci, slot)) >= 0)
		if (!vpci_msix_message(p->pci, slot, (unsigned)vec, &addr, &data))
			irq_msi(p, addr, data);
}

int vdev_signal(struct vdev *d, unsigned queue)
{
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	int rc = msix_send(d, vio_queue_vector(&d->vio, queue));
	spin_unlock(&p->pci_lock, f);
	return rc;
}

static void signal_config_locked(struct vdev *d)
{
	d->vio.isr |= VIO_ISR_CONFIG;
	msix_send(d, d->vio.msix_config);
}

void vdev_signal_config(struct vdev *d)
{
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	signal_config_locked(d);
	spin_unlock(&p->pci_lock, f);
}

static void cfg_window(void *ctx, unsigned slot, enum vpci_region r, uint32_t off,
		       unsigned size, uint32_t *val, int write);

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
	vpci_init(p->pci);
	p->pci_cf8 = 0;
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		struct vdev *d = p->pci_dev[s];
		if (!d)
			continue;
		if (vpci_add_virtio(p->pci, s, d->type, d->vio.nvec, MICA_SVC_CONFIG_MAX, 0xff, err,
				    sizeof(err)) ||
		    vpci_assign_bar(p->pci, s, ACPI_PCI_MEM_BASE + (uint64_t)s * VPCI_BAR_SIZE))
			log_info("partition '%s': virtio %s at 00:%02x.0: %s", p->name,
				 type_name(d->type), s, err);
		memset(d->notify_posted, 0, sizeof(d->notify_posted));
		if (vio_guest_reset(&d->vio)) {
			memset(&ev, 0, sizeof(ev));
			ev.type = MICA_IOREQ_RESET;
			ev.arg[0] = 1;
			post_event(d, &ev);
			vio_reset_done(&d->vio); /* the guest does not wait for it */
		}
	}
	p->pci->region_fn = cfg_window;
	p->pci->region_ctx = p;
	spin_unlock(&p->pci_lock, f);
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

/* One access to a virtio register region of slot; under pci_lock. */
static uint64_t region_io(struct partition *p, unsigned slot, enum vpci_region r, uint64_t off,
			  unsigned size, uint64_t val, int write)
{
	struct vdev *d = p->pci_dev[slot];
	struct vio_event ev;
	uint64_t out = 0;

	memset(&ev, 0, sizeof(ev));
	if (!d)
		return 0;
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
	case VPCI_REGION_MSIX_TABLE:
	case VPCI_REGION_MSIX_PBA:
		if (!write) {
			out = vpci_msix_read(p->pci, slot, r, off, size);
		} else {
			vpci_msix_write(p->pci, slot, r, off, size, val);
			msix_flush(p, slot);
		}
		break;
	default:
		break;
	}
	return out;
}

/* The PCI_CFG capability window (virtio 1.1 4.1.4.9) reaches the same registers. */
static void cfg_window(void *ctx, unsigned slot, enum vpci_region r, uint32_t off,
		       unsigned size, uint32_t *val, int write)
{
	uint64_t out = region_io(ctx, slot, r, off, size, *val, write);
	if (!write)
		*val = (uint32_t)out;
}

int vdev_mmio_claims(struct partition *p, uint64_t gpa)
{
	return p->pci && (gpa - ACPI_PCI_ECAM_BASE < ECAM_SIZE ||
			  gpa - ACPI_PCI_MEM_BASE < ACPI_PCI_MEM_SIZE);
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

static uint64_t access(struct vcpu *v, uint64_t gpa, unsigned size, uint64_t val, int write)
{
	struct partition *p = v->part;
	uint64_t out = ones(size);

	uint64_t f = spin_lock(&p->pci_lock);
	if (gpa - ACPI_PCI_ECAM_BASE < ECAM_SIZE) {
		uint64_t off = gpa - ACPI_PCI_ECAM_BASE;
		unsigned slot = (unsigned)(off >> 15) & 31;
		if (size > 4) {
			/* ECAM carries one dword at most: reads all ones, writes vanish */
		} else if (!write) {
			out = vpci_cfg_read(p->pci, off, size);
		} else {
			vpci_cfg_write(p->pci, off, size, (uint32_t)val);
			if (slot < VPCI_SLOTS && p->pci_dev[slot])
				msix_flush(p, slot); /* MSI-X enable or function mask may have changed */
		}
	} else {
		unsigned slot, bar;
		uint64_t off;
		enum vpci_region r = vpci_bar_lookup(p->pci, gpa, &slot, &bar, &off);
		if (r != VPCI_REGION_NONE)
			out = region_io(p, slot, r, off, size, val, write);
	}
	spin_unlock(&p->pci_lock, f);
	return out;
}

#define CF8_ENABLE 0x80000000u

int vdev_pio(struct partition *p, uint16_t port, unsigned size, int in, uint32_t val,
	     uint32_t *result)
{
	if (!p->pci)
		return 0;
	if (port == 0xcf8 && size == 4) { /* byte accesses at 0xcf9 are the reset register */
		uint64_t f = spin_lock(&p->pci_lock);
		if (in)
			*result = p->pci_cf8;
		else
			p->pci_cf8 = val & (CF8_ENABLE | 0x00fffffcu);
		spin_unlock(&p->pci_lock, f);
		return 1;
	}
	if (port < 0xcfc || port + size > 0xd00)
		return 0;
	uint64_t f = spin_lock(&p->pci_lock);
	uint64_t off;
	if (!vpci_cf8_offset(p->pci_cf8, port - 0xcfcu, &off)) {
		unsigned slot = (unsigned)(off >> 15) & 31;
		if (in) {
			*result = vpci_cfg_read(p->pci, off, size);
		} else {
			vpci_cfg_write(p->pci, off, size, val);
			if (slot < VPCI_SLOTS && p->pci_dev[slot])
				msix_flush(p, slot);
		}
	} else if (in) {
		*result = (uint32_t)ones(size); /* disabled, or no such bus: master abort */
	}
	spin_unlock(&p->pci_lock, f);
	return 1;
}

uint64_t vdev_mmio_read(struct vcpu *v, uint64_t gpa, unsigned size)
{
	return access(v, gpa, size, 0, 0);
}

void vdev_mmio_write(struct vcpu *v, uint64_t gpa, unsigned size, uint64_t val)
{
	access(v, gpa, size, val, 1);
}
