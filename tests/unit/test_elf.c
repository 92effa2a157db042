/* kernel/loader/elf.c: builds small ELF64 images in memory, damages one field at a time, and
 * checks the loader names the problem; then random damage that must never crash (ASan).
 * The host's <elf.h> describes the images, which also cross-checks the loader's layout. */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/elf.h"
#include "tests/unit/guest_ram_stub.h"

#define RAM_SIZE 0x100000ULL /* 1 MiB of "guest RAM" */
#define MIN_GPA  0x10000ULL
#define IMG_SIZE 0x3000

struct image {
	uint8_t bytes[IMG_SIZE];
	uint64_t size;
};

static struct image im;
static uint8_t *ram;
static char err[200];
static struct elf_image_info info;

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)im.bytes;
}

static Elf64_Phdr *ph(unsigned i)
{
	return (Elf64_Phdr *)(im.bytes + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

/* A text segment (0x100 bytes at file 0x1000 -> 0x20000), a data segment (0x80 bytes at
 * file 0x2000 -> 0x30000, 0x1000 in memory), and a PT_NOTE; entry 0x20010. */
static void build(void)
{
	memset(&im, 0, sizeof(im));
	im.size = IMG_SIZE;
	Elf64_Ehdr *h = eh();
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_entry = 0x20010;
	h->e_phoff = sizeof(Elf64_Ehdr);
	h->e_ehsize = sizeof(Elf64_Ehdr);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = 3;
	*ph(0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x1000,
			       .p_vaddr = 0x20000, .p_paddr = 0x20000, .p_filesz = 0x100,
			       .p_memsz = 0x100, .p_align = 0x1000 };
	*ph(1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x2000,
			       .p_vaddr = 0x30000, .p_paddr = 0x30000, .p_filesz = 0x80,
			       .p_memsz = 0x1000, .p_align = 0x1000 };
	*ph(2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x2f00, .p_filesz = 0x10 };
	for (unsigned i = 0; i < 0x100; i++)
		im.bytes[0x1000 + i] = (uint8_t)(i + 1);
	for (unsigned i = 0; i < 0x80; i++)
		im.bytes[0x2000 + i] = (uint8_t)(0x80 + i);
	memset(im.bytes + 0x2080, 0xee, 0x100); /* file bytes past filesz must not be copied */
}

static void setup(void)
{
	build();
	ram = malloc(RAM_SIZE);
	cr_assert(ram);
	memset(ram, 0xcc, RAM_SIZE);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(elf, .init = setup, .fini = teardown);

static int load(void)
{
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return elf_load(im.bytes, im.size, ram, RAM_SIZE, MIN_GPA, &info, err, sizeof(err));
}

static void expect_error(const char *msg)
{
	uint8_t *before = malloc(RAM_SIZE);
	memcpy(before, ram, RAM_SIZE);
	cr_assert_eq(load(), MICA_EINVAL, "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
	cr_expect(memcmp(before, ram, RAM_SIZE) == 0, "RAM written before validation finished");
	free(before);
}

Test(elf, loads_segments)
{
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(info.entry, 0x20010);
	cr_expect_eq(info.lowest, 0x20000);
	cr_expect_eq(info.highest, 0x31000);
	cr_expect(memcmp(ram + 0x20000, im.bytes + 0x1000, 0x100) == 0);
	cr_expect(memcmp(ram + 0x30000, im.bytes + 0x2000, 0x80) == 0);
	for (unsigned i = 0x80; i < 0x1000; i++)
		cr_assert_eq(ram[0x30000 + i], 0, "bss byte %#x not zero", i);
	cr_expect_eq(ram[0x1ffff], 0xcc);
	cr_expect_eq(ram[0x20100], 0xcc);
	cr_expect_eq(ram[0x2ffff], 0xcc);
	cr_expect_eq(ram[0x31000], 0xcc);
	cr_expect_eq(ram[0x0], 0xcc);
}

Test(elf, validate_only)
{
	cr_assert_eq(elf_load(im.bytes, im.size, NULL, RAM_SIZE, MIN_GPA, &info, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(info.entry, 0x20010);
	cr_expect_eq(elf_load(im.bytes, im.size, NULL, RAM_SIZE, MIN_GPA, NULL, NULL, 0), 0);
}

Test(elf, higher_half_link_uses_paddr)
{
	ph(0)->p_vaddr = 0xffffffff80020000ULL;
	ph(1)->p_vaddr = 0xffffffff80030000ULL;
	eh()->e_entry = 0xffffffff80030040ULL; /* in the second segment */
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(info.entry, 0x30040);
	cr_expect(memcmp(ram + 0x20000, im.bytes + 0x1000, 0x100) == 0);
}

Test(elf, edges_of_ram_are_fine)
{
	ph(0)->p_paddr = ph(0)->p_vaddr = MIN_GPA;
	ph(1)->p_paddr = ph(1)->p_vaddr = RAM_SIZE - 0x1000;
	eh()->e_entry = RAM_SIZE - 1;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(info.lowest, MIN_GPA);
	cr_expect_eq(info.highest, RAM_SIZE);
	cr_expect_eq(info.entry, RAM_SIZE - 1);
}

Test(elf, skips_empty_and_other_segments)
{
	ph(2)->p_type = PT_LOAD; /* memsz 0: loads nothing, not checked against RAM */
	ph(2)->p_paddr = 0;
	ph(2)->p_filesz = 0;
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(info.lowest, 0x20000);

	/* 64 headers are allowed. */
	build();
	eh()->e_phoff = 0x200;
	eh()->e_phnum = 64;
	Elf64_Phdr *t = (Elf64_Phdr *)(im.bytes + 0x200);
	memset(t, 0, 64 * sizeof(*t));
	for (unsigned i = 0; i < 64; i++)
		t[i].p_type = PT_GNU_STACK;
	t[63] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = 0x20000,
			      .p_paddr = 0x20000, .p_filesz = 0x100, .p_memsz = 0x100 };
	cr_assert_eq(load(), 0, "%s", err);
}

Test(elf, header_errors)
{
	im.size = 63;
	expect_error("image is 63 bytes, too small for an ELF header (64 bytes)");
	im.size = 0;
	expect_error("image is 0 bytes, too small for an ELF header (64 bytes)");

	build();
	memcpy(im.bytes, "MZ\x90\x00", 4);
	expect_error("not an ELF file (first bytes are 4d 5a 90 00)");
	build();
	eh()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_error("ELF class 1 (32-bit), expected 2 (64-bit)");
	eh()->e_ident[EI_CLASS] = 7;
	expect_error("ELF class 7 (unknown), expected 2 (64-bit)");
	build();
	eh()->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_error("ELF data encoding 2 (big-endian), expected 1 (little-endian)");
	build();
	eh()->e_ident[EI_VERSION] = 0;
	expect_error("ELF version 0, expected 1 (current)");
	build();
	eh()->e_version = 2;
	expect_error("ELF version 2, expected 1 (current)");
	build();
	eh()->e_machine = EM_386;
	expect_error("ELF machine 3 (i386), expected 62 (x86-64)");
	eh()->e_machine = EM_AARCH64;
	expect_error("ELF machine 183 (AArch64), expected 62 (x86-64)");
	eh()->e_machine = 9999;
	expect_error("ELF machine 9999 (unknown), expected 62 (x86-64)");
	build();
	eh()->e_type = ET_DYN;
	expect_error("ELF type 3 (shared object or PIE), expected 2 (executable)");
	eh()->e_type = ET_REL;
	expect_error("ELF type 1 (relocatable object), expected 2 (executable)");
	build();
	eh()->e_phentsize = 32;
	expect_error("program header size 32, expected 56");
	build();
	eh()->e_phnum = 0;
	expect_error("no program headers: nothing to load");
	eh()->e_phnum = 65;
	expect_error("65 program headers, at most 64 are supported");
	eh()->e_phnum = 0xffff; /* PN_XNUM */
	expect_error("65535 program headers, at most 64 are supported");
}

Test(elf, program_header_table_outside)
{
	eh()->e_phoff = IMG_SIZE - 0x60;
	expect_error("program header table at 0x2fa0 (0xa8 bytes) lies outside the image "
		     "(0x3000 bytes)");
	eh()->e_phoff = UINT64_MAX - 0x10;
	expect_error("program header table at 0xffffffffffffffef (0xa8 bytes) lies outside the "
		     "image (0x3000 bytes)");
	build();
	im.size = 64 + 2 * 56; /* the third header is cut off */
	expect_error("program header table at 0x40 (0xa8 bytes) lies outside the image "
		     "(0xb0 bytes)");
}

Test(elf, segment_errors)
{
	ph(0)->p_type = PT_NOTE;
	ph(1)->p_type = PT_NULL;
	expect_error("no PT_LOAD segment: nothing to load");

	build();
	ph(1)->p_filesz = 0x1001;
	expect_error("segment 1: file size 0x1001 is larger than its memory size 0x1000");

	build();
	ph(1)->p_offset = 0x2f90;
	expect_error("image is truncated: segment 1 needs bytes up to 0x3010, file has 0x3000");
	build();
	im.size = 0x1080;
	expect_error("image is truncated: segment 0 needs bytes up to 0x1100, file has 0x1080");
	build();
	ph(0)->p_offset = UINT64_MAX - 0x10;
	expect_error("segment 0: file offset 0xffffffffffffffef plus size 0x100 overflows");
	build();
	ph(0)->p_offset = 0x4000;
	ph(0)->p_filesz = 0;
	cr_expect_eq(load(), 0, "%s", err); /* nothing read from the file: any offset will do */

	build();
	ph(1)->p_paddr = 0x2000;
	expect_error("segment 1 [0x2000, 0x3000) lies outside guest RAM [0x10000, 0x100000)");
	build();
	ph(1)->p_paddr = RAM_SIZE - 0xfff;
	expect_error("segment 1 [0xff001, 0x100001) lies outside guest RAM [0x10000, 0x100000)");
	build();
	ph(1)->p_paddr = MIN_GPA - 1;
	expect_error("segment 1 [0xffff, 0x10fff) lies outside guest RAM [0x10000, 0x100000)");
	build();
	ph(1)->p_paddr = UINT64_MAX - 0x10;
	expect_error("segment 1 at 0xffffffffffffffef with size 0x1000 wraps around the address "
		     "space");
	build();
	ph(1)->p_vaddr = UINT64_MAX - 0x10;
	expect_error("segment 1 at virtual 0xffffffffffffffef with size 0x1000 wraps around the "
		     "address space");
	build();
	ph(1)->p_memsz = UINT64_MAX;
	ph(1)->p_filesz = 0;
	expect_error("segment 1 at 0x30000 with size 0xffffffffffffffff wraps around the "
		     "address space");
}

Test(elf, entry_and_overlap_errors)
{
	eh()->e_entry = 0x20100; /* one past the text segment */
	expect_error("entry point 0x20100 is not inside any loaded segment");
	eh()->e_entry = 0;
	expect_error("entry point 0x0 is not inside any loaded segment");
	build();
	ph(2)->p_type = PT_LOAD;
	ph(2)->p_paddr = ph(2)->p_vaddr = 0x30ff0;
	ph(2)->p_memsz = 0x20;
	expect_error("segments 1 and 2 overlap at [0x30ff0, 0x31000)");
	build();
	ph(1)->p_paddr = 0x20000 - 0x1000 + 0x10;
	expect_error("segments 0 and 1 overlap at [0x20000, 0x20010)");
	build();
	ph(1)->p_paddr = 0x20000 - 0x1000; /* touching, not overlapping */
	ph(1)->p_vaddr = 0x20000 - 0x1000;
	cr_expect_eq(load(), 0, "%s", err);
}

Test(elf, dynamic_images_are_refused)
{
	ph(2)->p_type = PT_INTERP;
	expect_error("segment 2 is PT_INTERP: the image is dynamically linked; link it statically");
	ph(2)->p_type = PT_DYNAMIC;
	expect_error("segment 2 is PT_DYNAMIC: the image is dynamically linked; link it "
		     "statically");
}

Test(elf, small_error_buffers)
{
	char small[8];
	eh()->e_machine = EM_386;
	cr_assert_eq(elf_load(im.bytes, im.size, ram, RAM_SIZE, MIN_GPA, &info, small,
			      sizeof(small)),
		     MICA_EINVAL);
	cr_expect_str_eq(small, "ELF mac");
	cr_expect_eq(elf_load(im.bytes, im.size, ram, RAM_SIZE, MIN_GPA, &info, NULL, 0),
		     MICA_EINVAL);
	cr_expect_eq(elf_load(NULL, 100, ram, RAM_SIZE, MIN_GPA, &info, NULL, 0), MICA_EINVAL);
}

/* Random damage to the headers and the size: the loader may refuse, but must never crash
 * or touch memory outside the image and the RAM buffer (both exact-size heap blocks). */
Test(elf, fuzz)
{
	uint64_t s = 0x243f6a8885a308d3ULL;
	int accepted = 0;

	for (int iter = 0; iter < 30000; iter++) {
		build();
		int edits = 1 + iter % 4;
		for (int e = 0; e < edits; e++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			/* Mostly the ELF header and program headers, sometimes anywhere. */
			unsigned span = (s & 3) ? 64 + 3 * 56 : IMG_SIZE;
			unsigned pos = (unsigned)((s >> 8) % span);
			uint8_t v;
			switch ((s >> 40) % 5) {
			case 0: v = 0; break;
			case 1: v = 0xff; break;
			case 2: v = (uint8_t)(im.bytes[pos] + 1); break;
			case 3: v = (uint8_t)(im.bytes[pos] - 1); break;
			default: v = (uint8_t)(s >> 56); break;
			}
			im.bytes[pos] = v;
		}
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		uint64_t size = (s % 8 == 0) ? s % (IMG_SIZE + 1) : IMG_SIZE;

		uint8_t *copy = malloc(size ? size : 1);
		memcpy(copy, im.bytes, size);
		char msg[64];
		struct elf_image_info inf;
		int rc = elf_load(copy, size, ram, RAM_SIZE, MIN_GPA, &inf, msg, sizeof(msg));
		free(copy);
		if (rc == 0) {
			accepted++;
			cr_assert(inf.lowest >= MIN_GPA && inf.highest <= RAM_SIZE &&
				  inf.lowest < inf.highest);
			cr_assert(inf.entry >= inf.lowest && inf.entry < inf.highest);
		} else {
			cr_assert_eq(rc, MICA_EINVAL);
			cr_assert(memchr(msg, '\0', sizeof(msg)) && msg[0]);
		}
	}
	cr_expect(accepted > 0, "no mutation loaded at all: the fuzz base is broken");
}

/* RAM zeroed on first touch (kernel/ram.h): the segments are announced before they are
 * written (all of this 1 MiB of RAM is one 2 MiB piece: a write without an announcement
 * would land in it unzeroed). */
Test(elf, writes_only_what_it_announces)
{
	guest_ram_watch(ram, RAM_SIZE);
	cr_assert_eq(load(), 0, "%s", err);
	uint64_t a = guest_ram_unannounced();
	cr_expect_eq(a, UINT64_MAX, "wrote at 0x%lx without announcing it", (unsigned long)a);
	cr_expect(memcmp(ram + 0x20000, im.bytes + 0x1000, 0x100) == 0);
	cr_expect_eq(ram[0x0], 0, "the piece was zeroed before the segments went in");
}
