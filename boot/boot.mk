# The UEFI loader, BOOTX64.EFI, built with GNU-EFI. Included by the top Makefile.
# GNU-EFI provides only the start-up code and self-relocation (crt0, libgnuefi); the loader
# calls the firmware tables directly and takes memcpy/snprintf from lib/, so libefi (which
# has its own memcpy/memset) is not linked.

EFI_INC ?= /usr/include/efi
EFI_LIB ?= /usr/lib

LOADER_CFLAGS := $(COMMON_CFLAGS) -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 \
	-fpic -fshort-wchar -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-DGNU_EFI_USE_MS_ABI -DMICA_LOADER
LOADER_LDFLAGS := -nostdlib -shared -Bsymbolic -znocombreloc --no-undefined \
	-T $(EFI_LIB)/elf_x86_64_efi.lds

LOADER_SRCS := $(addprefix boot/,efi_main.c console.c say.c efi_file.c mica_mem.c elf_core.c efi_mmap.c \
	efi_tables.c) \
	kernel/config.c kernel/config_devices.c kernel/config_machine.c kernel/host/pci.c $(LIB_SRCS)
LOADER_OBJS := $(patsubst %,$(BUILD)/efi/%.o,$(LOADER_SRCS))

.PHONY: loader
loader: $(BUILD)/BOOTX64.EFI

$(BUILD)/efi/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LOADER_CFLAGS) -MMD -MP -c $< -o $@

# An EFI program: GNU-EFI's start-up code and the objects, linked as a shared object, then
# only the sections the PE image needs; subsystem 10 = EFI application.
EFI_LINK = $(LD) $(LOADER_LDFLAGS) -o $@ $(EFI_LIB)/crt0-efi-x86_64.o $^ $(EFI_LIB)/libgnuefi.a
EFI_PE = $(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	-j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

$(BUILD)/efi/loader.so: $(LOADER_OBJS)
	$(EFI_LINK)

$(BUILD)/BOOTX64.EFI: $(BUILD)/efi/loader.so
	$(EFI_PE)

# MICACHK.EFI, the pre-flight check (docs/hardware.md): the loader's console and file
# reading, the core's config and ACPI parsers, and boot/check/.
CHECK_SRCS := $(addprefix boot/,console.c say.c efi_file.c mica_mem.c efi_mmap.c efi_tables.c) \
	$(addprefix boot/check/,main.c probe.c judge.c acpi_facts.c) \
	kernel/config.c kernel/config_devices.c kernel/config_machine.c kernel/host/acpi.c kernel/host/dmar.c kernel/host/ivrs.c \
	kernel/host/iommu_acpi.c kernel/host/pci.c $(LIB_SRCS)
CHECK_OBJS := $(patsubst %,$(BUILD)/efi/%.o,$(CHECK_SRCS))

.PHONY: check-efi
check-efi: $(BUILD)/MICACHK.EFI

$(BUILD)/efi/check.so: $(CHECK_OBJS)
	$(EFI_LINK)

$(BUILD)/MICACHK.EFI: $(BUILD)/efi/check.so
	$(EFI_PE)

-include $(LOADER_OBJS:.o=.d) $(CHECK_OBJS:.o=.d)
