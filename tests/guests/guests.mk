# Test guests: tiny freestanding ELF64 programs, one behaviour each (docs/testing.md).
# Included by the top Makefile; builds $(BUILD)/guests/<name>.elf.

GUEST_NAMES := hello cpuid probe triple hcfuzz counter crasher bench vhostile vrestart vbench svcprobe \
	defects spinner edu victim attack_msr attack_virt attack_io attack_s2 attack_irq attack_arch chaos rezero tui \
	snapmem
GUEST_ELFS  := $(patsubst %,$(BUILD)/guests/%.elf,$(GUEST_NAMES))

GUEST_DIR := tests/guests
GUEST_OUT := $(BUILD)/guests

# Linked at 1 MiB, non-PIE, no libc: lib/string.c and lib/format.c stand in.
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -fno-builtin -nostdlib -static -fno-stack-protector -fno-strict-aliasing \
	-fno-common -fno-pie -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-fno-asynchronous-unwind-tables -Ilib/include -Iinclude -I.
GUEST_LDFLAGS := -nostdlib -static -no-pie --build-id=none -z max-page-size=4096 \
	-z noexecstack -T $(GUEST_DIR)/lib/guest.ld

GUEST_RT_SRCS := $(GUEST_DIR)/lib/crt0.S $(GUEST_DIR)/lib/hcall.S $(GUEST_DIR)/lib/runtime.c \
	lib/string.c lib/format.c
GUEST_RT_OBJS := $(patsubst %,$(GUEST_OUT)/obj/%.o,$(GUEST_RT_SRCS))

# The guests that drive their virtio console by hand share its driver, lib/vdrv.c.
GUEST_VDRV_NAMES := vhostile vrestart vbench chaos
GUEST_VDRV_OBJ   := $(GUEST_OUT)/obj/$(GUEST_DIR)/lib/vdrv.c.o
$(GUEST_VDRV_NAMES:%=$(GUEST_OUT)/%.elf): $(GUEST_VDRV_OBJ)

# The guests that provoke exceptions on purpose catch them with lib/trap.c.
GUEST_TRAP_NAMES := defects attack_msr attack_virt attack_arch
GUEST_TRAP_OBJS  := $(GUEST_OUT)/obj/$(GUEST_DIR)/lib/trap.c.o $(GUEST_OUT)/obj/$(GUEST_DIR)/lib/trap.S.o
$(GUEST_TRAP_NAMES:%=$(GUEST_OUT)/%.elf): $(GUEST_TRAP_OBJS)
# defects also goes down to real mode and back (realmode.S).
$(GUEST_OUT)/defects.elf: $(GUEST_OUT)/obj/$(GUEST_DIR)/realmode.S.o

GUEST_OBJS := $(GUEST_RT_OBJS) $(GUEST_VDRV_OBJ) $(GUEST_TRAP_OBJS) \
	$(GUEST_OUT)/obj/$(GUEST_DIR)/realmode.S.o \
	$(GUEST_NAMES:%=$(GUEST_OUT)/obj/$(GUEST_DIR)/%.c.o)
.SECONDARY: $(GUEST_OBJS)

.PHONY: guests
guests: $(GUEST_ELFS)

$(GUEST_OUT)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(GUEST_OUT)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c $< -o $@

$(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj/$(GUEST_DIR)/%.c.o $(GUEST_RT_OBJS) $(GUEST_DIR)/lib/guest.ld
	$(LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

-include $(patsubst %,$(GUEST_OUT)/obj/%.d,$(GUEST_RT_SRCS) $(GUEST_DIR)/lib/vdrv.c \
	$(GUEST_NAMES:%=$(GUEST_DIR)/%.c))

# The Multiboot test kernel (tests/guests/mboot/): a 32-bit ELF, entered the way a
# Multiboot loader enters a kernel, and bootable by bare `qemu-system-x86_64 -kernel` too.
MBOOT_ELF := $(GUEST_OUT)/mboot.elf
MBOOT_CFLAGS := -std=gnu11 -O2 -m32 -march=i686 -ffreestanding -fno-builtin -nostdlib \
	-fno-stack-protector -fno-pie -fno-pic -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-Wall -Wextra -Werror -I.
$(MBOOT_ELF): $(GUEST_DIR)/mboot/entry.S $(GUEST_DIR)/mboot/mboot.c $(GUEST_DIR)/mboot/mboot.ld \
		lib/uart16550.h lib/portio.h
	@mkdir -p $(GUEST_OUT)/obj/mboot
	$(CC) $(MBOOT_CFLAGS) -c $(GUEST_DIR)/mboot/entry.S -o $(GUEST_OUT)/obj/mboot/entry.o
	$(CC) $(MBOOT_CFLAGS) -c $(GUEST_DIR)/mboot/mboot.c -o $(GUEST_OUT)/obj/mboot/mboot.o
	$(LD) -m elf_i386 -nostdlib -static --build-id=none -z noexecstack --no-warn-rwx-segments \
		-T $(GUEST_DIR)/mboot/mboot.ld -o $@ $(GUEST_OUT)/obj/mboot/entry.o \
		$(GUEST_OUT)/obj/mboot/mboot.o
guests: $(MBOOT_ELF)
