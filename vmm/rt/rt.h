/* The service partition's runtime (vmm/rt/): entry, hypercalls, console lines, the IDT and
 * x2APIC for its two interrupts (Mica's notification, its timer), and page tables for the
 * windows Mica maps in. It runs on vCPU 0 only, in the long-mode identity map Mica's ELF
 * boot protocol sets up. */
#ifndef MICA_VMM_RT_H
#define MICA_VMM_RT_H

#include <stdint.h>
#include <mica/hypercall.h>

#define RT_NOTIFY_VECTOR   0x40u /* Mica raises it when it adds requests */
#define RT_TIMER_VECTOR    0x41u /* the local APIC timer (rt_timer_at) */
#define RT_SPURIOUS_VECTOR 0xFFu /* what the SVR names: never gets an EOI */

int main(void);

/* Picks the hypercall instruction, loads the IDT and turns the x2APIC on. Returns 0, or -1
 * when not running on Mica (no "MicaMicaMica" at CPUID 0x40000000): nothing can be said
 * then, not even that. */
int rt_init(void);

/* Hypercall nr with up to five arguments (RDI, RSI, RDX, R10, R8); RAX comes back. */
long hcall5(long nr, long a0, long a1, long a2, long a3, long a4);

static inline long hcall(long nr, long a0, long a1, long a2)
{
	return hcall5(nr, a0, a1, a2, 0, 0);
}

/* One console line through MICA_HC_CONSOLE_WRITE (Mica puts our name in front). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* TSC rate from CPUID 0x40000001 ECX, or a guess of 2 GHz when Mica does not know. */
uint64_t rt_tsc_khz(void);

/* Maps [gpa, gpa + bytes) (a window MICA_HC_SVC_MAP gave) identity, in 2 MiB pages. 0, or
 * -1 after saying why (not 2 MiB aligned, overlapping our own RAM's map, beyond 512 GiB,
 * or the page-directory pool is used up). */
int rt_map_window(uint64_t gpa, uint64_t bytes);

/* One timer interrupt (RT_TIMER_VECTOR) when the TSC reaches tsc (the local APIC's
 * TSC-deadline mode); a later call moves it. It only wakes a HLT: the handler does nothing. */
void rt_timer_at(uint64_t tsc);

/* Acknowledges the interrupt being handled (x2APIC EOI). */
void rt_eoi(void);

/* Ends the partition: MICA_HC_SHUTDOWN power-off with code, else rt_crash(). */
__attribute__((noreturn)) void rt_exit(int code);

/* Makes the partition triple-fault on purpose, so Mica applies its on_crash. */
__attribute__((noreturn)) void rt_crash(void);

/* The pieces of rt_init(), each in its own file. */
void rt_hcall_init(int vmmcall); /* hcall.c */
void rt_idt_init(void);          /* idt.c */
void rt_apic_init(void);         /* apic.c */

#endif
