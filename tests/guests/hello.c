/* hello: the smallest useful guest. Reads SELF_INFO, checks the ABI version, and greets
 * through both consoles (UART and the CONSOLE_WRITE hypercall). */
#include <string.h>
#include "lib/guest.h"

int main(unsigned vcpu)
{
	struct mica_self_info info;
	int ok = 1;

	long r = self_info(&info);
	if (r != (long)sizeof(info)) {
		uart_printf("FAIL: SELF_INFO returned %ld, expected %zu\n", r, sizeof(info));
		return 1;
	}
	info.name[MICA_NAME_MAX - 1] = '\0';
	uart_printf("hello from %s: partition %u, vCPU %u of %u, %lu MiB RAM\n", info.name,
		    info.partition_id, info.vcpu_id, info.vcpu_count,
		    (unsigned long)(info.mem_bytes >> 20));
	if (info.vcpu_id != vcpu) {
		uart_printf("FAIL: SELF_INFO vcpu_id %u but RDI said %u\n", info.vcpu_id, vcpu);
		ok = 0;
	}

	long v = hcall(MICA_HC_VERSION, 0, 0);
	if (v != MICA_ABI_VERSION) {
		uart_printf("FAIL: VERSION returned 0x%lx, expected 0x%x\n", v, MICA_ABI_VERSION);
		ok = 0;
	}

	static const char line[] = "hello: this line came through the console hypercall\n";
	long n = console_write(line, sizeof(line) - 1);
	if (n != (long)sizeof(line) - 1) {
		uart_printf("FAIL: CONSOLE_WRITE returned %ld, expected %zu\n", n, sizeof(line) - 1);
		ok = 0;
	}

	/* Mica zeroes a partition's RAM before it starts: from the end of this image to the
	 * stack (the top 64 KiB), every byte must be zero, whatever the memory held before. */
	extern char __bss_end[];
	uint64_t from = ((uint64_t)(uintptr_t)__bss_end + 4095) & ~4095ULL;
	uint64_t to = info.mem_bytes - (64u << 10);
	for (const volatile uint64_t *p = (const uint64_t *)(uintptr_t)from;
	     (uint64_t)(uintptr_t)p < to; p++)
		if (*p) {
			uart_printf("FAIL: RAM at 0x%lx holds 0x%lx at the start, expected zero\n",
				    (unsigned long)(uintptr_t)p, (unsigned long)*p);
			ok = 0;
			break;
		}
	if (ok)
		uart_printf("hello: RAM from 0x%lx to 0x%lx is all zero\n", (unsigned long)from,
			    (unsigned long)to);

	if (!ok)
		return 1;
	uart_printf("PASS: hello\n");
	return 0;
}
