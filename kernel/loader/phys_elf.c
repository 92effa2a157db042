/* ELF32 and ELF64 executables loaded by physical address (kernel/loader/phys_elf.h). */
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/loader/phys_elf.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

#define PT_LOAD 1
#define ET_EXEC 2
#define EM_386 3
#define EM_X86_64 62

/* An ELF32 or ELF64 executable: its PT_LOAD segments at their physical addresses. */
int phys_elf_segments(const uint8_t *img, uint64_t size, struct phys_seg *pc, unsigned *n,
		      uint64_t *entry, char *err, size_t errlen)
{
	if (size < 52 || memcmp(img, "\x7f" "ELF", 4))
		return errmsg(MICA_EINVAL, err, errlen, "the image is not an ELF executable");
	unsigned cls = img[4];
	int is64 = cls == 2;
	if ((cls != 1 && cls != 2) || img[5] != 1)
		return errmsg(MICA_EINVAL, err, errlen, "ELF class %u, data %u: expected a "
			      "little-endian ELF32 or ELF64 image", cls, img[5]);
	if (is64 && size < 64)
		return errmsg(MICA_EINVAL, err, errlen, "the ELF64 header is cut short");
	uint16_t type = rd16(img + 16), machine = rd16(img + 18);
	if (type != ET_EXEC || machine != (is64 ? EM_X86_64 : EM_386))
		return errmsg(MICA_EINVAL, err, errlen, "ELF type %u machine %u: expected an "
			      "executable for %s", type, machine, is64 ? "x86-64" : "i386");
	uint64_t phoff = is64 ? rd64(img + 32) : rd32(img + 28);
	unsigned phentsize = rd16(img + (is64 ? 54 : 42)), phnum = rd16(img + (is64 ? 56 : 44));
	*entry = is64 ? rd64(img + 24) : rd32(img + 24);
	if (phentsize != (is64 ? 56u : 32u) || phoff > size ||
	    (uint64_t)phnum * phentsize > size - phoff)
		return errmsg(MICA_EINVAL, err, errlen, "the ELF program headers (%u of %u bytes at "
			      "0x%lx) do not lie inside the %lu-byte image", phnum, phentsize,
			      (unsigned long)phoff, (unsigned long)size);
	*n = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		if (rd32(ph) != PT_LOAD)
			continue;
		struct phys_seg p;
		if (is64)
			p = (struct phys_seg){ rd64(ph + 8), rd64(ph + 32), rd64(ph + 24), rd64(ph + 16),
					    rd64(ph + 40) };
		else
			p = (struct phys_seg){ rd32(ph + 4), rd32(ph + 16), rd32(ph + 12), rd32(ph + 8),
					    rd32(ph + 20) };
		if (!p.memsz)
			continue;
		if (*n == PHYS_SEGS_MAX)
			return errmsg(MICA_EINVAL, err, errlen, "more than %u loadable segments",
				      PHYS_SEGS_MAX);
		if (p.filesz > p.memsz || p.off > size || p.filesz > size - p.off)
			return errmsg(MICA_EINVAL, err, errlen, "segment %u: %lu file bytes at 0x%lx "
				      "(memory size %lu) do not lie inside the %lu-byte image", i,
				      (unsigned long)p.filesz, (unsigned long)p.off,
				      (unsigned long)p.memsz, (unsigned long)size);
		pc[(*n)++] = p;
	}
	if (!*n)
		return errmsg(MICA_EINVAL, err, errlen, "the ELF image has no loadable segment");
	return 0;
}

/* The entry point as a physical address: inside a piece's physical range, or (a kernel
 * linked high) inside its virtual range and translated, as GRUB does. */
int phys_elf_entry(const struct phys_seg *pc, unsigned n, uint64_t entry, uint32_t *out)
{
	for (unsigned i = 0; i < n; i++)
		if (entry >= pc[i].paddr && entry - pc[i].paddr < pc[i].memsz) {
			*out = (uint32_t)entry;
			return 0;
		}
	for (unsigned i = 0; i < n; i++)
		if (entry >= pc[i].vaddr && entry - pc[i].vaddr < pc[i].memsz) {
			*out = (uint32_t)(pc[i].paddr + (entry - pc[i].vaddr));
			return 0;
		}
	return -1;
}
