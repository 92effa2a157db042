/* kernel/emul/gwalk.c: the guest's own page tables are hostile. The input gives the
 * control registers, an address, an access kind and 64 KiB of guest memory (the tables and
 * the data): a walk that succeeds names a guest-physical address inside the guest's
 * physical width, never reads memory outside what the read callback serves, and a read of
 * up to 64 bytes across pages gets exactly the bytes the walk names. Failures are among the
 * documented codes; the page-fault ones give a #PF error code whose P, W, U and RSVD bits
 * match the failure and the access, the others none. */
#include "tests/fuzz/fuzz.h"
#include <mica/hypercall.h>
#include "kernel/emul/gwalk.h"

#define MEM (64u << 10)

static uint8_t mem[MEM];

static int rd(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (gpa >= MEM || len > MEM - gpa)
		return MICA_EFAULT;
	memcpy(buf, mem + gpa, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct gwalk_regs r;
	r.cr0 = fuzz_take(&in, 4) | (1u << 31); /* paging on: the walk is what is fuzzed */
	r.cr3 = fuzz_take(&in, 2) & (MEM - 1) & ~0xFFFull;
	r.cr4 = fuzz_take(&in, 4);
	r.efer = fuzz_take(&in, 2);
	r.rflags = fuzz_take(&in, 4);
	r.maxphyaddr = (unsigned)fuzz_take(&in, 1) % 53;
	uint64_t gva = fuzz_take(&in, 8);
	unsigned access = (unsigned)fuzz_take(&in, 1) & (GWALK_WRITE | GWALK_USER | GWALK_FETCH);
	memset(mem, 0, sizeof(mem));
	memcpy(mem, in.p, in.n < MEM ? in.n : MEM);

	char err[200];
	uint64_t gpa = 0;
	err[0] = 0;
	int rc = gwalk(&r, gva, access, rd, NULL, &gpa, err, sizeof(err));
	unsigned width = r.maxphyaddr ? r.maxphyaddr : 52;
	if (rc == 0) {
		FUZZ_CHECK(width >= 64 || gpa >> width == 0, "gpa 0x%llx past %u bits",
			   (unsigned long long)gpa, width);
	} else {
		FUZZ_CHECK(rc == GWALK_ENOTPRESENT || rc == GWALK_EPROT || rc == GWALK_ERSVD ||
			   rc == GWALK_EADDR || rc == GWALK_ESTATE || rc == MICA_EFAULT,
			   "walk failed with %d", rc);
		int pf = gwalk_pf_error(&r, rc, access);
		if (rc == GWALK_ENOTPRESENT || rc == GWALK_EPROT || rc == GWALK_ERSVD) {
			FUZZ_CHECK(pf >= 0 && pf < 0x20, "#PF error 0x%x", pf);
			FUZZ_CHECK((pf & 6) == (int)(access & 6), "#PF error 0x%x for access 0x%x",
				   pf, access);
			FUZZ_CHECK((pf & 1) == (rc != GWALK_ENOTPRESENT), "#PF P bit, error %d", rc);
			FUZZ_CHECK(!!(pf & 8) == (rc == GWALK_ERSVD), "#PF RSVD bit, error %d", rc);
		} else {
			FUZZ_CHECK(pf == -1, "a #PF error code 0x%x for error %d", pf, rc);
		}
	}
	uint8_t buf[64];
	unsigned len = (unsigned)(gva & 63) + 1;
	if (gwalk_read(&r, gva, access, rd, NULL, buf, len, err, sizeof(err)) == 0 && rc == 0 &&
	    gpa < MEM && len <= 4096 - (gva & 4095) && gpa + len <= MEM)
		FUZZ_CHECK(!memcmp(buf, mem + gpa, len), "read bytes differ from the walked page");
	return 0;
}
