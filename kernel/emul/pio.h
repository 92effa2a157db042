/* Port I/O from guests: the virtual 16550 at 0x3F8, and an empty bus everywhere else. */
#ifndef MICA_IO_H
#define MICA_IO_H

#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct vm_exit;
struct partition;
void io_emulate(struct vcpu *v, const struct vm_exit *e);
/* One access of size bytes (1, 2, 4) to port: the result of an IN (all ones where nothing
 * answers). May end or restart the partition (the PM and reset ports). */
uint32_t io_port(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val);
/* INS/OUTS, REP or not (kernel/emul/string_io.c). */
void io_string(struct vcpu *v, const struct vm_exit *e);
/* Keyboard input for the partition's UART (what does not fit its FIFO is dropped). */
void io_uart_input(struct partition *p, const uint8_t *bytes, size_t n);
/* Power-on state of the partition's devices (at load and at every restart). */
void io_reset(struct partition *p);

#endif
