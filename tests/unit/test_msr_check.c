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
	cr_expect(msr_value_ok(0xc0000084, bad, 0), "SFMASK is a mask");
	cr_expect(!msr_value_ok(0x277, 0x02, 0), "PAT checks its entries");
}
