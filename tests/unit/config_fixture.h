/* What the config parser's unit tests share: one parse at a time into a static struct cfg,
 * and its expectations (tests/unit/test_config.c, test_config_devices.c). */
#ifndef MICA_TEST_CONFIG_FIXTURE_H
#define MICA_TEST_CONFIG_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include "kernel/config.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct cfg cfg;
static struct cfg_error err;

static int parse(const char *text)
{
	memset(&err, 0x55, sizeof(err)); /* the parser must fill every field it reports */
	return cfg_parse(text, strlen(text), &cfg, &err);
}

/* Parses text, expects failure on `line` with exactly `msg`. */
static void expect_error(const char *text, unsigned line, const char *msg)
{
	int rc = parse(text);
	cr_assert_eq(rc, MICA_EINVAL, "accepted:\n%s", text);
	cr_expect_str_eq(err.msg, msg, "got: %s\nfor:\n%s", err.msg, text);
	cr_expect_eq(err.line, line, "line %u, expected %u for:\n%s (msg: %s)", err.line, line,
		     text, err.msg);
}

static void expect_ok(const char *text)
{
	int rc = parse(text);
	cr_assert_eq(rc, 0, "rejected (line %u: %s):\n%s", err.line, err.msg, text);
}

#define PART(name, cpus) "[partition " name "]\ncpus = " cpus "\nmemory = 16M\nimage = x.elf\n"

/* A service partition on CPU 0. */
#define SVC "[partition svc]\ncpus = 0\nmemory = 16M\nimage = vmm.elf\nservice = yes\n"

#endif
