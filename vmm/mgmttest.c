/* The management test build's script (vmm/mgmttest.h). The partitions are the scenario's:
 * hello (start = no), counter and snapmem (tests/guests/snapmem.c). */
#include <string.h>
#include "mica/manage.h"
#include "vmm/mgmttest.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"
#include "vmm/serve.h"

static const struct {
	const char *line;
	unsigned wait_ms; /* after it: long enough for the counter to print (every 300 ms) */
	const char *until_stopped; /* then, if set: until this partition has stopped */
} script[] = {
	{ "list", 0, NULL },
	{ "pause counter", 900, NULL },
	{ "list", 0, NULL },
	{ "resume counter", 900, NULL },
	{ "stop counter", 600, NULL },
	{ "start counter", 900, NULL },
	{ "restart counter", 900, NULL },
	/* hello prints PASS and powers off; on a loaded host that can take longer than any
	 * fixed pause, and the answers below must not come in the middle of it */
	{ "start hello", 300, "hello" },
	{ "stats counter", 0, NULL },
	{ "log counter", 0, NULL },
	{ "destroy hello", 0, NULL }, /* stopped by now (above); its 16 MiB back to the pool */
	/* snapshots (docs/snapshots.md): snapmem checks its RAM and XMM5 every tick */
	{ "snapshot snapmem s1", 1200, NULL },
	{ "snapshots", 0, NULL },
	{ "restore snapmem s1", 1200, NULL },
	{ "pause snapmem", 300, NULL },
	{ "restore snapmem s1", 300, NULL },
	{ "resume snapmem", 1200, NULL },
	{ "drop snapmem s1", 0, NULL },
	{ "snapshots", 0, NULL },
	/* a clone (docs/management.md, "Clones") on the CPU hello's destroy left free; both
	 * go on checking their RAM; the clone stopped and destroyed again */
	{ "clone snapmem twin", 1500, NULL },
	{ "list", 0, NULL },
	{ "stop twin", 600, NULL },
	{ "destroy twin", 0, NULL },
};

static void wait_ms(unsigned ms)
{
	uint64_t end = rdtsc() + rt_tsc_khz() * ms;
	while (rdtsc() < end)
		__asm__ volatile("pause");
}

/* Waits (up to 60 s) until the partition called name has stopped; says so if it never does,
 * which fails the scenario (its lines come in a fixed order). */
static void wait_stopped(const char *name)
{
	for (unsigned tries = 0; tries < 600; tries++) {
		struct mica_mgmt_part p;
		for (unsigned i = 0; hcall(MICA_HC_MGMT_PART, i, (long)(uintptr_t)&p, sizeof(p)) > 0;
		     i++) {
			if (strcmp(p.name, name) == 0 && p.state == MICA_MGMT_STOPPED)
				return;
		}
		wait_ms(100);
	}
	say("mgmttest: FAIL: '%s' had not stopped after 60 s", name);
}

void mgmttest_run(void)
{
	serve_manage_keys(NULL, 0);
	for (unsigned i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		serve_manage_keys((const uint8_t *)script[i].line, strlen(script[i].line));
		serve_manage_keys((const uint8_t *)"\r", 1);
		wait_ms(script[i].wait_ms);
		if (script[i].until_stopped)
			wait_stopped(script[i].until_stopped);
	}
	say("mgmttest: script done");
}
