/* Checking and placing the core image: an ELF64 x86-64 static PIE (ET_DYN) linked at 0.
 * The core applies its own relocations; the loader only copies PT_LOAD segments.
 * Field layouts: System V gABI, "ELF Header" and "Program Header". */
#include <stdio.h>
#include <string.h>

#include "loader.h"

#define EI_NIDENT     16
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define EV_CURRENT    1
#define ET_DYN        3
#define EM_X86_64     62
#define PT_LOAD       1
#define PF_X          1

#define CORE_SPAN_MAX (1ULL << 30) /* a sanity bound: the core is a few hundred KiB */
#define CORE_ALIGN_MAX (2ULL << 20)

struct elf64_ehdr {
	uint8_t e_ident[EI_NIDENT];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type, p_flags;
	uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};

static const struct elf64_phdr *phdr(const void *img, unsigned i)
{
	const struct elf64_ehdr *eh = img;

	return (const struct elf64_phdr *)((const uint8_t *)img + eh->e_phoff) + i;
}

int core_check(const void *img, uint64_t size, struct core_layout *out, char *err, size_t errlen)
{
	const struct elf64_ehdr *eh = img;
	const uint8_t *id = img;
	uint64_t end = 0, align = PAGE_SIZE;
	unsigned nload = 0;
	int entry_ok = 0;

	if (size < sizeof(*eh) || memcmp(id, "\177ELF", 4) != 0) {
		snprintf(err, errlen, "is not an ELF file (%llu bytes, starts %02x %02x %02x %02x)",
			 (unsigned long long)size, size > 0 ? id[0] : 0, size > 1 ? id[1] : 0,
			 size > 2 ? id[2] : 0, size > 3 ? id[3] : 0);
		return -1;
	}
	if (id[4] != ELFCLASS64 || id[5] != ELFDATA2LSB || id[6] != EV_CURRENT ||
	    eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "is not a little-endian ELF64 x86-64 file "
			 "(class %u, data %u, version %u, machine %u)", id[4], id[5], id[6], eh->e_machine);
		return -1;
	}
	if (eh->e_type != ET_DYN) {
		snprintf(err, errlen, "has ELF type %u, expected %u (a static PIE linked at 0)",
			 eh->e_type, ET_DYN);
		return -1;
	}
	if (eh->e_phentsize != sizeof(struct elf64_phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > size || (size - eh->e_phoff) / sizeof(struct elf64_phdr) < eh->e_phnum ||
	    eh->e_phoff % 8) {
		snprintf(err, errlen, "has a bad program header table (offset %llu, %u entries of %u "
			 "bytes, file %llu bytes)", (unsigned long long)eh->e_phoff, eh->e_phnum,
			 eh->e_phentsize, (unsigned long long)size);
		return -1;
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *ph = phdr(img, i);

		if (ph->p_type != PT_LOAD)
			continue;
		nload++;
		if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset ||
		    ph->p_filesz > ph->p_memsz || ph->p_vaddr > CORE_SPAN_MAX ||
		    ph->p_memsz > CORE_SPAN_MAX - ph->p_vaddr) {
			snprintf(err, errlen, "has a bad PT_LOAD segment %u (offset %llu, filesz %llu, "
				 "vaddr 0x%llx, memsz %llu; file %llu bytes)", i,
				 (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz,
				 (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
				 (unsigned long long)size);
			return -1;
		}
		if (ph->p_align > CORE_ALIGN_MAX || (ph->p_align & (ph->p_align - 1))) {
			snprintf(err, errlen, "asks for alignment %llu in segment %u (at most 2 MiB, a "
				 "power of two)", (unsigned long long)ph->p_align, i);
			return -1;
		}
		if (ph->p_align > align)
			align = ph->p_align;
		if (ph->p_vaddr + ph->p_memsz > end)
			end = ph->p_vaddr + ph->p_memsz;
		if ((ph->p_flags & PF_X) && eh->e_entry >= ph->p_vaddr &&
		    eh->e_entry < ph->p_vaddr + ph->p_memsz)
			entry_ok = 1;
	}
	if (nload == 0) {
		snprintf(err, errlen, "has no PT_LOAD segment");
		return -1;
	}
	if (!entry_ok) {
		snprintf(err, errlen, "has its entry point 0x%llx outside every executable segment",
			 (unsigned long long)eh->e_entry);
		return -1;
	}
	out->span = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	out->align = align;
	out->entry = eh->e_entry;
	return 0;
}

void core_place(const void *img, void *base)
{
	const struct elf64_ehdr *eh = img;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *ph = phdr(img, i);

		if (ph->p_type == PT_LOAD)
			memcpy((uint8_t *)base + ph->p_vaddr, (const uint8_t *)img + ph->p_offset,
			       ph->p_filesz);
	}
}
