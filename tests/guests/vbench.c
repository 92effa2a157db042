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
 * The guest drives its virtio console by hand, as vhostile does (ECAM, BAR0, common
 * config), but takes the transmit queue's used-ring interrupt through MSI-X on its virtual
 * x2APIC, so that it sleeps (HLT) instead of polling: QEMU's single icount thread then has
 * only the service's CPU to run. Each run:
 *  1. sleeps until the service is idle again: an x2APIC TSC-deadline timer SETTLE_US ahead
 *     and HLT. Both CPUs halt, the service's last instructions of the previous run are
 *     done, and the next notify finds it asleep, as a notify after a quiet spell would;
 *  2. arms the same timer as a watchdog (WATCHDOG_MS), puts one transmit buffer on the
 *     queue: BENCH_MARK (16 bytes, starting with a NUL: no text holds it) then 8 bytes t0;
 *  3. reads t0, stores it in the buffer, writes the notify register (all in one asm);
 *  4. `sti; hlt` until the used-ring interrupt (or the watchdog) comes.
 * The service sees the marker and prints `bench-notify: device <d> t0=<n> t1=<n>` instead
 * of forwarding the bytes. The first WARMUP runs are left out of the figure: the very first
 * notify of a queue is cheaper than every later one (Mica skips its check that the queue's
 * previous NOTIFY has left the ring, kernel/vdev.c notify()). At the end this guest prints the calibration, measured the same
 * way as tests/guests/bench.c:
 *     vbench-raw: base=<ticks> nops64=<ticks> warmup=<w> runs=<k> irqs=<n>
 * base: the minimum RDTSC delta of exactly the guest's own measuring instructions (t0 read,
 * two stores) ended by a plain RDTSC like the service's; nops64: the same with 64 NOPs
 * more, to check 256 ticks per instruction. */
#include <string.h>
#include "lib/guest.h"

#define RUNS        100   /* notifies measured */
#define WARMUP      1     /* notifies before them, reported but not counted (below) */
#define CAL_RUNS    1000  /* for the calibration minima */
#define SETTLE_US   2000  /* of TSC time, sleeping before each notify (see above) */
#define WATCHDOG_MS 2000  /* no used-ring interrupt this long after a notify: fail */
#define ATTACH_WAIT_MS 10000

/* Must match vmm/serve.c (BENCH_MARK): 16 bytes, the first one NUL. */
static const char BENCH_MARK[16] = "\0MICA-BENCH-NTFY";

/* --- platform (docs/guests.md, "Virtual PCI") --- */
#define ECAM_BASE   0xB0000000ull
#define PCI_DEVICES 32
#define VIRTIO_ID_CONSOLE 0x10431AF4u /* device 0x1043, vendor 0x1AF4 */

#define PCI_COMMAND     0x04
#define PCI_STATUS      0x06
#define PCI_BAR0        0x10
#define PCI_BAR1        0x14
#define PCI_CAP_PTR     0x34
#define PCI_CMD_MEMORY  0x0002
#define PCI_CMD_MASTER  0x0004
#define PCI_STATUS_CAPS 0x0010
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAPS_MAX    48

#define MSIX_CTRL        2      /* le16 message control */
#define MSIX_TABLE       4      /* le32: BIR in bits 2:0, offset above */
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK  0x4000

#define VCAP_TYPE   3
#define VCAP_BAR    4
#define VCAP_OFFSET 8
#define VCAP_MULT   16
#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2

/* struct virtio_pci_common_cfg (virtio 1.1, 4.1.4.3) */
#define VC_DFSELECT 0x00
#define VC_DF       0x04
#define VC_GFSELECT 0x08
#define VC_GF       0x0C
#define VC_MSIX_CFG 0x10
#define VC_NUMQ     0x12
#define VC_STATUS   0x14
#define VC_QSELECT  0x16
#define VC_QSIZE    0x18
#define VC_QMSIX    0x1A
#define VC_QENABLE  0x1C
#define VC_QNOTIFY  0x1E
#define VC_QDESC    0x20
#define VC_QDRIVER  0x28
#define VC_QDEVICE  0x30

#define S_ACKNOWLEDGE 0x01
#define S_DRIVER      0x02
#define S_DRIVER_OK   0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED      0x80
#define F_VERSION_1   (1ull << 32)
#define NO_VECTOR     0xFFFF

#define RXQ 0
#define TXQ 1
#define QSZ 8
#define TXQ_MSIX 1 /* the transmitq's MSI-X table entry (0 stays unused, as config's) */

/* --- x2APIC (kernel/vlapic.h) --- */
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

/* --- rings, in our identity-mapped RAM --- */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vavail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[QSZ];
	uint16_t used_event;
};

