/* The ELF boot protocol (docs/guests.md): loads an ELF64 guest into a partition's RAM and
 * builds what it starts with: identity page tables for [0, 4 GiB) and a flat GDT. */
#ifndef MICA_LOADER_BOOT_ELF_H
#define MICA_LOADER_BOOT_ELF_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/virt.h"

#define BOOT_ELF_MIN_GPA  0x100000ULL /* segments start at 1 MiB: below is Mica's */
#define BOOT_ELF_STACK    0x10000ULL  /* each vCPU's stack below the top of RAM */

/* ram is the host view of guest-physical 0. Fills st with vCPU 0's state; other vCPUs differ
 * by boot_elf_vcpu_state(). Returns 0 or MICA_EINVAL with a sentence in err. */
int boot_elf_load(const void *img, uint64_t img_size, void *ram, uint64_t ram_size,
		  struct vcpu_boot_state *st, char *err, size_t errlen);

void boot_elf_vcpu_state(struct vcpu_boot_state *st, uint64_t ram_size, unsigned vcpu);

#endif
