/* vmm/mgmt.c: the management console's text side against fake management hypercalls:
 * line editing, every command's answer and every refusal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vmm/mgmt.h"

static struct mica_mgmt_part parts[3];
static unsigned nparts;
static char out[8192];
static size_t out_len;
static unsigned ctl_calls, ctl_index, ctl_op, leaves;
static long ctl_rc;
static struct mgmt m;

static long f_part(void *ctx, unsigned i, struct mica_mgmt_part *p)
{
	if (i >= nparts)
		return MICA_EINVAL;
	*p = parts[i];
	return sizeof(*p);
}

static long f_ctl(void *ctx, unsigned i, unsigned op)
{
	ctl_calls++;
	ctl_index = i;
	ctl_op = op;
	return ctl_rc;
}

static void f_write(void *ctx, const char *s, size_t n)
{
	cr_assert(out_len + n < sizeof(out));
	memcpy(out + out_len, s, n);
	out_len += n;
	out[out_len] = '\0';
}

static void f_leave(void *ctx)
{
	leaves++;
}

static unsigned attaches, attached_to;

static long f_attach(void *ctx, unsigned i)
{
	attaches++;
	attached_to = i;
	return 0;
}

/* The snapshots Mica keeps, as MICA_HC_MGMT_SNAPS lists them; the last call made. */
static struct mica_mgmt_snap snaps_kept[4];
static unsigned nsnaps, snap_calls, snap_call, snap_index;
static char snap_tag[64];
static long snap_rc;

static long f_snap(void *ctx, unsigned call, unsigned i, const char *tag, size_t len)
{
	snap_calls++;
	snap_call = call;
	snap_index = i;
	cr_assert(len < sizeof(snap_tag));
	memcpy(snap_tag, tag, len);
	snap_tag[len] = '\0';
	return snap_rc;
}

static long f_snaps(void *ctx, unsigned slot, struct mica_mgmt_snap *o)
{
	if (slot >= nsnaps)
		return MICA_EINVAL;
	*o = snaps_kept[slot];
	return sizeof(*o);
}

static void kept(unsigned i, unsigned part, const char *tag)
{
	struct mica_mgmt_snap *k = &snaps_kept[i];
	memset(k, 0, sizeof(*k));
	k->part = part;
	k->vcpus = 2;
	k->age_ms = 75000;
	k->pause_us = 420;
	k->ram_bytes = 256 << 20;
	k->touched_bytes = 96 << 20;
	k->held_bytes = 100 << 20;
	snprintf(k->tag, sizeof(k->tag), "%s", tag);
	nsnaps = i + 1;
}

/* web's console output since boot: log_text[from - log_base ...]; reads before
 * log_oldest fail as Mica's do when the ring has moved on. */
static const char *log_text;
static uint64_t log_base, log_oldest, log_moves;

static long f_log(void *ctx, unsigned i, char *buf, size_t len, uint64_t from)
{
	uint64_t end = log_base + strlen(log_text);
	if (i != 1 || from < log_oldest || from > end)
		return MICA_EINVAL;
	if (log_moves) { /* the guest writes on while it is shown: the ring moves */
		log_moves--;
		log_oldest += 300;
		parts[1].log_bytes += 300;
		return MICA_EINVAL;
	}
	size_t n = end - from < len ? (size_t)(end - from) : len;
	memcpy(buf, log_text + (from - log_base), n);
	return (long)n;
}

/* MICA_HC_MGMT_CLONE: the last call and the answer to give. */
static unsigned clone_calls, clone_index;
static char clone_name[64];
static uint64_t clone_cpus;
static long clone_rc;

static long f_clone(void *ctx, unsigned i, const char *name, uint64_t cpus)
{
	clone_calls++;
	clone_index = i;
	snprintf(clone_name, sizeof(clone_name), "%s", name);
	clone_cpus = cpus;
	return clone_rc;
}

/* The free pool as MICA_HC_MGMT_POOL tells it. */
static struct mica_mgmt_pool pool;

static long f_pool(void *ctx, struct mica_mgmt_pool *o)
{
	*o = pool;
	return sizeof(*o);
}

