/* The management console's text side (vmm/mgmt.h, docs/management.md). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "lib/line.h"
#include "vmm/mgmt.h"

#define WORDS_MAX 4
#define PROMPT "mica> "

static const char *const exit_names[MICA_MGMT_EXITS] = {
	[MICA_MGMT_EXIT_OTHER] = "other", [MICA_MGMT_EXIT_INTERRUPT] = "interrupt",
	[MICA_MGMT_EXIT_CPUID] = "cpuid", [MICA_MGMT_EXIT_HYPERCALL] = "hypercall",
	[MICA_MGMT_EXIT_IO] = "io", [MICA_MGMT_EXIT_MSR] = "msr", [MICA_MGMT_EXIT_HLT] = "hlt",
	[MICA_MGMT_EXIT_IRQ_WINDOW] = "irq-window",
	[MICA_MGMT_EXIT_STAGE2_FAULT] = "stage2-fault",
	[MICA_MGMT_EXIT_TRIPLE_FAULT] = "triple-fault",
	[MICA_MGMT_EXIT_ENTRY_FAILED] = "entry-failed", [MICA_MGMT_EXIT_UNHANDLED] = "unhandled",
};

static const char *const state_names[] = {
	[MICA_MGMT_RUNNING] = "running", [MICA_MGMT_STOPPED] = "stopped",
	[MICA_MGMT_PAUSED] = "paused", [MICA_MGMT_CHANGING] = "changing",
	[MICA_MGMT_DESTROYED] = "destroyed",
};

typedef unsigned long long ull;

static void put(struct mgmt *m, const char *s, size_t n)
{
	if (n)
		m->ops.write(m->ops.ctx, s, n);
}

/* One line of answer, \n added (Mica's serial output turns it into CR LF). */
static void say_line(struct mgmt *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_line(struct mgmt *m, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	size_t n = line_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(m, buf, n);
}

void mgmt_init(struct mgmt *m, const struct mgmt_ops *ops)
{
	memset(m, 0, sizeof(*m));
	m->ops = *ops;
}

/* --- formatting ---------------------------------------------------------------------- */

static const char *state_name(uint32_t s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static void fmt_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes && !(bytes & ((1ULL << 30) - 1)))
		snprintf(buf, len, "%lluG", (ull)(bytes >> 30));
	else if (bytes && !(bytes & ((1ULL << 20) - 1)))
		snprintf(buf, len, "%lluM", (ull)(bytes >> 20));
	else
		snprintf(buf, len, "%lluK", (ull)(bytes >> 10));
}

static void fmt_uptime(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;
	if (s < 60)
		snprintf(buf, len, "%llu.%llus", (ull)s, (ull)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (ull)(s / 60), (ull)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (ull)(s / 3600), (ull)(s / 60 % 60));
	else
		snprintf(buf, len, "%llud%02lluh", (ull)(s / 86400), (ull)(s / 3600 % 24));
}

static void fmt_cpus(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned c = 0; c < 64 && n < len; c++)
		if (mask & (1ULL << c))
			n += (size_t)snprintf(buf + n, len - n, "%s%u", n ? "," : "", c);
}

static void fmt_devices(uint32_t f, char *buf, size_t len)
{
	static const struct { uint32_t flag; const char *name; } devs[] = {
		{ MICA_MGMT_F_SERVICE, "service" }, { MICA_MGMT_F_VCONSOLE, "console" },
		{ MICA_MGMT_F_DISK, "disk" }, { MICA_MGMT_F_NET, "net" }, { MICA_MGMT_F_PCI, "pci" },
	};
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]) && n < len; i++)
		if (f & devs[i].flag)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", devs[i].name);
	if (!n)
		snprintf(buf, len, "-");
}

static uint64_t total_exits(const struct mica_mgmt_part *p)
{
	uint64_t t = 0;
	for (unsigned r = 0; r < MICA_MGMT_EXITS; r++)
		t += p->exits[r];
	return t;
}

/* Exits per second since the previous look at partition i (else since its start), and
 * remembers this look. */
