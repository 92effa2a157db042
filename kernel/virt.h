/* The virtualization contract: what the kernel needs from a vendor backend (AMD SVM in
 * arch/x86/svm/, Intel VT-x in arch/x86/vmx/). The kernel never sees a VMCB or VMCS; a
 * backend turns its exits into one struct vm_exit and calls vcpu_handle_exit(). */
#ifndef MICA_VIRT_H
#define MICA_VIRT_H

#include <stdint.h>

struct pcpu;
struct vcpu;

/* Guest general-purpose registers, in the x86 encoding order (RAX = 0 ... R15 = 15). */
enum { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
       REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };

struct guest_regs {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
};

enum exit_reason {
	EXIT_NONE,          /* handled inside the backend; nothing for the kernel */
	EXIT_INTR,          /* a physical interrupt or kick arrived */
	EXIT_CPUID,
	EXIT_HYPERCALL,
	EXIT_IO,
	EXIT_MSR,
	EXIT_HLT,
	EXIT_IRQ_WINDOW,    /* the guest can take an interrupt now (asked for with irq_window) */
	EXIT_STAGE2_FAULT,  /* access to guest-physical memory the partition does not own */
	EXIT_TRIPLE_FAULT,
	EXIT_ENTRY_FAILED,  /* the CPU refused to enter the guest: what says why */
	EXIT_UNHANDLED,     /* an exit the backend did not expect: what and raw say which */
	EXIT_REASONS
};

struct vm_exit {
	enum exit_reason reason;
	uint32_t insn_len; /* bytes of the exiting instruction, when the CPU says (else 0: the
			    * kernel decodes it, kernel/emul/fetch.h) */
	union {
		struct {
			uint16_t port;
			uint8_t size; /* 1, 2 or 4 */
			uint8_t in;
			uint8_t string;
			uint8_t rep;
		} io;
		struct {
			uint32_t index;
			uint8_t write;
		} msr;
		struct {
			uint64_t gpa;
			uint8_t read, write, exec;
		} fault;
		struct {
			uint32_t event; /* what the CPU was delivering: vector 7:0, type 10:8,
					 * valid bit 31 (SVM EXITINTINFO, VT-x IDT-vectoring
					 * info: the same layout); 0 if it does not say */
			uint64_t cr2;   /* the guest's CR2 where the backend has it, else 0 */
		} shutdown;
	};
	uint64_t raw[3];   /* the backend's exit code and qualifications, for reports */
	const char *what;  /* words for ENTRY_FAILED / UNHANDLED */
};

/* Initial state of a vCPU, vendor neutral. */
enum vcpu_mode {
	VCPU_MODE_LONG64, /* flat 64-bit long mode, paging on (the ELF boot protocol) */
	VCPU_MODE_WAIT_SIPI, /* an AP after INIT: waits for a SIPI from the guest (Linux) */
	VCPU_MODE_REAL16,    /* real mode at code_sel:rip, CS base cs_base (an AP after SIPI) */
	VCPU_MODE_PROT32,    /* flat 32-bit protected mode, paging off (Multiboot, PVH) */
};

struct vcpu_boot_state {
	enum vcpu_mode mode;
	uint64_t rip, rsp, rdi, rsi; /* rsi: Linux's zero page (64-bit boot protocol) */
	uint64_t rax, rbx;           /* Multiboot's magic and information structure */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t code_sel, data_sel;
	uint64_t cs_base;    /* VCPU_MODE_REAL16 only */
};

/* A partition's stage-2 (guest-physical to host-physical) tables. */
struct stage2 {
	uint64_t root;  /* physical address of the top table */
	uint32_t tag;   /* ASID / VPID, from 1 */
};

#define S2_READ  1u
#define S2_WRITE 2u
#define S2_EXEC  4u
#define S2_DEVICE 8u /* device memory (a passed-through BAR): uncached, whatever the guest's
		      * own memory types say */

