/* Loads a guest's ELF64 image into its RAM. Pure logic: every field of the image is
 * checked before use (the image comes from the user's ESP and may be anything). */
#ifndef MICA_LOADER_ELF_H
#define MICA_LOADER_ELF_H

#include <stddef.h>
#include <stdint.h>

struct elf_image_info {
	uint64_t entry;    /* guest-physical entry point */
	uint64_t lowest;   /* lowest guest-physical byte a segment covers */
	uint64_t highest;  /* one past the highest */
};

/* Checks img (img_size bytes) is a little-endian ELF64 x86-64 executable (ET_EXEC) with at
 * least one PT_LOAD segment, every PT_LOAD lying inside [min_gpa, ram_size), filesz <=
 * memsz, file ranges inside the image, no overflow, and the entry point inside a loaded
 * segment. If ram is not NULL, copies the segments to ram + p_paddr and zeroes the rest of
 * each (ram is the host view of guest-physical 0). Returns 0 or MICA_EINVAL with a
 * sentence for people in err ("segment 2 [0x..,0x..) lies outside guest RAM [..)"). */
int elf_load(const void *img, uint64_t img_size, void *ram, uint64_t ram_size,
	     uint64_t min_gpa, struct elf_image_info *info, char *err, size_t errlen);

#endif
