/* The management console's core side (include/mica/manage.h, docs/management.md). */
#ifndef MICA_KERNEL_MANAGE_H
#define MICA_KERNEL_MANAGE_H

#include <stddef.h>
#include <stdint.h>

struct vcpu;

/* A MICA_HC_MGMT_* call: 1 with *ret set if nr is one, else 0. Only the manager (the
 * service partition) gets anything but MICA_EPERM. */
int manage_hypercall(struct vcpu *v, uint64_t nr, int64_t *ret);

/* The console enters management (Ctrl-] then m): 0, or -1 when there is no manager
 * running (the caller says so). */
int manage_enter(void);

/* Keys typed while in management, for the manager (interrupt context): 0, or -1 when
 * the manager is gone (the console leaves management). */
int manage_input(const char *s, size_t n);

#endif
