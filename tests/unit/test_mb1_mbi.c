/* boot/mb2/mbi1.c: Multiboot (v1) boot information, as QEMU's -kernel builds it, put in a
 * fake physical memory; damaged fields must be named, arrays outside memory refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "boot/mb2/mb2.h"

#define BASE 0x9000u /* the fake memory's physical address */
static _Alignas(8) uint8_t mem[8192];
static const struct mb1_view view = { mem, BASE, BASE + sizeof(mem) };
static struct mb2_info info;
static char names[MB2_MAX_MODULES][BOOT_PATH_MAX];
static char err[200];

static void put32(uint32_t pa, uint32_t v) { memcpy(mem + pa - BASE, &v, 4); }
static void put64(uint32_t pa, uint64_t v) { memcpy(mem + pa - BASE, &v, 8); }
static void puts_at(uint32_t pa, const char *s) { strcpy((char *)mem + pa - BASE, s); }

#define MBI   BASE          /* the information structure */
#define MODS  (BASE + 0x200)
#define MMAP  (BASE + 0x300)
#define STRS  (BASE + 0x400)

/* QEMU's shape: memory info, a command line, 3 modules, a 3-entry map. */
static void build(void)
{
	memset(mem, 0, sizeof(mem));
	put32(MBI, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6));
	put32(MBI + 4, 639);
	put32(MBI + 8, 1047424);
	put32(MBI + 16, STRS);
	puts_at(STRS, "build/mica-mb2.elf");
	put32(MBI + 20, 3);
	put32(MBI + 24, MODS);
	const char *strings[3] = { "build/core.elf", "configs/x.cfg mica.cfg", "  /srv/hello.elf  " };
	for (uint32_t i = 0; i < 3; i++) {
		put32(MODS + 16 * i, 0x200000 + i * 0x10000);
		put32(MODS + 16 * i + 4, 0x200000 + i * 0x10000 + 100 * (i + 1));
		put32(MODS + 16 * i + 8, STRS + 0x40 * (i + 1));
		puts_at(STRS + 0x40 * (i + 1), strings[i]);
	}
	put32(MBI + 44, 3 * 24);
	put32(MBI + 48, MMAP);
	const uint64_t map[3][3] = { { 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 },
				     { 0x100000, 0x3fee0000, 1 } };
	for (uint32_t i = 0; i < 3; i++) {
		put32(MMAP + 24 * i, 20);
		put64(MMAP + 24 * i + 4, map[i][0]);
		put64(MMAP + 24 * i + 12, map[i][1]);
		put32(MMAP + 24 * i + 20, (uint32_t)map[i][2]);
	}
}

static int parse(void)
{
	return mbi1_parse(&view, MBI, &info, names, err, sizeof(err));
}

Test(mb1, what_qemu_passes)
{
	build();
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_str_eq(info.cmdline, "build/mica-mb2.elf");
	cr_assert_eq(info.nmodules, 3);
	cr_assert_str_eq(info.modules[0].string, "core.elf");
	cr_assert_str_eq(info.modules[1].string, "mica.cfg");
	cr_assert_str_eq(info.modules[2].string, "hello.elf");
	cr_assert_eq(info.modules[1].start, 0x210000);
	cr_assert_eq(info.modules[1].end, 0x210000 + 200);
	cr_assert(info.mb1);
	cr_assert_eq(info.mmap_count, 3);
	struct boot_mem e = mbi_mmap_entry(&info, 2);
	cr_assert_eq(e.base, 0x100000);
	cr_assert_eq(e.size, 0x3fee0000);
	cr_assert_eq(e.type, BOOT_MEM_USABLE);
	cr_assert_eq(mbi_mmap_entry(&info, 1).type, BOOT_MEM_RESERVED);
	cr_assert_eq(info.fb.format, 0);
}

Test(mb1, module_names)
{
	char b[BOOT_PATH_MAX];
	cr_assert_str_eq(mb1_module_name("core.elf", b, sizeof(b)), "core.elf");
	cr_assert_str_eq(mb1_module_name("/a/b/c.elf", b, sizeof(b)), "c.elf");
	cr_assert_str_eq(mb1_module_name("/a/b/linux.bin guests/linux.bin", b, sizeof(b)),
			 "guests/linux.bin");
	cr_assert_str_eq(mb1_module_name("http://h/x.cfg mica.cfg ", b, sizeof(b)), "mica.cfg");
	cr_assert_str_eq(mb1_module_name("", b, sizeof(b)), "");
	cr_assert_str_eq(mb1_module_name("   ", b, sizeof(b)), "");
	cr_assert_str_eq(mb1_module_name("dir/", b, sizeof(b)), "");
	char small[4];
	cr_assert_str_eq(mb1_module_name("abcdef", small, sizeof(small)), "abc");
}

Test(mb1, a_framebuffer)
{
	build();
	put32(MBI, (1u << 12) | (1u << 6));
	put64(MBI + 88, 0xfd000000);
	put32(MBI + 96, 1280 * 4);
	put32(MBI + 100, 1280);
	put32(MBI + 104, 800);
	uint8_t fb[8] = { 32, 1, 16, 8, 8, 8, 0, 8 }; /* bpp, RGB, red 16/8, green 8/8, blue 0/8 */
	memcpy(mem + MBI + 108 - BASE, fb, 8);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(info.fb.format, 2);
	cr_assert_eq(info.fb.base, 0xfd000000);
	cr_assert_eq(info.fb.pitch, 1280);
	mem[MBI + 109 - BASE] = 2; /* EGA text: none */
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(info.fb.format, 0);
}

Test(mb1, damage_is_named)
{
	build();
	cr_assert_eq(mbi1_parse(&view, BASE + sizeof(mem) - 8, &info, names, err, sizeof(err)), -1);
	cr_assert(strstr(err, "is not in memory the stub can read"), "%s", err);

	build();
	put32(MBI + 20, 1000);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "1000 modules; the stub takes at most"), "%s", err);

	build();
	put32(MBI + 24, 0xfffffff0);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "the module list (3 entries at 0xfffffff0)"), "%s", err);

	build();
	put32(MODS + 4, 0x100);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "module 0 ends (0x100) before it starts (0x200000)"), "%s", err);

	build();
	put32(MMAP + 24, 8);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "memory map entry 1 has size 8"), "%s", err);

	build();
	put32(MMAP + 48, 1000);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "memory map entry 2 has size 1000"), "%s", err);

	build();
	put32(MBI + 48, 0x100);
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "the memory map (72 bytes at 0x100)"), "%s", err);

	build();
	memset(mem + STRS - BASE, 'x', sizeof(mem) - (STRS - BASE)); /* no NUL to the end */
	cr_assert_eq(parse(), -1);
	cr_assert(strstr(err, "the command line at"), "%s", err);

	/* A module string that is not a string: the module has no name, not a crash. */
	build();
	put32(MODS + 8, 0xffffff00);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_str_eq(info.modules[0].string, "");
}

Test(mb1, random_damage_never_reads_outside)
{
	srand(11);
	for (unsigned round = 0; round < 2000; round++) {
		build();
		for (unsigned k = 0; k < 8; k++)
			mem[rand() % 0x480] = (uint8_t)rand();
		if (parse() == 0) {
			cr_assert_leq(info.nmodules, MB2_MAX_MODULES);
			cr_assert_leq(info.mmap_count, MB2_MAX_MMAP);
			for (unsigned i = 0; i < info.nmodules; i++)
				cr_assert_leq(info.modules[i].start, info.modules[i].end);
		}
	}
}
