/* kernel/emul/gwalk.c: guest page tables built in a host buffer that stands for guest RAM, one
 * test per paging mode, then large pages, reserved bits, access rights, page-crossing
 * reads and hostile tables (self-references, entries outside RAM, random garbage). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/emul/gwalk.h"

#define RAM_SIZE (16ULL << 20)

#define P  0x1ULL
#define WR 0x2ULL
#define US 0x4ULL
#define PS 0x80ULL
#define XD (1ULL << 63)

#define CR0_PG   (1ULL << 31)
#define CR0_WP   (1ULL << 16)
#define CR4_PSE  (1ULL << 4)
#define CR4_PAE  (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

struct guest {
	uint8_t *ram;
	unsigned reads;
	int fail_rc; /* what read() returns for an address outside RAM */
};

static struct guest g;
static struct gwalk_regs regs;
static char err[256];

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct guest *gu = ctx;
	gu->reads++;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return gu->fail_rc;
	memcpy(buf, gu->ram + gpa, len);
	return 0;
}

static void setup(void)
{
	g.ram = calloc(1, RAM_SIZE);
	cr_assert(g.ram);
	g.reads = 0;
	g.fail_rc = MICA_EFAULT;
	memset(&regs, 0, sizeof(regs));
	memset(err, 0, sizeof(err));
}

static void teardown(void)
{
	free(g.ram);
}

TestSuite(gwalk, .init = setup, .fini = teardown);

static void set64(uint64_t gpa, uint64_t v)
{
	memcpy(g.ram + gpa, &v, 8);
}

static void set32(uint64_t gpa, uint32_t v)
{
	memcpy(g.ram + gpa, &v, 4);
}

static int walk(uint64_t gva, unsigned access, uint64_t *gpa)
{
	g.reads = 0;
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return gwalk(&regs, gva, access, ram_read, &g, gpa, err, sizeof(err));
}

static void expect_gpa(uint64_t gva, unsigned access, uint64_t want)
{
	uint64_t gpa = 0;
	int rc = walk(gva, access, &gpa);
	cr_expect_eq(rc, 0, "0x%llx: rc %d: %s", (unsigned long long)gva, rc, err);
	if (!rc)
		cr_expect_eq(gpa, want, "0x%llx -> 0x%llx, want 0x%llx", (unsigned long long)gva,
			     (unsigned long long)gpa, (unsigned long long)want);
}

static void expect_rc(uint64_t gva, unsigned access, int want)
{
	uint64_t gpa = 0xdead;
	int rc = walk(gva, access, &gpa);
	cr_expect_eq(rc, want, "0x%llx access %#x: rc %d, want %d (%s)", (unsigned long long)gva,
		     access, rc, want, err);
	cr_expect_eq(gpa, 0xdead, "*gpa written on failure");
	if (rc)
		cr_expect(strlen(err) > 0, "no message for rc %d", rc);
}

/* 4-level tables: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000, all user+writable;
 * gva 0x1000 -> 0x20000, gva 0x2000 -> 0x30000 (not contiguous), both 4 KiB pages. */
static void build_long(void)
{
	regs.cr0 = CR0_PG | CR0_WP | 1;
	regs.cr4 = CR4_PAE;
	regs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	regs.cr3 = 0x10000;
	set64(0x10000, 0x11000 | P | WR | US);
	set64(0x10000 + 256 * 8, 0x11000 | P | WR); /* the kernel half, supervisor only */
	set64(0x11000, 0x12000 | P | WR | US);
	set64(0x12000, 0x13000 | P | WR | US);
	set64(0x13000 + 1 * 8, 0x20000 | P | WR | US);
	set64(0x13000 + 2 * 8, 0x30000 | P | WR | US);
}

Test(gwalk, paging_off_is_identity)
{
	regs.cr0 = 1; /* PE only */
	expect_gpa(0x12345678, GWALK_READ, 0x12345678);
	expect_gpa(0xffffffff, GWALK_FETCH, 0xffffffff);
	cr_expect_eq(g.reads, 0);
	expect_rc(0x100000000ULL, GWALK_READ, GWALK_EADDR);
	regs.efer = EFER_LMA;
	expect_rc(0x1000, GWALK_READ, GWALK_ESTATE);
}

