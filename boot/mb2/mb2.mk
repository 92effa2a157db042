# The Multiboot2 entry, build/mica-mb2.elf (docs/booting.md, "Booting with GRUB"). Included
# by the top Makefile. An ELF64 kernel linked at 1 MiB whose 32-bit entry switches to long
# mode itself; the C parts build like the rest of Mica's freestanding code. boot/elf_core.c
# is shared with the UEFI loader (it needs the GNU-EFI headers only for types).

EFI_INC ?= /usr/include/efi
MB2_CFLAGS := $(COMMON_CFLAGS) -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 \
	-mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-pie -fno-pic \
	-fno-asynchronous-unwind-tables -DMICA_MB2
MB2_LDFLAGS := -nostdlib -static -no-pie -z max-page-size=4096 -z noexecstack \
	--no-warn-rwx-segments --build-id=none -T boot/mb2/mb2.ld

MB2_SRCS := $(addprefix boot/mb2/,main.c mbi.c mbi1.c memmap.c rsdp.c console.c) boot/say.c boot/elf_core.c \
	kernel/config.c kernel/config_devices.c kernel/config_machine.c kernel/host/pci.c $(LIB_SRCS)
MB2_OBJS := $(patsubst %,$(BUILD)/mb2/%.o,$(MB2_SRCS)) $(BUILD)/mb2/boot/mb2/entry.S.o

# The pure parts are unit-tested on the host (tests/unit/test_mb2*.c).
UNIT_SRCS += boot/mb2/mbi.c boot/mb2/mbi1.c boot/mb2/memmap.c boot/mb2/rsdp.c

.PHONY: mb2 iso
mb2: $(BUILD)/mica-mb2.elf

$(BUILD)/mb2/%.c.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(MB2_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/mb2/%.S.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(MB2_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c $< -o $@

$(BUILD)/mica-mb2.elf: $(MB2_OBJS) boot/mb2/mb2.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(MB2_LDFLAGS) -o $@ $(MB2_OBJS)
	$(Q)if command -v grub-file >/dev/null 2>&1 && ! grub-file --is-x86-multiboot2 $@; then \
		echo "$@ is not a valid Multiboot2 kernel (grub-file)" >&2; rm -f $@; exit 1; fi
	$(Q)if command -v grub-file >/dev/null 2>&1 && ! grub-file --is-x86-multiboot $@; then \
		echo "$@ is not a valid Multiboot kernel (grub-file)" >&2; rm -f $@; exit 1; fi

# A GRUB ISO of the default config: `make iso`, then boot build/mica-default.iso
# (scripts/mkiso.sh; see docs/booting.md).
iso: core guests $(BUILD)/mica-mb2.elf
	scripts/mkiso.sh $(BUILD)/mica-default.iso configs/default.cfg $(GUEST_ELFS)

-include $(MB2_OBJS:.o=.d)
