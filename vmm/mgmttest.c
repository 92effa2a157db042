/* The management test build's script (vmm/mgmttest.h). The partitions are the scenario's:
 * hello (start = no), counter and snapmem (tests/guests/snapmem.c). */
#include <string.h>
#include "vmm/mgmttest.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"
#include "vmm/serve.h"

static const struct {
	const char *line;
	unsigned wait_ms; /* after it: long enough for the counter to print (every 300 ms) */
} script[] = {
	{ "list", 0 },
	{ "pause counter", 900 },
	{ "list", 0 },
	{ "resume counter", 900 },
	{ "stop counter", 600 },
	{ "start counter", 900 },
	{ "restart counter", 900 },
	{ "start hello", 300 },
	{ "stats counter", 0 },
	{ "log counter", 0 },
	/* snapshots (docs/snapshots.md): snapmem checks its RAM and XMM5 every tick */
	{ "snapshot snapmem s1", 1200 },
	{ "snapshots", 0 },
	{ "restore snapmem s1", 1200 },
	{ "pause snapmem", 300 },
	{ "restore snapmem s1", 300 },
	{ "resume snapmem", 1200 },
	{ "drop snapmem s1", 0 },
	{ "snapshots", 0 },
};

static void wait_ms(unsigned ms)
{
	uint64_t end = rdtsc() + rt_tsc_khz() * ms;
	while (rdtsc() < end)
		__asm__ volatile("pause");
}

void mgmttest_run(void)
{
	serve_manage_keys(NULL, 0);
	for (unsigned i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		serve_manage_keys((const uint8_t *)script[i].line, strlen(script[i].line));
		serve_manage_keys((const uint8_t *)"\r", 1);
		wait_ms(script[i].wait_ms);
	}
	say("mgmttest: script done");
}