static uint64_t rate(struct mgmt *m, const struct mica_mgmt_part *p, uint64_t total)
{
	uint64_t r = 0;
	unsigned i = p->id;
	if (i < MGMT_PARTS_MAX && m->seen_ms[i] && p->now_ms > m->seen_ms[i] &&
	    total >= m->seen_exits[i] && p->now_ms - m->seen_ms[i] < p->uptime_ms)
		r = (total - m->seen_exits[i]) * 1000 / (p->now_ms - m->seen_ms[i]);
	else if (p->uptime_ms)
		r = total * 1000 / p->uptime_ms;
	if (i < MGMT_PARTS_MAX) {
		m->seen_ms[i] = p->now_ms;
		m->seen_exits[i] = total;
	}
	return r;
}

/* --- commands ------------------------------------------------------------------------ */

static unsigned all_parts(struct mgmt *m, struct mica_mgmt_part *parts)
{
	unsigned n = 0;
	while (n < MGMT_PARTS_MAX && m->ops.part(m->ops.ctx, n, &parts[n]) > 0)
		n++;
	for (unsigned i = 0; i < n; i++)
		parts[i].name[MICA_NAME_MAX - 1] = parts[i].image[MICA_NAME_MAX - 1] = '\0';
	return n;
}

/* The partition a command names: its name, else its number in `list` (from 1). */
static int find(struct mgmt *m, const char *word, struct mica_mgmt_part *out)
{
	struct mica_mgmt_part parts[MGMT_PARTS_MAX];
	unsigned n = all_parts(m, parts);

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(parts[i].name, word)) {
			*out = parts[i];
			return 0;
		}
	unsigned num = 0, k = 0;
	while (word[k] >= '0' && word[k] <= '9' && num < 1000)
		num = num * 10 + (unsigned)(word[k++] - '0');
	if (k && !word[k] && num >= 1 && num <= n) {
		*out = parts[num - 1];
		return 0;
	}
	char names[200];
	size_t len = 0;
	names[0] = '\0';
	for (unsigned i = 0; i < n && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					parts[i].name);
	say_line(m, "no partition '%s' (there are: %s)", word, n ? names : "none");
	return -1;
}

static void cmd_list(struct mgmt *m)
{
	struct mica_mgmt_part parts[MGMT_PARTS_MAX];
	unsigned n = all_parts(m, parts);

	say_line(m, "%2s %-16s %-9s %-8s %6s %8s %8s %8s  %s", "#", "NAME", "STATE", "CPUS",
		 "MEMORY", "UPTIME", "RESTARTS", "EXITS/S", "DEVICES");
	for (unsigned i = 0; i < n; i++) {
		const struct mica_mgmt_part *p = &parts[i];
		char cpus[40], mem[16], up[16], devs[48], rs[24];
		uint64_t total = total_exits(p);
		fmt_cpus(p->cpus, cpus, sizeof(cpus));
		fmt_size(p->ram_bytes, mem, sizeof(mem));
		if (p->state == MICA_MGMT_STOPPED || p->state == MICA_MGMT_DESTROYED) {
			snprintf(up, sizeof(up), "-");
			snprintf(rs, sizeof(rs), "-");
		} else {
			fmt_uptime(p->uptime_ms, up, sizeof(up));
			snprintf(rs, sizeof(rs), "%llu", (ull)rate(m, p, total));
		}
		if (p->state == MICA_MGMT_DESTROYED)
			snprintf(mem, sizeof(mem), "-");
		fmt_devices(p->flags, devs, sizeof(devs));
		char clone[80] = "";
		if (p->flags & MICA_MGMT_F_CLONE) {
			char shared[16];
			fmt_size(p->shared_bytes, shared, sizeof(shared));
			snprintf(clone, sizeof(clone), "  (clone of %s; %s of its RAM shared)",
				 p->origin < n ? parts[p->origin].name : "?", shared);
		}
		say_line(m, "%2u %-16s %-9s %-8s %6s %8s %8u %8s  %s%s", i + 1, p->name,
			 state_name(p->state), cpus, mem, up, p->restarts, rs, devs, clone);
	}
	struct mica_mgmt_pool pool;
	if (m->ops.pool && m->ops.pool(m->ops.ctx, &pool) > 0) {
		char cpus[40];
		fmt_cpus(pool.free_cpus, cpus, sizeof(cpus));
		say_line(m, "free: CPUs %s, memory %lluM (no partition's: never given, or destroyed)",
			 pool.free_cpus ? cpus : "none", (ull)(pool.free_bytes >> 20));
	}
}

