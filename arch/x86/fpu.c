/* The guest's FPU, SSE and AVX registers for snapshots. Mica never uses them itself
 * (-mgeneral-regs-only), so whatever they hold on a partition's CPU is its vCPU's: saved
 * and put back there, on that CPU, with XSAVE (every component the guest's XCR0 enables)
 * or, on a CPU without it, FXSAVE. */
#include <stdint.h>
#include <string.h>
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "kernel/arch.h"

#define CPUID1_ECX_XSAVE (1u << 26)
#define KIND_FXSAVE 1
#define KIND_XSAVE  2

/* The buffer: this header, then the save area, 64-byte aligned. */
struct fpu_head {
	uint32_t kind;
	uint32_t size;
	uint64_t xcr0;
	uint8_t pad[48];
};
_Static_assert(sizeof(struct fpu_head) == 64, "the area stays 64-byte aligned");

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static int have_xsave(void)
{
	uint32_t r[4];
	cpuid_count(1, 0, r);
	return (r[2] & CPUID1_ECX_XSAVE) && (read_cr4() & (1ULL << 18));
}

/* Every user component the CPU can save but AMX's tiles (whose size is not worth it):
 * the guest's XCR0 may leave SSE or AVX out of XSAVE while the registers still hold its
 * values, so the save and the load run with all of them on, then the guest's XCR0 back. */
static uint64_t xsave_all(void)
{
	uint32_t r[4];
	cpuid_count(0xd, 0, r);
	return (((uint64_t)r[3] << 32) | r[0]) & ~((1ull << 17) | (1ull << 18));
}

int arch_fpu_save(void *buf)
{
	struct fpu_head *h = buf;
	uint8_t *area = (uint8_t *)buf + sizeof(*h);

	memset(h, 0, sizeof(*h));
	if (!have_xsave()) {
		h->kind = KIND_FXSAVE;
		h->size = 512;
		__asm__ volatile("fxsaveq %0" : "=m"(*(uint8_t (*)[512])area));
		return 0;
	}
	uint32_t r[4];
	uint64_t all = xsave_all();
	h->xcr0 = xgetbv0();
	if (xsetbv_safe(0, all))
		return -1;
	cpuid_count(0xd, 0, r); /* EBX: the area's size for the components XCR0 enables now */
	if (r[1] > ARCH_FPU_MAX - sizeof(*h)) {
		xsetbv_safe(0, h->xcr0);
		return -1;
	}
	h->kind = KIND_XSAVE;
	h->size = r[1];
	memset(area, 0, r[1]); /* the header's reserved bytes must be zero for XRSTOR */
	__asm__ volatile("xsaveq %0" : "+m"(*(uint8_t (*)[ARCH_FPU_MAX - 64])area)
			 : "a"(0xffffffffu), "d"(0xffffffffu));
	xsetbv_safe(0, h->xcr0);
	return 0;
}

void arch_fpu_load(const void *buf)
{
	const struct fpu_head *h = buf;
	const uint8_t *area = (const uint8_t *)buf + sizeof(*h);

	if (h->kind == KIND_FXSAVE) {
		__asm__ volatile("fxrstorq %0" : : "m"(*(const uint8_t (*)[512])area));
	} else if (h->kind == KIND_XSAVE && have_xsave() && !xsetbv_safe(0, xsave_all())) {
		__asm__ volatile("xrstorq %0" : : "m"(*(const uint8_t (*)[ARCH_FPU_MAX - 64])area),
				 "a"(0xffffffffu), "d"(0xffffffffu));
		xsetbv_safe(0, h->xcr0);
	}
}
