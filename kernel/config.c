/* The partition config parser (format: docs/config.md).
 * Pure logic: no allocation, no global state; compiled into the loader, the core and the
 * host unit tests. Every message names what was expected and what was found. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/config.h"
#include "kernel/config_parse.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

#define LINE_MAX_CHARS 255
#define CMDLINE_LINE_MAX_CHARS 2047 /* a cmdline line: room for a 1023-character value */
#define MEM_LIMIT (1ULL << 52) /* the x86-64 physical address width limit */

int cfg_fail(struct cfg_error *err, unsigned line, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return MICA_EINVAL;
}

/* Copies user text into buf for quoting in a message: at most max characters (then "..."),
 * control characters shown as '?'. buf must hold max + 4 bytes. */
const char *cfg_excerpt(char *buf, struct span s, size_t max)
{
	size_t n = s.n < max ? s.n : max;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s.n > max) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct span trim(const char *p, const char *e)
{
	while (p < e && is_space(*p))
		p++;
	while (e > p && is_space(e[-1]))
		e--;
	return (struct span){ p, (size_t)(e - p) };
}

int cfg_span_is(struct span s, const char *word)
{
	size_t n = strlen(word);
	return s.n == n && memcmp(s.p, word, n) == 0;
}

void cfg_span_copy(char *dst, struct span s)
{
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
}

/* Sizes: the largest of GiB, MiB, KiB that divides exactly, else bytes. When round_mib is
 * set, a size of 1 MiB or more that is not a whole number of MiB is shown in MiB rounded
 * down (readable free-memory figures); config values are always shown exactly. */
void cfg_size_text(uint64_t b, char *buf, unsigned len, int round_mib)
{
	unsigned long long v = b;

	if (b && b % GIB == 0)
		snprintf(buf, len, "%llu GiB", v / GIB);
	else if (b && (b % MIB == 0 || (round_mib && b >= MIB)))
		snprintf(buf, len, "%llu MiB", v / MIB);
	else if (b && b % KIB == 0)
		snprintf(buf, len, "%llu KiB", v / KIB);
	else
		snprintf(buf, len, "%llu %s", v, b == 1 ? "byte" : "bytes");
}

void cfg_format_size(uint64_t bytes, char *buf, unsigned len)
{
	if (buf && len)
		cfg_size_text(bytes, buf, len, 1);
}

/* Reads a decimal number at *i; saturates at `cap` (sets *big) so the caller can report
 * an absurd value without overflow. Returns 0 when there are no digits. */
static int read_number(struct span s, size_t *i, uint64_t cap, uint64_t *v, int *big)
{
	size_t start = *i;

	*v = 0;
	*big = 0;
	while (*i < s.n && is_digit(s.p[*i])) {
		uint64_t d = (uint64_t)(s.p[*i] - '0');
		if (*v > (cap - d) / 10) {
			*v = cap;
			*big = 1;
		} else if (!*big) {
			*v = *v * 10 + d;
		}
		(*i)++;
	}
	return *i > start;
}

static void skip_space(struct span s, size_t *i)
{
	while (*i < s.n && is_space(s.p[*i]))
		(*i)++;
}

