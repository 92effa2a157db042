/* edu: drives QEMU's `edu` device (1234:11e8: DMA engine and MSI; QEMU's docs/specs/edu.txt)
 * passed through to this partition, and checks that the IOMMU confines it:
 *   1. the device is on the partition's PCI bus, its BAR mapped: identity and liveness;
 *   2. an interrupt the device raises arrives as the MSI the guest programmed;
 *   3. DMA to and from the partition's own RAM works, the data checked, and the DMA's
 *      completion interrupt arrives;
 *   4. DMA aimed outside its RAM (a guest-physical address past its end, then the host
 *      address of a neighbour's RAM, typed on the console as "0x<hex>") is blocked: the
 *      neighbour (edu-victim) checks its memory, Mica logs the fault (VT-d);
 *   5. the guest moves BAR0: the device answers at the new address, the old one is empty,
 *      and MOVED_READS register reads there are made (the scenario checks in Mica's exit
 *      count that they took no exits: the stage-2 followed the BAR).
 * Each step prints PASS or FAILED; the e2e scenario `passthrough-edu` reads them.
 *
 * In a partition named edu-teardown it checks the teardown instead: it starts a DMA into
 * its own RAM (edu's DMA lands ~100 ms after the command) and crashes at once; the
 * partition restarts (on_crash = restart), and the restarted guest checks, after waiting
 * longer than the DMA takes, that nothing landed in its fresh RAM, and that the device's
 * DMA works again after the reset Mica gave it.
 *
 * In a partition named edu-storm (VT-d) it aims STORM_DMAS DMAs outside its RAM, one after
 * another: Mica logs a few lines a second, counts the rest, and after 16 faults turns the
 * device's bus mastering off; then a DMA into its own RAM no longer lands.
 *
 * In a partition named edu-bench it measures the MSI path for scripts/bench.py (QEMU
 * -icount shift=8: 256 TSC ticks per instruction): from the register write that makes the
 * device raise its interrupt to the first instruction of the guest's handler, the minimum
 * of MSI_RUNS, with the RDTSC pair's own cost (base) and 64 NOPs (to check the tick rate):
 *   edu-bench-raw: base=<ticks> nops64=<ticks> msi=<ticks> */
#include <string.h>
#include "lib/guest.h"
#include "lib/vdrv.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* edu registers (BAR0) */
#define EDU_ID       0x00
#define EDU_LIVE     0x04
#define EDU_RAISE    0x60
#define EDU_ACK      0x64
#define EDU_IRQ_STATUS 0x24
#define EDU_DMA_SRC  0x80
#define EDU_DMA_DST  0x88
#define EDU_DMA_CNT  0x90
#define EDU_DMA_CMD  0x98
#define DMA_START    1u
#define DMA_TO_RAM   2u
#define DMA_IRQ      4u
#define EDU_BUF      0x40000u /* the device's 4 KiB buffer, as a DMA address */
#define DMA_LEN      2048u    /* QEMU 7.2's edu refuses a DMA that fills its whole buffer
			       * (its range check is off by one and stops the machine) */

#define PCI_CAP_ID_MSI 0x05
#define MSI_CTRL 2
#define MSI_ADDR 4
#define MSI_ADDR_HI 8
#define MSI_DATA 12

#define MSR_X2APIC_ID  0x802
#define MSR_X2APIC_EOI 0x80B
#define MSR_X2APIC_SVR 0x80F
#define VEC_EDU 0x58

#define VICTIM_OFFSET 0x800000u /* where edu-victim keeps its pattern (tests/guests/victim.c) */

static uint8_t src[DMA_LEN] __attribute__((aligned(4096)));
static uint8_t dst[DMA_LEN] __attribute__((aligned(4096)));

struct interrupt_frame;
static volatile unsigned irqs;
static volatile uint64_t t_irq; /* TSC at the handler's entry */
static uint64_t bar;

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

__attribute__((interrupt)) static void on_edu(struct interrupt_frame *f)
{
	t_irq = tsc();
	irqs++;
	mmio_w32(bar + EDU_ACK, mmio_r32(bar + EDU_IRQ_STATUS)); /* ack what it raised */
	wrmsr(MSR_X2APIC_EOI, 0);
}

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

