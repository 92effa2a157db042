/* vbench: the path length of a virtio queue notify, from the guest's notify write until the
 * service partition has taken the NOTIFY request off its ring (scripts/bench.py,
 * virtio-notify; docs/testing.md "Virtio notify path").
 *
 * Under QEMU -icount shift=8 RDTSC is one virtual clock for every vCPU: 256 ticks per
 * instruction executed on any of them. So a TSC value t0 read here just before the notify
 * and a TSC value t1 read by the service when it takes the request (vmm/serve.c, the
 * benchmark hook) are on the same clock, and (t1 - t0 - base) / 256 counts the instructions
 * in between on both CPUs: Mica's notify exit on ours, and on the service's CPU Mica waking
 * from HLT, injecting the notification, the service's interrupt and its ring loop.
 *
 * The guest drives its virtio console with the test guests' driver (lib/vdrv.c: ECAM, BAR0,
 * common config, polled like vhostile), but takes the transmit queue's used-ring interrupt
 * through MSI-X on its virtual x2APIC, so that it sleeps (HLT) instead of polling: QEMU's
 * single icount thread then has only the service's CPU to run. Each run:
 *  1. sleeps until the service is idle again: an x2APIC TSC-deadline timer SETTLE_US ahead
 *     and HLT. Both CPUs halt, the service's last instructions of the previous run are
 *     done, and the next notify finds it asleep, as a notify after a quiet spell would;
 *  2. arms the same timer as a watchdog (WATCHDOG_MS), puts one transmit buffer on the
 *     queue: BENCH_MARK (16 bytes, starting with a NUL: no text holds it) then 8 bytes t0;
 *  3. reads t0, stores it in the buffer, writes the notify register (all in one asm):
 *     first WARMUP + RUNS times through the notify port (the device's first NOTIFY
 *     structure, in I/O space), then RUNS times through its second one, in memory;
 *  4. `sti; hlt` until the used-ring interrupt (or the watchdog) comes.
 * The service sees the marker and prints `bench-notify: device <d> t0=<n> t1=<n>` instead
 * of forwarding the bytes. The first WARMUP runs are left out of the figure: the very first
 * notify of a queue is cheaper than every later one (Mica skips its check that the queue's
 * previous NOTIFY has left the ring, kernel/virtio/device.c notify()). At the end this guest prints
 * the calibration, measured the same way as tests/guests/bench.c:
 *     vbench-raw: base=<ticks> nops64=<ticks> warmup=<w> runs=<k> mem_runs=<m> irqs=<n>
 * base: the minimum RDTSC delta of exactly the guest's own measuring instructions (t0 read,
 * two stores) ended by a plain RDTSC like the service's; nops64: the same with 64 NOPs
 * more, to check 256 ticks per instruction. */
#include <string.h>
#include "lib/guest.h"
#include "lib/vdrv.h"

#define RUNS        100   /* notifies measured */
#define WARMUP      1     /* notifies before them, reported but not counted (below) */
#define CAL_RUNS    1000  /* for the calibration minima */
#define SETTLE_US   2000  /* of TSC time, sleeping before each notify (see above) */
#define WATCHDOG_MS 2000  /* no used-ring interrupt this long after a notify: fail */

/* Must match vmm/serve.c (BENCH_MARK): 16 bytes, the first one NUL. */
static const char BENCH_MARK[16] = "\0MICA-BENCH-NTFY";

/* MSI-X capability (PCI 6.8.2) */
#define MSIX_CTRL        2      /* le16 message control */
#define MSIX_TABLE       4      /* le32: BIR in bits 2:0, offset above */
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK  0x4000

#define TXQ_MSIX 1 /* the transmitq's MSI-X table entry (0 stays unused, as config's) */

/* --- x2APIC (kernel/platform/vlapic.h) --- */
#define MSR_X2APIC_ID   0x802
#define MSR_X2APIC_EOI  0x80B
#define MSR_X2APIC_SVR  0x80F
#define MSR_LVT_TIMER   0x832
#define MSR_TSC_DEADLINE 0x6E0
#define LVT_TSC_DEADLINE (2u << 17)
#define VEC_USED  0x50 /* the transmitq's used-ring interrupt */
#define VEC_TIMER 0x51 /* settle and watchdog */
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

