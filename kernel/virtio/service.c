/* The service partition's hypercalls and its request ring (include/mica/service.h).
 *
 * The ring lives in the service's own RAM, so nothing of Mica's is ever mapped into it;
 * Mica keeps its own copy of the head and never trusts the tail the service writes. The
 * windows onto served partitions' RAM and onto disks are added to the service's stage-2
 * tables on request, only for what it serves, and never with execute permission. */
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <mica/boot_info.h>
#include <mica/service.h>
#include "kernel/console.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/ram.h"
#include "kernel/vcpu.h"
#include "kernel/virtio/device.h"
#include "kernel/virtio/service.h"
#include "kernel/virtio/svcring.h"

struct partition *service_part;

static struct {
	struct spinlock lock;
	uint64_t ring_gpa;   /* 0: no ring (no service running yet) */
	uint32_t size;       /* entries */
	uint32_t head;       /* Mica's own count of posted requests */
	uint8_t vector;
	uint8_t bad_tail_logged;
	struct vcpu *vcpu;   /* takes the notification vector */
	uint8_t ram_mapped[CFG_MAX_PARTS];
	uint8_t disk_mapped[VDEV_MAX];
} svc = { .lock = SPINLOCK_INIT };

static struct mica_svc_ring *ring(void)
{
	return partition_guest_ptr(service_part, svc.ring_gpa,
				   sizeof(struct mica_svc_ring) +
				   (uint64_t)svc.size * sizeof(struct mica_ioreq));
}

int service_post(struct mica_ioreq *rq)
{
	struct vcpu *t = NULL;
	int rc = MICA_EINVAL;

	uint64_t f = spin_lock(&svc.lock);
	if (svc.ring_gpa) {
		enum svcring_post r = svcring_post(ring(), svc.size, &svc.head, rq);
		if (r == SVCRING_POSTED) {
			t = svc.vcpu;
			rc = 0;
		} else if (r == SVCRING_BAD_TAIL && !svc.bad_tail_logged++) {
			log_info("service '%s': its ring's tail is not within %u requests of head %u; "
				 "no more requests until it sets up a new ring", service_part->name,
				 svc.size, svc.head);
		}
	}
	uint8_t vec = svc.vector;
	spin_unlock(&svc.lock, f);
	if (t)
		irq_raise(t, vec);
	return rc;
}

unsigned service_cancel(unsigned device)
{
	uint64_t f = spin_lock(&svc.lock);
	unsigned n = svc.ring_gpa ? svcring_cancel(ring(), svc.size, svc.head, (uint16_t)device) : 0;
	spin_unlock(&svc.lock, f);
	return n;
}

int service_ready(void)
{
	return __atomic_load_n(&svc.ring_gpa, __ATOMIC_ACQUIRE) != 0;
}

int service_consumed(uint32_t id)
{
	int done = 1;
	uint64_t f = spin_lock(&svc.lock);
	if (svc.ring_gpa)
		done = svcring_consumed(ring(), svc.size, svc.head, id);
	spin_unlock(&svc.lock, f);
	return done;
}

void service_reset(void)
{
	uint64_t f = spin_lock(&svc.lock);
	int was_up = svc.ring_gpa != 0;
	svc.ring_gpa = 0;
	svc.vcpu = NULL;
	spin_unlock(&svc.lock, f);
	unsigned broken = vdev_service_gone();
	if (was_up)
		log_info("service '%s' is gone: %u virtio device%s in use now need%s a reset by "
			 "their drivers", service_part->name, broken, broken == 1 ? "" : "s",
			 broken == 1 ? "s" : "");
}

