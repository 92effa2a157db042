/* Guest port I/O: an IN, OUT, INS or OUTS exit is completed on the device its port
 * reaches (kernel/emul/pio.c); ports nothing answers read as all ones. */
#ifndef MICA_EMUL_PIO_H
#define MICA_EMUL_PIO_H

#include <stdint.h>

struct vcpu;
struct vm_exit;

/* An IN/OUT exit (INS/OUTS go to pio_string()); advances RIP. */
void pio_emulate(struct vcpu *v, const struct vm_exit *e);

/* One access of size bytes (1, 2, 4) to port: the result of an IN (all ones where nothing
 * answers). May end or restart the partition (the PM and reset ports). */
uint32_t pio_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val);

/* INS/OUTS, REP or not (kernel/emul/string_io.c). */
void pio_string(struct vcpu *v, const struct vm_exit *e);

#endif
