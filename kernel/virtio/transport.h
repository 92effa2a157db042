/* The virtio-pci transport of one virtio device, Mica's side (virtio 1.1, 4.1.4): the common
 * configuration structure, the ISR status byte and the device config bytes the backend
 * published. Pure logic (host unit tested); the caller serialises calls on one struct vio.
 *
 * What a backend in the service partition must act on comes out of the write functions as
 * a struct vio_event, which the caller turns into a struct mica_ioreq (include/mica/
 * service.h). Nothing here waits: a reset is reported once and the status reads back as
 * it was until vio_reset_done(), so the driver's poll for 0 waits for the backend. Nothing
 * is reported while no backend is attached (there is no one to tell). */
#ifndef MICA_VIRTIO_TRANSPORT_H
#define MICA_VIRTIO_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <mica/service.h>

#define VIO_QUEUES_MAX   MICA_SVC_QUEUES_MAX
#define VIO_NO_VECTOR    0xFFFFu

/* device_status bits (virtio 1.1, 2.1) */
#define VIO_S_ACKNOWLEDGE 0x01u
#define VIO_S_DRIVER      0x02u
#define VIO_S_DRIVER_OK   0x04u
#define VIO_S_FEATURES_OK 0x08u
#define VIO_S_NEEDS_RESET 0x40u
#define VIO_S_FAILED      0x80u

#define VIO_F_VERSION_1   (1ULL << 32)

/* ISR status bits (4.1.4.5) */
#define VIO_ISR_QUEUE  0x1u
#define VIO_ISR_CONFIG 0x2u

/* Offsets in the common configuration structure (4.1.4.3). */
#define VIO_C_DFSELECT      0x00 /* le32 device_feature_select, RW */
#define VIO_C_DF            0x04 /* le32 device_feature, RO */
#define VIO_C_GFSELECT      0x08 /* le32 driver_feature_select, RW */
#define VIO_C_GF            0x0C /* le32 driver_feature, RW */
#define VIO_C_MSIX_CONFIG   0x10 /* le16 config_msix_vector, RW */
#define VIO_C_NUM_QUEUES    0x12 /* le16 num_queues, RO */
#define VIO_C_STATUS        0x14 /* u8 device_status, RW */
#define VIO_C_CFG_GEN       0x15 /* u8 config_generation, RO */
#define VIO_C_Q_SELECT      0x16 /* le16 queue_select, RW */
#define VIO_C_Q_SIZE        0x18 /* le16 queue_size, RW */
#define VIO_C_Q_MSIX        0x1A /* le16 queue_msix_vector, RW */
#define VIO_C_Q_ENABLE      0x1C /* le16 queue_enable, RW */
#define VIO_C_Q_NOTIFY_OFF  0x1E /* le16 queue_notify_off, RO */
#define VIO_C_Q_DESC        0x20 /* le64 queue_desc, RW */
#define VIO_C_Q_DRIVER      0x28 /* le64 queue_driver, RW */
#define VIO_C_Q_DEVICE      0x30 /* le64 queue_device, RW */
#define VIO_C_LEN           0x38

struct vio_queue {
	uint16_t size;        /* entries the driver chose (queue_max after reset) */
	uint16_t msix_vector; /* VIO_NO_VECTOR or < nvec */
	uint16_t enable;
	uint64_t desc, driver, device;
};

/* What a guest write asks of the backend (type: MICA_IOREQ_*; 0 none). */
struct vio_event {
	unsigned type;
	unsigned queue;
	unsigned size;   /* MICA_IOREQ_QUEUE: queue size; MICA_IOREQ_CONFIG: access length */
	uint64_t arg[3]; /* as struct mica_ioreq.arg */
};

struct vio {
	/* Fixed at vio_init(). */
	uint16_t nvec;        /* MSI-X table size of the PCI function */
	uint16_t max_queues;  /* queues this transport holds (<= VIO_QUEUES_MAX) */
	/* From the backend (vio_attach). */
	uint8_t attached;
	uint64_t dev_features;
	uint16_t num_queues;
	uint16_t queue_max;
	uint32_t config_len;
	uint8_t config[MICA_SVC_CONFIG_MAX];
	uint8_t config_generation;
	/* The driver's. */
	uint32_t dfselect, gfselect;
	uint64_t drv_features;
	uint16_t msix_config;
	uint8_t status;
	uint16_t queue_select;
	struct vio_queue q[VIO_QUEUES_MAX];
	uint8_t isr;
	uint8_t reset_pending; /* a reset was reported; status reads reset_status until done */
	uint8_t reset_status;
};

/* A device with no backend yet: nothing attached, every register at its reset value. */
void vio_init(struct vio *d, unsigned nvec, unsigned max_queues);

/* The backend takes the device. Checks a: VIRTIO_F_VERSION_1 offered, num_queues 1 ..
 * max_queues, queue_max a power of two 1 .. 32768, config_len <= MICA_SVC_CONFIG_MAX.
 * Returns 0, or MICA_EINVAL with a sentence in err (d unchanged). Attaching again replaces
 * the offer and bumps config_generation. */