struct virt_ops {
	const char *name; /* "svm", "vmx" */
	uint32_t hcall_insn; /* MICA_HCALL_INSN_*: what guests are told to use (CPUID 0x40000001) */
	/* Turns virtualization on for the calling CPU. */
	int (*cpu_init)(struct pcpu *cpu);
	int (*stage2_init)(struct stage2 *s2);
	int (*stage2_map)(struct stage2 *s2, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm);
	/* Unmaps [gpa, gpa + size); the TLBs are the caller's (partition_unmap). */
	int (*stage2_unmap)(struct stage2 *s2, uint64_t gpa, uint64_t size);
	/* On v's own CPU, between exit and entry: drop every translation of v's stage-2 the
	 * CPU may hold, before the next entry. */
	void (*stage2_flush)(struct vcpu *v);
	/* Frees the tables wholly inside [gpa, gpa + size) that map nothing any more (a
	 * window unmapped for good); the TLBs are the caller's, as for stage2_unmap. */
	void (*stage2_prune)(struct stage2 *s2, uint64_t gpa, uint64_t size);
	/* Frees the tables of a stage-2 no CPU uses any more (its vCPUs released). */
	void (*stage2_free)(struct stage2 *s2);
	int (*vcpu_init)(struct vcpu *v);
	/* On v's own CPU, which leaves v for good (a destroy): nothing of v's stays cached
	 * there (VT-x: its VMCS cleared, its EPT's and VPID's translations dropped). */
	void (*vcpu_release)(struct vcpu *v);
	/* Frees what vcpu_init took; v was released. */
	void (*vcpu_free)(struct vcpu *v);
	/* Loads the boot state into v->regs and the backend's state. Only while v is not running. */
	void (*vcpu_reset)(struct vcpu *v, const struct vcpu_boot_state *st);
	/* Runs v on the calling CPU for good: each exit goes to vcpu_handle_exit(). */
	void (*vcpu_run)(struct vcpu *v) __attribute__((noreturn));
	void (*inject_exception)(struct vcpu *v, uint8_t vector, int has_error, uint32_t error);
	/* The guest's paging registers and code size (16, 32, 64) for walking its page tables
	 * and decoding the instruction at RIP (MMIO emulation). */
	void (*get_paging)(struct vcpu *v, uint64_t *cr0, uint64_t *cr3, uint64_t *cr4,
			   uint64_t *efer, unsigned *code_bits);
	unsigned (*guest_cpl)(struct vcpu *v); /* the guest's current privilege level, 0-3 */
	uint64_t (*cs_base)(struct vcpu *v);   /* CS base: RIP is an offset from it */
	/* External interrupts. irq_ready: the guest can take one on the next entry (IF set, no
	 * interrupt shadow, no event already queued). irq_window: exit with EXIT_IRQ_WINDOW as
	 * soon as it can (on = 0 cancels). Called on the vCPU's own CPU, between exit and entry. */
	int (*irq_ready)(struct vcpu *v);
	void (*inject_irq)(struct vcpu *v, uint8_t vector);
	void (*irq_window)(struct vcpu *v, int on);
	/* MSRs whose state the backend keeps (EFER, PAT, segment bases, SYSCALL/SYSENTER):
	 * return 0 when handled, MICA_ENOSYS when the MSR is not the backend's. */
	int (*msr_read)(struct vcpu *v, uint32_t index, uint64_t *value);
	int (*msr_write)(struct vcpu *v, uint32_t index, uint64_t value);
	/* Snapshots (kernel/snapshot.c), both on v's own CPU while v is parked: vcpu_save
	 * writes what the backend holds of the guest's state (up to VIRT_STATE_MAX bytes) to
	 * buf; vcpu_load puts such a state back, for v's next entry, in place of whatever
	 * v ran or was reset to. The kernel keeps the general registers (struct vcpu regs)
	 * and the FPU itself. */
	void (*vcpu_save)(struct vcpu *v, void *buf);
	void (*vcpu_load)(struct vcpu *v, const void *buf);
};

#define VIRT_STATE_MAX 4096

/* Chosen once at boot by CPU vendor; read-only afterwards. NULL if none is usable. */
extern const struct virt_ops *virt;

/* Backends: each returns its ops if this CPU supports it, else NULL with *why set. */
const struct virt_ops *svm_probe(const char **why);
const struct virt_ops *vmx_probe(const char **why);

/* Kernel side: called by the backend on every exit; returns when the guest may resume.
 * The two most frequent exits have their own entry points, so that the backend need not
 * build a struct vm_exit for them (both advance RIP by insn_len themselves; 0: the CPU
 * did not say, the kernel decodes it). */
void vcpu_handle_exit(struct vcpu *v, struct vm_exit *e);
void vcpu_exit_cpuid(struct vcpu *v, unsigned insn_len);
void vcpu_exit_hypercall(struct vcpu *v, unsigned insn_len);

/* The other kernel calls a backend makes, declared with their subsystems:
 *  - before each entry: irq_before_entry() (kernel/irq.h) for a vCPU with a local APIC,
 *    then, with interrupts held off, vcpu_may_enter() and when it says no vcpu_kicked()
 *    (kernel/partition.h), which also answer kicks (kick_clear(), kernel/percpu.h);
 *  - on an entry failure: partition_end() and partition_check() (kernel/partition.h);
 *  - for an instruction length the CPU does not report: vcpu_insn_len() (kernel/emul/fetch.h);
 *  - the offsets the entry stubs use: kernel/vcpu_layout.h.
 * A backend keeps its own state for a vCPU behind struct vcpu's hw pointer, typed in its
 * own headers; the kernel never looks inside. */

#endif
