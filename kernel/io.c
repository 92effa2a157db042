#include <stdint.h>
#include "kernel/io.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/uart.h"
#include "kernel/vcpu.h"

static void set_in_value(struct vcpu *v, unsigned size, uint32_t val)
{
	uint64_t *rax = &v->regs.gpr[REG_RAX];
	if (size == 4)
		*rax = val; /* a 32-bit destination clears the upper half */
	else if (size == 2)
		*rax = (*rax & ~0xffffULL) | (val & 0xffff);
	else
		*rax = (*rax & ~0xffULL) | (val & 0xff);
}

void io_emulate(struct vcpu *v, const struct vm_exit *e)
{
	uint16_t port = e->io.port;
	unsigned size = e->io.size;

	if (e->io.string) {
		/* INS/OUTS need the guest's segments and paging walked; no device here needs
		 * them yet. Skip the instruction, as an empty bus would, and say so once. */
		if (!v->exits[EXIT_UNHANDLED]++)
			log_info("partition '%s': string I/O to port 0x%x is not emulated; skipped",
				 v->part->name, port);
		v->regs.rip += e->insn_len;
		return;
	}
	if (port >= UART_BASE && port < UART_BASE + 8) {
		if (e->io.in)
			set_in_value(v, size, uart_read(v->part, port - UART_BASE));
		else
			uart_write(v->part, port - UART_BASE, (uint8_t)v->regs.gpr[REG_RAX]);
	} else if (e->io.in) {
		set_in_value(v, size, 0xffffffffu); /* nothing answers: all ones */
	}
	v->regs.rip += e->insn_len;
}
