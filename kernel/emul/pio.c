/* Port I/O from guests, by port: every partition has a 16550A at 0x3F8 (platform/com1.c)
 * and QEMU's debug-exit port (0xF4 unless its config says otherwise, platform/pc.c); a
 * partition with virtio devices has PCI configuration mechanism #1 at 0xCF8/0xCFC and
 * its functions' I/O BARs (the virtio notify registers) in the bus's I/O window
 * (vpci/bus.c); a partition with a PC (Linux, Multiboot) has the legacy ports and, with
 * ACPI, the PM registers (platform/pc.c). Everything else reads as all ones and ignores
 * writes, like an empty ISA bus. */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "kernel/emul/pio.h"
#include "kernel/partition.h"
#include "kernel/platform/com1.h"
#include "kernel/platform/pc.h"
#include "kernel/vcpu.h"
#include "kernel/vpci/bus.h"

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

static int pci_port(struct partition *p, uint16_t port, unsigned size, int in, uint32_t val,
		    uint32_t *result)
{
	const struct vpci_host *h = p->pci->host;
	if ((port < 0xcf8 || port > 0xcff) && (!h || (uint16_t)(port - h->io_base) >= h->io_size))
		return 0;
	uint64_t f = spin_lock(&p->pci_lock);
	int took = vpci_pio(p->pci, port, size, in, val, result);
	spin_unlock(&p->pci_lock, f);
	return took;
}

uint32_t pio_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val)
{
	struct partition *p = v->part;
	uint32_t result = 0xffffffffu;

	if (port >= UART_COM1_PORT && port < UART_COM1_PORT + UART_NREGS)
		result = com1_access(p, port, size, in, val);
	else if (pc_debug_exit(v, port, in, val))
		; /* reads as all ones */
	else if (p->pci && pci_port(p, port, size, in, val, &result))
		; /* PCI configuration mechanism #1 */
	else if (p->platform || p->legacy)
		pc_port_access(v, port, size, in, val, &result, rdtsc());
	return result;
}

void pio_emulate(struct vcpu *v, const struct vm_exit *e)
{
	if (e->io.string) {
		pio_string(v, e);
		return;
	}
	v->regs.rip += e->insn_len; /* first: a power-off or reset below may reset the vCPU */
	uint32_t result = pio_access(v, e->io.port, e->io.size, e->io.in,
				     (uint32_t)v->regs.gpr[REG_RAX]);
	if (e->io.in)
		set_in_value(v, e->io.size, result);
}
