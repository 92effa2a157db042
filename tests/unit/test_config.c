/* kernel/config.c: the config parser, its messages (e2e tests grep for them), and the
 * machine check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/config.h"
#include "tests/unit/config_fixture.h"

Test(config, minimal)
{
	expect_ok("[partition hello]\ncpus = 1\nmemory = 16M\nimage = hello.elf\n");
	cr_assert_eq(cfg.nparts, 1);
	const struct cfg_partition *p = &cfg.part[0];
	cr_expect_str_eq(p->name, "hello");
	cr_expect_eq(p->cpus, 1ULL << 1);
	cr_expect_eq(p->memory, 16 * MIB);
	cr_expect_str_eq(p->image, "hello.elf");
	cr_expect_eq(p->on_crash, CFG_CRASH_STOP);
	cr_expect_eq(p->line, 1);
	cr_expect_eq(p->cpus_line, 2);
	cr_expect_eq(p->memory_line, 3);
	cr_expect_eq(p->image_line, 4);
}

Test(config, documented_example)
{
	expect_ok("# Comments start with '#', anywhere on a line. Blank lines are fine.\n"
		  "\n"
		  "[partition hello]        # a section per partition\n"
		  "cpus     = 1             # physical CPUs\n"
		  "memory   = 16M           # RAM size\n"
		  "image    = hello.elf     # file on the ESP\n"
		  "on_crash = stop          # or restart\n"
		  "\n"
		  "[partition linux-2_b]\n"
		  "cpus = 0,2-3\n"
		  "memory = 1G\n"
		  "image = \"guests/bzImage\"\n"
		  "initrd   = guests/initrd.img              # optional: its initial RAM disk\n"
		  "cmdline  = console=ttyS0 root=/dev/ram0   # optional: its command line\n"
		  "on_crash = restart\n");
	cr_assert_eq(cfg.nparts, 2);
	cr_expect_eq(cfg.part[0].line, 3);
	cr_expect_str_eq(cfg.part[1].name, "linux-2_b");
	cr_expect_eq(cfg.part[1].cpus, 0xdULL);
	cr_expect_eq(cfg.part[1].memory, GIB);
	cr_expect_str_eq(cfg.part[1].image, "guests/bzImage");
	cr_expect_str_eq(cfg.part[1].initrd, "guests/initrd.img");
	cr_expect_str_eq(cfg.part[1].cmdline, "console=ttyS0 root=/dev/ram0");
	cr_expect_eq(cfg.part[1].cmdline_line, 14);
	cr_expect_eq(cfg.part[1].on_crash, CFG_CRASH_RESTART);
}

Test(config, crlf_whitespace_no_final_newline)
{
	expect_ok("\t[ partition  a ]  \r\n  cpus=0\r\nmemory\t=\t2M\r\n\r\nimage = a b.elf\t\r\n"
		  "on_crash=stop");
	cr_expect_str_eq(cfg.part[0].name, "a");
	cr_expect_eq(cfg.part[0].cpus, 1);
	cr_expect_eq(cfg.part[0].memory, 2 * MIB);
	cr_expect_str_eq(cfg.part[0].image, "a b.elf");
	cr_expect_eq(cfg.part[0].image_line, 5);
}

Test(config, hash_inside_quotes_is_not_a_comment)
{
	expect_ok("[partition a]\ncpus=0\nmemory=2M\nimage = \"dir#1/a.elf\" # comment\n");
	cr_expect_str_eq(cfg.part[0].image, "dir#1/a.elf");
}

Test(config, sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "2M", 2 * MIB },	    { "2MiB", 2 * MIB },	 { "2 MiB", 2 * MIB },
		{ "2048K", 2 * MIB },	    { "2048KiB", 2 * MIB },	 { "1G", GIB },
		{ "3GiB", 3 * GIB },	    { "2097152", 2 * MIB },	 { "0064M", 64 * MIB },
		{ "1024G", 1024 * GIB },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "[partition a]\ncpus=0\nimage=a\nmemory = %s\n",
			 ok[i].text);
		expect_ok(text);
		cr_expect_eq(cfg.part[0].memory, ok[i].bytes, "%s", ok[i].text);
	}
}

Test(config, size_errors)
{
	static const struct {
		const char *value, *msg;
	} bad[] = {
		{ "12Q", "memory '12Q': expected a size such as 64M or 1G" },
		{ "M", "memory 'M': expected a size such as 64M or 1G" },
		{ "1.5G", "memory '1.5G': expected a size such as 64M or 1G" },
		{ "16m", "memory '16m': expected a size such as 64M or 1G" },
		{ "-2M", "memory '-2M': expected a size such as 64M or 1G" },
		{ "3M", "memory 3 MiB is not a multiple of 2 MiB" },
		{ "3076K", "memory 3076 KiB is not a multiple of 2 MiB" },
		{ "2097153", "memory 2097153 bytes is not a multiple of 2 MiB" },
		{ "0", "memory 0 bytes is too small: a partition needs at least 2 MiB" },
		{ "0G", "memory 0 bytes is too small: a partition needs at least 2 MiB" },
		{ "1M", "memory 1 MiB is too small: a partition needs at least 2 MiB" },
		{ "4K", "memory 4 KiB is too small: a partition needs at least 2 MiB" },
		{ "99999999999999999999999", "memory '99999999999999999999999' is more than an "
					     "x86-64 machine can address" },
		{ "18446744073709551615G", "memory '18446744073709551615G' is more than an x86-64 "
					   "machine can address" },
		{ "8388608G", "memory '8388608G' is more than an x86-64 machine can address" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "[partition a]\ncpus=0\nimage=a\nmemory = %s\n",
			 bad[i].value);
		expect_error(text, 4, bad[i].msg);
	}
}

Test(config, cpus)
{
	static const struct {
		const char *text;
		uint64_t set;
	} ok[] = {
		{ "0", 1 },	      { "1,2", 6 },	     { "2-3", 0xc },	   { "0,2-3", 0xd },
		{ "63", 1ULL << 63 }, { "0-63", ~0ULL },     { " 1 , 2 - 3 ", 0xe }, { "5-5", 0x20 },
		{ "1,1", 2 },	      { "007", 0x80 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "[partition a]\nmemory=2M\nimage=a\ncpus = %s\n",
			 ok[i].text);
		expect_ok(text);
		cr_expect_eq(cfg.part[0].cpus, ok[i].set, "%s", ok[i].text);
	}
}

Test(config, cpus_errors)
{
	static const struct {
		const char *value, *msg;
	} bad[] = {
		{ "1-x", "cpus '1-x': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "1,", "cpus '1,': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ ",1", "cpus ',1': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "1 2", "cpus '1 2': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "all", "cpus 'all': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "-1", "cpus '-1': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "1--2", "cpus '1--2': expected CPU numbers such as 1, 1,2 or 2-3" },
		{ "64", "CPU 64 is out of range (0-63)" },
		{ "1,2-64", "CPU 64 is out of range (0-63)" },
		{ "99999999999999999999", "CPU 99999999999999999999 is out of range (0-63)" },
		{ "3-2", "cpus '3-2': the range 3-2 runs backwards; write 2-3" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "[partition a]\nmemory=2M\nimage=a\ncpus = %s\n",
			 bad[i].value);
		expect_error(text, 4, bad[i].msg);
	}
}

Test(config, cpu_shared)
{
	expect_error("[partition hello]\n"
		     "memory = 2M\n"
		     "cpus = 1-2\n"
		     "image = a\n"
		     "[partition other]\n"
		     "cpus = 0,2\n"
		     "memory = 2M\n"
		     "image = b\n",
		     6, "CPU 2 is already given to partition 'hello' (line 3); "
			"each CPU runs one partition");
}

Test(config, on_crash)
{
	expect_ok(PART("a", "0") "on_crash = restart\n");
	cr_expect_eq(cfg.part[0].on_crash, CFG_CRASH_RESTART);
	expect_ok(PART("a", "0") "on_crash = \"stop\"\n");
	cr_expect_eq(cfg.part[0].on_crash, CFG_CRASH_STOP);
	expect_error(PART("a", "0") "on_crash = explode\n", 5,
		     "on_crash 'explode': expected stop or restart");
	expect_error(PART("a", "0") "on_crash = Stop\n", 5,
		     "on_crash 'Stop': expected stop or restart");
}

Test(config, unknown_key_and_section)
{
	expect_error("[partition a]\nmemroy = 16M\n", 2,
		     "unknown key 'memroy' (expected cpus, memory, image, initrd, "
		     "cmdline, modules, on_crash, service, start, log, console, disk, net, pci or debug_exit)");
	expect_error("[partition a]\nCPUS = 1\n", 2,
		     "unknown key 'CPUS' (expected cpus, memory, image, initrd, "
		     "cmdline, modules, on_crash, service, start, log, console, disk, net, pci or debug_exit)");
	expect_error("[partition a]\ninitramfs = x\n", 2,
		     "unknown key 'initramfs' (expected cpus, memory, image, initrd, "
		     "cmdline, modules, on_crash, service, start, log, console, disk, net, pci or debug_exit)");
	expect_error("[partition a]\nCmdline = x\n", 2,
		     "unknown key 'Cmdline' (expected cpus, memory, image, initrd, "
		     "cmdline, modules, on_crash, service, start, log, console, disk, net, pci or debug_exit)");
	expect_error("# hi\n[foo]\n", 2, "unknown section '[foo]' (expected [partition NAME] or [mica])");
	expect_error("[]\n", 1, "unknown section '[]' (expected [partition NAME] or [mica])");
	expect_error("[partitions a]\n", 1,
		     "unknown section '[partitions a]' (expected [partition NAME] or [mica])");
	expect_error("[partition]\n", 1,
		     "section '[partition]' has no name (expected [partition NAME])");
	expect_error("[partition a\n", 1, "expected '[partition NAME]', found '[partition a'");
	expect_error("[partition a] x\n", 1,
		     "expected '[partition NAME]', found '[partition a] x'");
}

Test(config, outside_section_and_syntax)
{
	expect_error("\ncpus = 1\n[partition a]\n", 2,
		     "'cpus' is outside a [partition NAME] section");
	expect_error("[partition a]\nblah\n", 2, "expected 'key = value', found 'blah'");
	expect_error("[partition a]\n = 3\n", 2, "expected 'key = value', found '= 3'");
	expect_error("[partition a]\ncpus =\n", 2, "key 'cpus' has an empty value");
	expect_error("[partition a]\nimage = \"\"\n", 2, "key 'image' has an empty value");
	expect_error("[partition a]\nimage = \"a.elf\n", 2,
		     "value of 'image' opens a '\"' quote but does not end with one");
	expect_error("[partition a]\nimage = \"\n", 2,
		     "value of 'image' opens a '\"' quote but does not end with one");
	expect_error("[partition a]\nimage = \"a\"b\"\n", 2,
		     "value of 'image' has a '\"' inside its quotes");
}

Test(config, missing_keys)
{
	expect_error("[partition x]\ncpus=0\nmemory=2M\n", 1, "partition 'x' has no 'image' key");
	expect_error("[partition x]\nimage=a\nmemory=2M\n[partition y]\n", 1,
		     "partition 'x' has no 'cpus' key");
	expect_error(PART("a", "0") "\n[partition x]\ncpus=1\nimage=a\n", 6,
		     "partition 'x' has no 'memory' key");
	/* The earlier section's error wins over a bad header after it. */
	expect_error("[partition x]\ncpus=0\n[bad]\n", 1, "partition 'x' has no 'memory' key");
}