int service_window_close(struct partition *p)
{
	if (!service_part || p == service_part || p->id >= CFG_MAX_PARTS)
		return 0;
	uint64_t f = spin_lock(&svc.lock);
	ram_window_close(p);
	int rc = partition_unmap(service_part, MICA_SVC_RAM_WINDOW(p->id), p->ram_size);
	if (!rc) {
		svc.ram_mapped[p->id] = 0;
		/* the window's tables too: nothing maps there again (the service flushes
		 * before it runs again: it makes this call) */
		partition_prune(service_part, MICA_SVC_RAM_WINDOW(p->id), MICA_SVC_WINDOW_MAX);
	}
	/* Its disk (disk = FILE) too: a clone's is a copy that goes back to the pool. */
	const struct vdev *d = p->pci ? p->pci_dev[VDEV_SLOT_BLOCK] : NULL;
	if (!rc && d && d->type == MICA_VIRTIO_BLOCK && d->disk && d->disk_index < VDEV_MAX) {
		rc = partition_unmap(service_part, MICA_SVC_DISK_WINDOW(d->disk_index),
				     d->disk->size);
		if (!rc) {
			svc.disk_mapped[d->disk_index] = 0;
			partition_prune(service_part, MICA_SVC_DISK_WINDOW(d->disk_index),
					MICA_SVC_WINDOW_MAX);
		}
	}
	spin_unlock(&svc.lock, f);
	return rc;
}

/* --- the calls -------------------------------------------------------------------------- */

static int64_t svc_setup(struct vcpu *v, uint64_t gpa, uint64_t bytes, uint64_t vector)
{
	uint64_t hdr = sizeof(struct mica_svc_ring), n;

	if (bytes < hdr || (bytes - hdr) % sizeof(struct mica_ioreq) || vector < 32 || vector > 255)
		return MICA_EINVAL;
	n = (bytes - hdr) / sizeof(struct mica_ioreq);
	if (n < 16 || n > MICA_SVC_RING_MAX || (n & (n - 1)) || (gpa & 0xfff))
		return MICA_EINVAL;
	struct mica_svc_ring *r = partition_guest_ptr(v->part, gpa, bytes);
	if (!r)
		return MICA_EFAULT;
	uint64_t f = spin_lock(&svc.lock);
	memset(r, 0, hdr);
	r->size = (uint32_t)n;
	svc.ring_gpa = gpa;
	svc.size = (uint32_t)n;
	svc.head = 0;
	svc.vector = (uint8_t)vector;
	svc.bad_tail_logged = 0;
	svc.vcpu = v;
	spin_unlock(&svc.lock, f);
	/* A new ring is a new session: nothing the service knew of the devices (queues,
	 * pending resets, notifies on the old ring) carries over; it attaches them again. */
	vdev_service_gone();
	return 0;
}

static int64_t svc_device(struct vcpu *v, uint64_t index, uint64_t gpa, uint64_t size)
{
	struct mica_svc_device info;

	/* A service built for ABI 0.2 passes the struct without disk_name: it gets that much. */
	uint64_t len = size < sizeof(info) ? size : sizeof(info);
	if (index >= nvdevs || len < offsetof(struct mica_svc_device, disk_name))
		return MICA_EINVAL;
	void *dst = partition_guest_ptr(v->part, gpa, len);
	if (!dst)
		return MICA_EFAULT;
	const struct vdev *d = &vdevs[index];
	const struct partition *p = d->part;
	memset(&info, 0, sizeof(info));
	info.device = d->index;
	info.type = d->type;
	info.partition = p->id;
	info.pci_slot = d->slot;
	info.ram_bytes = p->ram_size;
	info.max_queues = d->vio.max_queues;
	snprintf(info.partition_name, sizeof(info.partition_name), "%s", p->name);
	if (d->type == MICA_VIRTIO_BLOCK) {
		info.disk = d->disk_index;
		if (d->disk) {
			info.disk_bytes = d->disk->size & ~511ULL;
			snprintf(info.what, sizeof(info.what), "disk %s", p->cfg->disk);
		} else {
			snprintf(info.disk_name, sizeof(info.disk_name), "%s", p->cfg->disk_nvme);
			snprintf(info.what, sizeof(info.what), "disk nvme:%s", p->cfg->disk_nvme);
		}
	} else if (d->type == MICA_VIRTIO_NET) {
		info.net_switch = d->net_switch;
		memcpy(info.mac, d->mac, sizeof(info.mac));
		snprintf(info.what, sizeof(info.what), "switch %s", p->cfg->net);
	} else {
		snprintf(info.what, sizeof(info.what), "console");
	}
	memcpy(dst, &info, len);
	return (int64_t)len;
}

