/* Where the hypervisor's log and the partitions' output go on the host: a serial port (the
 * config's [mica] serial =, else the one the ACPI SPCR table names, else COM1; or none)
 * and the screen (the boot path's framebuffer, unless [mica] screen = off). */
#ifndef MICA_HOSTCON_H
#define MICA_HOSTCON_H

#include <stddef.h>
#include <mica/boot_info.h>
#include "kernel/config.h"

/* Boot CPU, first thing: sets up the serial port the config names, else COM1. host: the
 * config's [mica] section, or NULL when the config does not parse (its errors are
 * reported later). */
void hostcon_serial_start(const struct boot_info *bi, const struct cfg_host *host);

/* Boot CPU, once the core's own page tables map all memory (ACPI tables may lie above
 * 4 GiB, past what a boot path maps): without a serial = in the config, moves to the
 * I/O-port 16550 the SPCR table names, if it names one. */
void hostcon_serial_spcr(const struct boot_info *bi, const struct cfg_host *host);

/* Boot CPU, once the core's page tables and memory are up: the screen console. */
void hostcon_screen_start(const struct boot_info *bi, const struct cfg_host *host);

/* Logs one line saying where the console goes. */
void hostcon_describe(void);

/* The screen's share of log_write() (called with the log lock held). */
void hostcon_screen_write(const char *s, size_t n);

#endif
