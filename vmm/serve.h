/* Requests from Mica's ring, carried out: the backends do the device work, and what they
 * leave behind (a failure, used buffers) becomes MICA_HC_SVC_FAIL and MICA_HC_SVC_SIGNAL. */
#ifndef MICA_VMM_SERVE_H
#define MICA_VMM_SERVE_H

#include <mica/service.h>

/* One request; r is the service's own copy. */
void serve_request(const struct mica_ioreq *r);

/* Every live device's queues once: after Mica lost requests, a notify may be among them. */
void serve_all(void);

#endif
