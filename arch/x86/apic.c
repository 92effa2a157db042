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

#define ICR_INIT      (5u << 8)
#define ICR_STARTUP   (6u << 8)
#define ICR_PENDING   (1u << 12)
#define ICR_ASSERT    (1u << 14)
#define ICR_LEVEL     (1u << 15)

/* Chosen by the boot CPU before APs start, then read-only. */
static int x2;
static volatile uint32_t *mmio;

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
		wrmsr(MSR_X2APIC_BASE + (APIC_ICRL >> 4), ((uint64_t)dest << 32) | low);
		return;
	}
	wr(APIC_ICRH, dest << 24);
	wr(APIC_ICRL, low);
	for (unsigned spin = 0; spin < 1000000 && (rd(APIC_ICRL) & ICR_PENDING); spin++)
		cpu_relax();
}

void apic_send_ipi(uint32_t dest, uint8_t vector)
{
	send(dest, ICR_ASSERT | vector);
}

void apic_send_init(uint32_t dest)
{
	send(dest, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
}

void apic_send_sipi(uint32_t dest, uint8_t page)
{
	send(dest, ICR_STARTUP | ICR_ASSERT | page);
}