static int parse_cpus(struct parser *ps, struct span v)
{
	char ex[EXCERPT_MAX + 4];
	uint64_t set = 0;
	size_t i = 0;

	for (;;) {
		uint64_t lo, hi;
		size_t lo_at, hi_at = 0;
		int big_lo, big_hi = 0;

		skip_space(v, &i);
		lo_at = i;
		if (!read_number(v, &i, 1000000, &lo, &big_lo))
			goto syntax;
		hi = lo;
		skip_space(v, &i);
		if (i < v.n && v.p[i] == '-') {
			i++;
			skip_space(v, &i);
			hi_at = i;
			if (!read_number(v, &i, 1000000, &hi, &big_hi))
				goto syntax;
			skip_space(v, &i);
		}
		if (lo >= CFG_MAX_CPUS || hi >= CFG_MAX_CPUS) {
			size_t at = lo >= CFG_MAX_CPUS ? lo_at : hi_at;
			size_t end = at;
			while (end < v.n && is_digit(v.p[end]))
				end++;
			return cfg_fail(ps->err, ps->line, "CPU %s is out of range (0-%u)",
				    cfg_excerpt(ex, (struct span){ v.p + at, end - at }, 20),
				    CFG_MAX_CPUS - 1);
		}
		if (hi < lo)
			return cfg_fail(ps->err, ps->line,
				    "cpus '%s': the range %u-%u runs backwards; write %u-%u",
				    cfg_excerpt(ex, v, EXCERPT_MAX), (unsigned)lo, (unsigned)hi,
				    (unsigned)hi, (unsigned)lo);
		for (uint64_t c = lo; c <= hi; c++)
			set |= 1ULL << c;
		if (i == v.n)
			break;
		if (v.p[i] != ',')
			goto syntax;
		i++;
	}

	/* A CPU runs one partition: the earlier partitions are complete by now. */
	for (unsigned k = 0; k + 1 < ps->out->nparts; k++) {
		const struct cfg_partition *o = &ps->out->part[k];
		uint64_t both = o->cpus & set;
		if (both)
			return cfg_fail(ps->err, ps->line,
				    "CPU %u is already given to partition '%s' (line %u); "
				    "each CPU runs one partition",
				    cfg_lowest_cpu(both), o->name, o->cpus_line);
	}
	ps->cur->cpus = set;
	ps->cur->cpus_line = ps->line;
	return 0;

syntax:
	return cfg_fail(ps->err, ps->line, "cpus '%s': expected CPU numbers such as 1, 1,2 or 2-3",
		    cfg_excerpt(ex, v, EXCERPT_MAX));
}

/* A size such as 64M or 1G (K, M, G or KiB, MiB, GiB; no unit: bytes) into *out: 0, -1
 * when it is not one, -2 when it is more than an x86-64 machine can address. */
static int read_size(struct span v, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 },       { "K", KIB }, { "KiB", KIB }, { "M", MIB },
		{ "MiB", MIB },  { "G", GIB }, { "GiB", GIB },
	};
	uint64_t num, mult = 0;
	size_t i = 0;
	int big;

	if (!read_number(v, &i, UINT64_MAX, &num, &big))
		return -1;
	skip_space(v, &i);
	struct span suffix = { v.p + i, v.n - i };
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (cfg_span_is(suffix, units[u].suffix))
			mult = units[u].mult;
	if (!mult)
		return -1;
	if (big || num > MEM_LIMIT / mult)
		return -2;
	*out = num * mult;
	return 0;
}

static int parse_memory(struct parser *ps, struct span v)
{
	char ex[EXCERPT_MAX + 4], sz[32];
	uint64_t num;
	int rc = read_size(v, &num);

	if (rc == -1)
		return cfg_fail(ps->err, ps->line, "memory '%s': expected a size such as 64M or 1G",
			    cfg_excerpt(ex, v, EXCERPT_MAX));
	if (rc)
		return cfg_fail(ps->err, ps->line,
			    "memory '%s' is more than an x86-64 machine can address",
			    cfg_excerpt(ex, v, EXCERPT_MAX));
	cfg_size_text(num, sz, sizeof(sz), 0);
	if (num < CFG_MEM_ALIGN)
		return cfg_fail(ps->err, ps->line,
			    "memory %s is too small: a partition needs at least 2 MiB", sz);
	if (num % CFG_MEM_ALIGN)
		return cfg_fail(ps->err, ps->line, "memory %s is not a multiple of 2 MiB", sz);
	ps->cur->memory = num;
	ps->cur->memory_line = ps->line;
	return 0;
}

/* log = SIZE | no: the ring that keeps the partition's console output (docs/config.md). */
static int parse_log(struct parser *ps, struct span v)
{
	char ex[EXCERPT_MAX + 4];
	uint64_t num = 0;

	ps->cur->log_line = ps->line;
	if (cfg_span_is(v, "no")) {
		ps->cur->log_size = 0;
		return 0;
	}
	if (read_size(v, &num) || (num && (num < CFG_LOG_MIN || num > CFG_LOG_MAX ||
					   num % CFG_LOG_MIN)))
		return cfg_fail(ps->err, ps->line, "log '%s': expected a size from 4K to 1M (a "
			    "multiple of 4K), or no", cfg_excerpt(ex, v, EXCERPT_MAX));
	ps->cur->log_size = num;
	return 0;
}

