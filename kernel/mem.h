/* Physical memory for the kernel and the partitions: kernel/frame.c's pool behind a lock.
 * All physical memory is identity-mapped in the core, so an address is also a pointer. */
#ifndef MICA_MEM_H
#define MICA_MEM_H

#include <stdint.h>
#include <mica/boot_info.h>

void mem_init(const struct boot_info *bi);
/* size bytes aligned to align, zeroed; 0 when nothing fits. */
uint64_t mem_alloc(uint64_t size, uint64_t align);
/* The same, not zeroed: for memory the caller fills itself (a partition's RAM). */
uint64_t mem_alloc_raw(uint64_t size, uint64_t align);
/* The same, inside physical [lo, hi) only. */
uint64_t mem_alloc_raw_in(uint64_t size, uint64_t align, uint64_t lo, uint64_t hi);
void mem_free(uint64_t base, uint64_t size);
uint64_t mem_free_bytes(void);
/* Highest physical address the memory map describes (for the core's page tables). */
uint64_t mem_map_top(const struct boot_info *bi);

/* The core maps physical memory 1:1. */
static inline void *phys_to_virt(uint64_t pa) { return (void *)pa; }
static inline uint64_t virt_to_phys(const void *va) { return (uint64_t)va; }

#endif