static void cmd_stats(struct mgmt *m, const char *name)
{
	struct mica_mgmt_part p;
	if (find(m, name, &p))
		return;
	/* Each reason's rate is its average since the start; the total's is since the last
	 * look (list or stats), as in list. */
	uint64_t total = total_exits(&p);
	char up[16];
	fmt_uptime(p.uptime_ms, up, sizeof(up));
	if (p.state == MICA_MGMT_STOPPED) {
		say_line(m, "'%s' is stopped: no exits since it stopped (its last counts were logged "
			 "then)", p.name);
		return;
	}
	say_line(m, "'%s': %s, up %s, %u restarts, %u vCPUs, image %s", p.name,
		 state_name(p.state), up, p.restarts, p.vcpus, p.image);
	say_line(m, "%-14s %12s %10s", "EXIT", "COUNT", "PER SECOND");
	for (unsigned r = 0; r < MICA_MGMT_EXITS; r++)
		if (p.exits[r])
			say_line(m, "%-14s %12llu %10llu", exit_names[r], (ull)p.exits[r],
				 (ull)(p.uptime_ms ? p.exits[r] * 1000 / p.uptime_ms : 0));
	say_line(m, "%-14s %12llu %10llu  (per second: since the start; total: since the "
		 "last look)", "total", (ull)total, (ull)rate(m, &p, total));
}

static const struct {
	const char *name;
	unsigned op;
	const char *verb; /* for "cannot <verb> 'x'" */
} ops[] = {
	{ "stop", MICA_MGMT_OP_STOP, "stop" },
	{ "start", MICA_MGMT_OP_START, "start" },
	{ "restart", MICA_MGMT_OP_RESTART, "restart" },
	{ "pause", MICA_MGMT_OP_PAUSE, "pause" },
	{ "resume", MICA_MGMT_OP_RESUME, "resume" },
	{ "destroy", MICA_MGMT_OP_DESTROY, "destroy" },
};

/* Why op cannot be done in state s, and what would do. */
static const char *state_advice(unsigned op, uint32_t s)
{
	if (s == MICA_MGMT_CHANGING)
		return "it is changing state now; try again in a moment";
	if (s == MICA_MGMT_DESTROYED)
		return op == MICA_MGMT_OP_DESTROY ? "it is destroyed already"
			: "it was destroyed (it is gone until Mica restarts)";
	switch (op) {
	case MICA_MGMT_OP_DESTROY:
		return s == MICA_MGMT_PAUSED ? "it is paused (stop it first)"
		       : s == MICA_MGMT_RUNNING ? "it is running (stop it first)"
		       : "it is still stopping; try again in a moment";
	case MICA_MGMT_OP_STOP: return "it is stopped already";
	case MICA_MGMT_OP_START:
		return s == MICA_MGMT_PAUSED ? "it is paused (resume it)"
					     : "it is running (restart it, or stop it first)";
	case MICA_MGMT_OP_PAUSE:
		return s == MICA_MGMT_PAUSED ? "it is paused already" : "it is stopped (start it)";
	case MICA_MGMT_OP_RESUME:
		return s == MICA_MGMT_STOPPED ? "it is stopped, not paused (start it)"
					      : "it is running, not paused";
	default: return "its state does not allow it";
	}
}