Test(config, duplicates)
{
	expect_error("[partition x]\ncpus=0\nimage=a\nmemory=2M\nmemory = 4M\n", 5,
		     "key 'memory' given twice in partition 'x' (first on line 4)");
	expect_error(PART("a", "0") "on_crash=stop\non_crash=stop\n", 6,
		     "key 'on_crash' given twice in partition 'a' (first on line 5)");
	expect_error("\n" PART("x", "0") PART("x", "1"), 6,
		     "partition name 'x' is used twice (first on line 2)");
	/* A key set in one partition may be set again in the next. */
	expect_ok(PART("a", "0") "on_crash=stop\n" PART("b", "1") "on_crash=stop\n");
}

Test(config, names)
{
	expect_ok(PART("Az09_-", "0"));
	expect_ok(PART("abcdefghijklmnopqrstuvwxyz01234", "0")); /* 31 */
	expect_error(PART("abcdefghijklmnopqrstuvwxyz012345", "0"), 1,
		     "partition name 'abcdefghijklmnopqrstuvwxyz012345' is 32 characters long; "
		     "at most 31 are allowed");
	expect_error(PART("a b", "0"), 1,
		     "partition name 'a b' may use only letters, digits, '_' and '-'");
	expect_error(PART("a.b", "0"), 1,
		     "partition name 'a.b' may use only letters, digits, '_' and '-'");
	expect_error(PART("\"a\"", "0"), 1,
		     "partition name '\"a\"' may use only letters, digits, '_' and '-'");
}

