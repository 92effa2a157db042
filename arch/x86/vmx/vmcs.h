/* Intel VT-x: VMCS field encodings, control bits, exit reasons and capability MSRs
 * (Intel SDM vol. 3, appendix B "Field encoding in VMCS", 24.6-24.8, appendix C). */
#ifndef MICA_VMX_VMCS_H
#define MICA_VMX_VMCS_H

#include <stdint.h>

#define MSR_VMX_BASIC          0x480
#define MSR_VMX_PINBASED       0x481
#define MSR_VMX_PROCBASED      0x482
#define MSR_VMX_EXIT           0x483
#define MSR_VMX_ENTRY          0x484
#define MSR_VMX_CR0_FIXED0     0x486
#define MSR_VMX_CR0_FIXED1     0x487
#define MSR_VMX_CR4_FIXED0     0x488
#define MSR_VMX_CR4_FIXED1     0x489
#define MSR_VMX_PROCBASED2     0x48b
#define MSR_VMX_EPT_VPID_CAP   0x48c
#define MSR_VMX_TRUE_PINBASED  0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT      0x48f
#define MSR_VMX_TRUE_ENTRY     0x490

#define VMX_BASIC_TRUE_CTLS  (1ULL << 55)
#define FEATURE_CONTROL_LOCK (1ULL << 0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ULL << 2)
#define CR4_VMXE (1ULL << 13)

/* EPT/VPID capabilities (SDM appendix A.10) */
#define EPT_CAP_WALK4  (1ULL << 6)
#define EPT_CAP_WB     (1ULL << 14)
#define EPT_CAP_2M     (1ULL << 16)
#define EPT_CAP_1G     (1ULL << 17)
#define EPT_CAP_INVEPT (1ULL << 20)
#define EPT_CAP_INVEPT_ALL (1ULL << 26)
#define VPID_CAP_INVVPID (1ULL << 32)
#define VPID_CAP_INVVPID_ALL (1ULL << 42)

/* 16-bit fields */
#define VMCS_VPID              0x0000
#define GUEST_ES_SEL           0x0800 /* then CS SS DS FS GS LDTR TR, +2 each */
#define GUEST_TR_SEL           0x080e
#define HOST_ES_SEL            0x0c00
#define HOST_CS_SEL            0x0c02
#define HOST_SS_SEL            0x0c04
#define HOST_DS_SEL            0x0c06
#define HOST_FS_SEL            0x0c08
#define HOST_GS_SEL            0x0c0a
#define HOST_TR_SEL            0x0c0c
/* 64-bit fields */
#define VMCS_TSC_OFFSET        0x2010
#define VMCS_EPTP              0x201a
#define VMCS_GUEST_PHYS_ADDR   0x2400
#define GUEST_VMCS_LINK        0x2800
#define GUEST_DEBUGCTL         0x2802
#define GUEST_PAT              0x2804
#define GUEST_EFER             0x2806
#define HOST_PAT               0x2c00
#define HOST_EFER              0x2c02
/* 32-bit fields */
#define VMCS_PIN_CTLS          0x4000
#define VMCS_PROC_CTLS         0x4002
#define VMCS_EXCEPTION_BITMAP  0x4004
#define VMCS_CR3_TARGET_COUNT  0x400a
#define VMCS_EXIT_CTLS         0x400c
#define VMCS_EXIT_MSR_STORE_COUNT 0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT  0x4010
#define VMCS_ENTRY_CTLS        0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO   0x4016
#define VMCS_ENTRY_EXC_ERROR   0x4018
#define VMCS_ENTRY_INSN_LEN    0x401a
#define VMCS_PROC_CTLS2        0x401e
#define VMCS_INSN_ERROR        0x4400
#define VMCS_EXIT_REASON       0x4402
#define VMCS_EXIT_INTR_INFO    0x4404
#define VMCS_IDT_VECTORING     0x4408
#define VMCS_IDT_VECTORING_ERR 0x440a
#define VMCS_EXIT_INSN_LEN     0x440c
#define GUEST_ES_LIMIT         0x4800 /* then CS SS DS FS GS LDTR TR, +2 each */
#define GUEST_GDTR_LIMIT       0x4810
#define GUEST_IDTR_LIMIT       0x4812
#define GUEST_ES_AR            0x4814 /* then CS SS DS FS GS LDTR TR, +2 each */
#define GUEST_INTERRUPTIBILITY 0x4824
#define GUEST_ACTIVITY         0x4826
#define GUEST_SYSENTER_CS      0x482a
#define HOST_SYSENTER_CS       0x4c00
/* natural-width fields */
#define VMCS_CR0_MASK          0x6000
#define VMCS_CR4_MASK          0x6002
#define VMCS_CR0_SHADOW        0x6004
#define VMCS_CR4_SHADOW        0x6006
#define VMCS_EXIT_QUAL         0x6400
#define GUEST_CR0              0x6800
#define GUEST_CR3              0x6802
#define GUEST_CR4              0x6804
#define GUEST_ES_BASE          0x6806 /* then CS SS DS FS GS LDTR TR, +2 each */
#define GUEST_FS_BASE          0x680e
#define GUEST_GS_BASE          0x6810
#define GUEST_GDTR_BASE        0x6816
#define GUEST_IDTR_BASE        0x6818
#define GUEST_DR7              0x681a
#define GUEST_RSP              0x681c
#define GUEST_RIP              0x681e
#define GUEST_RFLAGS           0x6820
#define GUEST_PENDING_DBG      0x6822
#define GUEST_SYSENTER_ESP     0x6824
#define GUEST_SYSENTER_EIP     0x6826
#define HOST_CR0               0x6c00
#define HOST_CR3               0x6c02
#define HOST_CR4               0x6c04
#define HOST_FS_BASE           0x6c06
#define HOST_GS_BASE           0x6c08
#define HOST_TR_BASE           0x6c0a
#define HOST_GDTR_BASE         0x6c0c
#define HOST_IDTR_BASE         0x6c0e
#define HOST_SYSENTER_ESP      0x6c10
#define HOST_SYSENTER_EIP      0x6c12
#define HOST_RSP               0x6c14
#define HOST_RIP               0x6c16