static void idt_setup(void)
{
	uint64_t a = (uintptr_t)on_edu;
	uint16_t cs;
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {
		sizeof(idt) - 1, (uintptr_t)idt
	};
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[VEC_EDU] = (struct gate){ .off_lo = (uint16_t)a, .sel = cs, .type = 0x8E,
				      .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
	__asm__ volatile("lidt %0" :: "m"(d));
}

static __attribute__((noreturn)) void fail(const char *what)
{
	printf("edu: FAILED: %s\n", what);
	guest_exit(1);
}

static int find(unsigned *slot)
{
	for (unsigned s = 0; s < PCI_DEVICES; s++)
		if (ecam_r32(s, PCI_ID) == ((uint32_t)EDU_DEVICE << 16 | EDU_VENDOR)) {
			*slot = s;
			return 0;
		}
	return -1;
}

static unsigned find_cap(unsigned slot, uint8_t id)
{
	unsigned pos = ecam_r8(slot, PCI_CAP_PTR) & ~3u;
	for (unsigned n = 0; pos >= 0x40 && n < PCI_CAPS_MAX; n++) {
		if (ecam_r8(slot, pos) == id)
			return pos;
		pos = ecam_r8(slot, pos + 1) & ~3u;
	}
	return 0;
}

/* Starts one DMA of len bytes and waits for the device to finish (bit 0 clears). */
static int dma(uint64_t from, uint64_t to, uint32_t len, uint32_t cmd)
{
	mmio_w32(bar + EDU_DMA_SRC, (uint32_t)from);
	mmio_w32(bar + EDU_DMA_SRC + 4, (uint32_t)(from >> 32));
	mmio_w32(bar + EDU_DMA_DST, (uint32_t)to);
	mmio_w32(bar + EDU_DMA_DST + 4, (uint32_t)(to >> 32));
	mmio_w32(bar + EDU_DMA_CNT, len);
	mmio_w32(bar + EDU_DMA_CMD, cmd | DMA_START);
	for (unsigned i = 0; i < 3000; i++) {
		if (!(mmio_r32(bar + EDU_DMA_CMD) & DMA_START))
			return 0;
		delay_ms(1);
	}
	return -1;
}

static int wait_irqs(unsigned n)
{
	for (unsigned i = 0; i < 2000 && irqs < n; i++)
		delay_ms(1);
	return irqs >= n ? 0 : -1;
}

/* A hex number typed on the console (the UART), ended by a newline. */
static uint64_t read_hex_line(void)
{
	uint64_t v = 0;
	for (;;) {
		while (!(inb(0x3fd) & 1))
			cpu_relax();
		char c = (char)inb(0x3f8);
		if (c == '\n' || c == '\r')
			return v;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + (uint64_t)((c | 0x20) - 'a' + 10);
		else if (c == 'x')
			v = 0;
	}
}

#define LATE_DMA_TARGET 0x400000u /* guest-physical: untouched by the image */
#define STORM_DMAS 24
#define MOVED_BAR  0xcc000000u /* inside the partition's PCI window (0xc0000000, 256 MiB) */
#define MOVED_READS 3000

static int storm(const struct mica_self_info *self)
{
	for (unsigned i = 0; i < STORM_DMAS; i++)
		if (dma(EDU_BUF, self->mem_bytes + 0x100000 + i * 0x1000ull, DMA_LEN, DMA_TO_RAM))
			fail("a DMA outside its RAM hung the device");
	printf("edu: %u DMAs outside its RAM done\n", STORM_DMAS);
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i + 1);
	memset(dst, 0, sizeof(dst));
	if (dma((uintptr_t)src, EDU_BUF, sizeof(src), 0) ||
	    dma(EDU_BUF, (uintptr_t)dst, sizeof(dst), DMA_TO_RAM))
		fail("the device stopped answering");
	for (unsigned i = 0; i < sizeof(dst); i++)
		if (dst[i])
			fail("a DMA into its own RAM still landed after the fault storm");
	printf("edu: PASS: after the fault storm its DMA no longer lands (bus mastering off)\n");
	return 0;
}

