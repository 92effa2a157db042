/* kernel/loader/multiboot.c: any image as a Multiboot (v1) kernel, with one module, loaded
 * into a 4 MiB guest RAM with guard bytes around it. A loaded kernel has its entry inside
 * what was loaded, nothing in the PC's hole at 640 KiB - 1 MiB, everything Mica wrote
 * below `end` within RAM, and an information structure whose every pointer (command line,
 * modules, their strings and bytes, memory map, loader name) lies below `end`. An image
 * without a valid header is refused; a refusal leaves a message. */
#include "tests/fuzz/fuzz.h"
#include "kernel/loader/multiboot.h"

#define RAM   (4u << 20)
#define GUARD 4096u
#define HOLE_START 0xA0000u
#define HOLE_END   0x100000u

static uint8_t mem[GUARD + RAM + GUARD];
static uint8_t pattern[HOLE_END - HOLE_START]; /* 0xA5 everywhere, as the guards (set once) */
static const char module_bytes[] = "a module's bytes";

static uint32_t rd32(const uint8_t *ram, uint64_t at)
{
	uint32_t v;
	memcpy(&v, ram + at, 4);
	return v;
}

/* [at, at + len) lies below end. */
static void below_end(uint64_t at, uint64_t len, uint64_t end, const char *what)
{
	FUZZ_CHECK(at <= end && len <= end - at, "%s at 0x%llx (+%llu) past end 0x%llx", what,
		   (unsigned long long)at, (unsigned long long)len, (unsigned long long)end);
}

static void check_string(const uint8_t *ram, uint64_t at, uint64_t end, const char *what)
{
	below_end(at, 1, end, what);
	FUZZ_CHECK(memchr(ram + at, 0, end - at) != NULL, "%s not NUL-terminated below end", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ram = mem + GUARD;
	const struct mb_module mod = { module_bytes, sizeof(module_bytes), "mod.bin" };
	struct mb_boot b;
	char err[200];

	if (!pattern[0])
		memset(pattern, 0xA5, sizeof(pattern));
	memset(mem, 0xA5, GUARD);
	memset(ram + HOLE_START, 0xA5, HOLE_END - HOLE_START);
	memset(mem + GUARD + RAM, 0xA5, GUARD);
	err[0] = 0;
	int rc = mb_load(data, size, ram, RAM, "kernel.elf", "quiet", &mod, 1, &b, err,
			 sizeof(err));
	if (rc) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(mb_find_header(data, size) >= 0, "loaded an image without a valid header");
	FUZZ_CHECK(b.lowest < b.highest && b.highest <= b.end && b.end <= RAM,
		   "kernel [0x%llx, 0x%llx), end 0x%llx", (unsigned long long)b.lowest,
		   (unsigned long long)b.highest, (unsigned long long)b.end);
	FUZZ_CHECK(b.entry >= b.lowest && b.entry < b.highest, "entry 0x%x outside the kernel",
		   b.entry);
	/* memcmp against a pattern first: a loop over every byte would run the harness at a
	 * tenth of the speed; it only runs to name the byte. */
	if (memcmp(mem, pattern, GUARD) || memcmp(mem + GUARD + RAM, pattern, GUARD))
		for (unsigned i = 0; i < GUARD; i++)
			FUZZ_CHECK(mem[i] == 0xA5 && mem[GUARD + RAM + i] == 0xA5, "guard byte %u",
				   i);
	if (memcmp(ram + HOLE_START, pattern, HOLE_END - HOLE_START))
		for (unsigned a = HOLE_START; a < HOLE_END; a++)
			FUZZ_CHECK(ram[a] == 0xA5, "a byte in the PC's hole written (0x%x)", a);

	uint64_t mbi = b.info;
	below_end(mbi, 120, b.end, "the information structure");
	below_end(b.gdt, (uint64_t)b.gdt_limit + 1, b.end, "the GDT");
	check_string(ram, rd32(ram, mbi + 16), b.end, "the command line");
	check_string(ram, rd32(ram, mbi + 64), b.end, "the loader name");
	below_end(rd32(ram, mbi + 48), rd32(ram, mbi + 44), b.end, "the memory map");
	FUZZ_CHECK(rd32(ram, mbi + 20) == 1, "%u modules, gave 1", rd32(ram, mbi + 20));
	uint64_t m = rd32(ram, mbi + 24);
	below_end(m, 16, b.end, "the module list");
	uint32_t start = rd32(ram, m), stop = rd32(ram, m + 4);
	FUZZ_CHECK(start % 4096 == 0 && stop - start == sizeof(module_bytes) && stop <= b.end &&
		   (start >= b.highest || stop <= b.lowest),
		   "module [0x%x, 0x%x): not page aligned, not its size, or over the kernel",
		   start, stop);
	FUZZ_CHECK(!memcmp(ram + start, module_bytes, sizeof(module_bytes)),
		   "the module's bytes are not the module's");
	check_string(ram, rd32(ram, m + 8), b.end, "the module string");
	return 0;
}