/* The console: its transmitq's used ring raises MSI-X entry TXQ_MSIX, nothing else raises
 * any; vdrv_init does not announce its wait for the service (it would only be noise). */
static struct vdrv dev = {
	.name = "vbench",
	.msix = 1,
	.quiet = 1,
	.q = { [RXQ] = { .vector = VDRV_NO_VECTOR }, [TXQ] = { .vector = TXQ_MSIX } },
};
static uint8_t txbuf[64] __attribute__((aligned(64))); /* BENCH_MARK, then t0 */

/* --- CPU --- */
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* Atomic: an interrupt that became pending after the caller's last look wakes the HLT. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* --- interrupts --- */
struct interrupt_frame;

static volatile unsigned used_irqs, timer_irqs;

__attribute__((interrupt)) static void on_used(struct interrupt_frame *f)
{
	used_irqs++;
	wrmsr(MSR_X2APIC_EOI, 0);
}

__attribute__((interrupt)) static void on_timer(struct interrupt_frame *f)
{
	timer_irqs++;
	wrmsr(MSR_X2APIC_EOI, 0);
}

struct frame_view {
	uint64_t rip, cs, rflags, rsp, ss;
};

static __attribute__((noreturn)) void fault(const char *name, struct interrupt_frame *f,
					    unsigned long err)
{
	const struct frame_view *v = (const void *)f;

	printf("vbench: FAILED: %s (error 0x%lx) at RIP 0x%lx\n", name, err,
	       (unsigned long)v->rip);
	guest_exit(3);
}

__attribute__((interrupt)) static void on_ud(struct interrupt_frame *f)
{
	fault("#UD", f, 0);
}

__attribute__((interrupt)) static void on_gp(struct interrupt_frame *f, unsigned long err)
{
	fault("#GP", f, err);
}

__attribute__((interrupt)) static void on_pf(struct interrupt_frame *f, unsigned long err)
{
	fault("#PF", f, err);
}

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};

static struct gate idt[256] __attribute__((aligned(16)));

static void set_gate(unsigned vec, void *handler)
{
	uint64_t a = (uintptr_t)handler;
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[vec] = (struct gate){ .off_lo = (uint16_t)a, .sel = cs, .type = 0x8E,
				  .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
}

static void idt_setup(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {
		sizeof(idt) - 1, (uintptr_t)idt
	};

	set_gate(VEC_UD, on_ud);
	set_gate(VEC_GP, on_gp);
	set_gate(VEC_PF, on_pf);
	set_gate(VEC_USED, on_used);
	set_gate(VEC_TIMER, on_timer);
	__asm__ volatile("lidt %0" :: "m"(d));
}

/* The TSC-deadline timer fires at `at` (0 disarms). */
static void timer_at(uint64_t at)
{
	wrmsr(MSR_TSC_DEADLINE, at);
}

/* Sleeps until the timer has fired once more. */
static void sleep_until(uint64_t at)
{
	unsigned seen = timer_irqs;

	cli();
	timer_at(at);
	while (timer_irqs == seen)
		sti_hlt(), cli();
}

/* MSI-X entry TXQ_MSIX -> VEC_USED on our x2APIC, unmasked; then MSI-X on, function
 * unmasked (PCIe 6.8.2). */
static int msix_setup(const struct vdrv *d, uint32_t apic_id)
{
	unsigned slot = d->slot, cap = d->msix_cap;
	uint32_t table = ecam_r32(slot, cap + MSIX_TABLE);

	if (table & 7) {
		printf("vbench: FAILED: MSI-X table in BAR%u, not BAR0\n", table & 7);
		return -1;
	}
	uint64_t e = d->bar + (table & ~7u) + 16u * TXQ_MSIX;
	mmio_w32(e + 0, 0xFEE00000u | (apic_id & 0xFF) << 12);
	mmio_w32(e + 4, 0);
	mmio_w32(e + 8, VEC_USED);
	mmio_w32(e + 12, 0); /* vector control: unmasked */
	uint16_t ctrl = ecam_r16(slot, cap + MSIX_CTRL);
	ecam_w16(slot, cap + MSIX_CTRL, (uint16_t)((ctrl & ~MSIX_CTRL_FMASK) | MSIX_CTRL_ENABLE));
	ctrl = ecam_r16(slot, cap + MSIX_CTRL);
	if ((ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK)) != MSIX_CTRL_ENABLE) {
		printf("vbench: FAILED: MSI-X message control reads 0x%x\n", ctrl);
		return -1;
	}
	return 0;
}

