/* What the vendor-neutral kernel asks of the platform layer (arch/x86/). The
 * virtualization half of the contract is in kernel/virt.h. */
#ifndef MICA_KERNEL_ARCH_H
#define MICA_KERNEL_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <mica/boot_info.h>

struct pcpu;

/* The host's serial port: a 16550 at I/O port `port` whose interrupt is ISA IRQ `irq`; port
 * 0: none (the log goes to the screen only, or nowhere). Returns 0, or -1 when no UART
 * answers there (then there is none). */
int arch_console_init(uint16_t port, uint8_t irq);
void arch_console_write(const char *s, size_t n);
/* The same, byte for byte: no CR added before LF (an attached partition's own output). */
void arch_console_write_raw(const char *s, size_t n);
/* Routes the host serial port's receive interrupt to this CPU; each byte that arrives is
 * handed to console_rx() in interrupt context. Returns 0, or -1 (no port, or no I/O APIC
 * found). */
int arch_console_rx_enable(const struct boot_info *bi);

/* Boot CPU: GDT/TSS/IDT for CPU 0, own page tables over all of physical memory. */
int arch_init_boot_cpu(const struct boot_info *bi, struct pcpu *cpu);

/* Starts every other CPU in cpus[1..n); each calls kernel_ap_main(cpu). Returns how many came up. */
unsigned arch_start_aps(const struct boot_info *bi, struct pcpu *cpus, unsigned n);

/* Sends the "look at your state" interrupt to a CPU (wakes it from idle, makes it leave a
 * guest), after setting its kick_pending flag. */
void arch_kick_cpu(struct pcpu *cpu);
/* The same as an NMI, which nothing in a guest can hold off: for a kick that must get
 * through (a stop), re-sent while unanswered. The host takes NMIs as kicks. */
void arch_kick_cpu_nmi(struct pcpu *cpu);

/* Time: the TSC is the one clock (measured at boot); each CPU has one timer that fires
 * VEC_TIMER at a TSC deadline (0 disarms). */
uint64_t arch_tsc_hz(void);
void arch_timer_arm(uint64_t tsc_deadline);

/* The host's wall clock: Unix seconds (UTC) at TSC *tsc, read from the machine's clock the
 * first time (on the boot CPU, before partitions exist; 1970 if it has none). */
void arch_boot_time(uint64_t *unix_time, uint64_t *tsc);
/* Makes device memory [pa, pa + size) reachable by the core (uncached) and returns a
 * pointer to pa, or NULL (beyond what the core's tables can map, or out of tables). Memory
 * below the identity map's top is there already. */
void *arch_map_mmio(uint64_t pa, uint64_t size);

/* Reads the boot CPU's local APIC ID. */
uint32_t arch_boot_apic_id(void);

void kernel_ap_main(struct pcpu *cpu);

/* The guest's FPU/SSE/AVX state, which lives in the CPU while its vCPU is parked (Mica
 * uses none of it): save into buf (ARCH_FPU_MAX bytes, 64-byte aligned) and load back,
 * on the vCPU's own CPU. save returns 0, or -1 when the CPU's state would not fit. */
#define ARCH_FPU_MAX 8192
int arch_fpu_save(void *buf);
void arch_fpu_load(const void *buf);

/* Host interrupt vectors the kernel hands out: ARCH_VEC_DEV_FIRST..LAST to passed-through
 * devices (each CPU has its own set), ARCH_VEC_IOMMU to the IOMMUs' fault reports. The
 * platform layer calls these in interrupt context, then signals the end of the
 * interrupt itself. */
#define ARCH_VEC_DEV_FIRST 0x40
#define ARCH_VEC_DEV_LAST  0xdf
#define ARCH_VEC_IOMMU     0xed
void kernel_device_irq(unsigned vector);
void kernel_iommu_fault(void);

#endif
