/* Architectural rules for values a guest writes to MSRs whose state a backend keeps: the
 * same on SVM and VT-x (SDM vol. 3 11.12.2 for PAT; 4-/5-level canonical form). */
#ifndef MICA_ARCH_X86_MSR_CHECK_H
#define MICA_ARCH_X86_MSR_CHECK_H

#include <stdint.h>

#define CR4_LA57 (1ULL << 12)

/* Every PAT entry must be a defined memory type: 0, 1, 4, 5, 6 or 7. */
static inline int pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (uint8_t)(pat >> (8 * i));
		if (t == 2 || t == 3 || t > 7)
			return 0;
	}
	return 1;
}

/* Canonical for the guest's paging: 48-bit, or 57-bit with CR4.LA57. */
static inline int canonical(uint64_t a, uint64_t guest_cr4)
{
	unsigned shift = (guest_cr4 & CR4_LA57) ? 7 : 16;
	return (uint64_t)((int64_t)(a << shift) >> shift) == a;
}

/* The EFER bits a guest may write (SVME stays hidden and is the backend's to keep). */
#define EFER_GUEST_BITS ((1ULL << 0) | (1ULL << 8) | (1ULL << 10) | (1ULL << 11)) /* SCE LME LMA NXE */

/* Is value acceptable for MSR index (one the backends keep: PAT, segment bases, syscall
 * and sysenter MSRs)? Address-valued ones must be canonical; PAT entries defined types. */
static inline int msr_value_ok(uint32_t index, uint64_t value, uint64_t guest_cr4)
{
	switch (index) {
	case 0x277: /* PAT */
		return pat_valid(value);
	case 0x174: /* SYSENTER_CS */
	case 0xc0000081: /* STAR */
	case 0xc0000084: /* SFMASK */
		return 1;
	default: /* FS/GS/KERNEL_GS base, LSTAR, CSTAR, SYSENTER_ESP/EIP */
		return canonical(value, guest_cr4);
	}
}

#endif
