/* Disks on NVMe (docs/storage.md): the controller Mica passed through to the service, its
 * GUID partition table, and each `disk = nvme:NAME` served as a block medium bounded to
 * its GPT partition. */
#ifndef MICA_VMM_STORAGE_H
#define MICA_VMM_STORAGE_H

#include <stdint.h>

#include <mica/service.h>

#include "vmm/blk.h"

/* The medium for block device info (disk MICA_SVC_DISK_NVME): 0 with *m, *bytes and
 * *blk_size, or -1 after saying why (no controller, a damaged table, no such name). The
 * controller and its table are set up on the first call. */
int storage_disk(const struct mica_svc_device *info, const struct blk_medium **m,
		 uint64_t *bytes, uint32_t *blk_size);

#endif
