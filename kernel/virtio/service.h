/* The service partition's side of Mica (include/mica/service.h, docs/hypercalls.md): its
 * hypercalls, the request ring in its RAM, and the windows onto the memory it serves. */
#ifndef MICA_VIRTIO_SERVICE_H
#define MICA_VIRTIO_SERVICE_H

#include <stdint.h>
#include <mica/service.h>

struct vcpu;
struct partition;

/* The config's service partition, or NULL (set by partition_create). */
extern struct partition *service_part;

/* Hypercalls MICA_HC_SVC_*: 1 if nr is one (the result is in *ret), else 0. */
int service_hypercall(struct vcpu *v, uint64_t nr, int64_t *ret);

/* Posts rq (its id is filled in) and raises the service's notification vector.
 * 0, or MICA_EINVAL when there is no running service or its ring is full or broken. */
int service_post(struct mica_ioreq *rq);

/* Withdraws the requests for device the service has not taken (svcring_cancel): the
 * caller is the service's own hypercall, so it takes none meanwhile. Returns how many. */
unsigned service_cancel(unsigned device);

/* Is a service running with its ring set up (so service_post() can reach it)? */
int service_ready(void);

/* Has the service taken request id off the ring yet? */
int service_consumed(uint32_t id);

/* The service partition (re)loads or stops: its ring and its devices are gone. */
void service_reset(void);

/* Takes the service's window onto p's RAM out of its stage-2 (p is destroyed) and keeps it
 * from being mapped again. The service's vCPUs flush their TLBs before they next run; the
 * caller is the service's own vCPU (the manager's hypercall), so the memory may change
 * owner once the call returns. 0, or the unmap's error. */
int service_window_close(struct partition *p);

#endif
