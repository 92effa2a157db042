/* Virtio devices of partitions (docs/config.md "Devices", docs/vmm.md): each partition with
 * `console = virtio`, `disk = ...` or `net = ...` has them as functions on its virtual PCI
 * bus (kernel/vpci/bus.c), each carrying Mica's virtio-pci transport
 * (kernel/virtio/transport.c). The bus hands a device the accesses to its registers; what
 * the backend must act on becomes a request to the service partition
 * (kernel/virtio/service.c). */
#ifndef MICA_VIRTIO_DEVICE_H
#define MICA_VIRTIO_DEVICE_H

#include <stdint.h>
#include "kernel/virtio/transport.h"

struct partition;
struct vcpu;
struct boot_file;

#define VDEV_MAX 48 /* three per partition */

/* PCI slots by device type: one device of each type per partition. */
#define VDEV_SLOT_CONSOLE 1
#define VDEV_SLOT_BLOCK   2
#define VDEV_SLOT_NET     3

struct vdev {
	unsigned index;     /* the service's device number */
	unsigned type;      /* MICA_VIRTIO_* */
	unsigned slot;      /* 00:slot.0 */
	struct partition *part;
	struct vio vio;     /* under part->pci_lock */
	uint32_t reset_id;  /* the request id of the pending reset */
	uint32_t notify_id[VIO_QUEUES_MAX]; /* the last NOTIFY posted per queue ... */
	uint8_t notify_posted[VIO_QUEUES_MAX]; /* ... and whether there was one */
	const struct boot_file *disk;
	unsigned disk_index;
	unsigned net_switch;
	uint8_t mac[6];
	unsigned fails_logged; /* needs-reset reports logged (a few, then quiet) */
	uint8_t resume_on_attach; /* a clone's: the driver's state is set up already; the
				   * service is told where each queue stands when it attaches */
};

extern struct vdev vdevs[VDEV_MAX];
extern unsigned nvdevs;

/* At partition creation: the devices its config asks for (disk: the loaded image, or
 * NULL). 0, or a negative code after logging why. */
int vdev_create(struct partition *p, const struct boot_file *disk);

/* At every (re)load of p, on its freshly reset bus: its devices back on the bus in
 * power-on state; the backend is told to forget what it knew of them. */
void vdev_partition_reset(struct partition *p);

/* A clone's devices, right after their driver's state was copied from its origin's
 * (vdev_restore): pointed at the clone's own bus and devices, and each to be resumed where
 * its queues stand once the service attaches it (vdev_attached). */
void vdev_cloned(struct partition *c);
/* The service attached d (under its partition's pci_lock): a clone's device is told its
 * driver's state (vdev_cloned). */
void vdev_attached(struct vdev *d);

/* Snapshots (kernel/snapshot.c), with p held: the driver's side of p's devices, by slot
 * (VPCI_SLOTS entries), saved and put back. A restore tells the service that each device
 * was reset and set up again as the driver had it, every queue taking up where its used
 * ring stands (MICA_IOREQ_QUEUE_RESUME): requests the driver had made available and the
 * service had not answered at the snapshot are served again. */
void vdev_save(struct partition *p, struct vio *out);
void vdev_restore(struct partition *p, const struct vio *in);

/* Typed input for p's virtio console; 0 if p has none (use the UART). */
int vdev_console_input(struct partition *p, const uint8_t *bytes, size_t n);

/* The service partition is gone (stopped or restarting): every device detaches. Returns
 * how many a driver was using (they now need a reset). */
unsigned vdev_service_gone(void);

/* Service side (kernel/virtio/service.c): signal queue / the config vector of d. 0: sent, 1: not
 * (no vector, masked: pending). */
int vdev_signal(struct vdev *d, unsigned queue);
void vdev_signal_config(struct vdev *d);

#endif
