/* The local APIC of the CPU we run on, in x2APIC mode when the CPU has it, else xAPIC. */
#ifndef MICA_ARCH_X86_APIC_H
#define MICA_ARCH_X86_APIC_H

#include <stdint.h>

void apic_init(void);             /* enable this CPU's APIC (first call picks the mode) */
uint32_t apic_id(void);
void apic_eoi(void);
void apic_send_ipi(uint32_t apic_id, uint8_t vector);
void apic_send_nmi(uint32_t apic_id);
void apic_send_init(uint32_t apic_id);
void apic_send_sipi(uint32_t apic_id, uint8_t page);
int apic_x2(void);
/* Host timer: fires VEC_TIMER once at (or soon after) the given TSC value; 0 disarms. */
void apic_timer_init(uint64_t tsc_hz);
void apic_timer_arm(uint64_t tsc_deadline);

#endif
