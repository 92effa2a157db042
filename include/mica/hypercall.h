/* Mica hypercall ABI v0 — shared by the hypervisor, guests and the service partition.
 * Described for people in docs/hypercalls.md; keep the two in step. */
#ifndef MICA_HYPERCALL_H
#define MICA_HYPERCALL_H

#include <stdint.h>

#define MICA_ABI_MAJOR 0
#define MICA_ABI_MINOR 3
#define MICA_ABI_VERSION ((MICA_ABI_MAJOR << 16) | MICA_ABI_MINOR)

/* CPUID leaves the hypervisor answers (CPUID.1:ECX bit 31 is set too). */
#define MICA_CPUID_SIGNATURE 0x40000000u /* EAX = max leaf, EBX:ECX:EDX = "MicaMicaMica" */
#define MICA_CPUID_FEATURES  0x40000001u /* EAX = ABI version, EBX = hypercall insn (below),
                                           ECX = TSC frequency in kHz (0 if unknown) */
#define MICA_SIG_EBX 0x6163694du         /* "Mica" */
#define MICA_HCALL_INSN_VMCALL  0        /* Intel: VMCALL  (0f 01 c1) */
#define MICA_HCALL_INSN_VMMCALL 1        /* AMD:   VMMCALL (0f 01 d9) */

/* Calling convention: RAX = number, arguments in RDI, RSI, RDX, R10, R8.
 * Result in RAX: >= 0 success, < 0 one of the MICA_E* codes. Other registers are preserved. */
enum mica_hypercall {
	MICA_HC_VERSION = 0,       /* () -> MICA_ABI_VERSION */
	MICA_HC_CONSOLE_WRITE = 1, /* (gpa buf, len) -> bytes written (len <= MICA_CONSOLE_MAX) */
	MICA_HC_SELF_INFO = 2,     /* (gpa struct mica_self_info *, size) -> bytes written */
	MICA_HC_YIELD = 3,         /* () -> 0: lets the hypervisor do pending work, then returns */
	MICA_HC_HALT = 4,          /* () -> 0: sleep until an event for this vCPU (like HLT) */
	MICA_HC_SHUTDOWN = 5,      /* (mode, code) -> does not return; mode: MICA_SHUTDOWN_* */
	MICA_HC_COUNT
};

#define MICA_SHUTDOWN_POWEROFF 0
#define MICA_SHUTDOWN_REBOOT   1

#define MICA_CONSOLE_MAX 4096

#define MICA_EPERM   (-1)
#define MICA_EFAULT  (-14)
#define MICA_EINVAL  (-22)
#define MICA_ENOSYS  (-38)

#define MICA_NAME_MAX 32

struct mica_self_info {
	uint32_t abi_version;
	uint32_t partition_id;    /* index in the config, from 0 */
	uint32_t vcpu_id;         /* this vCPU within the partition, from 0 */
	uint32_t vcpu_count;
	uint64_t mem_bytes;       /* guest RAM: [0, mem_bytes) */
	uint32_t restarts;        /* how many times this partition was restarted */
	uint32_t vm_generation;   /* how many times it was restored from a snapshot: a guest
				   * that sees it change was taken back in time (reseed) */
	char name[MICA_NAME_MAX]; /* NUL-terminated */
};

#endif