static void cmd_op(struct mgmt *m, unsigned k, const char *name)
{
	struct mica_mgmt_part p;
	if (find(m, name, &p))
		return;
	long rc = m->ops.ctl(m->ops.ctx, p.id, ops[k].op);
	if (rc == 0)
		return; /* Mica's log line says what happened */
	if (rc == MICA_MGMT_ESTATE) {
		struct mica_mgmt_part now;
		uint32_t s = m->ops.part(m->ops.ctx, p.id, &now) > 0 ? now.state : p.state;
		say_line(m, "cannot %s '%s': %s", ops[k].verb, p.name, state_advice(ops[k].op, s));
	} else if (rc == MICA_EPERM) {
		say_line(m, "cannot %s '%s': it runs this console (the service partition)",
			 ops[k].verb, p.name);
	} else {
		say_line(m, "cannot %s '%s': Mica answered %ld (see its log line above)",
			 ops[k].verb, p.name, rc);
	}
}

/* --- snapshots (docs/snapshots.md) ------------------------------------------------------ */

static int tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (!n || n >= MICA_SNAP_TAG_MAX)
		return 0;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '.' || *t == '_' || *t == '-'))
			return 0;
	return 1;
}

/* Does partition id have a snapshot tagged tag? */
static int has_snapshot(struct mgmt *m, uint32_t id, const char *tag)
{
	struct mica_mgmt_snap s;
	for (unsigned i = 0; i < MICA_SNAP_MAX && m->ops.snaps(m->ops.ctx, i, &s) > 0; i++)
		if (s.part == id && !strcmp(s.tag, tag))
			return 1;
	return 0;
}

static const char *const snap_verb[] = { "snapshot", "restore", "drop" };

static void cmd_snap(struct mgmt *m, unsigned call, const char *name, const char *tag)
{
	const char *verb = snap_verb[call - MICA_HC_MGMT_SNAPSHOT];
	struct mica_mgmt_part p;
	char made[16];

	if (find(m, name, &p))
		return;
	if (!tag) { /* snapshot NAME: the first free of snap1, snap2, ... */
		for (unsigned k = 1; k <= MICA_SNAP_MAX + 1; k++) {
			snprintf(made, sizeof(made), "snap%u", k);
			if (!has_snapshot(m, p.id, made))
				break;
		}
		tag = made;
	}
	if (!tag_ok(tag)) {
		char shown[41]; /* vmm's printf has no precision */
		snprintf(shown, sizeof(shown), "%s", tag);
		say_line(m, "cannot %s '%s' (tag '%s'): a tag is 1 to %u letters, digits, '.', "
			 "'_' or '-'", verb, p.name, shown, MICA_SNAP_TAG_MAX - 1);
		return;
	}
	long rc = m->ops.snap(m->ops.ctx, call, p.id, tag, strlen(tag));
	if (rc == 0)
		return; /* Mica's log line says what was done */
	const char *why;
	switch (rc) {
	case MICA_EPERM: why = "it runs this console (the service partition)"; break;
	case MICA_MGMT_ENOENT: why = "it has no snapshot of that tag (snapshots lists them)"; break;
	case MICA_MGMT_EEXIST: why = "it has a snapshot of that tag already (drop it, or choose "
				     "another tag)"; break;
	case MICA_MGMT_ENOMEM: why = "not enough free RAM: a snapshot reserves as much as the "
				     "RAM the partition has used (drop a snapshot, or stop a "
				     "partition)"; break;
	case MICA_MGMT_EFULL: why = "Mica keeps 16 snapshots at most: drop one first"; break;
	case MICA_MGMT_EDEVICE: why = (p.flags & MICA_MGMT_F_NVME)
				? "its disk is on NVMe, which a snapshot in RAM cannot keep: the "
				  "disk would not match the RAM restored"
				: "it has passed-through PCI devices, whose state Mica cannot reach";
		break;
	case MICA_MGMT_ESTATE: {
		struct mica_mgmt_part now;
		uint32_t s = m->ops.part(m->ops.ctx, p.id, &now) > 0 ? now.state : p.state;
		why = s == MICA_MGMT_STOPPED && call == MICA_HC_MGMT_SNAPSHOT
			? "it is stopped: there is nothing to keep (start it)"
			: "it is changing state now; try again in a moment";
		break;
	}
	default: why = "Mica refused it (see its log line above)"; break;
	}
	say_line(m, "cannot %s '%s' (tag '%s'): %s", verb, p.name, tag, why);
}

