/* bench: path lengths of a trapped CPUID and of a null hypercall (VERSION), measured with
 * RDTSC. Under QEMU -icount shift=8 the TSC advances 256 per emulated instruction, the
 * hypervisor's included, so scripts/bench.py turns these deltas into instruction counts.
 * All three sequences are identical except for the one instruction measured. */
#include "lib/guest.h"

#define RUNS 1000

static uint32_t run_base(void)
{
	uint32_t t0, t1;

	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "lfence; rdtsc; lfence\n\t"
			 : "=&S"(t0), "=a"(t1) : : "rbx", "rcx", "rdx", "memory");
	return t1 - t0;
}

static uint32_t run_cpuid(void)
{
	uint32_t t0, t1;

	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "cpuid\n\t"
			 "lfence; rdtsc; lfence\n\t"
			 : "=&S"(t0), "=a"(t1) : : "rbx", "rcx", "rdx", "memory");
	return t1 - t0;
}

static uint32_t run_hcall(void)
{
	uint32_t t0, t1;

	/* RAX = 0: MICA_HC_VERSION, the cheapest call there is. */
	if (hcall_vmmcall)
		__asm__ volatile("lfence; rdtsc; lfence\n\t"
				 "mov %%eax, %%esi\n\t"
				 "xor %%eax, %%eax\n\t"
				 "xor %%ecx, %%ecx\n\t"
				 "vmmcall\n\t"
				 "lfence; rdtsc; lfence\n\t"
				 : "=&S"(t0), "=a"(t1) : : "rbx", "rcx", "rdx", "memory");
	else
		__asm__ volatile("lfence; rdtsc; lfence\n\t"
				 "mov %%eax, %%esi\n\t"
				 "xor %%eax, %%eax\n\t"
				 "xor %%ecx, %%ecx\n\t"
				 "vmcall\n\t"
				 "lfence; rdtsc; lfence\n\t"
				 : "=&S"(t0), "=a"(t1) : : "rbx", "rcx", "rdx", "memory");
	return t1 - t0;
}

/* Calibration: 64 NOPs in place of the exiting instruction give the TSC ticks per guest
 * instruction (256 under QEMU -icount shift=8; Bochs' TSC follows its own instruction count). */
static uint32_t run_nops(void)
{
	uint32_t t0, t1;

	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, %%esi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 ".rept 64; nop; .endr\n\t"
			 "lfence; rdtsc; lfence\n\t"
			 : "=&S"(t0), "=a"(t1) : : "rbx", "rcx", "rdx", "memory");
	return t1 - t0;
}

static uint32_t minimum(uint32_t (*run)(void))
{
	uint32_t best = UINT32_MAX;

	for (int i = 0; i < RUNS; i++) {
		uint32_t d = run();
		if (d < best)
			best = d;
	}
	return best;
}

int main(unsigned vcpu)
{
	if (hcall(MICA_HC_VERSION, 0, 0) != MICA_ABI_VERSION) {
		printf("FAIL: bench: VERSION hypercall does not answer\n");
		return 1;
	}
	/* Warm up once so that first-touch costs stay out of the minimum. */
	run_base();
	run_cpuid();
	run_hcall();
	run_nops();
	uint32_t base = minimum(run_base);
	uint32_t cpuid_d = minimum(run_cpuid);
	uint32_t hcall_d = minimum(run_hcall);
	uint32_t nops_d = minimum(run_nops);
	printf("bench-raw: base=%u cpuid=%u hcall=%u nops64=%u runs=%d insn=%s\n", base, cpuid_d,
	       hcall_d, nops_d, RUNS, hcall_vmmcall ? "vmmcall" : "vmcall");
	return 0;
}