static void part(unsigned i, const char *name, uint32_t state, uint64_t cpus, uint64_t mib,
		 uint32_t flags)
{
	struct mica_mgmt_part *p = &parts[i];
	memset(p, 0, sizeof(*p));
	p->id = i;
	p->state = state;
	p->cpus = cpus;
	p->ram_bytes = mib << 20;
	p->flags = flags;
	p->vcpus = 1;
	p->uptime_ms = state == MICA_MGMT_STOPPED ? 0 : 65000;
	p->now_ms = 100000;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->image, sizeof(p->image), "%s.elf", name);
}

static void clear(void)
{
	out_len = 0;
	out[0] = '\0';
}

static void setup(void)
{
	const struct mgmt_ops ops = {
		.part = f_part, .ctl = f_ctl, .write = f_write, .leave = f_leave, .log = f_log,
		.attach = f_attach, .snap = f_snap, .snaps = f_snaps, .pool = f_pool,
		.clone = f_clone,
	};
	clone_calls = 0;
	clone_rc = 3;
	memset(&pool, 0, sizeof(pool));
	pool.cpus = 0xf;
	pool.free_bytes = 600ull << 20;
	nsnaps = snap_calls = 0;
	snap_rc = 0;
	part(0, "svc", MICA_MGMT_RUNNING, 1, 16, MICA_MGMT_F_SERVICE);
	part(1, "web", MICA_MGMT_RUNNING, 0x6, 1024, MICA_MGMT_F_DISK | MICA_MGMT_F_NET);
	part(2, "tiny", MICA_MGMT_STOPPED, 8, 16, 0);
	parts[1].exits[MICA_MGMT_EXIT_IO] = 6500;
	parts[1].exits[MICA_MGMT_EXIT_CPUID] = 13000;
	parts[1].restarts = 2;
	nparts = 3;
	clear();
	ctl_calls = leaves = 0;
	ctl_rc = 0;
	mgmt_init(&m, &ops);
}

TestSuite(mgmt, .init = setup);

static void type(const char *s)
{
	mgmt_keys(&m, (const uint8_t *)s, strlen(s));
}

static void expect_out(const char *want)
{
	cr_expect(strstr(out, want) != NULL, "expected %s in:\n%s", want, out);
}

Test(mgmt, greeting_and_prompt)
{
	mgmt_keys(&m, NULL, 0);
	cr_expect_str_eq(out, "\nMica management console: type help; exit (or Ctrl-] then 1-9) "
			      "goes back to a partition\nmica> ");
}

Test(mgmt, list)
{
	type("list\r");
	expect_out("list\n # NAME             STATE     CPUS     MEMORY   UPTIME RESTARTS  "
		   "EXITS/S  DEVICES\n");
	expect_out("\n 1 svc              running   0           16M    1m05s        0        0  "
		   "service\n");
	/* 19500 exits in 65 s: 300 a second */
	expect_out("\n 2 web              running   1,2          1G    1m05s        2      300  "
		   "disk,net\n");
	expect_out("\n 3 tiny             stopped   3           16M        -        0        -  -\n");
	expect_out("\nfree: CPUs none, memory 600M (no partition's: never given, or destroyed)\n");
	cr_expect(out_len > 6 && !strcmp(out + out_len - 6, "mica> "), "a prompt after it");
	/* a second look gives the rate since the first */
	parts[1].now_ms += 2000;
	parts[1].uptime_ms += 2000;
	parts[1].exits[MICA_MGMT_EXIT_IO] += 1000;
	clear();
	mgmt_run(&m, "list");
	expect_out("1,2          1G    1m07s        2      500  disk,net\n");
}

Test(mgmt, ops_reach_mica_by_name_or_number)
{
	static const struct { const char *cmd; unsigned op; } cases[] = {
		{ "stop web", MICA_MGMT_OP_STOP }, { "start web", MICA_MGMT_OP_START },
		{ "restart 2", MICA_MGMT_OP_RESTART }, { "pause  web ", MICA_MGMT_OP_PAUSE },
		{ "resume\tweb", MICA_MGMT_OP_RESUME },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_calls = 0;
		clear();
		cr_expect_eq(mgmt_run(&m, cases[i].cmd), 0);
		cr_expect_eq(ctl_calls, 1, "%s", cases[i].cmd);
		cr_expect_eq(ctl_index, 1, "%s", cases[i].cmd);
		cr_expect_eq(ctl_op, cases[i].op, "%s", cases[i].cmd);
		cr_expect_str_eq(out, "", "done: Mica's own log line says so (%s)", cases[i].cmd);
	}
}

