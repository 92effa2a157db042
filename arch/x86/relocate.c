/* Self-relocation of the core (a static PIE linked at 0). Runs before anything else, so it
 * may only use RIP-relative addresses: no globals initialised with pointers, no calls out. */
#include <stdint.h>

struct rela {
	uint64_t offset;
	uint64_t info;
	int64_t addend;
};

#define R_X86_64_RELATIVE 8

extern const struct rela __rela_start[], __rela_end[];

void core_relocate(uint64_t base);

void core_relocate(uint64_t base)
{
	for (const struct rela *r = __rela_start; r < __rela_end; r++)
		if ((uint32_t)r->info == R_X86_64_RELATIVE)
			*(uint64_t *)(base + r->offset) = base + (uint64_t)r->addend;
}
