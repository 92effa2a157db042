/* The IDT and what happens on a host interrupt or exception: interrupts are acknowledged;
 * an exception at an instruction of the exception table (arch/x86/extable.h) resumes at its
 * fixup; an NMI is a kick (arch_kick_cpu_nmi); any other exception in the hypervisor is a
 * bug, reported in full before the CPU halts. */
#include <stdint.h>
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "arch/x86/trap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"

void serial_rx_interrupt(void);

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

/* Written once by the boot CPU before any AP starts; read-only afterwards. */
static struct idt_entry idt[256] __attribute__((aligned(16)));
static int idt_ready;

extern const char isr_stubs[], __image_start[];
extern const struct extable_entry __extable_start[], __extable_end[];

uint64_t extable_fixup(uint64_t rip)
{
	for (const struct extable_entry *e = __extable_start; e < __extable_end; e++)
		if ((uint64_t)&e->insn + (int64_t)e->insn == rip)
			return (uint64_t)&e->fixup + (int64_t)e->fixup;
	return 0;
}

static const char *const exc_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
	"coprocessor overrun", "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved 15", "#MF x87 error",
	"#AC alignment check", "#MC machine check", "#XM SIMD error", "#VE virtualization",
	"#CP control protection", "reserved 22", "reserved 23", "reserved 24", "reserved 25",
	"reserved 26", "reserved 27", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved 31",
};

void idt_load(void)
{
	if (!idt_ready) {
		for (int v = 0; v < 256; v++) {
			uint64_t a = (uint64_t)(isr_stubs + 16 * v);
			idt[v] = (struct idt_entry){
				.off_lo = (uint16_t)a, .sel = 0x08, .type = 0x8e,
				.off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
			};
		}
		idt[8].ist = 1;  /* #DF */
		idt[2].ist = 2;  /* NMI */
		idt[18].ist = 3; /* #MC */
		idt_ready = 1;
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static void crash_report(const struct trap_frame *f)
{
	struct pcpu *c = this_cpu();

	log_info("exception on CPU %u: %s (vector %lu), error code 0x%lx",
		 c ? c->id : 0, exc_names[f->vector & 31], f->vector, f->error);
	log_info("  RIP %016lx  CS %04lx  RFLAGS %016lx  RSP %016lx",
		 f->rip, f->cs, f->rflags, f->rsp);
	log_info("  RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx", f->rax, f->rbx, f->rcx, f->rdx);
	log_info("  RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx", f->rsi, f->rdi, f->rbp, f->r8);
	log_info("  R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx", f->r9, f->r10, f->r11, f->r12);
	log_info("  R13 %016lx  R14 %016lx  R15 %016lx", f->r13, f->r14, f->r15);
	log_info("  CR0 %016lx  CR2 %016lx  CR3 %016lx  CR4 %016lx",
		 read_cr0(), read_cr2(), read_cr3(), read_cr4());
	log_info("  core loaded at 0x%lx: addr2line -e build/core.elf <RIP minus that>",
		 (uint64_t)__image_start);
	panic("hypervisor exception; this CPU stops here");
}

void trap_handler(struct trap_frame *f)
{
	if (f->vector == 2)
		return; /* NMIs are only sent as kicks: the loop looks at its state next */
	if (f->vector < 32) {
		uint64_t fixup = extable_fixup(f->rip);
		if (fixup) {
			f->rip = fixup; /* an instruction run for a guest faulted: its caller says so */
			return;
		}
		crash_report(f);
		return;
	}
	if (f->vector == VEC_SPURIOUS)
		return;
	if (f->vector == VEC_SERIAL) {
		serial_rx_interrupt();
		apic_eoi();
		return;
	}
	if (f->vector >= ARCH_VEC_DEV_FIRST && f->vector <= ARCH_VEC_DEV_LAST) {
		kernel_device_irq((unsigned)f->vector);
		apic_eoi();
		return;
	}
	if (f->vector == VEC_IOMMU) {
		kernel_iommu_fault();
		apic_eoi();
		return;
	}
	if (f->vector == VEC_TIMER) {
		struct pcpu *c = this_cpu();
		if (c)
			c->timer_armed = 0; /* it fired: the hardware holds no deadline now */
	}
	/* VEC_KICK, VEC_TIMER and anything else: the interesting part is that we left the
	 * guest or idle loop; the loop looks at its state next. */
	apic_eoi();
}