Test(mgmt, refusals)
{
	mgmt_run(&m, "stop nosuch");
	expect_out("no partition 'nosuch' (there are: svc, web, tiny)\n");
	mgmt_run(&m, "stop 0");
	expect_out("no partition '0' (there are: svc, web, tiny)\n");
	mgmt_run(&m, "stop 4");
	expect_out("no partition '4' (there are: svc, web, tiny)\n");
	mgmt_run(&m, "stop");
	expect_out("usage: stop NAME\n");
	mgmt_run(&m, "stop web tiny");
	expect_out("usage: stop NAME\n");
	mgmt_run(&m, "a b c d e");
	expect_out("too many words: no command takes more than three after its name (type help)\n");
	mgmt_run(&m, "frob web");
	expect_out("unknown command 'frob' (type help)\n");
	cr_expect_eq(ctl_calls, 0, "nothing reached Mica");

	ctl_rc = MICA_EPERM;
	mgmt_run(&m, "stop svc");
	expect_out("cannot stop 'svc': it runs this console (the service partition)\n");
	ctl_rc = MICA_MGMT_ESTATE;
	mgmt_run(&m, "start web");
	expect_out("cannot start 'web': it is running (restart it, or stop it first)\n");
	mgmt_run(&m, "resume tiny");
	expect_out("cannot resume 'tiny': it is stopped, not paused (start it)\n");
	mgmt_run(&m, "pause tiny");
	expect_out("cannot pause 'tiny': it is stopped (start it)\n");
	parts[1].state = MICA_MGMT_CHANGING;
	mgmt_run(&m, "stop web");
	expect_out("cannot stop 'web': it is changing state now; try again in a moment\n");
	ctl_rc = MICA_EINVAL;
	mgmt_run(&m, "start tiny");
	expect_out("cannot start 'tiny': Mica answered -22 (see its log line above)\n");
}

Test(mgmt, stats)
{
	mgmt_run(&m, "stats web");
	expect_out("'web': running, up 1m05s, 2 restarts, 1 vCPUs, image web.elf\n");
	expect_out("\ncpuid                 13000        200\n");
	expect_out("\nio                     6500        100\n");
	expect_out("\ntotal                 19500        300  (per second");
	cr_expect(!strstr(out, "hlt"), "only the reasons that happened");
	clear();
	mgmt_run(&m, "stats tiny");
	expect_out("'tiny' is stopped: no exits since it stopped");
}

Test(mgmt, line_editing)
{
	type("lisx\x7f" "t\r");
	expect_out("lisx\b \bt\n # NAME");
	clear();
	type("stop web\x15" "list\n");
	cr_expect_eq(ctl_calls, 0, "Ctrl-U dropped the line");
	expect_out(" # NAME");
	clear();
	type("li\x1b[D\x1b[Ast\r\n"); /* cursor keys dropped; CR LF is one Enter */
	expect_out("list\n # NAME");
	cr_expect(strstr(out, "mica> mica> ") == NULL, "one prompt, not two");
	clear();
	type("stop web\x03");
	cr_expect_eq(ctl_calls, 0);
	expect_out("^C\nmica> ");
	clear();
	type("\x7f\x7f");
	cr_expect_str_eq(out, "", "nothing to erase");
	for (unsigned i = 0; i < MGMT_LINE_MAX + 10; i++)
		type("x");
	expect_out("\a");
	cr_expect_eq(m.len, MGMT_LINE_MAX - 1);
}

Test(mgmt, exit_leaves_without_a_prompt)
{
	type("exit\r");
	cr_expect_eq(leaves, 1);
	cr_expect_str_eq(out, "exit\n");
	type("help\r");
	expect_out("  stop NAME ");
}

Test(mgmt, log)
{
	/* 600 bytes kept of 1600 written: what the terminal would show, escapes and CRs out */
	static char text[1601];
	memset(text, 'x', 1000);
	strcpy(text + 1000, "\x1b[2J\x1b[1;31mred\x1b[0m line\r\nbell\a tab\there");
	memset(text + strlen(text), 'y', 1600 - strlen(text));
	log_text = text;
	log_base = 0;
	log_oldest = 1000;
	parts[1].log_bytes = 1600;
	parts[1].log_size = 600;
	mgmt_run(&m, "log web");
	expect_out("--- 'web': the last 600 bytes of its console output (of 1600 since boot) ---\n"
		   "red line\nbell. tab\there");
	expect_out("yyyy\n--- end of 'web' ---\n");
	cr_expect(!strstr(out, "x"), "nothing older than the ring");
	cr_expect(!strchr(out, 0x1b) && !strchr(out, '\r'));

	clear();
	log_moves = 1;
	mgmt_run(&m, "log 2");
	expect_out("--- 300 bytes went by meanwhile ---\n");
	expect_out("--- end of 'web' ---\n");

	clear();
	mgmt_run(&m, "log tiny");
	expect_out("'tiny' keeps no console log (log = no in its config)\n");
	mgmt_run(&m, "log");
	expect_out("usage: log NAME\n");
}

