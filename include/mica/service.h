/* Mica service ABI (part of hypercall ABI 0.3): what the hypervisor and the service
 * partition (vmm/) share. Described for people in docs/hypercalls.md ("The service role")
 * and docs/vmm.md; keep them in step.
 *
 * The shape: Mica owns each guest's virtual PCI bus and the virtio-pci *transport* of every
 * virtio device on it (PCI config space, common config, ISR, MSI-X, the device config bytes
 * the backend published). What a backend must act on reaches the service as requests on one
 * ring that lives in the service's own RAM: a queue became ready, the guest notified a
 * queue, the driver is ready, the device is being reset, the guest wrote device config,
 * typed console input. Only a reset waits for the service (the driver polls the status
 * until the service says it is done); everything else is posted, so a guest's queue notify
 * costs one exit and no round trip. The service reads and writes a served guest's RAM
 * through a window Mica maps into the service's stage-2, and asks Mica to signal the guest.
 *
 * Every call here is refused with MICA_EPERM unless the caller is the service partition
 * (`service = yes` in the config). Every value the service passes is checked: a bad device
 * index, queue, length or address gives MICA_EINVAL / MICA_EFAULT, never an effect on a
 * partition the service does not serve. */
#ifndef MICA_SERVICE_H
#define MICA_SERVICE_H

#include <stdint.h>
#include <mica/hypercall.h>

/* Hypercall numbers (RAX), arguments in RDI, RSI, RDX, R10, R8 as for every call. */
enum mica_svc_hypercall {
	/* (gpa ring, bytes, vector) -> 0. Registers the request ring: page aligned inside the
	 * service's RAM, bytes = sizeof(struct mica_svc_ring) + n * sizeof(struct mica_ioreq)
	 * with n a power of two, 16 .. MICA_SVC_RING_MAX. Mica sets ring->size = n and posts
	 * from head 0; it raises x2APIC vector (32 .. 255) on the calling vCPU whenever it
	 * adds requests. Calling it again starts a new ring and a new session: every device
	 * detaches (as when the service restarts) until the service attaches it again. */
	MICA_HC_SVC_SETUP = 16,
	/* (index, gpa struct mica_svc_device *, size) -> bytes written; MICA_EINVAL past the
	 * last device. Devices are numbered 0 .. n-1 in config order. */
	MICA_HC_SVC_DEVICE = 17,
	/* (kind, index) -> the guest-physical address in the service where the memory now is.
	 * kind MICA_SVC_MAP_RAM: the RAM of partition `index` (which must have a device this
	 * service serves; any other partition, the service itself included: MICA_EPERM).
	 * kind MICA_SVC_MAP_DISK: disk `index` (struct mica_svc_device.disk). Mapping again
	 * returns the same address. The service must map the window in its own page tables. */
	MICA_HC_SVC_MAP = 18,
	/* (device, gpa struct mica_svc_attach *, size) -> 0. The backend takes the device:
	 * its features, queues and device config bytes. Until then the guest reads device
	 * features 0 (its driver refuses the device). */
	MICA_HC_SVC_ATTACH = 19,
	/* (request id) -> 0. Completes a MICA_IOREQ_RESET: the device's status reads 0 again. */
	MICA_HC_SVC_DONE = 20,
	/* (device, queue) -> 0 if the guest was signalled, 1 if it was not (vector masked or
	 * none set: Mica keeps it pending as the PCI rules say). The backend put buffers on the
	 * used ring of `queue` and vq_needs_notify() said the driver wants to know. */
	MICA_HC_SVC_SIGNAL = 21,
	/* (device, gpa reason, len) -> 0. The guest broke the virtio rules on this device:
	 * Mica logs the reason (<= 159 bytes) under the guest's name, sets DEVICE_NEEDS_RESET
	 * in its status and sends the config-change interrupt. Only that device is affected;
	 * the driver recovers by resetting it. */
	MICA_HC_SVC_FAIL = 22,
	/* (partition, gpa buf, len) -> len. Console output on behalf of a served partition
	 * (its virtio console): the line appears on Mica's serial prefixed with that
	 * partition's name. len <= MICA_CONSOLE_MAX. */
	MICA_HC_SVC_CONSOLE = 23,
};

#define MICA_SVC_MAP_RAM  0
#define MICA_SVC_MAP_DISK 1

/* Where MICA_HC_SVC_MAP puts things in the service's guest-physical space: fixed, so a
 * service can size its page tables up front. Below 512 GiB, inside every CPU's physical
 * address width that has EPT or NPT. */
#define MICA_SVC_RAM_WINDOW(id)    (0x1000000000ULL + (uint64_t)(id) * 0x400000000ULL)
#define MICA_SVC_DISK_WINDOW(i)    (0x6000000000ULL + (uint64_t)(i) * 0x400000000ULL)
#define MICA_SVC_WINDOW_MAX        0x400000000ULL /* 16 GiB per window */

#define MICA_SVC_RING_MAX 1024u

/* Virtio device IDs (virtio 1.x, 5) of the devices Mica can give a guest. */
#define MICA_VIRTIO_NET     1
#define MICA_VIRTIO_BLOCK   2
#define MICA_VIRTIO_CONSOLE 3

#define MICA_SVC_DISK_NAME_MAX 40u /* a GPT partition name (36 characters), NUL, padding */

