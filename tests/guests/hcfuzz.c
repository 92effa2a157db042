/* hcfuzz: 20000 hypercalls with random numbers and arguments from a fixed seed. Every
 * answer is checked against the ABI (include/mica/hypercall.h), and every register but RAX
 * must come back unchanged. HALT and SHUTDOWN are never called. */
#include <string.h>
#include "lib/guest.h"
#include <mica/manage.h>
#include <mica/service.h>

#define CALLS     20000
#define PROGRESS  5000
#define MAX_SHOWN 10
#define SEED      0x6d6963612d66757aull

static uint64_t rng = SEED;

/* xorshift64* (Vigna): good enough to spread values over 64 bits. */
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* The only bytes a successful random CONSOLE_WRITE may print: digits and dots, so the
 * serial log stays readable and can never spell a marker the e2e runner looks for. */
static const char text[] = "0123456789.0123456789.0123456789.";
static unsigned text_pending; /* fuzz text printed since the last newline */

static uint8_t scratch[4096] __attribute__((aligned(64)));
static struct mica_self_info ref;
static uint64_t mem;

struct expect {
	long v[2];
	int n;
};

static int failures;
static unsigned long calls;

static void newline(void)
{
	if (text_pending) {
		console_write("\n", 1);
		text_pending = 0;
	}
}

static void report(const struct hc_regs *in, const char *what)
{
	failures++;
	if (failures > MAX_SHOWN)
		return;
	newline();
	printf("FAIL: hypercall nr=0x%lx args=0x%lx,0x%lx,0x%lx,0x%lx,0x%lx %s\n",
	       (unsigned long)in->rax, (unsigned long)in->rdi, (unsigned long)in->rsi,
	       (unsigned long)in->rdx, (unsigned long)in->r10, (unsigned long)in->r8, what);
}

/* A number the ABI does not define: random 64-bit, just past the last call, negative, or
 * a defined harmless call with high bits set (a hypervisor that truncates RAX fails here). */
static uint64_t unknown_nr(void)
{
	uint64_t nr;

	switch (below(4)) {
	case 0:
		nr = MICA_HC_COUNT + below(256);
		break;
	case 1:
		nr = (uint64_t)-1 - below(256);
		break;
	case 2:
		nr = ((1 + below(0xffffffffu)) << 32) | below(4);
		break;
	default:
		nr = rnd();
		break;
	}
	if (nr < MICA_HC_COUNT)
		nr += MICA_HC_COUNT;
	return nr;
}

static void console_case(struct hc_regs *r, struct expect *e)
{
	uint64_t k;

	r->rax = MICA_HC_CONSOLE_WRITE;
	switch (below(8)) {
	case 0: /* printable text, short */
		k = below(5);
		r->rdi = (uintptr_t)text + below(sizeof(text) - 1 - k);
		r->rsi = k;
		e->v[0] = (long)k;
		text_pending += (unsigned)k;
		break;
	case 1: /* wholly outside RAM */
		r->rdi = mem + below(1ull << 40);
		r->rsi = 1 + below(MICA_CONSOLE_MAX);
		e->v[0] = MICA_EFAULT;
		break;
	case 2: /* starts in RAM, runs past its end */
		k = 1 + below(16);
		r->rdi = mem - k;
		r->rsi = k + 1 + below(64);
		e->v[0] = MICA_EFAULT;
		break;
	case 3: /* wraps around the top of the address space */
		k = 1 + below(4096);
		r->rdi = (uint64_t)0 - k;
		r->rsi = k + 1 + below(MICA_CONSOLE_MAX - k);
		e->v[0] = MICA_EFAULT;
		break;
	case 4: /* too long, but the range itself is RAM */
		r->rdi = (uintptr_t)text;
		r->rsi = MICA_CONSOLE_MAX + 1 + below(4096);
		e->v[0] = MICA_EINVAL;
		break;
	case 5: /* far too long: either check may fire first */
		r->rdi = (uintptr_t)text;
		r->rsi = rnd() | (1ull << 40);
		e->v[0] = MICA_EINVAL;
		e->v[1] = MICA_EFAULT;
		e->n = 2;
		break;
	case 6: /* nothing to write from a bad pointer: 0 or EFAULT */
		r->rdi = rnd() | (1ull << 63);
		r->rsi = 0;
		e->v[0] = 0;
		e->v[1] = MICA_EFAULT;
		e->n = 2;
		break;
	default: /* random pointer well outside RAM */
		r->rdi = rnd() | (1ull << 47);
		r->rsi = 1 + below(MICA_CONSOLE_MAX);
		e->v[0] = MICA_EFAULT;
		break;
	}
}

