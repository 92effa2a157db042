/* AMD SVM: the VMCB layout and the numbers that go with it (AMD APM vol. 2, appendix B
 * "Layout of VMCB", and 15.x for each field). */
#ifndef MICA_SVM_VMCB_H
#define MICA_SVM_VMCB_H

#include <stddef.h>
#include <stdint.h>

#define MSR_VM_CR       0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define VM_CR_SVMDIS    (1u << 4)

/* Intercept vector 3 (offset 0x0c) */
#define INTERCEPT_INTR     (1u << 0)
#define INTERCEPT_NMI      (1u << 1)
#define INTERCEPT_SMI      (1u << 2)
#define INTERCEPT_INIT     (1u << 3)
#define INTERCEPT_VINTR    (1u << 4)
#define INTERCEPT_CPUID    (1u << 18)
#define INTERCEPT_INVD     (1u << 22)
#define INTERCEPT_HLT      (1u << 24)
#define INTERCEPT_INVLPGA  (1u << 26)
#define INTERCEPT_IOIO     (1u << 27)
#define INTERCEPT_MSR      (1u << 28)
#define INTERCEPT_TASKSW   (1u << 29)
#define INTERCEPT_SHUTDOWN (1u << 31)
/* Intercept vector 4 (offset 0x10) */
#define INTERCEPT_VMRUN    (1u << 0)
#define INTERCEPT_VMMCALL  (1u << 1)
#define INTERCEPT_VMLOAD   (1u << 2)
#define INTERCEPT_VMSAVE   (1u << 3)
#define INTERCEPT_STGI     (1u << 4)
#define INTERCEPT_CLGI     (1u << 5)
#define INTERCEPT_SKINIT   (1u << 6)
#define INTERCEPT_ICEBP    (1u << 8)
#define INTERCEPT_MONITOR  (1u << 10)
#define INTERCEPT_MWAIT    (1u << 11)
#define INTERCEPT_MWAIT_C  (1u << 12)

/* Exit codes (APM vol. 2, appendix C) */
#define VMEXIT_EXCP_BASE 0x040
#define VMEXIT_INTR      0x060
#define VMEXIT_NMI       0x061
#define VMEXIT_SMI       0x062
#define VMEXIT_INIT      0x063
#define VMEXIT_VINTR     0x064
#define VMEXIT_CPUID     0x072
#define VMEXIT_INVD      0x076
#define VMEXIT_HLT       0x078
#define VMEXIT_INVLPGA   0x07a
#define VMEXIT_IOIO      0x07b
#define VMEXIT_MSR       0x07c
#define VMEXIT_TASKSW    0x07d
#define VMEXIT_SHUTDOWN  0x07f
#define VMEXIT_VMRUN     0x080
#define VMEXIT_VMMCALL   0x081
#define VMEXIT_VMLOAD    0x082
#define VMEXIT_VMSAVE    0x083
#define VMEXIT_STGI      0x084
#define VMEXIT_CLGI      0x085
#define VMEXIT_SKINIT    0x086
#define VMEXIT_ICEBP     0x088
#define VMEXIT_MONITOR   0x08a
#define VMEXIT_MWAIT     0x08b
#define VMEXIT_MWAIT_C   0x08c
#define VMEXIT_NPF       0x400
#define VMEXIT_INVALID   0xffffffffu /* QEMU reports -1 as 0x00000000ffffffff: compare low 32 bits */

/* IOIO exit information 1 (APM 15.10.2) */
#define IOIO_IN     (1u << 0)
#define IOIO_STR    (1u << 2)
#define IOIO_REP    (1u << 3)
#define IOIO_SZ8    (1u << 4)
#define IOIO_SZ16   (1u << 5)
#define IOIO_SZ32   (1u << 6)

/* NPF exit information 1: a page-fault error code */
#define NPF_PRESENT (1ULL << 0)
#define NPF_WRITE   (1ULL << 1)
#define NPF_FETCH   (1ULL << 4)

#define EVENTINJ_VALID (1ULL << 31)
#define EVENTINJ_EV    (1ULL << 11)
#define EVENTINJ_TYPE_EXCEPTION (3ULL << 8)
#define EVENTINJ_TYPE_MASK      (7ULL << 8)

#define TLB_CONTROL_FLUSH_ALL  1
#define V_IRQ          (1ULL << 8)
#define V_INTR_PRIO_MAX (0xfULL << 16)
#define V_IGN_TPR      (1ULL << 20)
#define V_INTR_MASKING (1ULL << 24)
#define V_INTR_VECTOR_SHIFT 32 /* v_intr is INT_CTL (low half) and INT_VECTOR (high) */
#define V_INTR_VECTOR_MASK  (0xffULL << V_INTR_VECTOR_SHIFT)
#define INT_SHADOW     (1ULL << 0)
#define EXITINTINFO_VALID (1ULL << 31)