Test(mgmt, console_attach)
{
	type("console web\r");
	cr_expect_eq(attaches, 1);
	cr_expect_eq(attached_to, 1);
	expect_out("console attached to 'web': its output as it is, keys go to it, the others' "
		   "output held; Ctrl-] comes back here\n");
	cr_expect(strstr(out, "mica> ") == NULL, "no prompt: the keys are web's now");
	clear();
	mgmt_run(&m, "console tiny");
	expect_out("console attached to 'tiny' (stopped):");
	clear();
	attaches = 0;
	mgmt_run(&m, "console svc");
	expect_out("cannot attach to 'svc': it runs this console (the service partition)\n");
	mgmt_run(&m, "console");
	expect_out("usage: console NAME\n");
	cr_expect_eq(attaches, 0);
}

Test(mgmt, snapshot_commands)
{
	mgmt_run(&m, "snapshots");
	expect_out("no snapshots (snapshot NAME [TAG] takes one)\n");
	mgmt_run(&m, "snapshot web before-upgrade");
	cr_expect_eq(snap_calls, 1);
	cr_expect_eq(snap_call, MICA_HC_MGMT_SNAPSHOT);
	cr_expect_eq(snap_index, 1);
	cr_expect_str_eq(snap_tag, "before-upgrade");
	kept(0, 1, "snap1");
	mgmt_run(&m, "snapshot 2"); /* by number, no tag: the first free snapN */
	cr_expect_str_eq(snap_tag, "snap2");
	mgmt_run(&m, "restore web snap1");
	cr_expect_eq(snap_call, MICA_HC_MGMT_RESTORE);
	cr_expect_str_eq(snap_tag, "snap1");
	mgmt_run(&m, "drop web snap1");
	cr_expect_eq(snap_call, MICA_HC_MGMT_DROP);
	clear();
	mgmt_run(&m, "snapshots");
	expect_out("PARTITION        TAG                   AGE    PAUSED   IN USE     HELD\n");
	expect_out("web              snap1               1m15s     420us      96M     100M\n");
}