static void cmd_snapshots(struct mgmt *m)
{
	struct mica_mgmt_snap s;
	unsigned i = 0;

	for (; i < MICA_SNAP_MAX && m->ops.snaps(m->ops.ctx, i, &s) > 0; i++) {
		struct mica_mgmt_part p;
		char age[16], used[16], held[16];
		if (!i)
			say_line(m, "%-16s %-16s %8s %9s %8s %8s", "PARTITION", "TAG", "AGE", "PAUSED",
				 "IN USE", "HELD");
		if (m->ops.part(m->ops.ctx, s.part, &p) <= 0)
			snprintf(p.name, sizeof(p.name), "#%u", s.part + 1);
		fmt_uptime(s.age_ms, age, sizeof(age));
		fmt_size(s.touched_bytes, used, sizeof(used));
		fmt_size(s.held_bytes, held, sizeof(held));
		say_line(m, "%-16s %-16s %8s %7lluus %8s %8s", p.name, s.tag, age,
			 (ull)s.pause_us, used, held);
	}
	if (!i)
		say_line(m, "no snapshots (snapshot NAME [TAG] takes one)");
	else
		say_line(m, "(IN USE: the partition's RAM that held anything when it was taken; HELD: "
			    "RAM the snapshot holds now, its copies and reserve)");
}

/* --- clones (docs/management.md, "Clones") --------------------------------------------- */

/* cpus=LIST: host CPU numbers and ranges, "2,3" or "4-7". 0 when malformed. */
static uint64_t parse_cpus(const char *s)
{
	uint64_t mask = 0;
	while (*s) {
		unsigned a = 0, b, k = 0;
		while (s[k] >= '0' && s[k] <= '9' && a < 64)
			a = a * 10 + (unsigned)(s[k++] - '0');
		if (!k || a >= 64)
			return 0;
		s += k;
		b = a;
		if (*s == '-') {
			s++;
			k = 0;
			b = 0;
			while (s[k] >= '0' && s[k] <= '9' && b < 64)
				b = b * 10 + (unsigned)(s[k++] - '0');
			if (!k || b >= 64 || b < a)
				return 0;
			s += k;
		}
		for (unsigned c = a; c <= b; c++)
			mask |= 1ULL << c;
		if (*s == ',')
			s++;
		else if (*s)
			return 0;
	}
	return mask;
}