/* --- the measurement --- */

/* The guest's measuring instructions: t0 read, two stores into the buffer, then the one
 * notify write (16 bits, the queue's index, 4.1.4.4). Registers are fixed so that the
 * notify is always `mov %si,(%rcx)` (66 89 31): Mica decodes the instruction, and its path
 * is ~64 instructions longer for e.g. `mov %si,(%r14)` (66 41 89 36). */
static void notify_timed(uint64_t notify_addr)
{
	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, 16(%0)\n\t"
			 "mov %%edx, 20(%0)\n\t"
			 "movw %%si, (%%rcx)\n\t"
			 :: "D"(txbuf), "S"(TXQ), "c"(notify_addr) : "rax", "rdx", "memory");
}

/* The same through the notify port (BAR2): `out %ax,%dx` (66 ef) after the two register
 * moves that RDTSC's outputs make necessary, which count in this path's figure. */
static void notify_timed_port(uint16_t port)
{
	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, 16(%0)\n\t"
			 "mov %%edx, 20(%0)\n\t"
			 "mov %%esi, %%eax\n\t"
			 "mov %%ecx, %%edx\n\t"
			 "outw %%ax, %%dx\n\t"
			 :: "D"(txbuf), "S"(TXQ), "c"((uint32_t)port) : "rax", "rdx", "memory");
}

/* The same instructions with a plain RDTSC (as the service's) in place of the notify;
 * t0 comes back from the buffer, so not one instruction more is measured. */
static uint32_t run_base(void)
{
	uint32_t t1;

	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, 16(%1)\n\t"
			 "mov %%edx, 20(%1)\n\t"
			 "rdtsc\n\t"
			 : "=&a"(t1) : "r"(txbuf) : "rdx", "memory");
	return t1 - *(volatile uint32_t *)(txbuf + 16);
}

/* Calibration: 64 NOPs more give the TSC ticks per instruction (256 at shift=8). */
static uint32_t run_nops(void)
{
	uint32_t t1;

	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, 16(%1)\n\t"
			 "mov %%edx, 20(%1)\n\t"
			 ".rept 64; nop; .endr\n\t"
			 "rdtsc\n\t"
			 : "=&a"(t1) : "r"(txbuf) : "rdx", "memory");
	return t1 - *(volatile uint32_t *)(txbuf + 16);
}

static uint32_t minimum(uint32_t (*run)(void))
{
	uint32_t best = UINT32_MAX;

	for (int i = 0; i < CAL_RUNS; i++) {
		uint32_t d = run();
		if (d < best)
			best = d;
	}
	return best;
}

/* Interrupts where none should be: said (the first few), and counted in irqs= at the end. */
static void note(unsigned run, const char *what, unsigned n)
{
	static unsigned said;

	if (said++ < 4)
		printf("vbench: note: run %u: %u %s\n", run, n, what);
}

/* One measured notify, through port if it is non-zero, else notify_addr; 0, or -1 after
 * saying what went wrong. */
