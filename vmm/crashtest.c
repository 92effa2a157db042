/* The crash-test build's trigger (vmm/crashtest.h). */
#include <string.h>
#include "vmm/crashtest.h"
#include "vmm/rt/rt.h"

void crashtest_check(const uint8_t *buf, size_t len)
{
	size_t n = sizeof(VMM_CRASHTEST_LINE) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(buf + i, VMM_CRASHTEST_LINE, n)) {
			say("crash test: faulting on purpose");
			__asm__ volatile("ud2");
		}
}
