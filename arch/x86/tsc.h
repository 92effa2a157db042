#ifndef MICA_ARCH_X86_TSC_H
#define MICA_ARCH_X86_TSC_H

#include <stdint.h>

/* Measures the TSC frequency (boot CPU, once, before the APs start). Returns Hz. */
uint64_t tsc_calibrate(void);
uint64_t tsc_freq(void);

#endif
