/* Guest ELF64 loader. The image comes from the user's ESP and may be anything, so every
 * header field is checked before it is used, and nothing is copied until all checks pass.
 * Field layout: System V ABI, "ELF-64 Object File Format" 1.5 and the x86-64 psABI. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/loader/elf.h"
#include "kernel/loader/guest_ram.h"
#include "lib/errmsg.h"

#define EI_CLASS   4
#define EI_DATA    5
#define EI_VERSION 6
#define ELFCLASS64  2
#define ELFDATA2LSB 1
#define EV_CURRENT  1
#define ET_EXEC     2
#define EM_X86_64   62
#define PT_LOAD     1
#define PT_DYNAMIC  2
#define PT_INTERP   3

#define ELF_MAX_PHDRS 64

struct elf64_ehdr {
	uint8_t e_ident[16];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header is 64 bytes");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header is 56 bytes");

typedef unsigned long long ull; /* what %llx prints, in every build */

static const char *machine_name(unsigned m)
{
	switch (m) {
	case 0: return "none";
	case 3: return "i386";
	case 8: return "MIPS";
	case 20: return "PowerPC";
	case 21: return "PowerPC64";
	case 40: return "ARM";
	case 62: return "x86-64";
	case 183: return "AArch64";
	case 243: return "RISC-V";
	default: return "unknown";
	}
}

static const char *type_name(unsigned t)
{
	switch (t) {
	case 0: return "none";
	case 1: return "relocatable object";
	case 2: return "executable";
	case 3: return "shared object or PIE";
	case 4: return "core dump";
	default: return "unknown";
	}
}