Test(gwalk, bad_control_state)
{
	regs.cr0 = CR0_PG | 1;
	regs.efer = EFER_LMA; /* long mode without PAE cannot exist */
	expect_rc(0x1000, GWALK_READ, GWALK_ESTATE);
	regs.efer = 0;
	regs.maxphyaddr = 60;
	expect_rc(0x1000, GWALK_READ, GWALK_ESTATE);
}

Test(gwalk, paging_32bit_small_and_4m_pages)
{
	regs.cr0 = CR0_PG | 1;
	regs.cr3 = 0x1000 | 0x18; /* PWT/PCD bits do not move the table */
	set32(0x1000 + 1 * 4, 0x2000 | P | WR | US);  /* 4 MiB..8 MiB: PT at 0x2000 */
	set32(0x2000 + 5 * 4, 0x345000 | P | WR | US); /* 0x405000 -> 0x345000 */
	set32(0x1000 + 2 * 4, 0xc00000 | P | PS | WR);  /* 8 MiB..12 MiB: 4 MiB page */
	expect_gpa(0x405abc, GWALK_READ, 0x345abc);
	cr_expect_eq(g.reads, 2);
	expect_gpa(0x405abc, GWALK_WRITE | GWALK_USER, 0x345abc);
	expect_rc(0x406000, GWALK_READ, GWALK_ENOTPRESENT);
	expect_rc(0xc00000, GWALK_READ, GWALK_ENOTPRESENT);
	expect_rc(0x100000000ULL, GWALK_READ, GWALK_EADDR);

	/* Without CR4.PSE the PS bit is ignored: 0xc00000 is then a page table. */
	set32(0xc00000 + 0x12 * 4, 0x777000 | P);
	expect_gpa(0x812345, GWALK_READ, 0x777345);
	regs.cr4 = CR4_PSE;
	expect_gpa(0x812345, GWALK_READ, 0xc12345);
	cr_expect_eq(g.reads, 1);
	expect_rc(0x812345, GWALK_USER, GWALK_EPROT); /* supervisor page */

	/* PSE-36: PDE bits 20:13 are physical bits 39:32. */
	set32(0x1000 + 3 * 4, 0x00400000 | (0x05u << 13) | P | PS);
	regs.maxphyaddr = 36;
	expect_gpa(0xc01234, GWALK_READ, 0x500401234ULL);
	regs.maxphyaddr = 34; /* bits 35:34 are now reserved: physical bit 34 is bit 15 */
	expect_rc(0xc01234, GWALK_READ, GWALK_ERSVD);
	regs.maxphyaddr = 0;
	set32(0x1000 + 3 * 4, 0x00400000 | (1u << 21) | P | PS); /* bit 21 always reserved */
	expect_rc(0xc01234, GWALK_READ, GWALK_ERSVD);

	/* No NX in 32-bit paging: EFER.NXE changes nothing, fetch allowed. */
	regs.efer = EFER_NXE;
	expect_gpa(0x405abc, GWALK_FETCH, 0x345abc);
}