Test(config, nothing_to_run)
{
	expect_error("", 0, "no [partition NAME] section: nothing to run");
	expect_error("# only a comment\n\n   \n", 0, "no [partition NAME] section: nothing to run");
	cr_expect_eq(cfg_parse(NULL, 0, &cfg, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "no [partition NAME] section: nothing to run");
}

Test(config, limits)
{
	char text[8192];
	size_t at = 0;

	for (int i = 0; i < CFG_MAX_PARTS; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at,
				       "[partition p%d]\ncpus=%d\nmemory=2M\nimage=p.elf\n", i, i);
	expect_ok(text);
	cr_expect_eq(cfg.nparts, CFG_MAX_PARTS);
	snprintf(text + at, sizeof(text) - at, "[partition p16]\ncpus=16\nmemory=2M\nimage=p\n");
	expect_error(text, 65, "too many partitions: at most 16 are supported");

	/* Lines: 255 characters are fine, 256 are not (CR LF not counted). */
	char line[300];
	memset(line, ' ', sizeof(line));
	memcpy(line, "# ", 2);
	line[255] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "%s\r\n", line);
	expect_ok(text);
	line[255] = ' ';
	line[256] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "%s\n", line);
	expect_error(text, 5, "line is 256 characters long; at most 255 are allowed");

	/* Image paths: 127 characters are fine, 128 are not. */
	char path[200];
	memset(path, 'p', sizeof(path));
	path[127] = '\0';
	snprintf(text, sizeof(text), "[partition a]\ncpus=0\nmemory=2M\nimage=%s\n", path);
	expect_ok(text);
	cr_expect_eq(strlen(cfg.part[0].image), 127);
	path[127] = 'p';
	path[128] = '\0';
	snprintf(text, sizeof(text), "[partition a]\ncpus=0\nmemory=2M\nimage=\"%s\"\n", path);
	expect_error(text, 4, "image path is 128 characters long; at most 127 are allowed");
}

