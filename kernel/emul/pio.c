/* Port I/O from guests. Every partition has a 16550A at 0x3F8; a partition with a PC
 * platform (Linux) also has the 8254 PIT and port 0x61, the ACPI PM registers and PM timer,
 * and the reset port 0xCF9. Everything else reads as all ones and ignores writes, like an
 * empty ISA bus (so an absent 8259 PIC reads 0xFF, as Linux checks). */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "kernel/platform/acpi_tables.h"
#include "kernel/arch.h"
#include "kernel/emul/pio.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/virtio/device.h"
#include "kernel/vcpu.h"

void io_reset(struct partition *p)
{
	uint64_t f = spin_lock(&p->dev_lock);
	vuart_reset(&p->uart);
	if (p->platform) {
		vpit_reset(&p->pit, arch_tsc_hz());
		vpm_reset(&p->pm, ACPI_PM1A_EVT_PORT, ACPI_PM1A_CNT_PORT, ACPI_PM_TMR_PORT,
			  arch_tsc_hz(), rdtsc());
	}
	p->uart_irq = 0;
	p->input_head = p->input_len = 0;
	spin_unlock(&p->dev_lock, f);
}

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

/* The UART's interrupt line follows its state after every access (IOAPIC pin 4). */
static void uart_line(struct partition *p)
{
	if (!p->platform)
		return;
	uint64_t f = spin_lock(&p->dev_lock);
	int level = vuart_irq_level(&p->uart);
	int changed = level != p->uart_irq;
	p->uart_irq = level;
	spin_unlock(&p->dev_lock, f);
	if (changed)
		irq_line(p, UART_COM1_IRQ, level);
}

/* Moves queued input into the UART's FIFO as far as it has room. Under dev_lock. */
static void input_feed(struct partition *p)
{
	while (p->input_len) {
		size_t room = vuart_rx_room(&p->uart);
		size_t run = sizeof(p->input) - p->input_head;
		size_t k = p->input_len < run ? p->input_len : run;
		if (k > room)
			k = room;
		if (!k)
			break;
		k = vuart_receive(&p->uart, p->input + p->input_head, k);
		if (!k)
			break;
		p->input_head = (unsigned)((p->input_head + k) % sizeof(p->input));
		p->input_len -= (unsigned)k;
	}
}

void io_uart_input(struct partition *p, const uint8_t *bytes, size_t n)
{
	if (p->state != PART_RUNNING)
		return;
	uint64_t f = spin_lock(&p->dev_lock);
	/* Queue first, so typing (or pasting) faster than the guest reads loses nothing as
	 * long as the queue has room; what does not fit there is dropped. */
	for (size_t i = 0; i < n && p->input_len < sizeof(p->input); i++) {
		p->input[(p->input_head + p->input_len) % sizeof(p->input)] = bytes[i];
		p->input_len++;
	}
	input_feed(p);
	spin_unlock(&p->dev_lock, f);
	uart_line(p);
}

static uint32_t uart_io(struct partition *p, uint16_t port, unsigned size, int in, uint32_t val)
{
	uint32_t out = 0;
	uint8_t tx;

	uint64_t f = spin_lock(&p->dev_lock);
	for (unsigned i = 0; i < size && port + i < UART_COM1_PORT + UART_NREGS; i++) {
		unsigned reg = port + i - UART_COM1_PORT;
		if (in) {
			out |= (uint32_t)vuart_read(&p->uart, reg) << (8 * i);
			if (p->input_len)
				input_feed(p); /* the guest made room: hand it more of what was typed */
		} else if (vuart_write(&p->uart, reg, (uint8_t)(val >> (8 * i)), &tx)) {
			spin_unlock(&p->dev_lock, f);
			console_put(p, (const char *)&tx, 1);
			f = spin_lock(&p->dev_lock);
		}
	}
	spin_unlock(&p->dev_lock, f);
	uart_line(p);
	return out;
}

/* 1 when a platform device took the access; *result for reads. */
static int platform_io(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val,
		       uint32_t *result)
{
	struct partition *p = v->part;
	uint64_t now = rdtsc();
	int action = VPM_NONE;

	uint64_t f = spin_lock(&p->dev_lock);
	if (vpit_claims(port)) {
		/* byte-wide device: split wider accesses */
		uint32_t out = 0;
		for (unsigned i = 0; i < size; i++) {
			if (in)
				out |= (uint32_t)vpit_read(&p->pit, (uint16_t)(port + i), now) << (8 * i);
			else
				vpit_write(&p->pit, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)), now);
		}
		*result = out;
	} else if (vpm_claims(&p->pm, port, size)) {
		if (in)
			*result = vpm_read(&p->pm, port, size, now);
		else
			action = vpm_write(&p->pm, port, size, val, now);
	} else {
		spin_unlock(&p->dev_lock, f);
		return 0;
	}
	int sleep_type = p->pm.sleep_type;
	spin_unlock(&p->dev_lock, f);

	if (action == VPM_POWEROFF)
		partition_end(v, 0, "powered off (ACPI S5)");
	else if (action == VPM_RESET)
		partition_end(v, 1, "reset by the guest (port 0xCF9)");
	else if (action == VPM_SLEEP_UNSUPPORTED)
		log_info("partition '%s' asked for ACPI sleep state %d, which Mica does not offer",
			 p->name, sleep_type);
	return 1;
}

uint32_t io_port(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val)
{
	struct partition *p = v->part;
	uint32_t result = 0xffffffffu;

	if (port >= UART_COM1_PORT && port < UART_COM1_PORT + UART_NREGS)
		result = uart_io(p, port, size, in, val);
	else if (vdev_pio(p, port, size, in, val, &result))
		; /* PCI configuration mechanism #1 */
	else if (p->platform)
		platform_io(v, port, size, in, val, &result);
	return result;
}

void io_emulate(struct vcpu *v, const struct vm_exit *e)
{
	if (e->io.string) {
		io_string(v, e);
		return;
	}
	v->regs.rip += e->insn_len; /* first: a power-off or reset below may reset the vCPU */
	uint32_t result = io_port(v, e->io.port, e->io.size, e->io.in,
				  (uint32_t)v->regs.gpr[REG_RAX]);
	if (e->io.in)
		set_in_value(v, e->io.size, result);
}