struct vused {
	uint16_t flags;
	uint16_t idx;
	struct { uint32_t id, len; } ring[QSZ];
	uint16_t avail_event;
};

struct vring {
	struct vdesc desc[QSZ] __attribute__((aligned(4096)));
	struct vavail avail __attribute__((aligned(4096)));
	struct vused used __attribute__((aligned(4096)));
};

static struct vring rings[2];
static uint8_t txbuf[64] __attribute__((aligned(64))); /* BENCH_MARK, then t0 */

static uint64_t bar;
static uint32_t common_off, notify_off_base, notify_mult;
static uint16_t tx_notify_off;
static uint16_t avail_idx, used_idx;

/* --- MMIO: one plain MOV each (what Mica's MMIO decoder takes) --- */
static inline uint8_t mmio_r8(uint64_t a)
{
	uint8_t v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_r16(uint64_t a)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_r32(uint64_t a)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_w8(uint64_t a, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory");
}

static inline void mmio_w16(uint64_t a, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

static inline void mmio_w32(uint64_t a, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

static inline void fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static uint64_t ecam(unsigned slot, unsigned reg)
{
	return ECAM_BASE | (uint64_t)slot << 15 | reg;
}

static uint8_t c_r8(unsigned off) { return mmio_r8(bar + common_off + off); }
static uint16_t c_r16(unsigned off) { return mmio_r16(bar + common_off + off); }
static uint32_t c_r32(unsigned off) { return mmio_r32(bar + common_off + off); }
static void c_w8(unsigned off, uint8_t v) { mmio_w8(bar + common_off + off, v); }
static void c_w16(unsigned off, uint16_t v) { mmio_w16(bar + common_off + off, v); }
static void c_w32(unsigned off, uint32_t v) { mmio_w32(bar + common_off + off, v); }

static void c_w64(unsigned off, uint64_t v)
{
	c_w32(off, (uint32_t)v);
	c_w32(off + 4, (uint32_t)(v >> 32));
}

/* --- CPU --- */
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* Atomic: an interrupt that became pending after the caller's last look wakes the HLT. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

static uint64_t ticks_per_ms(void)
{
	return (uint64_t)guest_tsc_mhz * 1000;
}

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

/* --- the device --- */

static int find_console(void)
{
	for (unsigned slot = 0; slot < PCI_DEVICES; slot++)
		if (mmio_r32(ecam(slot, 0)) == VIRTIO_ID_CONSOLE)
			return (int)slot;
	return -1;
}

/* COMMON and NOTIFY (first of each, in BAR0) and the MSI-X capability's offset. */
static int find_caps(unsigned s, unsigned *msix)
{
	int have_common = 0, have_notify = 0;

	*msix = 0;
	if (!(mmio_r16(ecam(s, PCI_STATUS)) & PCI_STATUS_CAPS))
		return -1;
	unsigned ptr = mmio_r8(ecam(s, PCI_CAP_PTR)) & 0xFC;
	for (unsigned n = 0; ptr; n++) {
		if (n == PCI_CAPS_MAX || ptr < 0x40 || ptr > 0xEC)
			return -1;
		uint8_t id = mmio_r8(ecam(s, ptr));
		if (id == PCI_CAP_ID_MSIX && !*msix)
			*msix = ptr;
		if (id == PCI_CAP_ID_VNDR && mmio_r8(ecam(s, ptr + VCAP_BAR)) == 0) {
			uint8_t type = mmio_r8(ecam(s, ptr + VCAP_TYPE));
			uint32_t off = mmio_r32(ecam(s, ptr + VCAP_OFFSET));
			if (type == VIRTIO_PCI_CAP_COMMON && !have_common) {
				common_off = off;
				have_common = 1;
			} else if (type == VIRTIO_PCI_CAP_NOTIFY && !have_notify) {
				notify_off_base = off;
				notify_mult = mmio_r32(ecam(s, ptr + VCAP_MULT));
				have_notify = 1;
			}
		}
		ptr = mmio_r8(ecam(s, ptr + 1)) & 0xFC;
	}
	return have_common && have_notify && *msix ? 0 : -1;
}

static int wait_status_zero(void)
{
	uint64_t end = rdtsc() + 2000 * ticks_per_ms();

	while (c_r8(VC_STATUS) != 0)
		if ((int64_t)(rdtsc() - end) > 0)
			return -1;
	return 0;
}

static int q_setup(unsigned qi, uint16_t vector)
{
	struct vring *r = &rings[qi];

	c_w16(VC_QSELECT, (uint16_t)qi);
	uint16_t max = c_r16(VC_QSIZE);
	if (max < QSZ) {
		printf("vbench: FAILED: queue %u: queue_size %u, want %u\n", qi, max, QSZ);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	fence();
	c_w16(VC_QSIZE, QSZ);
	c_w64(VC_QDESC, (uintptr_t)r->desc);
	c_w64(VC_QDRIVER, (uintptr_t)&r->avail);
	c_w64(VC_QDEVICE, (uintptr_t)&r->used);
	c_w16(VC_QMSIX, vector);
	if (c_r16(VC_QMSIX) != vector) {
		printf("vbench: FAILED: queue %u: queue_msix_vector reads 0x%x, wrote 0x%x\n", qi,
		       c_r16(VC_QMSIX), vector);
		return -1;
	}
	if (qi == TXQ)
		tx_notify_off = c_r16(VC_QNOTIFY);
	c_w16(VC_QENABLE, 1);
	return 0;
}

/* Virtio 1.1 3.1.1, with the transmitq on MSI-X entry TXQ_MSIX and nothing else on any. */
static int dev_init(void)
{
	uint8_t st = S_ACKNOWLEDGE | S_DRIVER;

	c_w8(VC_STATUS, 0);
	if (wait_status_zero()) {
		printf("vbench: FAILED: reset does not complete\n");
		return -1;
	}
	c_w8(VC_STATUS, S_ACKNOWLEDGE);
	c_w8(VC_STATUS, st);
	uint64_t end = rdtsc() + ATTACH_WAIT_MS * ticks_per_ms();
	uint32_t hi;
	for (;;) { /* features read 0 until the service has attached the device */
		c_w32(VC_DFSELECT, 1);
		hi = c_r32(VC_DF);
		if ((hi & 1) || (int64_t)(rdtsc() - end) > 0)
			break;
		delay_ms(1);
	}
	if (!(hi & 1)) {
		printf("vbench: FAILED: no VERSION_1 after %u ms: no service?\n", ATTACH_WAIT_MS);
		return -1;
	}
	c_w32(VC_GFSELECT, 0);
	c_w32(VC_GF, 0);
	c_w32(VC_GFSELECT, 1);
	c_w32(VC_GF, (uint32_t)(F_VERSION_1 >> 32));
	st |= S_FEATURES_OK;
	c_w8(VC_STATUS, st);
	if (!(c_r8(VC_STATUS) & S_FEATURES_OK)) {
		printf("vbench: FAILED: FEATURES_OK refused\n");
		return -1;
	}
	c_w16(VC_MSIX_CFG, NO_VECTOR);
	if (c_r16(VC_NUMQ) < 2 || q_setup(RXQ, NO_VECTOR) || q_setup(TXQ, TXQ_MSIX)) {
		c_w8(VC_STATUS, st | S_FAILED);
		return -1;
	}
	st |= S_DRIVER_OK;
	c_w8(VC_STATUS, st);
	uint8_t s = c_r8(VC_STATUS);
	if ((s & (S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)) != S_DRIVER_OK) {
		printf("vbench: FAILED: after DRIVER_OK the status reads 0x%02x\n", s);
		return -1;
	}
	return 0;
}

/* MSI-X entry TXQ_MSIX -> VEC_USED on our x2APIC, unmasked; then MSI-X on, function
 * unmasked (PCIe 6.8.2). */
static int msix_setup(unsigned slot, unsigned cap, uint32_t apic_id)
{
	uint32_t table = mmio_r32(ecam(slot, cap + MSIX_TABLE));

	if (table & 7) {
		printf("vbench: FAILED: MSI-X table in BAR%u, not BAR0\n", table & 7);
		return -1;
	}
	uint64_t e = bar + (table & ~7u) + 16u * TXQ_MSIX;
	mmio_w32(e + 0, 0xFEE00000u | (apic_id & 0xFF) << 12);
	mmio_w32(e + 4, 0);
	mmio_w32(e + 8, VEC_USED);
	mmio_w32(e + 12, 0); /* vector control: unmasked */
	uint16_t ctrl = mmio_r16(ecam(slot, cap + MSIX_CTRL));
	mmio_w16(ecam(slot, cap + MSIX_CTRL), (uint16_t)((ctrl & ~MSIX_CTRL_FMASK) | MSIX_CTRL_ENABLE));
	ctrl = mmio_r16(ecam(slot, cap + MSIX_CTRL));
	if ((ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK)) != MSIX_CTRL_ENABLE) {
		printf("vbench: FAILED: MSI-X message control reads 0x%x\n", ctrl);
		return -1;
	}
	return 0;
}

/* --- the measurement --- */

/* The guest's measuring instructions: t0 read, two stores into the buffer, then the one
 * notify write (16 bits, the queue's index, 4.1.4.4). */
static void notify_timed(uint64_t notify_addr)
{
	__asm__ volatile("lfence; rdtsc; lfence\n\t"
			 "mov %%eax, 16(%0)\n\t"
			 "mov %%edx, 20(%0)\n\t"
			 "movw %w1, (%2)\n\t"
			 :: "r"(txbuf), "r"(TXQ), "r"(notify_addr) : "rax", "rdx", "memory");
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

/* One measured notify; 0, or -1 after saying what went wrong. */
static int one_run(unsigned i, uint64_t notify_addr)
{
	struct vring *r = &rings[TXQ];
	volatile struct vused *u = &r->used;
	unsigned irqs, timers;

	sleep_until(rdtsc() + (uint64_t)SETTLE_US * guest_tsc_mhz);

	/* interrupts stay off until the HLT below: nothing runs in the window but the path */
	irqs = used_irqs;
	timers = timer_irqs;
	timer_at(rdtsc() + WATCHDOG_MS * ticks_per_ms());
	memcpy(txbuf, BENCH_MARK, sizeof(BENCH_MARK));
	memset(txbuf + 16, 0, 8);
	volatile struct vdesc *d = &r->desc[0];
	d->addr = (uintptr_t)txbuf;
	d->len = 24;
	d->flags = 0;
	d->next = 0;
	r->avail.ring[avail_idx % QSZ] = 0;
	fence();
	r->avail.idx = ++avail_idx;
	fence();

	notify_timed(notify_addr);

	/* The used-ring interrupt wakes us; the watchdog says when to give up. */
	while ((u->idx == used_idx || used_irqs == irqs) && timer_irqs == timers)
		sti_hlt(), cli();
	timer_at(0);
	if (u->idx == used_idx) {
		printf("vbench: FAILED: run %u: the buffer was not used within %u ms (used idx %u, "
		       "status 0x%02x)\n", i, WATCHDOG_MS, used_idx, c_r8(VC_STATUS));
		return -1;
	}
	if (used_irqs == irqs) {
		printf("vbench: FAILED: run %u: the buffer was used but no MSI-X interrupt came "
		       "within %u ms\n", i, WATCHDOG_MS);
		return -1;
	}
	used_idx++;
	return 0;
}

int main(unsigned vcpu)
{
	if (vcpu != 0)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	int slot = find_console();
	unsigned cap;
	if (slot < 0) {
		printf("vbench: FAILED: no virtio console on bus 0\n");
		return 1;
	}
	if (find_caps((unsigned)slot, &cap)) {
		printf("vbench: FAILED: 00:%02x.0: no COMMON/NOTIFY capability in BAR0 or no "
		       "MSI-X\n", slot);
		return 1;
	}
	uint32_t lo = mmio_r32(ecam(slot, PCI_BAR0)), hi = mmio_r32(ecam(slot, PCI_BAR1));
	bar = (uint64_t)hi << 32 | (lo & ~0xFu);
	if ((lo & 7) != 4 || !bar) {
		printf("vbench: FAILED: BAR0 reads 0x%x\n", lo);
		return 1;
	}
	uint16_t cmd = mmio_r16(ecam(slot, PCI_COMMAND));
	mmio_w16(ecam(slot, PCI_COMMAND), cmd | PCI_CMD_MEMORY | PCI_CMD_MASTER);

	idt_setup();
	wrmsr(MSR_X2APIC_SVR, 0x1FF); /* software enabled, spurious vector 0xFF */
	wrmsr(MSR_LVT_TIMER, LVT_TSC_DEADLINE | VEC_TIMER);
	uint32_t apic_id = (uint32_t)rdmsr(MSR_X2APIC_ID);
	if (apic_id > 0xFF) {
		printf("vbench: FAILED: x2APIC ID %u does not fit an MSI address\n", apic_id);
		return 1;
	}
	if (dev_init() || msix_setup((unsigned)slot, cap, apic_id))
		return 1;
	uint64_t notify_addr = bar + notify_off_base + (uint64_t)tx_notify_off * notify_mult;
	printf("vbench: console at 00:%02x.0, transmitq notify at 0x%lx, MSI-X entry %u -> "
	       "APIC %u vector 0x%x; %u + %u runs\n", slot, (unsigned long)notify_addr, TXQ_MSIX,
	       apic_id, VEC_USED, WARMUP, RUNS);

	run_base();
	run_nops();
	uint32_t base = minimum(run_base);
	uint32_t nops = minimum(run_nops);

	for (unsigned i = 0; i < WARMUP + RUNS; i++)
		if (one_run(i, notify_addr))
			return 1;
	printf("vbench-raw: base=%u nops64=%u warmup=%u runs=%u irqs=%u\n", base, nops, WARMUP,
	       RUNS, used_irqs);
	return 0;
}
