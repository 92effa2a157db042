/* The legacy ports of a partition's PC (Linux and Multiboot partitions): the 8254 PIT and
 * port 0x61 (platform/vpit.c), the CMOS clock (platform/vrtc.c), the 8259 pair masked and
 * quiet (platform/vpic.c), the POST port 0x80, the keyboard controller's status and reset
 * (0x60, 0x64) and system control port A (0x92: A20, fast reset); with ACPI (Linux) also
 * the PM registers, PM timer and reset port 0xCF9 (platform/vpm.c). QEMU's debug-exit port,
 * on every partition unless its config says no. And the power-on reset of every port
 * device of a partition. */
#ifndef MICA_PLATFORM_PC_H
#define MICA_PLATFORM_PC_H

#include <stdint.h>

struct partition;
struct vcpu;

/* 1 when the PIT or the PM block took the access (*result for reads), else 0. now: the
 * TSC. A write may power the partition off or reset it (partition_end()). */
int pc_port_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val,
		   uint32_t *result, uint64_t now);

/* The clock's interrupt, for vCPU 0 of a partition with an IOAPIC: at or after its
 * irq.rtc_deadline, raises IRQ 8 if the clock says so and sets the next deadline. */
void pc_rtc_tick(struct partition *p, uint64_t now);

/* QEMU's isa-debug-exit: 1 when port is p's debug-exit port (a write stops the partition,
 * saying the value and the status QEMU would exit with), else 0. */
int pc_debug_exit(struct vcpu *v, uint16_t port, int in, uint32_t val);

/* Raises general-purpose event gpe of p's ACPI GPE block (platform/vpm.h): the SCI (IRQ
 * 9) goes up if the guest enabled that event. */
void pc_gpe_raise(struct partition *p, unsigned gpe);

/* Power-on state of p's port devices (COM1; the PIT and PM with a platform), at load and
 * at every restart. now: the TSC (the PM timer's 0). */
void pc_reset(struct partition *p, uint64_t now);

#endif