struct vmcb_seg {
	uint16_t sel;
	uint16_t attrib; /* packed 12-bit form: access byte in 7:0, AVL/L/DB/G in 11:8 */
	uint32_t limit;
	uint64_t base;
};

struct vmcb_control {
	uint32_t intercept_cr;     /* 0x000: reads 15:0, writes 31:16 */
	uint32_t intercept_dr;
	uint32_t intercept_exc;
	uint32_t intercept_misc1;  /* 0x00c */
	uint32_t intercept_misc2;  /* 0x010 */
	uint32_t intercept_misc3;
	uint8_t  reserved1[0x3c - 0x18];
	uint16_t pause_threshold;
	uint16_t pause_count;
	uint64_t iopm_pa;          /* 0x040 */
	uint64_t msrpm_pa;
	uint64_t tsc_offset;
	uint32_t asid;             /* 0x058 */
	uint8_t  tlb_control;
	uint8_t  reserved2[3];
	uint64_t v_intr;           /* 0x060 */
	uint64_t int_shadow;
	uint64_t exitcode;         /* 0x070 */
	uint64_t exitinfo1;
	uint64_t exitinfo2;
	uint64_t exitintinfo;
	uint64_t np_enable;        /* 0x090 */
	uint64_t avic_bar;
	uint64_t ghcb_pa;
	uint64_t eventinj;         /* 0x0a8 */
	uint64_t ncr3;             /* 0x0b0 */
	uint64_t lbr_virt;
	uint32_t clean;            /* 0x0c0 */
	uint32_t reserved3;
	uint64_t next_rip;         /* 0x0c8 */
	uint8_t  insn_len;
	uint8_t  insn_bytes[15];
	uint8_t  reserved4[0x400 - 0xe0];
};

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400 */
	uint8_t  reserved1[0x4cb - 0x4a0];
	uint8_t  cpl;              /* 0x4cb */
	uint32_t reserved2;
	uint64_t efer;             /* 0x4d0 */
	uint8_t  reserved3[0x548 - 0x4d8];
	uint64_t cr4;              /* 0x548 */
	uint64_t cr3;
	uint64_t cr0;
	uint64_t dr7;
	uint64_t dr6;
	uint64_t rflags;
	uint64_t rip;              /* 0x578 */
	uint8_t  reserved4[0x5d8 - 0x580];
	uint64_t rsp;              /* 0x5d8 */
	uint8_t  reserved5[0x5f8 - 0x5e0];
	uint64_t rax;              /* 0x5f8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t cr2;              /* 0x640 */
	uint8_t  reserved6[0x668 - 0x648];
	uint64_t g_pat;            /* 0x668 */
	uint64_t dbgctl;
};

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
};

_Static_assert(offsetof(struct vmcb, ctl.iopm_pa) == 0x40, "vmcb iopm");
_Static_assert(offsetof(struct vmcb, ctl.asid) == 0x58, "vmcb asid");
_Static_assert(offsetof(struct vmcb, ctl.exitcode) == 0x70, "vmcb exitcode");
_Static_assert(offsetof(struct vmcb, ctl.eventinj) == 0xa8, "vmcb eventinj");
_Static_assert(offsetof(struct vmcb, ctl.ncr3) == 0xb0, "vmcb ncr3");
_Static_assert(offsetof(struct vmcb, ctl.next_rip) == 0xc8, "vmcb nrip");
_Static_assert(offsetof(struct vmcb, save.es) == 0x400, "vmcb save");
_Static_assert(offsetof(struct vmcb, save.tr) == 0x490, "vmcb tr");
_Static_assert(offsetof(struct vmcb, save.efer) == 0x4d0, "vmcb efer");
_Static_assert(offsetof(struct vmcb, save.cr4) == 0x548, "vmcb cr4");
_Static_assert(offsetof(struct vmcb, save.rip) == 0x578, "vmcb rip");
_Static_assert(offsetof(struct vmcb, save.rsp) == 0x5d8, "vmcb rsp");
_Static_assert(offsetof(struct vmcb, save.rax) == 0x5f8, "vmcb rax");
_Static_assert(offsetof(struct vmcb, save.cr2) == 0x640, "vmcb cr2");
_Static_assert(offsetof(struct vmcb, save.g_pat) == 0x668, "vmcb gpat");

#endif
