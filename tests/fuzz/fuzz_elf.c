/* kernel/loader/elf.c: any image, loaded into a 2 MiB guest RAM (the test guests load at
 * 1 MiB) with guard bytes around it. A loaded image has its entry and every byte it wrote
 * inside [min_gpa, ram_size): the guards and the page below min_gpa are untouched (ASan
 * sees writes past the buffer; the guards catch those the loader might aim before it). */
#include "tests/fuzz/fuzz.h"
#include "kernel/loader/elf.h"

#define RAM   (2u << 20)
#define GUARD 4096u
#define MIN_GPA 0x1000u

static uint8_t mem[GUARD + RAM + GUARD];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image_info info;
	char err[200];
	memset(mem, 0xA5, GUARD + MIN_GPA);
	memset(mem + GUARD + RAM, 0xA5, GUARD);
	err[0] = 0;
	if (elf_load(data, size, mem + GUARD, RAM, MIN_GPA, &info, err, sizeof(err))) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(info.lowest >= MIN_GPA && info.lowest < info.highest && info.highest <= RAM,
		   "loaded [0x%llx, 0x%llx)", (unsigned long long)info.lowest,
		   (unsigned long long)info.highest);
	FUZZ_CHECK(info.entry >= info.lowest && info.entry < info.highest, "entry 0x%llx",
		   (unsigned long long)info.entry);
	for (unsigned i = 0; i < GUARD; i++)
		FUZZ_CHECK(mem[i] == 0xA5 && mem[GUARD + RAM + i] == 0xA5, "guard byte %u", i);
	for (unsigned i = 0; i < MIN_GPA; i++)
		FUZZ_CHECK(mem[GUARD + i] == 0xA5, "a byte below min_gpa written");
	return 0;
}
