/* Catching the exceptions a test guest provokes on purpose (lib/trap.S): trap_expect(skip)
 * arms one catch; the exception's vector and error code are recorded and the guest resumes
 * skip bytes after the faulting instruction (0 for traps such as #DB, which already point
 * past it). An exception nobody expected is a FAIL line and power-off with code 1. */
#include "guest.h"

volatile int trap_vector = -1;
volatile uint64_t trap_error;
static volatile uint64_t trap_skip;
static volatile int trap_armed;

struct trap_frame {
	uint64_t rax, rcx, rdx, rsi, rdi, r8, r9, r10, r11;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

static struct idt_gate idt[32] __attribute__((aligned(16)));
extern const char trap_stubs[];

void trap_c(struct trap_frame *f);
void trap_c(struct trap_frame *f)
{
	if (!trap_armed) {
		printf("FAIL: unexpected exception %lu (error 0x%lx) at RIP 0x%lx\n", f->vector,
		       f->error, f->rip);
		guest_exit(1);
	}
	trap_armed = 0;
	trap_vector = (int)f->vector;
	trap_error = f->error;
	f->rip += trap_skip;
}

void trap_install(void)
{
	for (int v = 0; v < 32; v++)
		idt[v] = idt_gate(trap_stubs + 16 * v);
	idt_load(idt, sizeof(idt));
}

void trap_expect(uint64_t skip)
{
	trap_vector = -1;
	trap_error = 0;
	trap_skip = skip;
	trap_armed = 1;
	__asm__ volatile("" ::: "memory");
}

int trap_taken(void)
{
	int v = trap_vector;
	trap_armed = 0;
	return v;
}