static unsigned count_cpus(uint64_t mask)
{
	unsigned n = 0;
	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

static void cmd_clone(struct mgmt *m, const char *name, const char *new_name, const char *opt)
{
	struct mica_mgmt_part p;
	uint64_t cpus = 0;

	if (find(m, name, &p))
		return;
	if (opt) {
		if (strncmp(opt, "cpus=", 5) || !(cpus = parse_cpus(opt + 5))) {
			say_line(m, "cannot clone '%s': expected cpus=LIST (host CPUs such as 2,3 or "
				 "2-3), found '%s'", p.name, opt);
			return;
		}
	}
	long rc = strlen(new_name) >= MICA_NAME_MAX ? MICA_EINVAL
		  : m->ops.clone ? m->ops.clone(m->ops.ctx, p.id, new_name, cpus) : MICA_ENOSYS;
	if (rc >= 0)
		return; /* Mica's log line says what was done */
	const char *why;
	char buf[120];
	switch (rc) {
	case MICA_EPERM: why = "it runs this console (the service partition)"; break;
	case MICA_MGMT_EEXIST: why = "a partition of that name exists (choose another)"; break;
	case MICA_MGMT_ENOMEM: why = "not enough free RAM for a clone of its size (destroy a "
				     "partition, or drop snapshots)"; break;
	case MICA_MGMT_EFULL: why = "Mica runs 16 partitions (or 64 virtio devices) at most"; break;
	case MICA_MGMT_EBUSY:
		snprintf(buf, sizeof(buf), "not %u free CPUs%s (list shows the free ones)",
			 p.vcpus, cpus ? " among those named" : "");
		why = buf;
		break;
	case MICA_MGMT_EDEVICE:
		why = (p.flags & MICA_MGMT_F_NVME)
			? "its disk is on NVMe, which a clone cannot share"
			: (p.flags & MICA_MGMT_F_PCI)
			? "it has passed-through PCI devices, whose state Mica cannot copy"
			: "it is the service partition, or its RAM is not held piece by piece";
		break;
	case MICA_MGMT_ESTATE: {
		struct mica_mgmt_part now;
		uint32_t s = m->ops.part(m->ops.ctx, p.id, &now) > 0 ? now.state : p.state;
		why = s == MICA_MGMT_STOPPED ? "it is stopped: there is nothing to copy (start it)"
		      : s == MICA_MGMT_DESTROYED ? "it was destroyed"
		      : "it is changing state now; try again in a moment";
		break;
	}
	case MICA_EINVAL:
		if (cpus && count_cpus(cpus) != p.vcpus) {
			snprintf(buf, sizeof(buf), "cpus= names %u CPUs; the clone needs as many as "
				 "'%s' has vCPUs (%u)", count_cpus(cpus), p.name,
				 p.vcpus);
			why = buf;
		} else {
			why = "a name is 1 to 31 letters, digits, '_' or '-'";
		}
		break;
	default: why = "Mica refused it (see its log line above)"; break;
	}
	char shown[41];
	snprintf(shown, sizeof(shown), "%s", new_name);
	say_line(m, "cannot clone '%s' as '%s': %s", p.name, shown, why);
}

/* Escape sequences, byte by byte: 1 when c belongs to one (ESC, ESC and the byte after
 * it, or ESC [ up to its final byte 0x40-0x7e), which is then dropped. esc: 0 outside one,
 * 1 after ESC, 2 inside ESC [. */
static int escape_step(uint8_t *esc, uint8_t c)
{
	if (*esc == 1) {
		*esc = c == '[' ? 2 : 0;
		return 1;
	}
	if (*esc == 2) {
		if (c >= 0x40 && c <= 0x7e)
			*esc = 0;
		return 1;
	}
	if (c == 0x1b) {
		*esc = 1;
		return 1;
	}
	return 0;
}

/* The console output a partition wrote, as the terminal may show it: line ends kept,
 * CRs and escape sequences dropped, other control bytes as '.'. esc: escape_step()'s,
 * kept across calls. Returns the bytes left in out. */
static size_t printable(const char *in, size_t n, char *out, uint8_t *esc)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)in[i];
		if (escape_step(esc, c))
			continue;
		if (c == '\n' || c == '\t' || (c >= 0x20 && c <= 0x7e))
			out[k++] = (char)c;
		else if (c != '\r')
			out[k++] = '.';
	}
	return k;
}

static void cmd_log(struct mgmt *m, const char *name)
{
	struct mica_mgmt_part p;
	char in[256], out[256];
	uint8_t esc = 0;
	char last = '\n';

	if (find(m, name, &p))
		return;
	if (!p.log_size) {
		say_line(m, "'%s' keeps no console log (log = no in its config)", p.name);
		return;
	}
	uint64_t end = p.log_bytes, from = end > p.log_size ? end - p.log_size : 0;
	say_line(m, "--- '%s': the last %llu bytes of its console output (of %llu since boot) ---",
		 p.name, (ull)(end - from), (ull)end);
	while (from < end) {
		size_t want = end - from < sizeof(in) ? (size_t)(end - from) : sizeof(in);
		long n = m->ops.log(m->ops.ctx, p.id, in, want, from);
		if (n == MICA_EINVAL && m->ops.part(m->ops.ctx, p.id, &p) > 0 && p.log_size &&
		    p.log_bytes > p.log_size && p.log_bytes - p.log_size > from) {
			/* it wrote more than its ring holds while this was shown */
			uint64_t oldest = p.log_bytes - p.log_size;
			if (last != '\n')
				put(m, "\n", 1);
			say_line(m, "--- %llu bytes went by meanwhile ---", (ull)(oldest - from));
			last = '\n';
			from = oldest;
			continue;
		}
		if (n <= 0)
			break;
		size_t k = printable(in, (size_t)n, out, &esc);
		put(m, out, k);
		if (k)
			last = out[k - 1];
		from += (uint64_t)n;
	}
	if (last != '\n')
		put(m, "\n", 1);
	say_line(m, "--- end of '%s' ---", p.name);
}