Test(gwalk, pae_paging)
{
	regs.cr0 = CR0_PG | 1;
	regs.cr4 = CR4_PAE;
	regs.cr3 = 0x3020; /* PDPT is 32-byte aligned, not page aligned */
	set64(0x3020, 0x4000 | P);
	set64(0x3020 + 3 * 8, 0x8000 | P);
	set64(0x4000, 0x5000 | P | WR | US);
	set64(0x4000 + 1 * 8, 0x600000 | P | PS | WR | US); /* 2 MiB page */
	set64(0x5000 + 3 * 8, 0x7000 | P | WR | US);
	set64(0x8000 + 511 * 8, 0x9000 | P | WR);
	set64(0x9000 + 511 * 8, 0xa000 | P | WR);
	expect_gpa(0x3123, GWALK_READ, 0x7123);
	cr_expect_eq(g.reads, 3);
	expect_gpa(0x2abcde, GWALK_WRITE | GWALK_USER, 0x6abcde);
	cr_expect_eq(g.reads, 2);
	expect_gpa(0xfffff123, GWALK_READ, 0xa123);
	expect_rc(0x40000000, GWALK_READ, GWALK_ENOTPRESENT); /* PDPTE 1 */
	expect_rc(0x100000000ULL, GWALK_READ, GWALK_EADDR);

	/* PDPTEs have no R/W or U/S: those bits are reserved there. */
	set64(0x3020, 0x4000 | P | WR);
	expect_rc(0x3123, GWALK_READ, GWALK_ERSVD);
	set64(0x3020, 0x4000 | P);
	/* XD is reserved unless EFER.NXE. */
	set64(0x5000 + 3 * 8, 0x7000 | P | WR | US | XD);
	expect_rc(0x3123, GWALK_READ, GWALK_ERSVD);
	regs.efer = EFER_NXE;
	expect_gpa(0x3123, GWALK_READ, 0x7123);
	expect_rc(0x3123, GWALK_FETCH, GWALK_EPROT);
	/* PAE reserves bits 62:MAXPHYADDR, long mode only 51:M. */
	set64(0x5000 + 3 * 8, 0x7000 | P | (1ULL << 60));
	expect_rc(0x3123, GWALK_READ, GWALK_ERSVD);
	/* 2 MiB page: bits 20:13 reserved, bit 12 (PAT) not. */
	set64(0x4000 + 1 * 8, 0x600000 | P | PS | (1ULL << 12));
	expect_gpa(0x200010, GWALK_READ, 0x600010);
	set64(0x4000 + 1 * 8, 0x600000 | P | PS | (1ULL << 13));
	expect_rc(0x200010, GWALK_READ, GWALK_ERSVD);
}

Test(gwalk, long_mode_4_level)
{
	build_long();
	expect_gpa(0x1234, GWALK_READ, 0x20234);
	cr_expect_eq(g.reads, 4);
	expect_gpa(0x2fff, GWALK_WRITE | GWALK_USER, 0x30fff);
	expect_gpa(0xffff800000001234ULL, GWALK_READ, 0x20234);
	expect_rc(0xffff800000001234ULL, GWALK_USER, GWALK_EPROT);
	expect_rc(0x3000, GWALK_READ, GWALK_ENOTPRESENT);
	expect_rc(0x8000000000ULL, GWALK_READ, GWALK_ENOTPRESENT); /* PML4E 1 */
	expect_rc(0x0000800000000000ULL, GWALK_READ, GWALK_EADDR);
	expect_rc(0xffff7fffffffffffULL, GWALK_READ, GWALK_EADDR);
	expect_rc(0x8000000000001234ULL, GWALK_READ, GWALK_EADDR);
	/* Long mode ignores bits 62:52 of an entry (and 11:9). */
	set64(0x13000 + 1 * 8, 0x20000 | P | WR | US | (0x7fULL << 52) | 0xe00);
	expect_gpa(0x1234, GWALK_READ, 0x20234);
	/* PCID bits of CR3 are not part of the address. */
	regs.cr3 = 0x10000 | 0x123;
	expect_gpa(0x1234, GWALK_READ, 0x20234);
}

Test(gwalk, long_mode_large_pages)
{
	build_long();
	set64(0x11000 + 1 * 8, 0x40000000 | P | PS | WR | US);                     /* 1 GiB */
	set64(0x11000 + 2 * 8, 0x1c0000000ULL | P | PS | WR | US | (1ULL << 12));   /* PAT */
	set64(0x12000 + 1 * 8, 0x800000 | P | PS | WR | US);                       /* 2 MiB */
	expect_gpa(0x40001234, GWALK_READ, 0x40001234);
	cr_expect_eq(g.reads, 2);
	expect_gpa(0x7fffffff, GWALK_READ, 0x7fffffff);
	expect_gpa(0x80000010, GWALK_READ, 0x1c0000010ULL);
	expect_gpa(0x2abcde, GWALK_READ, 0x8abcde);
	cr_expect_eq(g.reads, 3);
	set64(0x11000 + 1 * 8, 0x40000000 | P | PS | (1ULL << 20)); /* inside 29:13 */
	expect_rc(0x40001234, GWALK_READ, GWALK_ERSVD);
	set64(0x12000 + 1 * 8, 0x800000 | P | PS | (1ULL << 13));
	expect_rc(0x2abcde, GWALK_READ, GWALK_ERSVD);
	/* PS in a PML4 entry is reserved. */
	set64(0x10000, 0x11000 | P | WR | US | PS);
	expect_rc(0x1234, GWALK_READ, GWALK_ERSVD);
	set64(0x10000, 0x11000 | P | WR | US);
	/* Address bits above MAXPHYADDR are reserved. */
	regs.maxphyaddr = 40;
	set64(0x13000 + 1 * 8, (1ULL << 45) | 0x20000 | P);
	expect_rc(0x1234, GWALK_READ, GWALK_ERSVD);
	set64(0x13000 + 1 * 8, (1ULL << 39) | 0x20000 | P);
	expect_gpa(0x1234, GWALK_READ, (1ULL << 39) | 0x20234);
}

