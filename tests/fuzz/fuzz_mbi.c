/* boot/mb2/mbi.c: the Multiboot2 information GRUB hands over is anything. A parsed one
 * points only inside itself: the command line ends inside, every module's string too, the
 * memory map's entries and the RSDP copy lie within total_size. */
#include "tests/fuzz/fuzz.h"
#include "boot/mb2/mb2.h"

static uint8_t buf[1 << 16] __attribute__((aligned(8)));

static int inside(const void *p, uint64_t len, uint64_t total)
{
	const uint8_t *b = p;
	return b >= buf && (uint64_t)(b - buf) <= total && len <= total - (uint64_t)(b - buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb2_info info;
	char err[200];
	if (size > sizeof(buf))
		size = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size);
	/* GRUB's MBI is total_size bytes of memory: here the buffer is all there is. */
	uint32_t total_field;
	memcpy(&total_field, buf, 4);
	if (total_field > sizeof(buf)) {
		total_field = sizeof(buf);
		memcpy(buf, &total_field, 4);
	}
	err[0] = 0;
	if (mbi_parse(buf, 0x10000, &info, err, sizeof(err))) {
		fuzz_check_msg(err, sizeof(err));
		return 0;
	}
	uint64_t total = info.total_size;
	FUZZ_CHECK(total <= sizeof(buf), "total_size %llu", (unsigned long long)total);
	if (info.cmdline)
		FUZZ_CHECK(inside(info.cmdline, strnlen(info.cmdline, total) + 1, total),
			   "command line not ended inside the MBI");
	FUZZ_CHECK(info.nmodules <= MB2_MAX_MODULES, "%u modules", info.nmodules);
	for (unsigned i = 0; i < info.nmodules; i++)
		FUZZ_CHECK(!info.modules[i].string ||
			   inside(info.modules[i].string, strnlen(info.modules[i].string, total) + 1,
				  total), "module %u's string", i);
	if (info.mmap)
		FUZZ_CHECK(inside(info.mmap, (uint64_t)info.mmap_entry_size * info.mmap_count, total),
			   "memory map outside the MBI");
	for (unsigned i = 0; i < info.mmap_count && i < 64; i++)
		(void)mbi_mmap_entry(&info, i);
	if (info.rsdp)
		FUZZ_CHECK(inside(info.rsdp, info.rsdp_len, total), "RSDP outside the MBI");
	return 0;
}