/* Step 5: BAR0 moved by the guest, as an OS that assigns its own resources does. */
static void move_bar(unsigned slot)
{
	uint64_t old = bar;
	ecam_w16(slot, PCI_COMMAND, PCI_CMD_MASTER); /* decoding off while it changes */
	mmio_w32(ecam(slot, PCI_BAR0), MOVED_BAR);
	ecam_w16(slot, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	bar = ecam_r32(slot, PCI_BAR0) & ~0xfu;
	if (bar != MOVED_BAR)
		fail("BAR0 did not take the new address");
	uint32_t id = mmio_r32(bar + EDU_ID), gone = mmio_r32(old + EDU_ID);
	if ((id & 0xff) != 0xed || gone != 0xffffffffu) {
		printf("edu: after the move: 0x%x at the new address, 0x%x at the old\n", id, gone);
		fail("the moved BAR does not answer at its new address only");
	}
	for (unsigned i = 0; i < MOVED_READS; i++)
		if (mmio_r32(bar + EDU_ID) != id)
			fail("a read of the moved BAR changed");
	mmio_w32(bar + EDU_LIVE, 0x0f0f0f0f);
	if (mmio_r32(bar + EDU_LIVE) != 0xf0f0f0f0u)
		fail("the moved BAR's liveness register does not answer");
	printf("edu: PASS: BAR0 moved from 0x%lx to 0x%lx answers there only (%u reads)\n",
	       (unsigned long)old, (unsigned long)bar, MOVED_READS);
}

static int teardown(const struct mica_self_info *self)
{
	volatile uint8_t *t = (volatile uint8_t *)(uintptr_t)LATE_DMA_TARGET;

	if (self->restarts == 0) {
		for (unsigned i = 0; i < sizeof(src); i++)
			src[i] = (uint8_t)(0x5a ^ i);
		if (dma((uintptr_t)src, EDU_BUF, DMA_LEN, 0))
			fail("the DMA into the device did not complete");
		/* The DMA back into RAM starts now and lands in ~100 ms: crash before. */
		mmio_w32(bar + EDU_DMA_SRC, EDU_BUF);
		mmio_w32(bar + EDU_DMA_SRC + 4, 0);
		mmio_w32(bar + EDU_DMA_DST, LATE_DMA_TARGET);
		mmio_w32(bar + EDU_DMA_DST + 4, 0);
		mmio_w32(bar + EDU_DMA_CNT, DMA_LEN);
		mmio_w32(bar + EDU_DMA_CMD, DMA_TO_RAM | DMA_START);
		printf("edu: DMA into 0x%x started; crashing now\n", LATE_DMA_TARGET);
		triple_fault();
	}
	delay_ms(500);
	for (unsigned i = 0; i < DMA_LEN; i++)
		if (t[i]) {
			printf("edu: byte 0x%x of the restarted partition's RAM is 0x%x\n",
			       LATE_DMA_TARGET + i, t[i]);
			fail("the DMA started before the crash landed in the restarted partition");
		}
	printf("edu: PASS: the DMA started before the crash never landed (restart %u)\n",
	       self->restarts);
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0xa5 ^ i);
	memset(dst, 0, sizeof(dst));
	if (dma((uintptr_t)src, EDU_BUF, sizeof(src), 0) ||
	    dma(EDU_BUF, (uintptr_t)dst, sizeof(dst), DMA_TO_RAM) || memcmp(src, dst, sizeof(dst)))
		fail("after the device's reset its DMA no longer works");
	printf("edu: PASS: DMA works again after the device's reset\n");
	return 0;
}

#define MSI_RUNS 50

static void msi_setup(unsigned slot, unsigned msi)
{
	wrmsr(MSR_X2APIC_SVR, 0x1FF);
	uint32_t apic = (uint32_t)rdmsr(MSR_X2APIC_ID);
	mmio_w32(ecam(slot, msi + MSI_ADDR), 0xFEE00000u | (apic & 0xff) << 12);
	mmio_w32(ecam(slot, msi + MSI_ADDR_HI), 0);
	ecam_w16(slot, msi + MSI_DATA, VEC_EDU);
	ecam_w16(slot, msi + MSI_CTRL, (uint16_t)(ecam_r16(slot, msi + MSI_CTRL) | 1));
}

static int msi_bench(unsigned slot, unsigned msi)
{
	uint64_t base = ~0ull, nops = ~0ull, best = ~0ull;

	idt_setup();
	msi_setup(slot, msi);
	__asm__ volatile("sti");
	for (unsigned i = 0; i < MSI_RUNS; i++) {
		uint64_t a = tsc(), b = tsc();
		if (b - a < base)
			base = b - a;
		a = tsc();
		__asm__ volatile(".rept 64; nop; .endr");
		b = tsc();
		if (b - a < nops)
			nops = b - a;
	}
	for (unsigned i = 0; i < MSI_RUNS; i++) {
		unsigned seen = irqs;
		uint64_t t0 = tsc();
		*(volatile uint32_t *)(uintptr_t)(bar + EDU_RAISE) = 1;
		for (unsigned k = 0; irqs == seen && k < 100000000u; k++)
			__asm__ volatile("pause");
		if (irqs == seen)
			fail("the device's interrupt did not arrive");
		if (t_irq - t0 < best)
			best = t_irq - t0;
	}
	printf("edu-bench-raw: base=%lu nops64=%lu msi=%lu\n", (unsigned long)base,
	       (unsigned long)nops, (unsigned long)best);
	return 0;
}