/* initrd and cmdline: optional, each at most once, recorded with their lines. */
Test(config, initrd_and_cmdline)
{
	expect_ok(PART("a", "0"));
	cr_expect_str_eq(cfg.part[0].initrd, "");
	cr_expect_str_eq(cfg.part[0].cmdline, "");
	cr_expect_eq(cfg.part[0].initrd_line, 0);
	cr_expect_eq(cfg.part[0].cmdline_line, 0);

	expect_ok("[partition linux]\n"
		  "cpus = 1\n"
		  "memory = 256M\n"
		  "image = bzImage\n"
		  "initrd = initrd.img\n"
		  "cmdline = console=ttyS0 earlyprintk=serial  quiet   \n"
		  "[partition b]\n"
		  "cpus = 2\n"
		  "memory = 2M\n"
		  "image = b.elf\n");
	const struct cfg_partition *p = &cfg.part[0];
	cr_expect_str_eq(p->image, "bzImage");
	cr_expect_str_eq(p->initrd, "initrd.img");
	cr_expect_eq(p->initrd_line, 5);
	cr_expect_str_eq(p->cmdline, "console=ttyS0 earlyprintk=serial  quiet");
	cr_expect_eq(p->cmdline_line, 6);
	/* ... and only for the partition that has them. */
	cr_expect_str_eq(cfg.part[1].initrd, "");
	cr_expect_str_eq(cfg.part[1].cmdline, "");
	cr_expect_eq(cfg.part[1].initrd_line, 0);
	cr_expect_eq(cfg.part[1].cmdline_line, 0);

	/* Any order; an ELF image may have them too (the ELF protocol ignores them). */
	expect_ok("[partition a]\ncmdline=x\ninitrd = \"dir/my initrd.gz\"\ncpus=0\nmemory=2M\n"
		  "image=a.elf\n");
	cr_expect_str_eq(cfg.part[0].cmdline, "x");
	cr_expect_eq(cfg.part[0].cmdline_line, 2);
	cr_expect_str_eq(cfg.part[0].initrd, "dir/my initrd.gz");
	cr_expect_eq(cfg.part[0].initrd_line, 3);
}

Test(config, cmdline_quotes_and_comments)
{
	/* Unquoted: '#' starts a comment, surrounding space is trimmed. */
	expect_ok(PART("a", "0") "cmdline =\t root=/dev/vda  ro # the rest is a comment\n");
	cr_expect_str_eq(cfg.part[0].cmdline, "root=/dev/vda  ro");
	/* Quoted: the quotes go, '#' and inner spaces stay. */
	expect_ok(PART("a", "0") "cmdline = \" console=ttyS0 #not a comment \"  # comment\r\n");
	cr_expect_str_eq(cfg.part[0].cmdline, " console=ttyS0 #not a comment ");
	/* Quotes inside an unquoted value are kept; a '#' between them is not a comment. */
	expect_ok(PART("a", "0") "cmdline = init=/bin/sh dyndbg=\"file a.c #x\" quiet\n");
	cr_expect_str_eq(cfg.part[0].cmdline, "init=/bin/sh dyndbg=\"file a.c #x\" quiet");
	/* '=' in the value is fine: only the first one separates the key. */
	expect_ok(PART("a", "0") "cmdline=a=b=c\n");
	cr_expect_str_eq(cfg.part[0].cmdline, "a=b=c");

	expect_error(PART("a", "0") "cmdline =   # nothing\n", 5, "key 'cmdline' has an empty value");
	expect_error(PART("a", "0") "cmdline = \"\"\n", 5, "key 'cmdline' has an empty value");
	expect_error(PART("a", "0") "cmdline = \"quiet\n", 5,
		     "value of 'cmdline' opens a '\"' quote but does not end with one");
	expect_error(PART("a", "0") "cmdline = \"a=\"b\" c\"\n", 5,
		     "value of 'cmdline' has a '\"' inside its quotes");
	expect_error(PART("a", "0") "initrd =\n", 5, "key 'initrd' has an empty value");
}

