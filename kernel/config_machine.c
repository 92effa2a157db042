/* The config against the machine (CPUs present, memory free) and the files it names:
 * the parts of kernel/config.h that come after parsing. Pure logic. */
#include <stdio.h>
#include <string.h>

#include "kernel/config.h"

/* Writes a CPU set as people write it: "0-3", "0,2-3", "5". */
static void format_cpus(uint64_t set, char *buf, size_t len)
{
	size_t at = 0;
	unsigned i = 0;

	buf[0] = '\0';
	while (i < CFG_MAX_CPUS) {
		if (!(set >> i & 1)) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j + 1 < CFG_MAX_CPUS && (set >> (j + 1) & 1))
			j++;
		int w;
		if (j == i)
			w = snprintf(buf + at, len - at, "%s%u", at ? "," : "", i);
		else
			w = snprintf(buf + at, len - at, "%s%u-%u", at ? "," : "", i, j);
		if (w < 0 || (size_t)w >= len - at)
			return; /* truncated, still NUL-terminated */
		at += (size_t)w;
		i = j + 1;
	}
}

static unsigned popcount64(uint64_t v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

int cfg_check_machine(const struct cfg *c, uint64_t cpu_present, unsigned ncpus,
		      uint64_t mem_free, struct cfg_error *err)
{
	uint64_t total = 0;

	if (err) {
		err->line = 0;
		err->msg[0] = '\0';
	}
	if (!c)
		return cfg_fail(err, 0, "internal error: no config to check");
	/* A caller that only knows a count has CPUs 0..ncpus-1. */
	if (!cpu_present && ncpus)
		cpu_present = ncpus >= CFG_MAX_CPUS ? ~0ULL : (1ULL << ncpus) - 1;

	for (unsigned i = 0; i < c->nparts && i < CFG_MAX_PARTS; i++) {
		const struct cfg_partition *p = &c->part[i];
		uint64_t missing = p->cpus & ~cpu_present;

		if (missing) {
			char have[200];
			unsigned n = popcount64(cpu_present);
			format_cpus(cpu_present, have, sizeof(have));
			if (n == 0)
				return cfg_fail(err, p->cpus_line,
					    "partition '%s' wants CPU %u, but this machine reports no CPUs",
					    p->name, cfg_lowest_cpu(missing));
			return cfg_fail(err, p->cpus_line,
				    "partition '%s' wants CPU %u, but this machine has %s %s",
				    p->name, cfg_lowest_cpu(missing), n == 1 ? "CPU" : "CPUs", have);
		}

		total = total + p->memory < total ? UINT64_MAX : total + p->memory;
		if (total > mem_free) {
			char need[32], sum[32], have[32];
			cfg_size_text(p->memory, need, sizeof(need), 0);
			cfg_size_text(total, sum, sizeof(sum), 1);
			cfg_size_text(mem_free, have, sizeof(have), 1);
			if (i == 0)
				return cfg_fail(err, p->memory_line,
					    "partition '%s' needs %s of RAM, but the machine has %s free",
					    p->name, need, have);
			return cfg_fail(err, p->memory_line,
				    "partition '%s' needs %s of RAM; with the partitions before it "
				    "that makes %s, but the machine has %s free",
				    p->name, need, sum, have);
		}
	}
	return 0;
}

const char *cfg_file(const struct cfg_partition *p, int kind)
{
	if (kind == CFG_FILE_MODULE)
		return p->nmodules ? p->modules[0] : "";
	return kind == CFG_FILE_DISK ? p->disk : kind == CFG_FILE_INITRD ? p->initrd : p->image;
}

/* The n-th file of that kind of partition p, or NULL past the last. */
static const char *nth_file(const struct cfg_partition *p, int kind, unsigned n)
{
	if (kind == CFG_FILE_MODULE)
		return n < p->nmodules ? p->modules[n] : NULL;
	return n == 0 && cfg_file(p, kind)[0] ? cfg_file(p, kind) : NULL;
}

/* Is path named as a file of that kind before partition i's file number j? */
static int named_before(const struct cfg *c, int kind, const char *path, unsigned i, unsigned j)
{
	for (unsigned k = 0; k <= i; k++) {
		const char *q;
		for (unsigned m = 0; (q = nth_file(&c->part[k], kind, m)) && (k < i || m < j); m++)
			if (!strcmp(path, q))
				return 1;
	}
	return 0;
}

unsigned cfg_count_files(const struct cfg *c, int kind)
{
	unsigned n = 0;
	const char *path;

	for (unsigned i = 0; i < c->nparts; i++)
		for (unsigned j = 0; (path = nth_file(&c->part[i], kind, j)); j++)
			n += !named_before(c, kind, path, i, j);
	return n;
}