static int64_t map(struct partition *s, uint64_t gpa, uint64_t hpa, uint64_t size, uint8_t *done)
{
	int rc = 0;
	uint64_t f = spin_lock(&svc.lock);
	if (!*done) {
		rc = partition_map(s, gpa, hpa, size, S2_READ | S2_WRITE);
		*done = !rc;
	}
	spin_unlock(&svc.lock, f);
	if (rc) {
		log_info("service '%s': cannot map 0x%lx bytes at 0x%lx (error %d)", s->name, size,
			 gpa, rc);
		return MICA_EINVAL;
	}
	return (int64_t)gpa;
}

static int64_t svc_map(struct vcpu *v, uint64_t kind, uint64_t index)
{
	if (kind == MICA_SVC_MAP_RAM) {
		if (index >= npartitions)
			return MICA_EINVAL;
		struct partition *p = &partitions[index];
		if (!p->pci || p == v->part ||
		    __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == PART_DESTROYED)
			return MICA_EPERM; /* not a partition this service serves (any more) */
		if (p->ram_size > MICA_SVC_WINDOW_MAX)
			return MICA_EINVAL;
		if (p->ram_lazy) {
			/* Zeroed on first touch: the window gets each piece once it is zeroed
			 * (kernel/ram.h); a piece the service reaches first faults in. */
			int rc = ram_window_open(p, MICA_SVC_RAM_WINDOW(index));
			if (rc) {
				log_info("service '%s': cannot map the RAM of '%s' (error %d)",
					 v->part->name, p->name, rc);
				return MICA_EINVAL;
			}
			return (int64_t)MICA_SVC_RAM_WINDOW(index);
		}
		return map(v->part, MICA_SVC_RAM_WINDOW(index), p->ram_hpa, p->ram_size,
			   &svc.ram_mapped[index]);
	}
	if (kind == MICA_SVC_MAP_DISK) {
		for (unsigned i = 0; i < nvdevs; i++) {
			const struct vdev *d = &vdevs[i];
			if (d->type == MICA_VIRTIO_BLOCK && d->disk && d->disk_index == index &&
			    (!d->disk->addr ||
			     __atomic_load_n(&d->part->state, __ATOMIC_ACQUIRE) == PART_DESTROYED))
				return MICA_EPERM; /* its partition is gone, or its copy never made */
			if (d->type == MICA_VIRTIO_BLOCK && d->disk && d->disk_index == index)
				return map(v->part, MICA_SVC_DISK_WINDOW(index), d->disk->addr,
					   d->disk->size, &svc.disk_mapped[index]);
		}
		return MICA_EINVAL;
	}
	return MICA_EINVAL;
}

static int64_t svc_attach(struct vcpu *v, uint64_t dev, uint64_t gpa, uint64_t size)
{
	struct mica_svc_attach a;
	char err[CFG_MSG_MAX];

	if (dev >= nvdevs || size < sizeof(a))
		return MICA_EINVAL;
	const void *src = partition_guest_ptr(v->part, gpa, sizeof(a));
	if (!src)
		return MICA_EFAULT;
	memcpy(&a, src, sizeof(a));
	struct vdev *d = &vdevs[dev];
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	int rc = vio_attach(&d->vio, &a, err, sizeof(err));
	if (!rc)
		vdev_attached(d);
	spin_unlock(&p->pci_lock, f);
	if (rc)
		log_info("service '%s': device %lu (partition '%s'): %s", v->part->name, dev,
			 p->name, err);
	return rc;
}