Test(config, initrd_and_cmdline_duplicates)
{
	expect_error(PART("a", "0") "initrd = i1\ncmdline = x\ninitrd = i2\n", 7,
		     "key 'initrd' given twice in partition 'a' (first on line 5)");
	expect_error(PART("a", "0") "cmdline = x\n\ncmdline = y\n", 7,
		     "key 'cmdline' given twice in partition 'a' (first on line 5)");
	/* Each partition may have its own. */
	expect_ok(PART("a", "0") "initrd=i\ncmdline=c\n" PART("b", "1") "initrd=i\ncmdline=d\n");
	cr_expect_str_eq(cfg.part[1].cmdline, "d");
	cr_expect_eq(cfg.part[1].initrd_line, 11);
}

Test(config, initrd_and_cmdline_limits)
{
	static char text[4096], val[1200], line[2100];

	/* initrd paths: 127 characters are fine, 128 are not (as image). */
	memset(val, 'i', sizeof(val));
	val[127] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "initrd = %s\n", val);
	expect_ok(text);
	cr_expect_eq(strlen(cfg.part[0].initrd), 127);
	val[127] = 'i';
	val[128] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "initrd = \"%s\"\n", val);
	expect_error(text, 5, "initrd path is 128 characters long; at most 127 are allowed");

	/* cmdline: 1023 characters are fine (its line may pass 255), 1024 are not. */
	memset(val, 'c', sizeof(val));
	val[1023] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "cmdline = \"%s\"  # full\r\n", val);
	expect_ok(text);
	cr_expect_eq(strlen(cfg.part[0].cmdline), 1023);
	cr_expect_eq(cfg.part[0].cmdline[1022], 'c');
	val[1023] = 'c';
	val[1024] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "  cmdline\t= %s\n", val);
	expect_error(text, 5, "cmdline is 1024 characters long; at most 1023 are allowed");

	/* A cmdline line may be 2047 characters long (a long comment after it, say)... */
	memset(line, ' ', sizeof(line));
	memcpy(line, "cmdline=x #", 11);
	line[2047] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "%s\n", line);
	expect_ok(text);
	cr_expect_str_eq(cfg.part[0].cmdline, "x");
	line[2047] = ' ';
	line[2048] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "%s\n", line);
	expect_error(text, 5,
		     "line is 2048 characters long; at most 2047 are allowed for a cmdline line");
	/* ... other lines, even ones that start like it, stay at 255. */
	memcpy(line, "cmdlines=x #", 12);
	line[256] = '\0';
	snprintf(text, sizeof(text), PART("a", "0") "%s\n", line);
	expect_error(text, 5, "line is 256 characters long; at most 255 are allowed");
	memcpy(line, "image=x #", 9);
	snprintf(text, sizeof(text), PART("a", "0") "%s\n", line);
	expect_error(text, 5, "line is 256 characters long; at most 255 are allowed");
}

Test(config, nul_byte)
{
	const char text[] = "[partition a]\ncpus=0\nmem\0ory=2M\nimage=a\n";
	cr_assert_eq(cfg_parse(text, sizeof(text) - 1, &cfg, &err), MICA_EINVAL);
	cr_expect_eq(err.line, 3);
	cr_expect_str_eq(err.msg, "NUL byte in the text (is this really a text file?)");
}

Test(config, long_user_text_is_cut_in_messages)
{
	char text[400], key[200];
	memset(key, 'k', sizeof(key));
	key[199] = '\0';
	snprintf(text, sizeof(text), "[partition a]\n%s = 1\n", key);
	cr_assert_eq(parse(text), MICA_EINVAL);
	cr_expect(strlen(err.msg) < CFG_MSG_MAX);
	cr_expect(strstr(err.msg, "...' (expected cpus, memory, image, initrd, cmdline, "
				  "modules, on_crash, service, start, log, console, disk, net, pci or debug_exit)") != NULL,
		  "%s", err.msg);
}

Test(config, control_characters_are_not_echoed)
{
	expect_error("[partition a]\nbl\x1b[2Jah\n", 2, "expected 'key = value', found 'bl?[2Jah'");
}

Test(format, sizes)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "0 bytes" },
		{ 1, "1 byte" },
		{ 123, "123 bytes" },
		{ 4096, "4 KiB" },
		{ 16 * MIB, "16 MiB" },
		{ GIB, "1 GiB" },
		{ 1536 * MIB, "1536 MiB" },
		{ 1001 * MIB + 12345, "1001 MiB" }, /* rounded down from 1 MiB up */
		{ MIB - 1, "1048575 bytes" },
		{ 3 * 1024 + 0, "3 KiB" },
		{ 1ULL << 62, "4294967296 GiB" },
		{ UINT64_MAX, "17592186044415 MiB" },
	};
	char buf[40];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg_format_size(cases[i].bytes, buf, sizeof(buf));
		cr_expect_str_eq(buf, cases[i].text);
	}
	cfg_format_size(16 * MIB, buf, 4);
	cr_expect_str_eq(buf, "16 ");
	cfg_format_size(16 * MIB, NULL, 0); /* must not crash */
}

static void parse_machine_cfg(void)
{
	expect_ok("[partition small]\ncpus = 0\nmemory = 4M\nimage = a\n"
		  "[partition big]\ncpus = 1-2\nmemory = 4G\nimage = b\n");
}

