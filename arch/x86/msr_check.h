/* Architectural rules for values a guest writes to MSRs and XCR0 whose state a backend
 * keeps: the same on SVM and VT-x (SDM vol. 3 11.12.2 for PAT; 4-/5-level canonical form;
 * SDM vol. 1 13.3 for XCR0). A value that breaks one gets #GP, as on the CPU. */
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

/* May a guest running with CR0 = cr0 and EFER = old write value to EFER? Only bits it
 * may have (EFER_GUEST_BITS; LMA is read-only and ignored), and LME changes only while
 * paging is off (SDM vol. 4 table 2-2, APM vol. 2 14.6.1): #GP otherwise. */
static inline int efer_write_ok(uint64_t old, uint64_t value, uint64_t cr0)
{
	if (value & ~EFER_GUEST_BITS)
		return 0;
	if ((cr0 & (1ULL << 31)) && ((old ^ value) & (1ULL << 8)))
		return 0; /* CR0.PG set and LME toggled */
	return 1;
}

/* Is value acceptable for MSR index (one the backends keep: PAT, segment bases, syscall
 * and sysenter MSRs)? Address-valued ones must be canonical; PAT entries defined types. */
static inline int msr_value_ok(uint32_t index, uint64_t value, uint64_t guest_cr4)
{
	switch (index) {
	case 0x277: /* PAT */
		return pat_valid(value);
	case 0x174: /* SYSENTER_CS */
	case 0xc0000081: /* STAR */
		return 1;
	case 0xc0000084: /* SFMASK: bits 63:32 are reserved (SDM vol. 4, APM vol. 2 6.1.1) */
		return !(value >> 32);
	default: /* FS/GS/KERNEL_GS base, LSTAR, CSTAR, SYSENTER_ESP/EIP */
		return canonical(value, guest_cr4);
	}
}

/* XCR0 state components (SDM vol. 1 13.1). */
#define XCR0_X87       (1ULL << 0)
#define XCR0_SSE       (1ULL << 1)
#define XCR0_AVX       (1ULL << 2)
#define XCR0_BNDREGS   (1ULL << 3)
#define XCR0_BNDCSR    (1ULL << 4)
#define XCR0_OPMASK    (1ULL << 5)
#define XCR0_ZMM_HI256 (1ULL << 6)
#define XCR0_HI16_ZMM  (1ULL << 7)
#define XCR0_AVX512    (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)
#define XCR0_XTILECFG  (1ULL << 17)
#define XCR0_XTILEDATA (1ULL << 18)
#define XCR0_XTILE     (XCR0_XTILECFG | XCR0_XTILEDATA)

/* May XCR0 hold value, on a CPU whose CPUID.(EAX=0DH,ECX=0):EDX:EAX is supported? Every
 * rule of XSETBV (SDM vol. 1 13.3): x87 always on; only supported components; AVX needs
 * SSE; MPX's two components together; AVX-512's three together and only with AVX; AMX's
 * two together. */
static inline int xcr0_valid(uint64_t value, uint64_t supported)
{
	if (!(value & XCR0_X87) || (value & ~supported))
		return 0;
	if ((value & XCR0_AVX) && !(value & XCR0_SSE))
		return 0;
	if (!(value & XCR0_BNDREGS) != !(value & XCR0_BNDCSR))
		return 0;
	if ((value & XCR0_AVX512) &&
	    ((value & XCR0_AVX512) != XCR0_AVX512 || !(value & XCR0_AVX)))
		return 0;
	if ((value & XCR0_XTILE) && (value & XCR0_XTILE) != XCR0_XTILE)
		return 0;
	return 1;
}

#endif
