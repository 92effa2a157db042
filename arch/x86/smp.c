/* Starting the application processors: INIT-SIPI-SIPI, one at a time, through the
 * real-mode trampoline (trampoline.S). */
#include <stdint.h>
#include <string.h>
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/trap.h"
#include "arch/x86/tsc.h"
#include "kernel/arch.h"
#include "kernel/log.h"
#include "kernel/percpu.h"

#define AP_STACK 16384

extern const char tramp_start[], tramp_end[], tramp_gdt_ptr[], tramp_far32[], tramp_far64[];
extern const char tramp_pm32[], tramp_lm64[], tramp_gdt[], tramp_cr3[], tramp_stack[];
extern const char tramp_arg[], tramp_entry[];

static uint8_t ap_stacks[MAX_CPUS][AP_STACK] __attribute__((aligned(16)));

/* About a microsecond per port 0x80 write on PC hardware; only a lower bound matters here. */
static void io_delay_us(unsigned us)
{
	while (us--)
		outb(0x80, 0);
}

void arch_cpu_setup(struct pcpu *c)
{
	uint32_t r[4];

	/* XSETBV on a guest's behalf (VT-x always exits on it) needs CR4.OSXSAVE here. */
	cpuid_count(1, 0, r);
	if (r[2] & (1u << 26))
		write_cr4(read_cr4() | (1ULL << 18));
	gdt_load(c->id);
	idt_load();
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	apic_init();
}

static void ap_start(struct pcpu *c) __attribute__((noreturn, used));
static void ap_start(struct pcpu *c)
{
	paging_load();
	arch_cpu_setup(c);
	apic_timer_init(tsc_freq());
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	kernel_ap_main(c);
	cpu_halt_forever();
}

#define OFF(sym) ((uint64_t)(sym - tramp_start))

unsigned arch_start_aps(const struct boot_info *bi, struct pcpu *cs, unsigned n)
{
	uint64_t base = bi->trampoline;
	uint8_t *t = (uint8_t *)base;
	unsigned up = 0;

	if (!base || base >= 0x100000 || (base & 0xfff)) {
		log_info("no usable AP start-up page below 1 MiB (got 0x%lx): running on the boot CPU only",
			 base);
		return 0;
	}
	memcpy(t, tramp_start, (size_t)(tramp_end - tramp_start));
	*(uint32_t *)(t + OFF(tramp_gdt_ptr) + 2) = (uint32_t)(base + OFF(tramp_gdt));
	*(uint32_t *)(t + OFF(tramp_far32)) = (uint32_t)(base + OFF(tramp_pm32));
	*(uint32_t *)(t + OFF(tramp_far64)) = (uint32_t)(base + OFF(tramp_lm64));
	*(uint64_t *)(t + OFF(tramp_cr3)) = paging_root();
	*(uint64_t *)(t + OFF(tramp_entry)) = (uint64_t)ap_start;

	/* INIT to every AP, then one wait of 10 ms (SDM 8.4.4.1) for all of them, not one per
	 * CPU: 64 CPUs would otherwise spend 0.6 s here. Each then waits for its SIPI, which
	 * goes out one CPU at a time since they share the trampoline's stack and argument. */
	for (unsigned i = 1; i < n; i++)
		apic_send_init(cs[i].apic_id);
	if (n > 1)
		io_delay_us(10000);
	for (unsigned i = 1; i < n; i++) {
		struct pcpu *c = &cs[i];
		c->stack_top = (uint64_t)&ap_stacks[i][AP_STACK];
		*(uint64_t *)(t + OFF(tramp_stack)) = c->stack_top;
		*(uint64_t *)(t + OFF(tramp_arg)) = (uint64_t)c;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* SDM 8.4.4.1 asks for 200 us between the two SIPIs; an emulator on a busy host
		 * may take much longer to run a new CPU, so wait up to a second for each. */
		for (int sipi = 0; sipi < 2 && !c->online; sipi++) {
			apic_send_sipi(c->apic_id, (uint8_t)(base >> 12));
			uint64_t t0 = rdtsc();
			while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE) && rdtsc() - t0 < tsc_freq())
				cpu_relax();
		}
		if (c->online)
			up++;
		else
			log_info("CPU %u (APIC ID %u) did not start; it will not be used", i, c->apic_id);
	}
	return up;
}
