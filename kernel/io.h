/* Port I/O from guests: the virtual 16550 at 0x3F8, and an empty bus everywhere else. */
#ifndef MICA_IO_H
#define MICA_IO_H

struct vcpu;
struct vm_exit;
struct partition;
void io_emulate(struct vcpu *v, const struct vm_exit *e);
/* Power-on state of the partition's devices (at load and at every restart). */
void io_reset(struct partition *p);

#endif