/* A name people give (a partition, a switch): 1..31 of [A-Za-z0-9_-]. */
static int check_name(struct parser *ps, const char *what, struct span name)
{
	char ex[EXCERPT_MAX + 4];

	if (name.n > MICA_NAME_MAX - 1)
		return cfg_fail(ps->err, ps->line,
			    "%s name '%s' is %u characters long; at most %u are allowed", what,
			    cfg_excerpt(ex, name, EXCERPT_MAX), (unsigned)name.n, MICA_NAME_MAX - 1);
	for (size_t i = 0; i < name.n; i++) {
		char c = name.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		      c == '_' || c == '-'))
			return cfg_fail(ps->err, ps->line,
				    "%s name '%s' may use only letters, digits, '_' and '-'", what,
				    cfg_excerpt(ex, name, EXCERPT_MAX));
	}
	return 0;
}

/* A port number, decimal or 0x-hex, 1 to 0xFFFF: 0, or -1. */
static int parse_port(struct span v, uint64_t *port)
{
	size_t i = 0;
	int hex = v.n > 2 && v.p[0] == '0' && (v.p[1] == 'x' || v.p[1] == 'X');

	*port = 0;
	for (i = hex ? 2 : 0; i < v.n; i++) {
		char c = v.p[i];
		unsigned d;
		if (is_digit(c))
			d = (unsigned)(c - '0');
		else if (hex && ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
			d = (unsigned)((c | 0x20) - 'a' + 10);
		else
			return -1;
		*port = *port * (hex ? 16 : 10) + d;
		if (*port > 0xFFFF)
			return -1;
	}
	return v.n && i == v.n && *port ? 0 : -1;
}

/* modules = PATH [PATH ...]: files for a Multiboot or PVH kernel, in order. */
static int parse_modules(struct parser *ps, struct span v)
{
	struct cfg_partition *cur = ps->cur;
	char ex[EXCERPT_MAX + 4];
	size_t i = 0;

	cur->modules_line = ps->line;
	for (;;) {
		skip_space(v, &i);
		if (i == v.n)
			break;
		size_t start = i;
		while (i < v.n && v.p[i] != ' ' && v.p[i] != '\t')
			i++;
		struct span m = { v.p + start, i - start };
		if (cur->nmodules == CFG_MODULES_MAX)
			return cfg_fail(ps->err, ps->line, "more than %u modules; at most %u are allowed",
				    CFG_MODULES_MAX, CFG_MODULES_MAX);
		if (m.n > BOOT_PATH_MAX - 1)
			return cfg_fail(ps->err, ps->line,
				    "module path '%s' is %u characters long; at most %u are allowed",
				    cfg_excerpt(ex, m, EXCERPT_MAX), (unsigned)m.n, BOOT_PATH_MAX - 1);
		cfg_span_copy(cur->modules[cur->nmodules++], m);
	}
	if (!cur->nmodules)
		return cfg_fail(ps->err, ps->line, "modules: expected one or more file paths");
	return 0;
}

static int parse_value(struct parser *ps, struct span key, struct span v)
{
	char ex[EXCERPT_MAX + 4];
	struct cfg_partition *cur = ps->cur;

	if (cfg_span_is(key, "cpus"))
		return parse_cpus(ps, v);
	if (cfg_span_is(key, "memory"))
		return parse_memory(ps, v);
	if (cfg_span_is(key, "image") || cfg_span_is(key, "initrd")) {
		int is_image = cfg_span_is(key, "image");
		if (v.n > BOOT_PATH_MAX - 1)
			return cfg_fail(ps->err, ps->line,
				    "%s path is %u characters long; at most %u are allowed",
				    is_image ? "image" : "initrd", (unsigned)v.n, BOOT_PATH_MAX - 1);
		if (is_image) {
			cfg_span_copy(cur->image, v);
			cur->image_line = ps->line;
		} else {
			cfg_span_copy(cur->initrd, v);
			cur->initrd_line = ps->line;
		}
		return 0;
	}
	if (cfg_span_is(key, "cmdline")) {
		if (v.n > CFG_CMDLINE_MAX - 1)
			return cfg_fail(ps->err, ps->line,
				    "cmdline is %u characters long; at most %u are allowed",
				    (unsigned)v.n, CFG_CMDLINE_MAX - 1);
		cfg_span_copy(cur->cmdline, v);
		cur->cmdline_line = ps->line;
		return 0;
	}
	if (cfg_span_is(key, "service")) {
		if (cfg_span_is(v, "yes"))
			cur->service = 1;
		else if (!cfg_span_is(v, "no"))
			return cfg_fail(ps->err, ps->line, "service '%s': expected yes or no",
				    cfg_excerpt(ex, v, EXCERPT_MAX));
		cur->service_line = ps->line;
		return 0;
	}
	if (cfg_span_is(key, "log"))
		return parse_log(ps, v);
	if (cfg_span_is(key, "start")) {
		if (cfg_span_is(v, "no"))
			cur->start_stopped = 1;
		else if (!cfg_span_is(v, "yes"))
			return cfg_fail(ps->err, ps->line, "start '%s': expected yes or no",
				    cfg_excerpt(ex, v, EXCERPT_MAX));
		cur->start_line = ps->line;
		return 0;
	}
	if (cfg_span_is(key, "console")) {
		if (cfg_span_is(v, "virtio"))
			cur->virtio_console = 1;
		else if (!cfg_span_is(v, "uart"))
			return cfg_fail(ps->err, ps->line, "console '%s': expected uart or virtio",
				    cfg_excerpt(ex, v, EXCERPT_MAX));
		cur->console_line = ps->line;
		return 0;
	}
	if (cfg_span_is(key, "disk")) {
		if (v.n >= 5 && !memcmp(v.p, "nvme:", 5))
			return cfg_parse_nvme_disk(ps, v);
		if (v.n > BOOT_PATH_MAX - 1)
			return cfg_fail(ps->err, ps->line,
				    "disk path is %u characters long; at most %u are allowed",
				    (unsigned)v.n, BOOT_PATH_MAX - 1);
		for (unsigned k = 0; k + 1 < ps->out->nparts; k++)
			if (cfg_span_is(v, ps->out->part[k].disk))
				return cfg_fail(ps->err, ps->line,
					    "disk '%s' already belongs to partition '%s' (line %u); "
					    "a disk belongs to one partition",
					    ps->out->part[k].disk, ps->out->part[k].name,
					    ps->out->part[k].disk_line);
		cfg_span_copy(cur->disk, v);
		cur->disk_line = ps->line;
		return 0;
	}
	if (cfg_span_is(key, "modules"))
		return parse_modules(ps, v);
	if (cfg_span_is(key, "pci"))
		return cfg_parse_pci(ps, v);
	if (cfg_span_is(key, "debug_exit")) {
		uint64_t port = 0;
		cur->debug_exit_line = ps->line;
		if (cfg_span_is(v, "no")) {
			cur->debug_exit = 0;
			return 0;
		}
		if (parse_port(v, &port))
			return cfg_fail(ps->err, ps->line,
				    "debug_exit '%s': expected a port number 1-0xffff (e.g. 0xf4) or no",
				    cfg_excerpt(ex, v, EXCERPT_MAX));
		cur->debug_exit = (uint16_t)port;
		return 0;
	}
	if (cfg_span_is(key, "net")) {
		int rc = check_name(ps, "switch", v);
		if (rc)
			return rc;
		cfg_span_copy(cur->net, v);
		cur->net_line = ps->line;
		return 0;
	}
	/* on_crash */
	if (cfg_span_is(v, "stop"))
		cur->on_crash = CFG_CRASH_STOP;
	else if (cfg_span_is(v, "restart"))
		cur->on_crash = CFG_CRASH_RESTART;
	else
		return cfg_fail(ps->err, ps->line, "on_crash '%s': expected stop or restart",
			    cfg_excerpt(ex, v, EXCERPT_MAX));
	ps->on_crash_line = ps->line;
	return 0;
}

static int key_line(const struct parser *ps, struct span key)
{
	if (cfg_span_is(key, "cpus"))
		return (int)ps->cur->cpus_line;
	if (cfg_span_is(key, "memory"))
		return (int)ps->cur->memory_line;
	if (cfg_span_is(key, "image"))
		return (int)ps->cur->image_line;
	if (cfg_span_is(key, "initrd"))
		return (int)ps->cur->initrd_line;
	if (cfg_span_is(key, "cmdline"))
		return (int)ps->cur->cmdline_line;
	if (cfg_span_is(key, "on_crash"))
		return (int)ps->on_crash_line;
	if (cfg_span_is(key, "service"))
		return (int)ps->cur->service_line;
	if (cfg_span_is(key, "console"))
		return (int)ps->cur->console_line;
	if (cfg_span_is(key, "start"))
		return (int)ps->cur->start_line;
	if (cfg_span_is(key, "log"))
		return (int)ps->cur->log_line;
	if (cfg_span_is(key, "disk"))
		return (int)ps->cur->disk_line;
	if (cfg_span_is(key, "net"))
		return (int)ps->cur->net_line;
	if (cfg_span_is(key, "modules"))
		return (int)ps->cur->modules_line;
	if (cfg_span_is(key, "debug_exit"))
		return (int)ps->cur->debug_exit_line;
	if (cfg_span_is(key, "pci"))
		return (int)ps->cur->pci_line;
	return -1; /* not a key */
}

/* COM1-COM4 by name, or an I/O port: the 16550's eight registers must fit below 0x10000. */
static int parse_serial(struct parser *ps, struct span v)
{
	static const struct { const char *name; uint16_t port; } com[] = {
		{ "com1", 0x3f8 }, { "com2", 0x2f8 }, { "com3", 0x3e8 }, { "com4", 0x2e8 },
	};
	struct cfg_host *h = &ps->out->host;
	char ex[EXCERPT_MAX + 4];
	uint64_t port = 0;

	h->serial_given = 1;
	if (cfg_span_is(v, "none")) {
		h->serial_port = 0;
		return 0;
	}
	for (unsigned i = 0; i < sizeof(com) / sizeof(com[0]); i++)
		if (cfg_span_is(v, com[i].name))
			port = com[i].port;
	if (!port && (parse_port(v, &port) || port > 0xfff8))
		return cfg_fail(ps->err, ps->line,
			    "serial '%s': expected com1, com2, com3, com4, an I/O port such as "
			    "0x2f8, or none", cfg_excerpt(ex, v, EXCERPT_MAX));
	h->serial_port = (uint16_t)port;
	h->serial_irq = (port == 0x2f8 || port == 0x2e8) ? 3 : 4;
	return 0;
}

/* A key of the [mica] section. */
static int parse_host(struct parser *ps, struct span key, struct span v)
{
	struct cfg_host *h = &ps->out->host;
	char ex[EXCERPT_MAX + 4];
	unsigned *line;

	if (cfg_span_is(key, "serial"))
		line = &h->serial_line;
	else if (cfg_span_is(key, "screen"))
		line = &h->screen_line;
	else
		return cfg_fail(ps->err, ps->line, "unknown key '%s' in [mica] (expected serial or "
			    "screen)", cfg_excerpt(ex, key, EXCERPT_MAX));
	if (*line)
		return cfg_fail(ps->err, ps->line, "key '%s' given twice in [mica] (first on line %u)",
			    cfg_excerpt(ex, key, EXCERPT_MAX), *line);
	*line = ps->line;
	if (v.n == 0)
		return cfg_fail(ps->err, ps->line, "key '%s' has an empty value",
			    cfg_excerpt(ex, key, EXCERPT_MAX));
	if (line == &h->serial_line)
		return parse_serial(ps, v);
	if (cfg_span_is(v, "on") || cfg_span_is(v, "yes"))
		h->screen = CFG_SCREEN_ON;
	else if (cfg_span_is(v, "off") || cfg_span_is(v, "no"))
		h->screen = CFG_SCREEN_OFF;
	else
		return cfg_fail(ps->err, ps->line, "screen '%s': expected on or off",
			    cfg_excerpt(ex, v, EXCERPT_MAX));
	return 0;
}

static int parse_assignment(struct parser *ps, struct span l)
{
	char ex[EXCERPT_MAX + 4], ex2[64];
	size_t eq = 0;

	while (eq < l.n && l.p[eq] != '=')
		eq++;
	struct span key = trim(l.p, l.p + eq);
	if (eq == l.n || key.n == 0)
		return cfg_fail(ps->err, ps->line, "expected 'key = value', found '%s'",
			    cfg_excerpt(ex2, l, 60));
	if (!ps->cur && !ps->in_host)
		return cfg_fail(ps->err, ps->line, "'%s' is outside a [partition NAME] section",
			    cfg_excerpt(ex, key, EXCERPT_MAX));
	if (ps->in_host)
		return parse_host(ps, key, trim(l.p + eq + 1, l.p + l.n));
	int first = key_line(ps, key);
	if (first < 0)
		return cfg_fail(ps->err, ps->line,
			    "unknown key '%s' (expected cpus, memory, image, initrd, "
			    "cmdline, modules, on_crash, service, start, log, console, disk, net, "
			    "pci or debug_exit)",
			    cfg_excerpt(ex, key, EXCERPT_MAX));
	if (first > 0)
		return cfg_fail(ps->err, ps->line,
			    "key '%s' given twice in partition '%s' (first on line %u)",
			    cfg_excerpt(ex, key, EXCERPT_MAX), ps->cur->name, (unsigned)first);

	struct span v = trim(l.p + eq + 1, l.p + l.n);
	if (v.n && v.p[0] == '"') {
		if (v.n < 2 || v.p[v.n - 1] != '"')
			return cfg_fail(ps->err, ps->line,
				    "value of '%s' opens a '\"' quote but does not end with one",
				    cfg_excerpt(ex, key, EXCERPT_MAX));
		v.p++;
		v.n -= 2;
		for (size_t i = 0; i < v.n; i++)
			if (v.p[i] == '"')
				return cfg_fail(ps->err, ps->line,
					    "value of '%s' has a '\"' inside its quotes",
					    cfg_excerpt(ex, key, EXCERPT_MAX));
	}
	if (v.n == 0)
		return cfg_fail(ps->err, ps->line, "key '%s' has an empty value",
			    cfg_excerpt(ex, key, EXCERPT_MAX));
	return parse_value(ps, key, v);
}

/* Called when a section ends (next header or end of text): required keys present? */
static int close_section(struct parser *ps)
{
	const struct cfg_partition *c = ps->cur;
	const char *missing = NULL;

	if (!c)
		return 0;
	if (!c->cpus_line)
		missing = "cpus";
	else if (!c->memory_line)
		missing = "memory";
	else if (!c->image_line)
		missing = "image";
	if (missing)
		return cfg_fail(ps->err, c->line, "partition '%s' has no '%s' key", c->name, missing);
	return 0;
}

static int parse_section(struct parser *ps, struct span l)
{
	char ex2[64];
	struct cfg *out = ps->out;

	/* The section before this one ends here; its errors come first (earlier lines). */
	int rc = close_section(ps);
	if (rc)
		return rc;
	ps->cur = NULL;
	ps->in_host = 0;
	if (l.p[l.n - 1] != ']' || l.n < 2)
		return cfg_fail(ps->err, ps->line, "expected '[partition NAME]', found '%s'",
			    cfg_excerpt(ex2, l, 60));
	struct span in = trim(l.p + 1, l.p + l.n - 1);
	if (cfg_span_is(in, "mica")) {
		if (out->host.line)
			return cfg_fail(ps->err, ps->line, "section [mica] given twice (first on "
				    "line %u)", out->host.line);
		out->host.line = ps->line;
		ps->in_host = 1;
		return 0;
	}
	size_t w = 0;
	while (w < in.n && !is_space(in.p[w]))
		w++;
	if (!cfg_span_is((struct span){ in.p, w }, "partition"))
		return cfg_fail(ps->err, ps->line, "unknown section '%s' (expected [partition NAME] or [mica])",
			    cfg_excerpt(ex2, l, 60));
	struct span name = trim(in.p + w, in.p + in.n);
	if (name.n == 0)
		return cfg_fail(ps->err, ps->line,
			    "section '%s' has no name (expected [partition NAME])",
			    cfg_excerpt(ex2, l, 60));
	rc = check_name(ps, "partition", name);
	if (rc)
		return rc;

	for (unsigned k = 0; k < out->nparts; k++)
		if (cfg_span_is(name, out->part[k].name))
			return cfg_fail(ps->err, ps->line,
				    "partition name '%s' is used twice (first on line %u)",
				    out->part[k].name, out->part[k].line);
	if (out->nparts == CFG_MAX_PARTS)
		return cfg_fail(ps->err, ps->line, "too many partitions: at most %u are supported",
			    CFG_MAX_PARTS);

	struct cfg_partition *c = &out->part[out->nparts++];
	memset(c, 0, sizeof(*c));
	cfg_span_copy(c->name, name);
	c->on_crash = CFG_CRASH_STOP;
	c->debug_exit = CFG_DEBUG_EXIT_DEFAULT;
	c->log_size = CFG_LOG_DEFAULT;
	c->line = ps->line;
	ps->cur = c;
	ps->on_crash_line = 0;
	return 0;
}

/* The longest a line may be: a 'cmdline = ...' line has room for a full command line. */
static size_t line_limit(const char *p, const char *e)
{
	static const char key[] = "cmdline";
	size_t n = sizeof(key) - 1;

	while (p < e && is_space(*p))
		p++;
	if ((size_t)(e - p) > n && memcmp(p, key, n) == 0 && (is_space(p[n]) || p[n] == '='))
		return CMDLINE_LINE_MAX_CHARS;
	return LINE_MAX_CHARS;
}

static int parse_line(struct parser *ps, const char *p, const char *e)
{
	int quoted = 0;

	/* '#' starts a comment anywhere, except inside a "quoted value". */
	for (const char *q = p; q < e; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == '#' && !quoted) {
			e = q;
			break;
		}
	}
	struct span l = trim(p, e);
	if (l.n == 0)
		return 0;
	if (l.p[0] == '[')
		return parse_section(ps, l);
	return parse_assignment(ps, l);
}