static int one_run(unsigned i, uint16_t port, uint64_t notify_addr)
{
	struct vdrv_queue *q = &dev.q[TXQ];
	volatile struct vused *u = &q->r->used;
	unsigned irqs = used_irqs, timers;

	sleep_until(rdtsc() + (uint64_t)SETTLE_US * guest_tsc_mhz);
	if (used_irqs != irqs)
		note(i, "used-ring interrupt(s) while idle before it", used_irqs - irqs);

	/* interrupts stay off until the HLT below: nothing runs in the window but the path */
	irqs = used_irqs;
	timers = timer_irqs;
	timer_at(rdtsc() + (uint64_t)WATCHDOG_MS * guest_tsc_khz);
	memcpy(txbuf, BENCH_MARK, sizeof(BENCH_MARK));
	memset(txbuf + 16, 0, 8);
	vdrv_set_desc(q, 0, (uintptr_t)txbuf, 24, 0, 0);
	vdrv_publish(q, 0);

	if (port)
		notify_timed_port(port);
	else
		notify_timed(notify_addr);

	/* The used-ring interrupt wakes us; the watchdog says when to give up. QEMU runs this
	 * CPU on from the notify exit until it halts (scripts/bench.py), so the few
	 * instructions from the notify to the HLT are in the figure too. */
	while ((u->idx == q->used_idx || used_irqs == irqs) && timer_irqs == timers)
		sti_hlt(), cli();
	timer_at(0);
	if (u->idx == q->used_idx) {
		printf("vbench: FAILED: run %u: the buffer was not used within %u ms (used idx %u, "
		       "status 0x%02x)\n", i, WATCHDOG_MS, q->used_idx, vdrv_status(&dev));
		return -1;
	}
	if (used_irqs == irqs) {
		printf("vbench: FAILED: run %u: the buffer was used but no MSI-X interrupt came "
		       "within %u ms\n", i, WATCHDOG_MS);
		return -1;
	}
	if (used_irqs - irqs > 1)
		note(i, "used-ring interrupts for one buffer", used_irqs - irqs);
	q->used_idx++;
	return 0;
}

int main(unsigned vcpu)
{
	if (vcpu != 0)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	if (vdrv_open(&dev))
		return 1;
	if (!dev.msix_cap) {
		printf("vbench: FAILED: 00:%02x.0 has no MSI-X capability\n", dev.slot);
		return 1;
	}

	idt_setup();
	wrmsr(MSR_X2APIC_SVR, 0x1FF); /* software enabled, spurious vector 0xFF */
	wrmsr(MSR_LVT_TIMER, LVT_TSC_DEADLINE | VEC_TIMER);
	uint32_t apic_id = (uint32_t)rdmsr(MSR_X2APIC_ID);
	if (apic_id > 0xFF) {
		printf("vbench: FAILED: x2APIC ID %u does not fit an MSI address\n", apic_id);
		return 1;
	}
	if (vdrv_init(&dev, VDRV_ATTACH_MS) || msix_setup(&dev, apic_id))
		return 1;
	/* The device's second NOTIFY structure, in memory (BAR0): the same queue, notified
	 * the way a driver without I/O space would. */
	struct vdrv mem = dev;
	mem.mem_notify = 1;
	mem.notify_port = 0;
	if (vdrv_open(&mem))
		return 1;
	uint16_t port = vdrv_notify_port(&dev, TXQ);
	uint64_t notify_addr = vdrv_notify_addr(&mem, TXQ);
	if (!dev.notify_port) {
		printf("vbench: FAILED: 00:%02x.0 has no notify structure in I/O space\n", dev.slot);
		return 1;
	}
	printf("vbench: console at 00:%02x.0, transmitq notify at port 0x%x and at 0x%lx, "
	       "MSI-X entry %u -> APIC %u vector 0x%x; %u + %u runs through the port, then %u "
	       "through memory\n", dev.slot, port, (unsigned long)notify_addr, TXQ_MSIX, apic_id,
	       VEC_USED, WARMUP, RUNS, RUNS);

	run_base();
	run_nops();
	uint32_t base = minimum(run_base);
	uint32_t nops = minimum(run_nops);

	for (unsigned i = 0; i < WARMUP + RUNS; i++)
		if (one_run(i, port, 0))
			return 1;
	for (unsigned i = WARMUP + RUNS; i < WARMUP + 2 * RUNS; i++)
		if (one_run(i, 0, notify_addr))
			return 1;
	printf("vbench-raw: base=%u nops64=%u warmup=%u runs=%u mem_runs=%u irqs=%u\n", base,
	       nops, WARMUP, RUNS, RUNS, used_irqs);
	return 0;
}