int main(unsigned vcpu)
{
	struct mica_self_info self;
	unsigned slot;

	self_info(&self);
	if (find(&slot))
		fail("no edu device (1234:11e8) on the PCI bus");
	bar = ecam_r32(slot, PCI_BAR0) & ~0xfu;
	if (!strcmp(self.name, "edu-bench")) {
		ecam_w16(slot, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);
		return msi_bench(slot, find_cap(slot, PCI_CAP_ID_MSI));
	}
	if (!strcmp(self.name, "edu-storm")) {
		ecam_w16(slot, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);
		return storm(&self);
	}
	if (!strcmp(self.name, "edu-teardown")) {
		ecam_w16(slot, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);
		return teardown(&self);
	}
	unsigned msi = find_cap(slot, PCI_CAP_ID_MSI);
	printf("edu: found 1234:11e8 at 00:%02x.0, BAR0 0x%lx, MSI capability at 0x%x\n", slot,
	       (unsigned long)bar, msi);
	if (!bar || !msi)
		fail("BAR0 unassigned or no MSI capability");
	ecam_w16(slot, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);

	/* 1. identity and liveness */
	uint32_t id = mmio_r32(bar + EDU_ID);
	mmio_w32(bar + EDU_LIVE, 0x12345678);
	uint32_t live = mmio_r32(bar + EDU_LIVE);
	if ((id & 0xff) != 0xed || live != ~0x12345678u) {
		printf("edu: identity 0x%x, liveness 0x%x\n", id, live);
		fail("the device's registers do not answer as edu's");
	}
	printf("edu: PASS: identity 0x%x and liveness through the mapped BAR\n", id);

	/* 2. MSI */
	idt_setup();
	msi_setup(slot, msi);
	__asm__ volatile("sti");
	mmio_w32(bar + EDU_RAISE, 1);
	if (wait_irqs(1))
		fail("the interrupt the device raised did not arrive as MSI");
	printf("edu: PASS: the device's interrupt arrived as MSI vector 0x%x\n", VEC_EDU);

	/* 3. DMA to and from its own RAM */
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	memset(dst, 0, sizeof(dst));
	if (dma((uintptr_t)src, EDU_BUF, sizeof(src), 0) ||
	    dma(EDU_BUF, (uintptr_t)dst, sizeof(dst), DMA_TO_RAM | DMA_IRQ))
		fail("a DMA within its own RAM did not complete");
	if (memcmp(src, dst, sizeof(dst)))
		fail("DMA within its own RAM: the data came back different");
	if (wait_irqs(2))
		fail("the DMA's completion interrupt did not arrive");
	printf("edu: PASS: DMA to and from its own RAM (%u bytes checked), completion interrupt "
	       "arrived\n", (unsigned)sizeof(dst));

	/* 4a. outside its RAM: the page past its end (the device sees guest-physical addresses
	 * through the IOMMU; nothing is mapped there). Then the device must still work. */
	uint64_t past = self.mem_bytes + 0x100000;
	if (dma(EDU_BUF, past, DMA_LEN, DMA_TO_RAM))
		fail("a DMA outside its RAM hung the device");
	printf("edu: DMA write to guest-physical 0x%lx (outside its %lu MiB) done\n",
	       (unsigned long)past, (unsigned long)(self.mem_bytes >> 20));

	/* 4b. at the neighbour's RAM, by its host address (what a device could reach with no
	 * IOMMU). */
	printf("edu: waiting for the neighbour's host RAM address\n");
	uint64_t victim = read_hex_line();
	if (dma(EDU_BUF, victim + VICTIM_OFFSET, DMA_LEN, DMA_TO_RAM))
		fail("a DMA at the neighbour's RAM hung the device");
	printf("edu: DMA write to 0x%lx (the neighbour's RAM, as a host address) done\n",
	       (unsigned long)(victim + VICTIM_OFFSET));
	memset(dst, 0, sizeof(dst));
	if (dma(EDU_BUF, (uintptr_t)dst, sizeof(dst), DMA_TO_RAM) || memcmp(src, dst, sizeof(dst)))
		fail("after the blocked DMAs, DMA within its own RAM no longer works");
	printf("edu: PASS: DMA within its own RAM still works after the blocked ones\n");

	/* 5. */
	move_bar(slot);
	return 0;
}
