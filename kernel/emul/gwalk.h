/* Walks a guest's own page tables to turn a guest-virtual (linear) address into a
 * guest-physical one, the way the CPU would for the guest's current paging mode. Pure
 * logic: guest memory is read only through a callback, and every table entry is checked
 * before use, because the guest writes its tables and may put anything in them. */
#ifndef MICA_EMUL_GWALK_H
#define MICA_EMUL_GWALK_H

#include <stddef.h>
#include <stdint.h>

/* The guest state that selects and controls the walk (SDM vol3 4.1.1, APM vol2 5.1). */
struct gwalk_regs {
	uint64_t cr0;        /* PG (bit 31), WP (bit 16) */
	uint64_t cr3;
	uint64_t cr4;        /* PSE, PAE, SMEP, SMAP, LA57 */
	uint64_t efer;       /* LMA (bit 10), NXE (bit 11); LME is not looked at */
	uint64_t rflags;     /* AC (bit 18), only for SMAP */
	unsigned maxphyaddr; /* the guest's CPUID 0x80000008 EAX[7:0]; 0 means 52 */
};

/* Access kinds, as a mask; the bits sit where the #PF error code has them, so
 * gwalk_pf_error() can build the code. A read is the absence of WRITE and FETCH. */
#define GWALK_READ  0u
#define GWALK_WRITE (1u << 1)
#define GWALK_USER  (1u << 2)  /* CPL 3; otherwise a supervisor access */
#define GWALK_FETCH (1u << 4)  /* instruction fetch */

/* gwalk()'s own failures. A failing read callback's code is returned unchanged (a
 * callback should use MICA_E* codes, which are distinct from these). */
#define GWALK_ENOTPRESENT (-200) /* an entry on the way has P = 0: #PF, P = 0 */
#define GWALK_EPROT       (-201) /* present but access not allowed: #PF, P = 1 */
#define GWALK_ERSVD       (-202) /* a reserved bit is set in an entry: #PF, P = 1, RSVD */
#define GWALK_EADDR       (-203) /* non-canonical, or above 4 GiB outside long mode: #GP */
#define GWALK_ESTATE      (-204) /* the control registers name no valid paging mode */

/* Reads len bytes of guest-physical memory at gpa into buf; returns 0 or a negative code.
 * It must check that [gpa, gpa + len) belongs to the guest. */
typedef int (*gwalk_read_fn)(void *ctx, uint64_t gpa, void *buf, size_t len);

/* Translates gva for an access of kind access (GWALK_* mask). Paging off: identity (a
 * 32-bit linear address). Otherwise 32-bit paging (4 MiB pages when CR4.PSE, PSE-36), PAE,
 * 4-level or 5-level (CR4.LA57) long mode, with large pages at every level that has them
 * (1 GiB ones included); reserved bits, NX (EFER.NXE), CR0.WP, U/S, SMEP and SMAP (explicit
 * accesses, EFLAGS.AC) are checked as the CPU does. Not modelled: protection keys, the
 * PDPTE registers the CPU caches at MOV CR3 in PAE mode (the walk reads memory), and
 * the accessed/dirty bits, which are never written. Returns 0 with *gpa, or a GWALK_E*
 * code (or the callback's) with a sentence in err. */
int gwalk(const struct gwalk_regs *r, uint64_t gva, unsigned access, gwalk_read_fn read,
	  void *ctx, uint64_t *gpa, char *err, size_t errlen);

/* Reads len bytes at guest-virtual gva into buf, walking again at every 4 KiB boundary, so
 * a 15-byte instruction fetch may straddle two pages mapped anywhere. Outside long mode the
 * linear address wraps at 4 GiB as on the CPU. Returns 0, or gwalk()'s code for the first
 * byte that fails (named in err); buf is then partly written. */
int gwalk_read(const struct gwalk_regs *r, uint64_t gva, unsigned access, gwalk_read_fn read,
	       void *ctx, void *buf, unsigned len, char *err, size_t errlen);

/* The #PF error code (SDM vol3 4.7) for a failed gwalk() of kind access, or -1 when rc is
 * not a page fault (0, GWALK_EADDR, GWALK_ESTATE, a callback's error). */
int gwalk_pf_error(const struct gwalk_regs *r, int rc, unsigned access);

#endif