struct mica_svc_device {
	uint32_t device;          /* this device's index */
	uint32_t type;            /* MICA_VIRTIO_* */
	uint32_t partition;       /* the guest's partition id (MICA_SVC_MAP_RAM index) */
	uint32_t pci_slot;        /* 00:slot.0 on the guest's PCI bus */
	uint64_t ram_bytes;       /* the guest's RAM: [0, ram_bytes) */
	uint64_t disk_bytes;      /* block: disk size (a multiple of 512) */
	uint32_t disk;            /* block: MICA_SVC_MAP_DISK index, or MICA_SVC_DISK_NVME */
	uint32_t net_switch;      /* net: switch index; devices with the same index share it */
	uint8_t mac[6];           /* net: the guest's MAC address (locally administered) */
	uint16_t reserved;
	uint32_t max_queues;      /* queues the transport can hold for this device */
	char partition_name[MICA_NAME_MAX]; /* NUL-terminated */
	char what[MICA_NAME_MAX];           /* for logs: "disk mica/disk.img", "switch lan" */
	/* Since ABI 0.3. block, disk MICA_SVC_DISK_NVME: the GPT partition to serve, on the
	 * NVMe controller the service drives itself (disk_bytes is 0: the service finds the
	 * size). */
	char disk_name[MICA_SVC_DISK_NAME_MAX]; /* NUL-terminated */
};

#define MICA_SVC_DISK_NVME 0xFFFFFFFFu /* mica_svc_device.disk: a GPT partition on NVMe */

#define MICA_SVC_CONFIG_MAX 256u /* device config bytes a backend may publish */
#define MICA_SVC_QUEUES_MAX 8u   /* queues per device */

struct mica_svc_attach {
	uint64_t features;        /* offered device features; VIRTIO_F_VERSION_1 (bit 32) required */
	uint32_t num_queues;      /* 1 .. MICA_SVC_QUEUES_MAX */
	uint32_t queue_max;       /* largest queue size, a power of two <= 32768 */
	uint32_t config_len;      /* bytes of config below */
	uint32_t reserved;
	uint8_t config[MICA_SVC_CONFIG_MAX]; /* the device config structure, little-endian */
};

/* What a request asks. */
enum mica_ioreq_type {
	/* The driver enabled `queue`: size entries; arg[0] descriptor table, arg[1] driver
	 * (available) ring, arg[2] device (used) ring, all guest-physical, as the driver
	 * wrote them (the service checks them: vq_setup()). */
	MICA_IOREQ_QUEUE = 1,
	/* (data[0] = MICA_IOREQ_QUEUE_RESUME: the partition was restored from a snapshot;
	 * the queue takes up where its used ring's index stands, every buffer made available
	 * after it being taken again.) */
	/* The guest notified `queue` (one request per queue until the service takes it). */
	MICA_IOREQ_NOTIFY = 2,
	/* The driver set FEATURES_OK and Mica accepted it: arg[0] = the features the driver
	 * chose (a subset of the offer, with VIRTIO_F_VERSION_1). Comes before any QUEUE. */
	MICA_IOREQ_FEATURES = 7,
	/* The driver set DRIVER_OK; arg[0] = the features it accepted. */
	MICA_IOREQ_DRIVER_OK = 3,
	/* The device is reset (the driver wrote status 0, or the guest partition restarted or
	 * stopped: arg[0] = 1 then). Forget every queue; the driver polls the status until
	 * MICA_HC_SVC_DONE(id). */
	MICA_IOREQ_RESET = 4,
	/* (arg[0] = MICA_IOREQ_RESET_RESTORED: the partition was restored from a snapshot; its
	 * devices' set-up follows as requests. Nobody waits for this one either.) */
	/* The guest wrote len (1, 2, 4) bytes of device config at arg[0]: value arg[1]. Mica
	 * has already stored them in its copy; the backend may act. */
	MICA_IOREQ_CONFIG = 5,
	/* Typed input for a virtio console: len bytes in data. */
	MICA_IOREQ_INPUT = 6,
	/* (8 is MICA_IOREQ_MANAGE, include/mica/manage.h.) Mica withdrew this request before
	 * the service took it: its device was restored from a snapshot, and a RESET with
	 * MICA_IOREQ_RESET_RESTORED follows. Nothing to do. */
	MICA_IOREQ_CANCELLED = 9,
};

#define MICA_IOREQ_QUEUE_RESUME    1
#define MICA_IOREQ_RESET_RESTORED  2

struct mica_ioreq {
	uint32_t id;      /* the request's sequence number (for MICA_HC_SVC_DONE) */
	uint16_t type;    /* enum mica_ioreq_type */
	uint16_t device;
	uint16_t queue;
	uint16_t size;
	uint32_t len;
	uint64_t arg[3];
	uint8_t data[24];
};

/* The ring: Mica writes requests and then head; the service reads them and then writes
 * tail. Both count requests posted / taken since setup (free-running); request k is at
 * req[k % size]. Mica never trusts tail: a value that is not within size of head stops
 * posting, with a log line. */
struct mica_svc_ring {
	volatile uint32_t head;
	volatile uint32_t tail;
	uint32_t size;
	uint32_t lost;            /* requests Mica could not post because the ring was full */
	uint32_t reserved[12];
	struct mica_ioreq req[];
};

#endif