Test(gwalk, long_mode_5_level)
{
	build_long();
	regs.cr4 |= CR4_LA57;
	regs.cr3 = 0x50000;
	set64(0x50000, 0x10000 | P | WR | US);          /* PML5E 0 -> the 4-level tree */
	set64(0x50000 + 0xff * 8, 0x51000 | P | WR | US);
	set64(0x51000 + 0x100 * 8, 0x11000 | P | WR | US);
	expect_gpa(0x1234, GWALK_READ, 0x20234);
	cr_expect_eq(g.reads, 5);
	/* Canonical with 57 bits, not with 48. */
	expect_gpa(0x00ff800000001234ULL, GWALK_READ, 0x20234);
	expect_rc(0x0100000000000000ULL, GWALK_READ, GWALK_EADDR);
	expect_rc(0xfe00000000000000ULL, GWALK_READ, GWALK_EADDR);
	expect_rc(0xff80000000000000ULL, GWALK_READ, GWALK_ENOTPRESENT); /* canonical, empty */
	set64(0x50000, 0x10000 | P | WR | US | PS);
	expect_rc(0x1234, GWALK_READ, GWALK_ERSVD);
}

Test(gwalk, access_rights)
{
	build_long();
	/* R/W clear only in the PDPT entry: the AND over levels makes the page read-only. */
	set64(0x11000, 0x12000 | P | US);
	expect_gpa(0x1234, GWALK_READ | GWALK_USER, 0x20234);
	expect_rc(0x1234, GWALK_WRITE | GWALK_USER, GWALK_EPROT);
	expect_rc(0x1234, GWALK_WRITE, GWALK_EPROT);
	regs.cr0 &= ~CR0_WP; /* supervisor writes ignore R/W without CR0.WP */
	expect_gpa(0x1234, GWALK_WRITE, 0x20234);
	expect_rc(0x1234, GWALK_WRITE | GWALK_USER, GWALK_EPROT);
	regs.cr0 |= CR0_WP;
	set64(0x11000, 0x12000 | P | WR | US);

	/* U/S clear at the PD level: a supervisor page. */
	set64(0x12000, 0x13000 | P | WR);
	expect_rc(0x1234, GWALK_USER, GWALK_EPROT);
	expect_gpa(0x1234, GWALK_FETCH, 0x20234);
	set64(0x12000, 0x13000 | P | WR | US);

	/* XD in the PML4 entry forbids fetches below it. */
	set64(0x10000, 0x11000 | P | WR | US | XD);
	expect_rc(0x1234, GWALK_FETCH, GWALK_EPROT);
	expect_rc(0x1234, GWALK_FETCH | GWALK_USER, GWALK_EPROT);
	expect_gpa(0x1234, GWALK_READ, 0x20234);
	regs.efer &= ~EFER_NXE; /* then XD is a reserved bit */
	expect_rc(0x1234, GWALK_READ, GWALK_ERSVD);
	regs.efer |= EFER_NXE;
	set64(0x10000, 0x11000 | P | WR | US);

	/* SMEP: no supervisor fetch from user pages; SMAP: no supervisor data unless AC. */
	regs.cr4 |= CR4_SMEP;
	expect_rc(0x1234, GWALK_FETCH, GWALK_EPROT);
	expect_gpa(0x1234, GWALK_FETCH | GWALK_USER, 0x20234);
	expect_gpa(0xffff800000001234ULL, GWALK_FETCH, 0x20234);
	expect_gpa(0x1234, GWALK_READ, 0x20234);
	regs.cr4 |= CR4_SMAP;
	expect_rc(0x1234, GWALK_READ, GWALK_EPROT);
	expect_rc(0x1234, GWALK_WRITE, GWALK_EPROT);
	regs.rflags = 1ULL << 18;
	expect_gpa(0x1234, GWALK_WRITE, 0x20234);
	expect_gpa(0x1234, GWALK_READ | GWALK_USER, 0x20234);
}