Test(machine, fits)
{
	parse_machine_cfg();
	cr_expect_eq(cfg_check_machine(&cfg, 0x7, 3, 4 * GIB + 4 * MIB, &err), 0, "%s", err.msg);
	cr_expect_eq(cfg_check_machine(&cfg, 0, 3, 8 * GIB, &err), 0, "%s", err.msg);
}

Test(machine, missing_cpu)
{
	parse_machine_cfg();
	cr_assert_eq(cfg_check_machine(&cfg, 0x3, 2, 64 * GIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'big' wants CPU 2, but this machine has CPUs 0-1");
	cr_expect_eq(err.line, 6);

	expect_ok("[partition x]\ncpus = 7\nmemory = 2M\nimage = a\n");
	cr_assert_eq(cfg_check_machine(&cfg, 0xf, 4, 64 * GIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'x' wants CPU 7, but this machine has CPUs 0-3");
	cr_expect_eq(err.line, 2);
	cr_assert_eq(cfg_check_machine(&cfg, 0xd, 3, 64 * GIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'x' wants CPU 7, but this machine has CPUs 0,2-3");
	cr_assert_eq(cfg_check_machine(&cfg, 0x1, 1, 64 * GIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'x' wants CPU 7, but this machine has CPU 0");
	cr_assert_eq(cfg_check_machine(&cfg, 0x5555555555555555ULL, 32, 64 * GIB, &err),
		     MICA_EINVAL);
	static const char prefix[] = "partition 'x' wants CPU 7, but this machine has CPUs 0,2,4,";
	cr_expect(strncmp(err.msg, prefix, sizeof(prefix) - 1) == 0, "%s", err.msg);
	cr_expect(strstr(err.msg, ",60,62") != NULL, "%s", err.msg);
	cr_expect(strlen(err.msg) < CFG_MSG_MAX);
	/* A count alone means CPUs 0..n-1. */
	cr_assert_eq(cfg_check_machine(&cfg, 0, 4, 64 * GIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'x' wants CPU 7, but this machine has CPUs 0-3");
	cr_expect_eq(cfg_check_machine(&cfg, 0, 8, 64 * GIB, &err), 0);
}

Test(machine, memory)
{
	parse_machine_cfg();
	cr_assert_eq(cfg_check_machine(&cfg, 0x7, 3, 1001 * MIB, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg, "partition 'big' needs 4 GiB of RAM; with the partitions before "
				  "it that makes 4100 MiB, but the machine has 1001 MiB free");
	cr_expect_eq(err.line, 7);

	cr_assert_eq(cfg_check_machine(&cfg, 0x7, 3, 2 * MIB + 100, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg,
			 "partition 'small' needs 4 MiB of RAM, but the machine has 2 MiB free");
	cr_expect_eq(err.line, 3);
	cr_assert_eq(cfg_check_machine(&cfg, 0x7, 3, 0, &err), MICA_EINVAL);
	cr_expect_str_eq(err.msg,
			 "partition 'small' needs 4 MiB of RAM, but the machine has 0 bytes free");
}

/* Random damage to a valid config: the parser may reject it, but must never crash, read
 * out of bounds (ASan) or leave a message unterminated. */
Test(config, fuzz)
{
	static const char base[] = "# cfg\n[partition hello]\ncpus = 0,2-3\nmemory = 16M\n"
				   "image = \"hello.elf\"\non_crash = restart\n\n[partition b]\n"
				   "cpus=1\r\nmemory=2G\r\nimage=b\r\ninitrd = i.gz\r\n"
				   "cmdline = \"console=ttyS0 #x\" \r\n";
	static const char alphabet[] = "[]=#\"-,\r\n \t0123456789KMGiBabcprtion\0\xff";
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	int accepted = 0;

	for (int iter = 0; iter < 20000; iter++) {
		char buf[sizeof(base) + 16];
		size_t n = sizeof(base) - 1;
		memcpy(buf, base, n);
		int edits = 1 + iter % 6;
		for (int e = 0; e < edits; e++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			size_t pos = (size_t)(s % n);
			char c = alphabet[(s >> 32) % (sizeof(alphabet) - 1)];
			switch ((s >> 48) % 3) {
			case 0: buf[pos] = c; break;
			case 1: if (n > 1) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; } break;
			case 2: if (n < sizeof(buf)) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = c; n++; } break;
			}
		}
		/* Exact-size heap copy so ASan catches any read past the end. */
		char *t = malloc(n ? n : 1);
		memcpy(t, buf, n);
		struct cfg_error e;
		int rc = cfg_parse(t, n, &cfg, &e);
		free(t);
		if (rc == 0) {
			accepted++;
			cr_assert(cfg.nparts >= 1 && cfg.nparts <= CFG_MAX_PARTS);
			for (unsigned i = 0; i < cfg.nparts; i++) {
				cr_assert(cfg.part[i].memory >= CFG_MEM_ALIGN &&
					  cfg.part[i].memory % CFG_MEM_ALIGN == 0);
				cr_assert(strlen(cfg.part[i].name) >= 1 && cfg.part[i].image[0]);
				cr_assert(strlen(cfg.part[i].initrd) < BOOT_PATH_MAX);
				cr_assert(strlen(cfg.part[i].cmdline) < CFG_CMDLINE_MAX);
				cr_assert(!cfg.part[i].initrd[0] == !cfg.part[i].initrd_line);
				cr_assert(!cfg.part[i].cmdline[0] == !cfg.part[i].cmdline_line);
				for (unsigned j = 0; j < i; j++)
					cr_assert((cfg.part[i].cpus & cfg.part[j].cpus) == 0);
			}
			cfg_check_machine(&cfg, 0xf, 4, 1ULL << 31, &e);
		} else {
			cr_assert_eq(rc, MICA_EINVAL);
			cr_assert(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
			cr_assert(e.msg[0] != '\0');
		}
	}
	cr_expect(accepted > 0, "no mutation parsed at all: the fuzz base is broken");
}

Test(config, count_files_counts_each_path_once)
{
	struct cfg c;
	struct cfg_error e;
	const char *text =
		"[partition a]\ncpus = 1\nmemory = 2M\nimage = k.elf\ninitrd = rd\n"
		"[partition b]\ncpus = 2\nmemory = 2M\nimage = k.elf\n"
		"[partition c]\ncpus = 3\nmemory = 2M\nimage = other.elf\ninitrd = rd\n";
	cr_assert_eq(cfg_parse(text, strlen(text), &c, &e), 0, "%s", e.msg);
	cr_expect_eq(cfg_count_files(&c, CFG_FILE_IMAGE), 2);
	cr_expect_eq(cfg_count_files(&c, CFG_FILE_INITRD), 1);
	cr_expect_eq(cfg_count_files(&c, CFG_FILE_DISK), 0);
}

/* --- the service partition and virtio devices ----------------------------------------- */

Test(config, modules_and_debug_exit)
{
	expect_ok(PART("a", "0") "modules = mod1.bin  data/two.bin\tthree\n" PART("b", "1")
		  "debug_exit = 0x501\nmodules = mod1.bin\n" PART("c", "2") "debug_exit = no\n");
	cr_expect_eq(cfg.part[0].nmodules, 3);
	cr_expect_str_eq(cfg.part[0].modules[0], "mod1.bin");
	cr_expect_str_eq(cfg.part[0].modules[1], "data/two.bin");
	cr_expect_str_eq(cfg.part[0].modules[2], "three");
	cr_expect_eq(cfg.part[0].debug_exit, CFG_DEBUG_EXIT_DEFAULT, "0xf4 unless said");
	cr_expect_eq(cfg.part[1].debug_exit, 0x501);
	cr_expect_eq(cfg.part[2].debug_exit, 0);
	cr_expect_eq(cfg.part[2].nmodules, 0);
	cr_expect_eq(cfg_count_files(&cfg, CFG_FILE_MODULE), 3, "mod1.bin counted once");
	cr_expect_str_eq(cfg_file(&cfg.part[0], CFG_FILE_MODULE), "mod1.bin");
	cr_expect_str_eq(cfg_file(&cfg.part[2], CFG_FILE_MODULE), "");

	expect_ok(PART("a", "0") "debug_exit = 244\n");
	cr_expect_eq(cfg.part[0].debug_exit, 0xF4);
	expect_error(PART("a", "0") "debug_exit = 0\n", 5,
		     "debug_exit '0': expected a port number 1-0xffff (e.g. 0xf4) or no");
	expect_error(PART("a", "0") "debug_exit = 0x10000\n", 5,
		     "debug_exit '0x10000': expected a port number 1-0xffff (e.g. 0xf4) or no");
	expect_error(PART("a", "0") "debug_exit = yes\n", 5,
		     "debug_exit 'yes': expected a port number 1-0xffff (e.g. 0xf4) or no");
	expect_error(PART("a", "0") "debug_exit = 0x\n", 5,
		     "debug_exit '0x': expected a port number 1-0xffff (e.g. 0xf4) or no");
	expect_error(PART("a", "0") "modules = a b c d e f g h i\n", 5,
		     "more than 8 modules; at most 8 are allowed");
	expect_error(PART("a", "0") "modules = \"\"\n", 5, "key 'modules' has an empty value");
	expect_error(PART("a", "0") "modules = a\nmodules = b\n", 6,
		     "key 'modules' given twice in partition 'a' (first on line 5)");
}

Test(config, mica_section)
{
	expect_ok(PART("a", "0"));
	cr_assert_eq(cfg.host.line, 0);
	cr_assert_eq(cfg.host.serial_given, 0);
	cr_assert_eq(cfg.host.screen, CFG_SCREEN_AUTO);
	expect_ok("[mica]\nserial = com2\nscreen = off\n" PART("a", "0"));
	cr_assert_eq(cfg.host.line, 1);
	cr_assert(cfg.host.serial_given);
	cr_assert_eq(cfg.host.serial_port, 0x2f8);
	cr_assert_eq(cfg.host.serial_irq, 3);
	cr_assert_eq(cfg.host.screen, CFG_SCREEN_OFF);
	cr_assert_eq(cfg.nparts, 1);
	/* After the partitions too, and with a port number. */
	expect_ok(PART("a", "0") "[mica]\nserial = 0x3e8\nscreen = on\n");
	cr_assert_eq(cfg.host.serial_port, 0x3e8);
	cr_assert_eq(cfg.host.serial_irq, 4);
	cr_assert_eq(cfg.host.screen, CFG_SCREEN_ON);
	expect_ok("[mica]\nserial = none\n" PART("a", "0"));
	cr_assert(cfg.host.serial_given);
	cr_assert_eq(cfg.host.serial_port, 0);
	cr_assert_eq(cfg.host.screen, CFG_SCREEN_AUTO);
	expect_ok("[mica]\nserial = com4\n" PART("a", "0"));
	cr_assert_eq(cfg.host.serial_port, 0x2e8);
	cr_assert_eq(cfg.host.serial_irq, 3);
}

Test(config, mica_section_errors)
{
	expect_error("[mica]\nserial = com5\n" PART("a", "0"), 2,
		     "serial 'com5': expected com1, com2, com3, com4, an I/O port such as 0x2f8, "
		     "or none");
	expect_error("[mica]\nserial = 0xfffc\n" PART("a", "0"), 2,
		     "serial '0xfffc': expected com1, com2, com3, com4, an I/O port such as 0x2f8, "
		     "or none");
	expect_error("[mica]\nscreen = maybe\n" PART("a", "0"), 2,
		     "screen 'maybe': expected on or off");
	expect_error("[mica]\nscreen = on\nscreen = off\n" PART("a", "0"), 3,
		     "key 'screen' given twice in [mica] (first on line 2)");
	expect_error("[mica]\ncpus = 1\n" PART("a", "0"), 2,
		     "unknown key 'cpus' in [mica] (expected serial or screen)");
	expect_error("[mica]\n" PART("a", "0") "[mica]\n", 6,
		     "section [mica] given twice (first on line 1)");
	expect_error("[mica]\nserial =\n" PART("a", "0"), 2, "key 'serial' has an empty value");
	expect_error("[mica]\nserial = com1\n", 0, "no [partition NAME] section: nothing to run");
}

/* start = no: loaded at boot, started from the management console (the service's). */
Test(config, start_no)
{
	cr_assert_eq(parse(SVC PART("a", "1") "start = no\n" PART("b", "2") "start = yes\n"), 0,
		     "%s", err.msg);
	cr_expect(!cfg.part[0].start_stopped && cfg.part[1].start_stopped);
	cr_expect_eq(cfg.part[1].start_line, 10);
	cr_expect(!cfg.part[2].start_stopped);
	expect_error(SVC PART("a", "1") "start = later\n", 10, "start 'later': expected yes or no");
	expect_error(PART("a", "1") "start = no\n", 5, "partition 'a' has 'start = no', but only "
		     "the management console can start it, and it needs a partition with 'service "
		     "= yes' (docs/management.md)");
	expect_error("[partition svc]\ncpus = 0\nmemory = 16M\nimage = v\nservice = yes\n"
		     "start = no\n", 6, "the service partition 'svc' cannot wait with 'start = "
		     "no': it runs the management console that starts the others");
	expect_error(SVC PART("a", "1") "start = no\nstart = no\n", 11,
		     "key 'start' given twice in partition 'a' (first on line 10)");
}

/* log = SIZE | no: the ring of a partition's console output, 64K by default. */
Test(config, log_size)
{
	cr_assert_eq(parse(PART("a", "0") "log = 1M\n" PART("b", "1") PART("c", "2") "log = no\n"
			   PART("d", "3") "log = 0\n"), 0, "%s", err.msg);
	cr_expect_eq(cfg.part[0].log_size, 1ULL << 20);
	cr_expect_eq(cfg.part[1].log_size, 64ULL << 10, "the default");
	cr_expect_eq(cfg.part[2].log_size, 0);
	cr_expect_eq(cfg.part[3].log_size, 0);
	static const char *const bad[] = { "2M", "1K", "5000", "6K", "lots", "-4K" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200], msg[120];
		snprintf(text, sizeof(text), PART("a", "0") "log = %s\n", bad[i]);
		snprintf(msg, sizeof(msg), "log '%s': expected a size from 4K to 1M (a multiple "
			 "of 4K), or no", bad[i]);
		expect_error(text, 5, msg);
	}
}