int cfg_parse(const char *text, uint64_t len, struct cfg *out, struct cfg_error *err)
{
	struct parser ps = { .out = out, .err = err };
	const char *p, *end;

	if (err) {
		err->line = 0;
		err->msg[0] = '\0';
	}
	if (!out)
		return cfg_fail(err, 0, "internal error: no place for the parsed config");
	memset(out, 0, sizeof(*out));
	if (!text) {
		text = "";
		len = 0;
	}
	p = text;
	end = text + len;

	while (p < end) {
		const char *q = p;
		ps.line++;
		while (q < end && *q != '\n') {
			if (*q == '\0')
				return cfg_fail(err, ps.line,
					    "NUL byte in the text (is this really a text file?)");
			q++;
		}
		const char *e = q;
		if (e > p && e[-1] == '\r')
			e--;
		size_t limit = line_limit(p, e);
		if ((size_t)(e - p) > limit)
			return cfg_fail(err, ps.line,
				    "line is %u characters long; at most %u are allowed%s",
				    (unsigned)(e - p), (unsigned)limit,
				    limit == LINE_MAX_CHARS ? "" : " for a cmdline line");
		int rc = parse_line(&ps, p, e);
		if (rc)
			return rc;
		p = q < end ? q + 1 : q;
	}

	int rc = close_section(&ps);
	if (rc)
		return rc;
	if (out->nparts == 0)
		return cfg_fail(err, 0, "no [partition NAME] section: nothing to run");
	return cfg_check_devices(out, err);
}
