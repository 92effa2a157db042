/* kernel/config.c: any text. A config that parses must describe partitions Mica can
 * build: names of the allowed characters and unique, CPUs present in the mask and never
 * shared, memory a non-zero multiple of CFG_MEM_ALIGN, an image, devices within limits. */
#include "tests/fuzz/fuzz.h"
#include <mica/hypercall.h>
#include "kernel/config.h"

static struct cfg c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_error e;
	memset(&e, 0, sizeof(e));
	if (cfg_parse((const char *)data, size, &c, &e)) {
		fuzz_check_msg(e.msg, sizeof(e.msg));
		return 0;
	}
	FUZZ_CHECK(c.nparts >= 1 && c.nparts <= CFG_MAX_PARTS, "%u partitions", c.nparts);
	uint64_t used = 0;
	for (unsigned i = 0; i < c.nparts; i++) {
		const struct cfg_partition *p = &c.part[i];
		size_t n = strnlen(p->name, sizeof(p->name));
		FUZZ_CHECK(n >= 1 && n < sizeof(p->name), "name length %zu", n);
		for (size_t k = 0; k < n; k++) {
			char ch = p->name[k];
			FUZZ_CHECK((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_',
				   "name character 0x%02x", (unsigned char)ch);
		}
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(p->name, c.part[j].name), "name '%s' twice", p->name);
		FUZZ_CHECK(p->cpus != 0, "partition '%s' has no CPU", p->name);
		FUZZ_CHECK(!(p->cpus & used), "a CPU of '%s' is also another partition's", p->name);
		used |= p->cpus;
		FUZZ_CHECK(p->memory && p->memory % CFG_MEM_ALIGN == 0, "memory 0x%llx",
			   (unsigned long long)p->memory);
		FUZZ_CHECK(p->image[0] && memchr(p->image, 0, sizeof(p->image)), "image path");
		FUZZ_CHECK(memchr(p->cmdline, 0, sizeof(p->cmdline)), "cmdline not terminated");
		FUZZ_CHECK(p->nmodules <= CFG_MODULES_MAX, "%u modules", p->nmodules);
		FUZZ_CHECK(p->npci <= CFG_PCI_MAX, "%u PCI devices", p->npci);
		for (unsigned k = 0; k < p->npci; k++)
			FUZZ_CHECK(p->pci[k].dev < 32 && p->pci[k].fn < 8, "PCI address");
	}
	return 0;
}
