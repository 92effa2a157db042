/* arch/x86/msr_check.h: the values guests may write to the MSRs the backends keep. */
#include <criterion/criterion.h>
#include "arch/x86/msr_check.h"

Test(msr_check, pat_takes_only_defined_memory_types)
{
	cr_expect(pat_valid(0x0007040600070406ULL), "the power-on PAT");
	cr_expect(pat_valid(0x0505050501010000ULL));
	cr_expect(!pat_valid(0x0007040600070402ULL), "type 2 is reserved");
	cr_expect(!pat_valid(0x0307040600070406ULL), "type 3 is reserved");
	cr_expect(!pat_valid(0x0800000000000000ULL), "types above 7 are reserved");
}

Test(msr_check, canonical_follows_the_paging_depth)
{
	cr_expect(canonical(0x00007fffffffffffULL, 0));
	cr_expect(canonical(0xffff800000000000ULL, 0));
	cr_expect(!canonical(0x0000800000000000ULL, 0), "bit 47 set, upper bits clear");
	cr_expect(!canonical(0xff18792acf600000ULL, 0), "a 5-level kernel address under 4 levels");
	cr_expect(canonical(0xff18792acf600000ULL, CR4_LA57), "the same under LA57");
	cr_expect(!canonical(0x0100000000000000ULL, CR4_LA57));
}

Test(msr_check, which_msrs_must_hold_addresses)
{
	uint64_t bad = 0x0000800000000000ULL;
	cr_expect(!msr_value_ok(0xc0000100, bad, 0), "FS_BASE is an address");
	cr_expect(!msr_value_ok(0xc0000082, bad, 0), "LSTAR is an address");
	cr_expect(msr_value_ok(0xc0000081, bad, 0), "STAR holds selectors, not an address");
	cr_expect(msr_value_ok(0xc0000084, 0xffffffffULL, 0), "SFMASK is a 32-bit mask");
	cr_expect(!msr_value_ok(0xc0000084, 1ULL << 32, 0), "SFMASK bits 63:32 are reserved");
	cr_expect(msr_value_ok(0xc0000081, ~0ULL, 0), "every STAR bit is writable");
	cr_expect(!msr_value_ok(0x277, 0x02, 0), "PAT checks its entries");
}

/* What a Skylake-X (Bochs' model) reports in CPUID.(0DH,0): x87 SSE AVX MPX AVX-512 PKRU. */
#define SKX_XCR0 0x2ffULL

Test(msr_check, xcr0_needs_x87_and_only_supported_components)
{
	cr_expect(xcr0_valid(0x1, SKX_XCR0), "x87 alone");
	cr_expect(xcr0_valid(0x7, SKX_XCR0), "x87 SSE AVX: what Linux sets first");
	cr_expect(xcr0_valid(0x2ff, SKX_XCR0), "everything the CPU has");
	cr_expect(!xcr0_valid(0x0, SKX_XCR0), "x87 may never be off");
	cr_expect(!xcr0_valid(0x6, SKX_XCR0), "x87 off");
	cr_expect(!xcr0_valid(0x3 | (1ULL << 9) | (1ULL << 10), SKX_XCR0), "bit 10 is not supported");
	cr_expect(!xcr0_valid(0x3 | XCR0_XTILE, SKX_XCR0), "AMX is not supported here");
}

Test(msr_check, xcr0_component_dependencies)
{
	uint64_t all = ~0ULL >> 1;
	cr_expect(!xcr0_valid(0x5, all), "AVX without SSE");
	cr_expect(xcr0_valid(0x3, all), "SSE without AVX");
	cr_expect(!xcr0_valid(0x3 | XCR0_BNDREGS, all), "BNDREGS without BNDCSR");
	cr_expect(!xcr0_valid(0x3 | XCR0_BNDCSR, all), "BNDCSR without BNDREGS");
	cr_expect(xcr0_valid(0x3 | XCR0_BNDREGS | XCR0_BNDCSR, all), "MPX as a pair");
	cr_expect(!xcr0_valid(0x27, all), "the review's case: opmask without the ZMM halves");
	cr_expect(!xcr0_valid(0x47, all), "ZMM_Hi256 alone");
	cr_expect(!xcr0_valid(0x87, all), "Hi16_ZMM alone");
	cr_expect(!xcr0_valid(0x67, all), "two of the three");
	cr_expect(!xcr0_valid(0xe3, all), "AVX-512 without AVX");
	cr_expect(xcr0_valid(0xe7, all), "AVX-512 complete, with AVX");
	cr_expect(!xcr0_valid(0x3 | XCR0_XTILECFG, all), "XTILECFG without XTILEDATA");
	cr_expect(!xcr0_valid(0x3 | XCR0_XTILEDATA, all), "XTILEDATA without XTILECFG");
	cr_expect(xcr0_valid(0x3 | XCR0_XTILE, all), "AMX as a pair");
	cr_expect(xcr0_valid(0x3 | (1ULL << 9), all), "PKRU stands alone");
}

Test(msr_check, efer_lme_changes_only_with_paging_off)
{
	uint64_t lme_lma = (1ULL << 8) | (1ULL << 10), pg = 1ULL << 31;
	cr_expect(!efer_write_ok(lme_lma, 0, pg), "the review's case: LME cleared in long mode");
	cr_expect(!efer_write_ok(lme_lma, 1ULL << 10, pg), "LME cleared, LMA written as set");
	cr_expect(efer_write_ok(lme_lma, lme_lma | 1 | (1ULL << 11), pg), "SCE, NXE in long mode");
	cr_expect(efer_write_ok(0, 1ULL << 8, 0), "LME set with paging off: how long mode starts");
	cr_expect(efer_write_ok(1ULL << 8, 0, 0), "LME cleared with paging off");
	cr_expect(!efer_write_ok(0, 1ULL << 8, pg), "LME set under legacy paging");
	cr_expect(!efer_write_ok(0, 1ULL << 12, 0), "SVME is not the guest's");
	cr_expect(!efer_write_ok(0, 1ULL << 63, 0), "reserved bits");
}
