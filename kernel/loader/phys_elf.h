/* ELF32 (i386) and ELF64 (x86-64) executables as the Multiboot and PVH protocols load them:
 * each PT_LOAD segment at its physical address, the entry point a physical address (or a
 * virtual one inside a segment, translated). Pure logic: every field is checked before
 * use. */
#ifndef MICA_LOADER_PHYS_ELF_H
#define MICA_LOADER_PHYS_ELF_H

#include <stddef.h>
#include <stdint.h>

/* A piece of an image to place: file bytes [off, off + filesz) at guest-physical paddr,
 * zeroed up to memsz; vaddr is where it was linked. */
struct phys_seg {
	uint64_t off, filesz, paddr, vaddr, memsz;
};
#define PHYS_SEGS_MAX 16

/* The loadable segments of img (at most PHYS_SEGS_MAX, none empty) and its entry point:
 * 0, or MICA_EINVAL with a sentence in err (not ELF, wrong machine, a segment outside the
 * image). Where the segments go is the caller's to check. */
int phys_elf_segments(const uint8_t *img, uint64_t size, struct phys_seg *segs, unsigned *n,
		      uint64_t *entry, char *err, size_t errlen);

/* entry as a physical address: inside a segment's physical range as it is, else inside a
 * virtual range translated to its physical one. 0 with *out, or -1 (outside every one). */
int phys_elf_entry(const struct phys_seg *segs, unsigned n, uint64_t entry, uint32_t *out);

#endif