/* Returns the offset into scratch the hypervisor may write, or -1 for none. */
static long self_info_case(struct hc_regs *r, struct expect *e)
{
	const uint64_t sz = sizeof(struct mica_self_info);
	uint64_t off, k;

	r->rax = MICA_HC_SELF_INFO;
	switch (below(7)) {
	case 0: /* good pointer (any alignment), big enough */
		off = below(sizeof(scratch) - sz - 64);
		r->rdi = (uintptr_t)scratch + off;
		r->rsi = sz + below(64);
		e->v[0] = (long)sz;
		return (long)off;
	case 1: /* good pointer, too small */
		r->rdi = (uintptr_t)scratch + below(sizeof(scratch) - sz);
		r->rsi = below(sz);
		e->v[0] = MICA_EINVAL;
		return -1;
	case 2: /* outside RAM */
		r->rdi = mem + below(1ull << 40);
		r->rsi = sz + below(64);
		e->v[0] = MICA_EFAULT;
		return -1;
	case 3: /* straddles the end of RAM */
		k = 1 + below(sz - 1);
		r->rdi = mem - k;
		r->rsi = sz;
		e->v[0] = MICA_EFAULT;
		return -1;
	case 4: /* wraps */
		k = 1 + below(sz - 1);
		r->rdi = (uint64_t)0 - k;
		r->rsi = sz;
		e->v[0] = MICA_EFAULT;
		return -1;
	case 5: /* bad pointer and too small: either error */
		r->rdi = rnd() | (1ull << 63);
		r->rsi = below(sz);
		e->v[0] = MICA_EINVAL;
		e->v[1] = MICA_EFAULT;
		e->n = 2;
		return -1;
	default: /* good pointer, huge size: the struct is written, or the range is refused */
		off = below(sizeof(scratch) - sz - 64);
		r->rdi = (uintptr_t)scratch + off;
		r->rsi = rnd() | (1ull << 62);
		e->v[0] = (long)sz;
		e->v[1] = MICA_EFAULT;
		e->n = 2;
		return (long)off;
	}
}

static void one_call(void)
{
	struct hc_regs in, out;
	struct expect e = { { 0, 0 }, 1 };
	long info_off = -1;
	uint64_t *reg = (uint64_t *)&in;

	for (int i = 0; i < HC_NREGS; i++)
		reg[i] = rnd();

	switch (below(16)) {
	case 0:
		in.rax = MICA_HC_VERSION;
		e.v[0] = MICA_ABI_VERSION;
		break;
	case 1:
		in.rax = MICA_HC_YIELD;
		e.v[0] = 0;
		break;
	case 2:
	case 3:
	case 4:
		console_case(&in, &e);
		break;
	case 5:
	case 6:
	case 7:
		info_off = self_info_case(&in, &e);
		break;
	default:
		in.rax = unknown_nr();
		/* The service's and the manager's calls exist, but only for the service
		 * partition (include/mica/service.h, manage.h). */
		e.v[0] = (in.rax >= MICA_HC_SVC_SETUP && in.rax <= MICA_HC_SVC_CONSOLE) ||
				 (in.rax >= MICA_HC_MGMT_HELLO && in.rax <= MICA_HC_MGMT_LAST)
			 ? MICA_EPERM : MICA_ENOSYS;
		break;
	}

	if (text_pending >= 64)
		newline();
	memset(scratch, 0xa5, sizeof(scratch));
	out = in;
	hcall_regs(&out);
	calls++;

	char what[96];
	long got = (long)out.rax;
	if (got != e.v[0] && (e.n < 2 || got != e.v[1])) {
		if (e.n < 2)
			snprintf(what, sizeof(what), "returned %ld expected %ld", got, e.v[0]);
		else
			snprintf(what, sizeof(what), "returned %ld expected %ld or %ld", got,
				 e.v[0], e.v[1]);
		report(&in, what);
	}

	static const char *const names[HC_NREGS] = { "rax", "rbx", "rcx", "rdx", "rsi",
		"rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	const uint64_t *before = (const uint64_t *)&in, *after = (const uint64_t *)&out;
	for (int i = 1; i < HC_NREGS; i++) {
		if (before[i] != after[i]) {
			snprintf(what, sizeof(what), "returned %ld but changed %s to 0x%lx", got,
				 names[i], (unsigned long)after[i]);
			report(&in, what);
			break;
		}
	}

	/* Memory: only SELF_INFO that succeeded may write, and exactly the struct. */
	size_t lo = sizeof(scratch), hi = sizeof(scratch);
	if (info_off >= 0 && got == (long)sizeof(struct mica_self_info)) {
		lo = (size_t)info_off;
		hi = lo + sizeof(struct mica_self_info);
		if (memcmp(scratch + lo, &ref, sizeof(ref)) != 0)
			report(&in, "wrote a struct that differs from SELF_INFO's");
	}
	for (size_t i = 0; i < sizeof(scratch); i++) {
		if ((i < lo || i >= hi) && scratch[i] != 0xa5) {
			snprintf(what, sizeof(what), "returned %ld but wrote scratch offset %zu",
				 got, i);
			report(&in, what);
			break;
		}
	}
}

int main(unsigned vcpu)
{
	if (self_info(&ref) != (long)sizeof(ref)) {
		printf("FAIL: SELF_INFO failed\n");
		return 1;
	}
	mem = ref.mem_bytes;
	printf("hcfuzz: seed 0x%lx, %d calls, restarts %u\n", (unsigned long)SEED, CALLS,
	       ref.restarts);

	while (calls < CALLS) {
		one_call();
		if (calls % PROGRESS == 0) {
			newline();
			printf("hcfuzz: %lu calls, %d mismatches\n", calls, failures);
		}
	}

	struct mica_self_info again;
	if (self_info(&again) != (long)sizeof(again) || memcmp(&again, &ref, sizeof(ref)) != 0)
		report(&(struct hc_regs){ .rax = MICA_HC_SELF_INFO },
		       "answered differently after the fuzzing");
	newline();
	if (failures) {
		printf("FAIL: hcfuzz %d of %lu calls answered wrongly\n", failures, calls);
		return 1;
	}
	printf("PASS: hcfuzz %d calls survived\n", CALLS);
	return 0;
}