int vio_attach(struct vio *d, const struct mica_svc_attach *a, char *err, size_t errlen);

/* The backend went away (the service partition stopped or restarted): d is no longer
 * attached, a pending reset counts as done, and a device the driver was using with this
 * backend (attached, status not 0) gets DEVICE_NEEDS_RESET. Returns 1 if the driver should get a config-change interrupt
 * (msix_config is a vector, or ISR: the caller sends it), else 0. */
int vio_detach(struct vio *d);

/* Common config accesses of size 1, 2, 4 or 8 at off (< VIO_C_LEN). A field is read or
 * written whole, at its own offset and width; the 64-bit fields also as two aligned
 * 32-bit halves (the driver may use either, 4.1.3.1). Any other access reads 0 and writes
 * nothing. A write fills *ev (type 0 when the backend needs not know) and returns 1 if
 * ev->type != 0, else 0. A status write that sets FEATURES_OK and DRIVER_OK at once
 * reports only DRIVER_OK (whose arg[0] carries the features too).
 *   - device_feature reads dev_features' 32-bit word dfselect (0, 1; else 0), 0 when not
 *     attached; driver_feature reads/writes word gfselect of drv_features (2 .. : 0,
 *     ignored), ignored once FEATURES_OK is set.
 *   - config_msix_vector and queue_msix_vector store a value < nvec or VIO_NO_VECTOR; any
 *     other value stores VIO_NO_VECTOR (reads back as the device's "no vector", 4.1.5.1.2).
 *   - num_queues reads num_queues (0 when not attached).
 *   - device_status: writing 0 resets the driver-visible state (features, selects, every
 *     queue back to size queue_max, no vector, disabled, addresses 0; msix_config no
 *     vector; ISR 0). If the device was attached and its status was not 0, event
 *     MICA_IOREQ_RESET is reported, reset_pending set, and status reads the old value until
 *     vio_reset_done(). Writing non-zero sets the status to the old bits | the new ones
 *     (a driver cannot clear bits but by reset). FEATURES_OK is kept only if the device is
 *     attached, drv_features has VIRTIO_F_VERSION_1 and no bit outside dev_features; else
 *     the bit stays clear (the driver reads it back and gives up, 3.1.1); FEATURES_OK newly
 *     kept reports MICA_IOREQ_FEATURES, arg[0] = drv_features. DRIVER_OK newly
 *     set with FEATURES_OK: event MICA_IOREQ_DRIVER_OK, arg[0] = drv_features. While
 *     reset_pending, every common config write is ignored.
 *   - queue_select: any value; queue fields of a queue >= num_queues read 0 and ignore
 *     writes.
 *   - queue_size: stores a power of two 1 .. queue_max while the queue is disabled; else
 *     ignored.
 *   - queue_enable: writing 1 to a disabled queue once FEATURES_OK is set enables it and
 *     reports MICA_IOREQ_QUEUE (queue, size, arg = desc, driver, device), so FEATURES comes
 *     first (service.h); any other write is ignored (4.1.4.3.2).
 *   - queue_notify_off reads the queue's index; queue_desc/driver/device are writable while
 *     the queue is disabled. */
uint64_t vio_common_read(struct vio *d, unsigned off, unsigned size);
int vio_common_write(struct vio *d, unsigned off, unsigned size, uint64_t val,
		     struct vio_event *ev);

/* The ISR status byte: returns it and clears it (4.1.4.5). */
uint8_t vio_isr_read(struct vio *d);

/* Device config, size 1, 2 or 4 at off: bytes past config_len read 0 and ignore writes.
 * A write inside config_len stores the bytes and reports MICA_IOREQ_CONFIG (arg[0] = off,
 * arg[1] = val, size = size); returns 1 then, else 0. */
uint32_t vio_config_read(struct vio *d, unsigned off, unsigned size);
int vio_config_write(struct vio *d, unsigned off, unsigned size, uint32_t val,
		     struct vio_event *ev);

/* The guest notified queue: 1 if the backend should hear of it (attached, not
 * reset_pending, queue < num_queues and enabled), else 0. */
int vio_notify_ok(const struct vio *d, unsigned queue);

/* The backend finished the reported reset. */
void vio_reset_done(struct vio *d);

/* The guest partition (re)starts or stops: the driver-visible state is reset and nothing
 * is pending. Returns 1 if the backend had state to forget (attached and the status was
 * not 0): the caller then posts MICA_IOREQ_RESET with arg[0] = 1. */
int vio_guest_reset(struct vio *d);

/* The backend found the driver breaking the rules: DEVICE_NEEDS_RESET is set and the
 * ISR's config bit; returns 1 if the status changed (send the config-change interrupt),
 * 0 if it was already set or the device is reset (status 0: nothing to report). */
int vio_fail(struct vio *d);

/* The MSI-X vector for queue (VIO_NO_VECTOR if none or no such queue), and for config
 * changes. */
uint16_t vio_queue_vector(const struct vio *d, unsigned queue);
uint16_t vio_config_vector(const struct vio *d);

#endif