Test(gwalk, page_fault_error_codes)
{
	build_long();
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_ENOTPRESENT, GWALK_WRITE | GWALK_USER), 0x6);
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_EPROT, GWALK_FETCH), 0x11);
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_ERSVD, GWALK_READ), 0x9);
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_EADDR, GWALK_READ), -1);
	cr_expect_eq(gwalk_pf_error(&regs, MICA_EFAULT, GWALK_READ), -1);
	cr_expect_eq(gwalk_pf_error(&regs, 0, GWALK_READ), -1);
	regs.efer &= ~EFER_NXE; /* I/D only when a fetch can be refused */
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_EPROT, GWALK_FETCH), 0x1);
	regs.cr4 |= CR4_SMEP;
	cr_expect_eq(gwalk_pf_error(&regs, GWALK_EPROT, GWALK_FETCH | GWALK_USER), 0x15);
}

Test(gwalk, hostile_tables)
{
	build_long();
	/* A PML4 entry pointing at its own table: the walk has four steps and ends. */
	set64(0x10000 + 5 * 8, 0x10000 | P | WR);
	uint64_t gva = (5ULL << 39) | (5ULL << 30) | (5ULL << 21) | (5ULL << 12) | 0x10;
	expect_gpa(gva, GWALK_READ, 0x10010);
	cr_expect_eq(g.reads, 4);

	/* A table outside guest RAM: the callback's error comes back unchanged. */
	set64(0x11000 + 3 * 8, 0x7f0000000000ULL | P | WR);
	expect_rc(3ULL << 30, GWALK_READ, MICA_EFAULT);
	cr_expect(strstr(err, "cannot read the PD entry at guest-physical 0x7f0000000000") != NULL,
		  "%s", err);
	g.fail_rc = -77;
	expect_rc(3ULL << 30, GWALK_READ, -77);
	g.fail_rc = 5; /* a positive "error" is still an error */
	expect_rc(3ULL << 30, GWALK_READ, MICA_EFAULT);
	g.fail_rc = MICA_EFAULT;
	regs.cr3 = 0xfff000000ULL;
	expect_rc(0x1234, GWALK_READ, MICA_EFAULT);
	cr_expect_eq(g.reads, 1);
}

Test(gwalk, messages_name_the_level)
{
	build_long();
	expect_rc(0x3000, GWALK_READ, GWALK_ENOTPRESENT);
	cr_expect_str_eq(err, "guest page walk for 0x3000: PT entry 0x0 at guest-physical 0x13018 "
			 "is not present");
	set64(0x12000 + 8, 0x800000 | P | PS | (1ULL << 14));
	expect_rc(0x200000, GWALK_READ, GWALK_ERSVD);
	cr_expect_str_eq(err, "guest page walk for 0x200000: PD entry 0x804081 at guest-physical "
			 "0x12008 has reserved bits 0x4000 set");
	expect_rc(0xffff800000001234ULL, GWALK_USER, GWALK_EPROT);
	cr_expect_str_eq(err, "guest page walk for 0xffff800000001234: user access to a "
			 "supervisor page");
}

static int vread(uint64_t gva, unsigned len, uint8_t *out)
{
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return gwalk_read(&regs, gva, GWALK_FETCH, ram_read, &g, out, len, err, sizeof(err));
}