static void read_phdr(const uint8_t *img, const struct elf64_ehdr *eh, unsigned i,
		      struct elf64_phdr *ph)
{
	memcpy(ph, img + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int check_header(const uint8_t *img, uint64_t size, struct elf64_ehdr *eh,
			char *err, size_t errlen)
{
	if (size < sizeof(*eh))
		return errmsg(MICA_EINVAL, err, errlen, "image is %llu bytes, too small for an ELF header (64 bytes)",
			    (ull)size);
	memcpy(eh, img, sizeof(*eh));
	if (memcmp(eh->e_ident, "\x7f" "ELF", 4) != 0)
		return errmsg(MICA_EINVAL, err, errlen, "not an ELF file (first bytes are %02x %02x %02x %02x)",
			    img[0], img[1], img[2], img[3]);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return errmsg(MICA_EINVAL, err, errlen, "ELF class %u (%s), expected 2 (64-bit)",
			    eh->e_ident[EI_CLASS], eh->e_ident[EI_CLASS] == 1 ? "32-bit" : "unknown");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return errmsg(MICA_EINVAL, err, errlen, "ELF data encoding %u (%s), expected 1 (little-endian)",
			    eh->e_ident[EI_DATA], eh->e_ident[EI_DATA] == 2 ? "big-endian" : "unknown");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return errmsg(MICA_EINVAL, err, errlen, "ELF version %u, expected 1 (current)",
			    eh->e_ident[EI_VERSION] != EV_CURRENT ? eh->e_ident[EI_VERSION]
								   : (unsigned)eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return errmsg(MICA_EINVAL, err, errlen, "ELF machine %u (%s), expected 62 (x86-64)",
			    eh->e_machine, machine_name(eh->e_machine));
	if (eh->e_type != ET_EXEC)
		return errmsg(MICA_EINVAL, err, errlen, "ELF type %u (%s), expected 2 (executable)", eh->e_type,
			    type_name(eh->e_type));
	if (eh->e_phentsize != sizeof(struct elf64_phdr))
		return errmsg(MICA_EINVAL, err, errlen, "program header size %u, expected 56", eh->e_phentsize);
	if (eh->e_phnum == 0)
		return errmsg(MICA_EINVAL, err, errlen, "no program headers: nothing to load");
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return errmsg(MICA_EINVAL, err, errlen, "%u program headers, at most %u are supported",
			    eh->e_phnum, ELF_MAX_PHDRS);
	uint64_t table = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
	if (eh->e_phoff > size || table > size - eh->e_phoff)
		return errmsg(MICA_EINVAL, err, errlen,
			    "program header table at 0x%llx (0x%llx bytes) lies outside the image "
			    "(0x%llx bytes)", (ull)eh->e_phoff, (ull)table, (ull)size);
	return 0;
}

static int check_load(const struct elf64_phdr *ph, unsigned i, uint64_t size,
		      uint64_t ram_size, uint64_t min_gpa, char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return errmsg(MICA_EINVAL, err, errlen,
			    "segment %u: file size 0x%llx is larger than its memory size 0x%llx", i,
			    (ull)ph->p_filesz, (ull)ph->p_memsz);
	/* With nothing to read from the file, p_offset is never used. */
	if (ph->p_filesz && (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)) {
		if (ph->p_offset + ph->p_filesz < ph->p_offset)
			return errmsg(MICA_EINVAL, err, errlen,
				    "segment %u: file offset 0x%llx plus size 0x%llx overflows", i,
				    (ull)ph->p_offset, (ull)ph->p_filesz);
		return errmsg(MICA_EINVAL, err, errlen,
			    "image is truncated: segment %u needs bytes up to 0x%llx, file has 0x%llx",
			    i, (ull)(ph->p_offset + ph->p_filesz), (ull)size);
	}
	if (ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return errmsg(MICA_EINVAL, err, errlen,
			    "segment %u at 0x%llx with size 0x%llx wraps around the address space",
			    i, (ull)ph->p_paddr, (ull)ph->p_memsz);
	if (ph->p_vaddr + ph->p_memsz < ph->p_vaddr)
		return errmsg(MICA_EINVAL, err, errlen,
			    "segment %u at virtual 0x%llx with size 0x%llx wraps around the address "
			    "space", i, (ull)ph->p_vaddr, (ull)ph->p_memsz);
	if (ph->p_paddr < min_gpa || ph->p_paddr + ph->p_memsz > ram_size)
		return errmsg(MICA_EINVAL, err, errlen,
			    "segment %u [0x%llx, 0x%llx) lies outside guest RAM [0x%llx, 0x%llx)", i,
			    (ull)ph->p_paddr, (ull)(ph->p_paddr + ph->p_memsz), (ull)min_gpa,
			    (ull)ram_size);
	return 0;
}

int elf_load(const void *img, uint64_t img_size, void *ram, uint64_t ram_size,
	     uint64_t min_gpa, struct elf_image_info *info, char *err, size_t errlen)
{
	const uint8_t *im = img;
	struct elf64_ehdr eh;
	struct elf64_phdr ph, other;
	uint64_t lowest = UINT64_MAX, highest = 0, entry = 0;
	unsigned nload = 0;
	int entry_found = 0, rc;

	if (err && errlen)
		err[0] = '\0';
	if (!img)
		return errmsg(MICA_EINVAL, err, errlen, "no image");
	rc = check_header(im, img_size, &eh, err, errlen);
	if (rc)
		return rc;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		read_phdr(im, &eh, i, &ph);
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
			return errmsg(MICA_EINVAL, err, errlen,
				    "segment %u is %s: the image is dynamically linked; link it "
				    "statically", i, ph.p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
		if (ph.p_type != PT_LOAD)
			continue;
		if (!ph.p_memsz && !ph.p_filesz)
			continue; /* legal, and loads nothing: where it points does not matter */
		rc = check_load(&ph, i, img_size, ram_size, min_gpa, err, errlen);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++) {
			read_phdr(im, &eh, j, &other);
			if (other.p_type != PT_LOAD || !other.p_memsz)
				continue;
			uint64_t lo = ph.p_paddr > other.p_paddr ? ph.p_paddr : other.p_paddr;
			uint64_t e1 = ph.p_paddr + ph.p_memsz, e2 = other.p_paddr + other.p_memsz;
			uint64_t hi = e1 < e2 ? e1 : e2;
			if (lo < hi)
				return errmsg(MICA_EINVAL, err, errlen, "segments %u and %u overlap at [0x%llx, 0x%llx)",
					    j, i, (ull)lo, (ull)hi);
		}
		nload++;
		if (ph.p_paddr < lowest)
			lowest = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > highest)
			highest = ph.p_paddr + ph.p_memsz;
		/* The entry is a virtual address: find it in the segment's virtual range. */
		if (!entry_found && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
			entry = ph.p_paddr + (eh.e_entry - ph.p_vaddr);
			entry_found = 1;
		}
	}
	if (!nload)
		return errmsg(MICA_EINVAL, err, errlen, "no PT_LOAD segment: nothing to load");
	if (!entry_found)
		return errmsg(MICA_EINVAL, err, errlen, "entry point 0x%llx is not inside any loaded segment",
			    (ull)eh.e_entry);

	if (ram) {
		uint8_t *r = ram;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			read_phdr(im, &eh, i, &ph);
			if (ph.p_type != PT_LOAD || !ph.p_memsz)
				continue;
			guest_ram_prepare(ram, ph.p_paddr, ph.p_memsz);
			if (ph.p_filesz)
				memcpy(r + ph.p_paddr, im + ph.p_offset, ph.p_filesz);
			memset(r + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		}
	}
	if (info) {
		info->entry = entry;
		info->lowest = lowest;
		info->highest = highest;
	}
	return 0;
}