static int64_t svc_done(uint64_t id)
{
	for (unsigned i = 0; i < nvdevs; i++) {
		struct vdev *d = &vdevs[i];
		struct partition *p = d->part;
		int hit = 0;
		uint64_t f = spin_lock(&p->pci_lock);
		if (d->vio.reset_pending && d->reset_id == id) {
			vio_reset_done(&d->vio);
			hit = 1;
		}
		spin_unlock(&p->pci_lock, f);
		if (hit)
			return 0;
	}
	return MICA_EINVAL;
}

static int64_t svc_signal(uint64_t dev, uint64_t queue)
{
	if (dev >= nvdevs || queue >= vdevs[dev].vio.max_queues)
		return MICA_EINVAL;
	return vdev_signal(&vdevs[dev], (unsigned)queue);
}

static int64_t svc_fail(struct vcpu *v, uint64_t dev, uint64_t gpa, uint64_t len)
{
	char why[CFG_MSG_MAX];

	if (dev >= nvdevs || len > sizeof(why) - 1)
		return MICA_EINVAL;
	const char *src = partition_guest_ptr(v->part, gpa, len);
	if (!src)
		return MICA_EFAULT;
	for (uint64_t i = 0; i < len; i++)
		why[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '.';
	why[len] = 0;
	struct vdev *d = &vdevs[dev];
	struct partition *p = d->part;
	uint64_t f = spin_lock(&p->pci_lock);
	int changed = vio_fail(&d->vio);
	spin_unlock(&p->pci_lock, f);
	/* A guest that keeps breaking and resetting its device must not flood the log. */
	if (d->fails_logged < 16)
		log_info("partition '%s': virtio %s at 00:%02x.0 needs reset: %s%s", p->name,
			 d->type == MICA_VIRTIO_NET ? "net"
			 : d->type == MICA_VIRTIO_BLOCK ? "block" : "console",
			 d->slot, why, ++d->fails_logged == 16 ? " (no more such lines for it)" : "");
	if (changed)
		vdev_signal_config(d);
	return 0;
}

static int64_t svc_console(struct vcpu *v, uint64_t part, uint64_t gpa, uint64_t len)
{
	if (part >= npartitions || len > MICA_CONSOLE_MAX)
		return MICA_EINVAL;
	struct partition *p = &partitions[part];
	if (!p->pci || !p->pci_dev[VDEV_SLOT_CONSOLE])
		return MICA_EPERM;
	const char *buf = partition_guest_ptr(v->part, gpa, len);
	if (!buf)
		return MICA_EFAULT;
	console_put(p, buf, len);
	return (int64_t)len;
}

int service_hypercall(struct vcpu *v, uint64_t nr, int64_t *ret)
{
	const uint64_t *r = v->regs.gpr;
	uint64_t a0 = r[REG_RDI], a1 = r[REG_RSI], a2 = r[REG_RDX];

	if (nr < MICA_HC_SVC_SETUP || nr > MICA_HC_SVC_CONSOLE)
		return 0;
	if (v->part != service_part) {
		*ret = MICA_EPERM;
		return 1;
	}
	switch (nr) {
	case MICA_HC_SVC_SETUP: *ret = svc_setup(v, a0, a1, a2); break;
	case MICA_HC_SVC_DEVICE: *ret = svc_device(v, a0, a1, a2); break;
	case MICA_HC_SVC_MAP: *ret = svc_map(v, a0, a1); break;
	case MICA_HC_SVC_ATTACH: *ret = svc_attach(v, a0, a1, a2); break;
	case MICA_HC_SVC_DONE: *ret = svc_done(a0); break;
	case MICA_HC_SVC_SIGNAL: *ret = svc_signal(a0, a1); break;
	case MICA_HC_SVC_FAIL: *ret = svc_fail(v, a0, a1, a2); break;
	default: *ret = svc_console(v, a0, a1, a2); break;
	}
	return 1;
}
