/* Port I/O from guests: the virtual 16550 at 0x3F8, and an empty bus everywhere else. */
#ifndef MICA_IO_H
#define MICA_IO_H

struct vcpu;
struct vm_exit;
void io_emulate(struct vcpu *v, const struct vm_exit *e);

#endif