/* Segment index for the per-segment field families */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

/* Pin-based controls */
#define PIN_EXT_INTR   (1u << 0)
#define PIN_NMI        (1u << 3)
/* Primary processor-based controls */
#define PROC_INTR_WINDOW (1u << 2)
#define PROC_HLT       (1u << 7)
#define PROC_MWAIT     (1u << 10)
#define PROC_UNCOND_IO (1u << 24)
#define PROC_MONITOR   (1u << 29)
#define PROC_SECONDARY (1u << 31)
/* Secondary controls */
#define PROC2_EPT          (1u << 1)
#define PROC2_RDTSCP       (1u << 3)
#define PROC2_VPID         (1u << 5)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_INVPCID      (1u << 12)
#define PROC2_XSAVES       (1u << 20)
/* Exit controls */
#define EXIT_HOST_64   (1u << 9)
#define EXIT_SAVE_PAT  (1u << 18)
#define EXIT_LOAD_PAT  (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
/* Entry controls */
#define ENTRY_IA32E    (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* Exit reasons (basic, bits 15:0) */
#define EXIT_REASON_EXCEPTION     0
#define EXIT_REASON_EXT_INTR      1
#define EXIT_REASON_TRIPLE_FAULT  2
#define EXIT_REASON_INIT          3
#define EXIT_REASON_SIPI          4
#define EXIT_REASON_INTR_WINDOW   7
#define EXIT_REASON_TASK_SWITCH   9
#define EXIT_REASON_CPUID         10
#define EXIT_REASON_GETSEC        11
#define EXIT_REASON_HLT           12
#define EXIT_REASON_INVD          13
#define EXIT_REASON_VMCALL        18
#define EXIT_REASON_VMCLEAR       19
#define EXIT_REASON_VMXON         27
#define EXIT_REASON_CR_ACCESS     28
#define EXIT_REASON_IO            30
#define EXIT_REASON_RDMSR         31
#define EXIT_REASON_WRMSR         32
#define EXIT_REASON_BAD_GUEST     33
#define EXIT_REASON_BAD_MSR_LOAD  34
#define EXIT_REASON_MWAIT         36
#define EXIT_REASON_MONITOR       39
#define EXIT_REASON_MCE_ENTRY     41
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_EPT_MISCONFIG 49
#define EXIT_REASON_INVEPT        50
#define EXIT_REASON_VMFUNC        59
#define EXIT_REASON_XSETBV        55
#define EXIT_REASON_INVVPID       53
#define EXIT_REASON_ENTRY_FAIL    (1u << 31)

/* I/O exit qualification (SDM table 28-5) */
#define IO_QUAL_IN     (1u << 3)
#define IO_QUAL_STRING (1u << 4)
#define IO_QUAL_REP    (1u << 5)

/* EPT violation qualification (SDM table 28-7) */
#define EPT_QUAL_READ  (1u << 0)
#define EPT_QUAL_WRITE (1u << 1)
#define EPT_QUAL_FETCH (1u << 2)

#define INTR_INFO_VALID     (1u << 31)
#define INTR_INFO_HAS_ERROR (1u << 11)
#define INTR_TYPE_HW_EXCEPTION (3u << 8)
#define INTR_TYPE_MASK      (7u << 8)
#define INTR_TYPE_SOFT_INTR (4u << 8)
#define INTR_TYPE_SOFT_EXC  (6u << 8)
#define INTR_TYPE_PRIV_SOFT (5u << 8)
#define RFLAGS_IF_BIT (1ULL << 9)

/* Access rights (SDM 24.4.1) */
#define AR_UNUSABLE (1u << 16)

#endif
