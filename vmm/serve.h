/* Requests from Mica's ring, carried out: the backends do the device work, and what they
 * leave behind (a failure, used buffers) becomes MICA_HC_SVC_FAIL and MICA_HC_SVC_SIGNAL. */
#ifndef MICA_VMM_SERVE_H
#define MICA_VMM_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <mica/service.h>

/* One request; r is the service's own copy. */
void serve_request(const struct mica_ioreq *r);

/* Keys for the management console (vmm/mgmt.h); n == 0: it has just been opened. */
void serve_manage_keys(const uint8_t *keys, size_t n);

/* One more turn for each block device that had requests left when its turn ended (a few
 * requests each, round robin). Returns 1 while some still have. */
int serve_backlog(void);

/* Every live device's queues once: after Mica lost requests, a notify may be among them. */
void serve_all(void);

/* Once a second: every queue left waiting with no announcement (a lost notify or signal)
 * is served or signalled, and said once per device. */
void serve_watch(void);

#endif
