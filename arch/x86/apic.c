#include <stdint.h>
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/trap.h"

#define APIC_BASE_ENABLE (1ULL << 11)
#define APIC_BASE_X2     (1ULL << 10)

/* Register offsets (xAPIC MMIO); x2APIC MSR = 0x800 + offset / 16. */
#define APIC_ID   0x020
#define APIC_EOI  0x0b0
#define APIC_SVR  0x0f0
#define APIC_ICRL 0x300
#define APIC_ICRH 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR  0x390
#define APIC_TIMER_DIV  0x3e0

#define LVT_MASKED       (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6e0

#define ICR_NMI       (4u << 8)
#define ICR_INIT      (5u << 8)
#define ICR_STARTUP   (6u << 8)
#define ICR_PENDING   (1u << 12)
#define ICR_ASSERT    (1u << 14)
#define ICR_LEVEL     (1u << 15)

/* Chosen by the boot CPU before APs start, then read-only. */
static int x2;
static volatile uint32_t *mmio;
static int tsc_deadline;      /* the host timer runs in TSC-deadline mode */
static uint64_t timer_tsc_hz; /* else one-shot: TSC and APIC timer rates (divide by 16) */
static uint64_t timer_apic_hz;

static uint32_t rd(uint32_t reg)
{
	if (x2)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (reg >> 4));
	return mmio[reg / 4];
}

static void wr(uint32_t reg, uint32_t v)
{
	if (x2)
		wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
	else
		mmio[reg / 4] = v;
}

int apic_x2(void)
{
	return x2;
}

void apic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	if (!mmio && !x2) {
		uint32_t r[4];
		cpuid_count(1, 0, r);
		x2 = (r[2] >> 21) & 1;
		mmio = (volatile uint32_t *)(base & ~0xfffULL);
	}
	base |= APIC_BASE_ENABLE;
	if (x2)
		base |= APIC_BASE_X2;
	wrmsr(MSR_APIC_BASE, base);
	wr(APIC_SVR, 0x100 | VEC_SPURIOUS);
}

uint32_t apic_id(void)
{
	return x2 ? rd(APIC_ID) : rd(APIC_ID) >> 24;
}

void apic_eoi(void)
{
	wr(APIC_EOI, 0);
}

static void send(uint32_t dest, uint32_t low)
{
	if (x2) {
		/* An x2APIC ICR write is not serializing (SDM vol. 3, 11.12.3): without the fence
		 * the target could take the IPI before it sees what we stored for it (a vCPU's
		 * pending vector), look, find nothing and sleep on. */
		__asm__ volatile("mfence; lfence" ::: "memory");
		wrmsr(MSR_X2APIC_BASE + (APIC_ICRL >> 4), ((uint64_t)dest << 32) | low);
		return;
	}
	/* xAPIC: ICRH then ICRL. An interrupt handler that sends an IPI (the serial port's
	 * input kicks a vCPU) between the two would change the destination under us. */
	uint64_t flags = read_rflags();
	irq_disable();
	wr(APIC_ICRH, dest << 24);
	wr(APIC_ICRL, low);
	for (unsigned spin = 0; spin < 1000000 && (rd(APIC_ICRL) & ICR_PENDING); spin++)
		cpu_relax();
	if (flags & RFLAGS_IF)
		irq_enable();
}

void apic_send_ipi(uint32_t dest, uint8_t vector)
{
	send(dest, ICR_ASSERT | vector);
}

void apic_send_nmi(uint32_t dest)
{
	send(dest, ICR_NMI | ICR_ASSERT);
}

void apic_send_init(uint32_t dest)
{
	send(dest, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
}

void apic_send_sipi(uint32_t dest, uint8_t page)
{
	send(dest, ICR_STARTUP | ICR_ASSERT | page);
}

void apic_timer_init(uint64_t tsc_hz)
{
	uint32_t r[4];

	cpuid_count(1, 0, r);
	if (!timer_tsc_hz) {
		timer_tsc_hz = tsc_hz;
		tsc_deadline = (r[2] >> 24) & 1;
		if (!tsc_deadline) {
			/* Measure the one-shot timer's rate against the TSC, once. */
			wr(APIC_TIMER_DIV, 0x3); /* divide by 16 */
			wr(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
			wr(APIC_TIMER_INIT, 0xffffffffu);
			uint64_t t0 = rdtsc();
			while (rdtsc() - t0 < tsc_hz / 100)
				cpu_relax();
			uint32_t left = rd(APIC_TIMER_CUR);
			wr(APIC_TIMER_INIT, 0);
			timer_apic_hz = (uint64_t)(0xffffffffu - left) * 100;
			if (!timer_apic_hz)
				timer_apic_hz = 1000000;
		}
	}
	if (tsc_deadline) {
		wr(APIC_LVT_TIMER, LVT_TSC_DEADLINE | VEC_TIMER);
		__asm__ volatile("mfence" ::: "memory"); /* SDM 10.5.4.1: order the LVT write first */
	} else {
		wr(APIC_TIMER_DIV, 0x3);
		wr(APIC_LVT_TIMER, VEC_TIMER);
	}
}

void apic_timer_arm(uint64_t deadline)
{
	if (tsc_deadline) {
		wrmsr(MSR_TSC_DEADLINE, deadline);
		return;
	}
	if (!deadline) {
		wr(APIC_TIMER_INIT, 0);
		return;
	}
	uint64_t now = rdtsc();
	uint64_t ticks = deadline > now ? (unsigned __int128)(deadline - now) * timer_apic_hz / timer_tsc_hz : 0;
	wr(APIC_TIMER_INIT, ticks ? (ticks > 0xffffffffu ? 0xffffffffu : (uint32_t)ticks) : 1);
}