/* 1 when the console is now attached to the partition (no prompt), else 0. */
static int cmd_console(struct mgmt *m, const char *name)
{
	struct mica_mgmt_part p;
	if (find(m, name, &p))
		return 0;
	if (p.flags & MICA_MGMT_F_SERVICE) {
		say_line(m, "cannot attach to '%s': it runs this console (the service partition)",
			 p.name);
		return 0;
	}
	say_line(m, "console attached to '%s'%s: its output as it is, keys go to it, the "
		 "others' output held; Ctrl-] comes back here", p.name,
		 p.state == MICA_MGMT_RUNNING ? "" : p.state == MICA_MGMT_PAUSED ? " (paused)"
										  : " (stopped)");
	long rc = m->ops.attach(m->ops.ctx, p.id);
	if (rc) {
		say_line(m, "cannot attach to '%s': Mica answered %ld", p.name, rc);
		return 0;
	}
	return 1;
}

static void cmd_help(struct mgmt *m)
{
	say_line(m, "commands (NAME: a partition's name, or its # in list):");
	say_line(m, "  list             every partition: state, CPUs, memory, uptime, restarts, "
		    "exits/s, devices");
	say_line(m, "  stats NAME       its exits by reason");
	say_line(m, "  log NAME         what it wrote to its console lately (the config's log =)");
	say_line(m, "  console NAME     the terminal to it alone, as it is (full-screen programs "
		    "work); Ctrl-] back");
	say_line(m, "  stop NAME        as a power-off (devices reset; its RAM is cleared at the "
		    "next start)");
	say_line(m, "  start NAME       a stopped partition: its image loaded afresh, then run");
	say_line(m, "  restart NAME     as a reboot");
	say_line(m, "  pause NAME       its vCPUs held where they are");
	say_line(m, "  resume NAME      a paused partition goes on");
	say_line(m, "  snapshot NAME [TAG]  keep its state in RAM (paused for a moment; TAG: "
		    "snap1, snap2, ...)");
	say_line(m, "  snapshots        the snapshots kept");
	say_line(m, "  restore NAME TAG back to that snapshot (running, or paused if it was)");
	say_line(m, "  drop NAME TAG    forget that snapshot, its RAM back to the pool");
	say_line(m, "  clone NAME NEW [cpus=LIST]  a copy of it now, sharing its RAM copy on "
		    "write, on free CPUs");
	say_line(m, "  destroy NAME     a stopped partition is gone until Mica restarts: its "
		    "RAM back to the pool");
	say_line(m, "  help             this");
	say_line(m, "  exit             keys go back to the partition (or Ctrl-] then 1-9)");
}

