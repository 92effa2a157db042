#ifndef MICA_ARCH_X86_TSC_H
#define MICA_ARCH_X86_TSC_H

#include <stdint.h>
#include <mica/boot_info.h>

/* Measures the TSC frequency (boot CPU, once, before the APs start): against PIT channel 2,
 * else the ACPI PM timer bi's FADT names. Returns Hz. */
uint64_t tsc_calibrate(const struct boot_info *bi);
uint64_t tsc_freq(void);

#endif