Test(gwalk, reads_across_a_page_boundary)
{
	uint8_t buf[16];
	build_long();
	for (unsigned i = 0; i < 8; i++)
		g.ram[0x20ff8 + i] = (uint8_t)(0xa0 + i);
	for (unsigned i = 0; i < 8; i++)
		g.ram[0x30000 + i] = (uint8_t)(0xb0 + i);
	cr_assert_eq(vread(0x1ff8, 15, buf), 0, "%s", err);
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(buf[i], 0xa0 + i);
	for (unsigned i = 0; i < 7; i++)
		cr_expect_eq(buf[8 + i], 0xb0 + i);
	cr_assert_eq(vread(0x1100, 4, buf), 0, "%s", err);
	cr_assert_eq(vread(0x1100, 0, buf), 0, "%s", err);

	/* The second page missing: the fault names it. */
	cr_expect_eq(vread(0x2ffa, 15, buf), GWALK_ENOTPRESENT);
	cr_expect(strstr(err, "for 0x3000:") != NULL, "%s", err);
	/* The page itself outside RAM. */
	set64(0x13000 + 3 * 8, 0xfff000000ULL | P);
	cr_expect_eq(vread(0x3000, 4, buf), MICA_EFAULT);
	cr_expect(strstr(err, "guest-virtual 0x3000") != NULL, "%s", err);
	/* A fetch from a no-execute page. */
	set64(0x13000 + 2 * 8, 0x30000 | P | XD);
	cr_expect_eq(vread(0x1ff8, 15, buf), GWALK_EPROT);
}

Test(gwalk, linear_addresses_wrap_outside_long_mode)
{
	uint8_t buf[8];
	regs.cr0 = 1;
	g.ram[0] = 0x11; /* paging off: linear 0xfffffffc..3 -> physical wraps to 0 */
	/* 0xfffffffc is outside 16 MiB of RAM: the first part fails, as the callback says. */
	cr_expect_eq(vread(0xfffffffc, 8, buf), MICA_EFAULT);
	/* With 32-bit paging mapping the top page to RAM, the wrap reaches linear 0. */
	regs.cr0 = CR0_PG | 1;
	regs.cr3 = 0x1000;
	set32(0x1000 + 1023 * 4, 0x2000 | P);
	set32(0x2000 + 1023 * 4, 0x5000 | P);
	set32(0x1000, 0x3000 | P);
	set32(0x3000, 0x6000 | P);
	memcpy(g.ram + 0x5ffc, "\x01\x02\x03\x04", 4);
	memcpy(g.ram + 0x6000, "\x05\x06\x07\x08", 4);
	cr_assert_eq(vread(0xfffffffc, 8, buf), 0, "%s", err);
	cr_expect(memcmp(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
}

Test(gwalk, random_tables_never_crash)
{
	static const struct { uint64_t cr0, cr4, efer; } modes[] = {
		{ CR0_PG | CR0_WP, 0, 0 },
		{ CR0_PG | CR0_WP, CR4_PSE, 0 },
		{ CR0_PG, CR4_PAE, EFER_NXE },
		{ CR0_PG | CR0_WP, CR4_PAE, EFER_LMA | EFER_NXE },
		{ CR0_PG | CR0_WP, CR4_PAE | CR4_LA57 | CR4_SMEP | CR4_SMAP, EFER_LMA },
		{ 0, 0, 0 },
	};
	srand(99);
	/* Random entries in the first 64 KiB, most pointing back into it (P set). */
	for (unsigned i = 0; i < 0x10000 / 8; i++) {
		uint64_t e = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
		if (i & 1)
			e = (e & 0x80000000000000ffULL) | ((e >> 8) & 0xf000) | P;
		set64(i * 8ULL, e);
	}
	unsigned ok = 0;
	for (unsigned it = 0; it < 100000; it++) {
		uint64_t gpa, gva = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^
				    (uint64_t)rand();
		uint8_t buf[15];
		regs.cr0 = modes[it % 6].cr0;
		regs.cr4 = modes[it % 6].cr4;
		regs.efer = modes[it % 6].efer;
		regs.cr3 = ((uint64_t)rand() & 0xf) << 12;
		regs.maxphyaddr = it & 8 ? 36 : 0;
		if (it & 16)
			gva &= 0xffffffffULL;
		unsigned access = (unsigned)rand() & (GWALK_WRITE | GWALK_USER | GWALK_FETCH);
		int rc = gwalk(&regs, gva, access, ram_read, &g, &gpa, err, sizeof(err));
		if (rc == 0)
			ok++;
		else
			cr_assert(strlen(err) > 0);
		gwalk_read(&regs, gva, access, ram_read, &g, buf, sizeof(buf), err, sizeof(err));
	}
	cr_expect(ok > 100, "only %u random walks succeeded", ok);
}