Test(mgmt, snapshot_refusals)
{
	mgmt_run(&m, "snapshot");
	expect_out("usage: snapshot NAME [TAG]\n");
	mgmt_run(&m, "restore web");
	expect_out("usage: restore NAME TAG\n");
	mgmt_run(&m, "drop web");
	expect_out("usage: drop NAME TAG\n");
	mgmt_run(&m, "snapshots web");
	expect_out("usage: snapshots\n");
	mgmt_run(&m, "snapshot web a/b");
	expect_out("cannot snapshot 'web' (tag 'a/b'): a tag is 1 to 31 letters, digits, '.', '_' "
		   "or '-'\n");
	mgmt_run(&m, "snapshot web 0123456789012345678901234567890123");
	expect_out("cannot snapshot 'web' (tag '0123456789012345678901234567890123'): a tag is");
	mgmt_run(&m, "snapshot nosuch x");
	expect_out("no partition 'nosuch' (there are: svc, web, tiny)\n");
	cr_expect_eq(snap_calls, 0, "nothing reached Mica");

	static const struct { long rc; const char *cmd, *want; } cases[] = {
		{ MICA_EPERM, "snapshot svc x",
		  "cannot snapshot 'svc' (tag 'x'): it runs this console (the service partition)\n" },
		{ MICA_MGMT_ENOENT, "restore web x",
		  "cannot restore 'web' (tag 'x'): it has no snapshot of that tag (snapshots lists "
		  "them)\n" },
		{ MICA_MGMT_ENOENT, "drop web x", "cannot drop 'web' (tag 'x'): it has no snapshot" },
		{ MICA_MGMT_EEXIST, "snapshot web x",
		  "cannot snapshot 'web' (tag 'x'): it has a snapshot of that tag already" },
		{ MICA_MGMT_ENOMEM, "snapshot web x", "cannot snapshot 'web' (tag 'x'): not enough "
		  "free RAM" },
		{ MICA_MGMT_EFULL, "snapshot web x", "Mica keeps 16 snapshots at most: drop one first" },
		{ MICA_MGMT_EDEVICE, "snapshot web x", "it has passed-through PCI devices, whose "
		  "state Mica cannot reach\n" },
		{ MICA_MGMT_ESTATE, "snapshot tiny x",
		  "cannot snapshot 'tiny' (tag 'x'): it is stopped: there is nothing to keep (start "
		  "it)\n" },
		{ MICA_MGMT_ESTATE, "restore web x", "it is changing state now; try again in a moment" },
		{ -99, "restore web x", "Mica refused it (see its log line above)" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clear();
		snap_rc = cases[i].rc;
		mgmt_run(&m, cases[i].cmd);
		expect_out(cases[i].want);
	}
	/* the same refusal for a disk on NVMe says so */
	clear();
	parts[1].flags |= MICA_MGMT_F_NVME;
	snap_rc = MICA_MGMT_EDEVICE;
	mgmt_run(&m, "snapshot web x");
	expect_out("cannot snapshot 'web' (tag 'x'): its disk is on NVMe, which a snapshot in RAM "
		   "cannot keep: the disk would not match the RAM restored\n");
}

Test(mgmt, destroy)
{
	mgmt_run(&m, "destroy tiny");
	cr_expect_eq(ctl_calls, 1);
	cr_expect_eq(ctl_index, 2);
	cr_expect_eq(ctl_op, MICA_MGMT_OP_DESTROY);
	cr_expect_str_eq(out, "", "Mica's log line says it: nothing more");

	/* refusals, by the state Mica reports when it refuses */
	ctl_rc = MICA_MGMT_ESTATE;
	clear();
	mgmt_run(&m, "destroy web");
	cr_expect_str_eq(out, "cannot destroy 'web': it is running (stop it first)\n");
	parts[1].state = MICA_MGMT_PAUSED;
	clear();
	mgmt_run(&m, "destroy 2");
	cr_expect_str_eq(out, "cannot destroy 'web': it is paused (stop it first)\n");
	parts[1].state = MICA_MGMT_STOPPED; /* Mica refused: its stop was not done yet */
	clear();
	mgmt_run(&m, "destroy web");
	cr_expect_str_eq(out, "cannot destroy 'web': it is still stopping; try again in a "
			      "moment\n");
	ctl_rc = MICA_EPERM;
	clear();
	mgmt_run(&m, "destroy svc");
	cr_expect_str_eq(out, "cannot destroy 'svc': it runs this console (the service "
			      "partition)\n");

	/* a destroyed partition: in list without memory or uptime, refused by every op */
	part(2, "tiny", MICA_MGMT_DESTROYED, 8, 16, 0);
	pool.free_cpus = 8;
	pool.free_bytes = (600ull + 16) << 20;
	clear();
	mgmt_run(&m, "list");
	expect_out("\n 3 tiny             destroyed 3             -        -        0        -  -\n");
	expect_out("\nfree: CPUs 3, memory 616M (no partition's: never given, or destroyed)\n");
	ctl_rc = MICA_MGMT_ESTATE;
	clear();
	mgmt_run(&m, "start tiny");
	cr_expect_str_eq(out, "cannot start 'tiny': it was destroyed (it is gone until Mica "
			      "restarts)\n");
	clear();
	mgmt_run(&m, "destroy tiny");
	cr_expect_str_eq(out, "cannot destroy 'tiny': it is destroyed already\n");
	clear();
	mgmt_run(&m, "destroy");
	cr_expect_str_eq(out, "usage: destroy NAME\n");
}

Test(mgmt, clone)
{
	/* by name or number; cpus= as a list, a range or both; nothing said on success (Mica's
	 * log line says what was done) */
	mgmt_run(&m, "clone web web2");
	cr_expect_eq(clone_calls, 1);
	cr_expect_eq(clone_index, 1);
	cr_expect_str_eq(clone_name, "web2");
	cr_expect_eq(clone_cpus, 0, "no cpus=: any free ones");
	cr_expect_str_eq(out, "");
	mgmt_run(&m, "clone 2 web3 cpus=4,6-7");
	cr_expect_eq(clone_cpus, 0xd0);
	mgmt_run(&m, "clone web web4 cpus=12");
	cr_expect_eq(clone_cpus, 1ull << 12);

	/* refused before Mica is asked */
	clear();
	clone_calls = 0;
	mgmt_run(&m, "clone web");
	expect_out("usage: clone NAME NEW [cpus=LIST]\n");
	mgmt_run(&m, "clone web a b c");
	expect_out("too many words");
	mgmt_run(&m, "clone nosuch x");
	expect_out("no partition 'nosuch' (there are: svc, web, tiny)\n");
	const char *bad[] = { "cpus=", "cpus=3-", "cpus=3-1", "cpus=a", "cpus=1,,2", "cpus=64",
			      "cpu=1", "cpus=1;2" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[64];
		clear();
		snprintf(line, sizeof(line), "clone web x %s", bad[i]);
		mgmt_run(&m, line);
		char want[96];
		snprintf(want, sizeof(want), "cannot clone 'web': expected cpus=LIST (host CPUs such "
			 "as 2,3 or 2-3), found '%s'\n", bad[i]);
		expect_out(want);
	}
	mgmt_run(&m, "clone web abcdefghijabcdefghijabcdefghij12");
	expect_out("cannot clone 'web' as 'abcdefghijabcdefghijabcdefghij12': a name is 1 to 31 "
		   "letters, digits, '_' or '-'\n");
	cr_expect_eq(clone_calls, 0, "nothing reached Mica");

	/* Mica's refusals, one line each */
	struct {
		long rc;
		const char *line, *want;
	} cases[] = {
		{ MICA_EPERM, "clone svc x", "cannot clone 'svc' as 'x': it runs this console" },
		{ MICA_MGMT_EEXIST, "clone web tiny", "cannot clone 'web' as 'tiny': a partition "
		  "of that name exists (choose another)" },
		{ MICA_MGMT_ENOMEM, "clone web x", "cannot clone 'web' as 'x': not enough free RAM "
		  "for a clone of its size" },
		{ MICA_MGMT_EFULL, "clone web x", "cannot clone 'web' as 'x': Mica runs 16 "
		  "partitions (or 64 virtio devices) at most" },
		{ MICA_MGMT_EBUSY, "clone web x", "cannot clone 'web' as 'x': not 1 free CPUs (list "
		  "shows the free ones)" },
		{ MICA_MGMT_EBUSY, "clone web x cpus=3", "cannot clone 'web' as 'x': not 1 free "
		  "CPUs among those named" },
		{ MICA_EINVAL, "clone web x cpus=1-2", "cannot clone 'web' as 'x': cpus= names 2 "
		  "CPUs; the clone needs as many as 'web' has vCPUs (1)" },
		{ MICA_EINVAL, "clone web a.b", "cannot clone 'web' as 'a.b': a name is 1 to 31" },
		{ MICA_MGMT_EDEVICE, "clone web x", "cannot clone 'web' as 'x': it is the service "
		  "partition, or its RAM is not held piece by piece" },
		{ MICA_MGMT_ESTATE, "clone tiny x", "cannot clone 'tiny' as 'x': it is stopped: "
		  "there is nothing to copy (start it)" },
		{ -99, "clone web x", "cannot clone 'web' as 'x': Mica refused it" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clear();
		clone_rc = cases[i].rc;
		mgmt_run(&m, cases[i].line);
		expect_out(cases[i].want);
	}
	clear();
	clone_rc = MICA_MGMT_EDEVICE;
	parts[1].flags |= MICA_MGMT_F_NVME;
	mgmt_run(&m, "clone web x");
	expect_out("its disk is on NVMe, which a clone cannot share");
}

Test(mgmt, list_shows_clones)
{
	part(2, "web2", MICA_MGMT_RUNNING, 8, 1024, MICA_MGMT_F_NET | MICA_MGMT_F_CLONE);
	parts[2].origin = 1;
	parts[2].shared_bytes = 300ull << 20;
	mgmt_run(&m, "list");
	expect_out("\n 3 web2             running   3            1G    1m05s        0        0  "
		   "net  (clone of web; 300M of its RAM shared)\n");
	expect_out("\n 2 web              running   1,2          1G    1m05s        2      300  "
		   "disk,net\n");
}
