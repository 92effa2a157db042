#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/loader/boot_elf.h"
#include "kernel/loader/elf.h"
#include "kernel/loader/guest_ram.h"

/* Guest-physical layout of what Mica builds below 1 MiB. */
#define GUEST_PML4 0x1000ULL
#define GUEST_PDPT 0x2000ULL
#define GUEST_PD   0x3000ULL /* four PDs: 0x3000..0x6fff, 2 MiB pages over [0, 4 GiB) */
#define GUEST_GDT  0x7000ULL

#define P  1ULL
#define W  2ULL
#define PS 0x80ULL

int boot_elf_load(const void *img, uint64_t img_size, void *ram, uint64_t ram_size,
		  struct vcpu_boot_state *st, char *err, size_t errlen)
{
	struct elf_image_info info;
	uint8_t *r = ram;

	if (ram_size < 2 * BOOT_ELF_MIN_GPA) {
		snprintf(err, errlen, "the ELF boot protocol needs at least 2 MiB of RAM");
		return MICA_EINVAL;
	}
	guest_ram_prepare(ram, 0, BOOT_ELF_MIN_GPA);
	memset(r, 0, BOOT_ELF_MIN_GPA);
	int rc = elf_load(img, img_size, ram, ram_size, BOOT_ELF_MIN_GPA, &info, err, errlen);
	if (rc)
		return rc;

	uint64_t *pml4 = (uint64_t *)(r + GUEST_PML4);
	uint64_t *pdpt = (uint64_t *)(r + GUEST_PDPT);
	uint64_t *pd = (uint64_t *)(r + GUEST_PD);
	pml4[0] = GUEST_PDPT | P | W;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (GUEST_PD + 0x1000 * i) | P | W;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | P | W | PS;

	uint64_t *gdt = (uint64_t *)(r + GUEST_GDT);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL; /* 0x08: 64-bit code */
	gdt[2] = 0x00cf93000000ffffULL; /* 0x10: data */

	memset(st, 0, sizeof(*st));
	st->mode = VCPU_MODE_LONG64;
	st->rip = info.entry;
	st->cr0 = 0x80010033ULL; /* PG | WP | NE | ET | MP | PE */
	st->cr3 = GUEST_PML4;
	st->cr4 = 0x20;          /* PAE */
	st->efer = 0x500;        /* LME | LMA */
	st->gdt_base = GUEST_GDT;
	st->gdt_limit = 3 * 8 - 1;
	st->code_sel = 0x08;
	st->data_sel = 0x10;
	boot_elf_vcpu_state(st, ram_size, 0);
	return 0;
}

void boot_elf_vcpu_state(struct vcpu_boot_state *st, uint64_t ram_size, unsigned vcpu)
{
	st->rsp = ram_size - BOOT_ELF_STACK * vcpu;
	st->rdi = vcpu;
}
