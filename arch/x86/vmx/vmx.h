/* Intel VT-x backend internals (shared by the files of arch/x86/vmx/ only). */
#ifndef MICA_VMX_H
#define MICA_VMX_H

#include <stdint.h>
#include "arch/x86/vmx/vmcs.h"
#include "kernel/vcpu.h"
#include "kernel/virt.h"

/* A vCPU's VMCS can be written only on the CPU where it is current, so a reset asked for
 * by another CPU (partition restart) is recorded here and applied by the owner before its
 * next VM entry. */
/* What a snapshot keeps of a vCPU (kernel/snapshot.c): the VMCS fields that are the
 * guest's, or, for a vCPU that has not entered the guest since its last reset, that
 * reset's boot state. */
#define VMX_SNAP_FIELDS 64
struct vmx_snap {
	uint32_t kind;           /* VMX_SNAP_BOOT or VMX_SNAP_VMCS */
	uint32_t nfields;
	struct vcpu_boot_state boot;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t field[VMX_SNAP_FIELDS];
};
#define VMX_SNAP_BOOT 1
#define VMX_SNAP_VMCS 2

struct vmx_vcpu {
	uint64_t vmcs_pa;
	struct vcpu_boot_state boot;
	volatile int reset_pending;
	int vmcs_ready;          /* host state and controls written on the owning CPU */
	uint64_t eptp;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* not switched by VMX */
	int load_pending;        /* a snapshot's state for the first entry (vmx_vcpu_run) */
	struct vmx_snap load;
};

static inline uint64_t vmread(uint64_t field)
{
	uint64_t v;
	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
	return v;
}

/* Returns 0, or non-zero when the CPU refused (bad field, read-only field, no current VMCS). */
static inline int vmwrite(uint64_t field, uint64_t value)
{
	uint8_t fail;
	__asm__ volatile("vmwrite %2, %1; setna %0" : "=q"(fail) : "r"(field), "r"(value) : "cc", "memory");
	return fail;
}

int vmx_stage2_init(struct stage2 *s2);
void vmx_stage2_free(struct stage2 *s2);
void vmx_stage2_prune(struct stage2 *s2, uint64_t gpa, uint64_t size);
int vmx_stage2_map(struct stage2 *s2, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm);
int vmx_stage2_unmap(struct stage2 *s2, uint64_t gpa, uint64_t size);
uint64_t vmx_eptp(const struct stage2 *s2);
void vmx_handle_exit(struct vcpu *v);
/* Called by vmx_loop before the first VM entry and after a failed one (vmx_handle_exit
 * ends the same way): returns with IF = 0, RIP (or a pending reset) in the VMCS, and
 * nothing pending for the vCPU (kicks, stops, restarts: handled first). */
void vmx_before_entry(struct vcpu *v);
void vmx_entry_failed(struct vcpu *v, uint64_t rflags);
void vmx_inject_exception(struct vcpu *v, uint8_t vector, int has_error, uint32_t error);
void vmx_apply_reset(struct vcpu *v);
void vmx_irq_window(struct vcpu *v, int on);
uint64_t cr0_must1(void);
uint64_t vmx_guest_cr0(void);
uint32_t vmx_entry_ctls(void);
const char *vmx_insn_error_text(uint32_t err);
/* entry.S: enters the guest, calls vmx_handle_exit on each exit; never returns. */
void vmx_loop(struct vcpu *v) __attribute__((noreturn));

#endif