int mgmt_run(struct mgmt *m, const char *line)
{
	char buf[MGMT_LINE_MAX];
	char *w[WORDS_MAX];
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *p = buf; *p;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (n == WORDS_MAX) {
			say_line(m, "too many words: no command takes more than three after its name "
				    "(type help)");
			return 0;
		}
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	if (!n)
		return 0;
	if (!strcmp(w[0], "help") || !strcmp(w[0], "?")) {
		cmd_help(m);
		return 0;
	}
	if (!strcmp(w[0], "exit") || !strcmp(w[0], "quit")) {
		m->ops.leave(m->ops.ctx);
		return 1;
	}
	if (!strcmp(w[0], "list")) {
		if (n > 1)
			say_line(m, "usage: list");
		else
			cmd_list(m);
		return 0;
	}
	if (!strcmp(w[0], "console")) {
		if (n != 2) {
			say_line(m, "usage: console NAME");
			return 0;
		}
		return cmd_console(m, w[1]);
	}
	if (!strcmp(w[0], "stats") || !strcmp(w[0], "log")) {
		if (n != 2)
			say_line(m, "usage: %s NAME", w[0]);
		else if (w[0][0] == 's')
			cmd_stats(m, w[1]);
		else
			cmd_log(m, w[1]);
		return 0;
	}
	if (!strcmp(w[0], "snapshots")) {
		if (n > 1)
			say_line(m, "usage: snapshots");
		else
			cmd_snapshots(m);
		return 0;
	}
	if (!strcmp(w[0], "snapshot")) {
		if (n < 2 || n > 3)
			say_line(m, "usage: snapshot NAME [TAG]");
		else
			cmd_snap(m, MICA_HC_MGMT_SNAPSHOT, w[1], n == 3 ? w[2] : NULL);
		return 0;
	}
	if (!strcmp(w[0], "restore") || !strcmp(w[0], "drop")) {
		if (n != 3)
			say_line(m, "usage: %s NAME TAG", w[0]);
		else
			cmd_snap(m, w[0][0] == 'r' ? MICA_HC_MGMT_RESTORE : MICA_HC_MGMT_DROP, w[1],
				 w[2]);
		return 0;
	}
	if (!strcmp(w[0], "clone")) {
		if (n < 3 || n > 4)
			say_line(m, "usage: clone NAME NEW [cpus=LIST]");
		else
			cmd_clone(m, w[1], w[2], n == 4 ? w[3] : NULL);
		return 0;
	}
	for (unsigned k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (!strcmp(w[0], ops[k].name)) {
			if (n != 2)
				say_line(m, "usage: %s NAME", ops[k].name);
			else
				cmd_op(m, k, w[1]);
			return 0;
		}
	say_line(m, "unknown command '%s' (type help)", w[0]);
	return 0;
}

/* --- the line editor ----------------------------------------------------------------- */

static void prompt(struct mgmt *m)
{
	put(m, PROMPT, sizeof(PROMPT) - 1);
}

static void erase(struct mgmt *m, unsigned count)
{
	for (; count && m->len; count--) {
		m->len--;
		put(m, "\b \b", 3);
	}
}

void mgmt_keys(struct mgmt *m, const uint8_t *keys, size_t n)
{
	if (!n) {
		put(m, "\n", 1);
		say_line(m, "Mica management console: type help; exit (or Ctrl-] then 1-9) goes "
			    "back to a partition");
		m->len = 0;
		m->esc = 0;
		prompt(m);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = keys[i], last = m->last;
		m->last = c;
		if (escape_step(&m->esc, c))
			continue; /* cursor keys and the like: nothing */
		switch (c) {
		case '\n':
			if (last == '\r')
				break; /* the LF of a CR LF */
			/* fall through */
		case '\r':
			put(m, "\n", 1);
			m->line[m->len] = '\0';
			m->len = 0;
			if (!mgmt_run(m, m->line))
				prompt(m);
			break;
		case 0x7f: case 0x08: /* backspace */
			erase(m, 1);
			break;
		case 0x15: /* Ctrl-U: the whole line */
			erase(m, MGMT_LINE_MAX);
			break;
		case 0x03: /* Ctrl-C: drop the line */
			put(m, "^C\n", 3);
			m->len = 0;
			prompt(m);
			break;
		default:
			if (c < 0x20 || c > 0x7e)
				break; /* other control keys: nothing */
			if (m->len + 1 >= MGMT_LINE_MAX) {
				put(m, "\a", 1); /* full: the terminal beeps */
				break;
			}
			m->line[m->len++] = (char)c;
			put(m, (const char *)&c, 1);
			break;
		}
	}
}
