/* Interrupts and exceptions. Exceptions 0..31 are bugs in the service: one line says which
 * and where, then the partition crashes on purpose so that Mica applies its on_crash. The
 * notification vector only needs an EOI: the main loop looks at the ring when HLT returns. */
#include <stdint.h>

#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

/* What vectors.S leaves on the stack for rt_interrupt(). */
struct rt_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* A 64-bit interrupt gate (SDM vol. 3, 6.14.1). */
struct gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};
_Static_assert(sizeof(struct gate) == 16, "IDT gates are 16 bytes");

struct __attribute__((packed)) idtr {
	uint16_t limit;
	uint64_t base;
};

#define CODE_SEL  0x08 /* 64-bit code in the GDT Mica builds at 0x7000 */
#define GATE_INTR 0x8E /* present, DPL 0, 64-bit interrupt gate: IF cleared on entry */

extern const uint64_t rt_vector_stubs[256];
static struct gate idt[256] __attribute__((aligned(16)));

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
	"reserved 27", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved 31",
};

void rt_idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = rt_vector_stubs[v];
		idt[v] = (struct gate){ .offset_lo = (uint16_t)a, .selector = CODE_SEL,
					.type = GATE_INTR, .offset_mid = (uint16_t)(a >> 16),
					.offset_hi = (uint32_t)(a >> 32) };
	}
	struct idtr r = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" :: "m"(r) : "memory");
}

void rt_crash(void)
{
	/* With an IDT of limit 0 no vector can be delivered: INT3 becomes #GP, then #DF,
	 * then a triple fault, which Mica treats as the partition crashing. */
	static const struct idtr none = { 0, 0 };
	__asm__ volatile("cli; lidt %0; int3" :: "m"(none) : "memory");
	for (;;)
		__asm__ volatile("hlt");
}

__attribute__((noreturn)) static void exception(const struct rt_frame *f)
{
	if (f->vector == 14)
		say("crashing on %s, error code 0x%llx, rip 0x%llx, cr2 0x%llx",
		    names[f->vector], (unsigned long long)f->error, (unsigned long long)f->rip,
		    (unsigned long long)read_cr2());
	else
		say("crashing on %s, error code 0x%llx, rip 0x%llx", names[f->vector],
		    (unsigned long long)f->error, (unsigned long long)f->rip);
	rt_crash();
}

/* Called by every stub in vectors.S, with interrupts off (interrupt gates). */
void rt_interrupt(struct rt_frame *f);
void rt_interrupt(struct rt_frame *f)
{
	if (f->vector < 32)
		exception(f);
	if (f->vector == RT_SPURIOUS_VECTOR)
		return;
	/* RT_NOTIFY_VECTOR, RT_TIMER_VECTOR, or one nobody asked for: acknowledge, nothing
	 * more (the main loop looks at what there is to do). */
	rt_eoi();
}
