# Mica — one build for everything. `make` builds the loader, the core and the test guests;
# `make run` boots them in QEMU; `make test` runs every test; `make bench` the benchmarks.
# Each part keeps its rules beside its sources in a .mk file included below.

BUILD   ?= build
CC      ?= gcc
LD      ?= ld
OBJCOPY ?= objcopy
PYTHON  ?= python3

# Freestanding code shared by the core, the loader and the guests: lib/ stands in for libc.
COMMON_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -fno-stack-protector -fno-strict-aliasing -fno-common \
	-Iinclude -Ilib/include -I.

# CORE_DEFINES: test builds only, e.g. -DMICA_VMX_BREAK_VMCS (docs/testing.md); use their own BUILD.
CORE_DEFINES ?=
# The core runs at whatever address the boot path put it (static PIE, relocates itself).
CORE_CFLAGS := $(COMMON_CFLAGS) -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-fpie -fvisibility=hidden -fno-asynchronous-unwind-tables -DMICA_CORE $(CORE_DEFINES)
CORE_LDFLAGS := -nostdlib -static -pie --no-dynamic-linker -z text -z max-page-size=4096 \
	-z noexecstack --no-warn-rwx-segments --build-id=none -T linker.ld

LIB_SRCS  := lib/string.c lib/format.c lib/int128.c lib/errmsg.c lib/date.c
CORE_SRCS := $(wildcard kernel/*.c kernel/*/*.c arch/x86/*.c arch/x86/svm/*.c arch/x86/vmx/*.c arch/x86/iommu/*.c) $(LIB_SRCS)
CORE_ASMS := $(wildcard arch/x86/*.S arch/x86/svm/*.S arch/x86/vmx/*.S)
CORE_OBJS := $(patsubst %,$(BUILD)/core/%.o,$(CORE_SRCS) $(CORE_ASMS))

.PHONY: all core run run-tiny run-linux test bench clean deps-build deps-run deps-test deps-fuzz
all: core loader check-efi mb2 guests vmm

core: $(BUILD)/core.elf

Q := $(if $(V),,@)

$(BUILD)/core/%.c.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CORE_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/core/%.S.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(CORE_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c $< -o $@

$(BUILD)/core.elf: $(CORE_OBJS) linker.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(CORE_LDFLAGS) -o $@ $(CORE_OBJS)
	@scripts/check-core.sh $@
	@$(PYTHON) scripts/check-layers.py

-include $(CORE_OBJS:.o=.d)

deps-build:
	@scripts/deps.sh build
deps-run:
	@scripts/deps.sh run
deps-test:
	@scripts/deps.sh test
deps-fuzz:
	@scripts/deps.sh fuzz

include boot/boot.mk
include boot/mb2/mb2.mk
include tests/guests/guests.mk
include vmm/vmm.mk
include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include tests/e2e/e2e.mk

# The README's two commands. Each installs what it needs first (scripts/deps.sh).
# `make run`: the service partition, two Linux partitions on a virtio switch (one with a
# virtio disk) and a tiny one (configs/default.cfg). The Linux image is built from Debian's
# packages (scripts/linux-image.sh, cached); the disk is made once, blank, and kept.
RUN_FILES = $(BUILD)/linux/vmlinuz $(BUILD)/linux/initrd.img $(BUILD)/vmm/vmm.elf \
	$(BUILD)/guests/counter.elf $(BUILD)/web-disk.img
run: deps-run
	$(MAKE) all
	scripts/linux-image.sh
	test -f $(BUILD)/web-disk.img || truncate -s 64M $(BUILD)/web-disk.img
	scripts/mkesp.sh $(BUILD)/esp-default.img configs/default.cfg $(RUN_FILES)
	scripts/qemu.sh $(BUILD)/esp-default.img

# The tiny demo: two test guests, no Linux (configs/tiny.cfg).
run-tiny: deps-run
	$(MAKE) all
	scripts/mkesp.sh $(BUILD)/esp-tiny.img configs/tiny.cfg $(GUEST_ELFS)
	scripts/qemu.sh $(BUILD)/esp-tiny.img

# A USB stick image (docs/booting.md): a GPT disk with one EFI System Partition holding the
# loader, the core, USB_CONFIG as mica.cfg and USB_FILES (default: the tiny demo's);
# SIGN_KEY and SIGN_CERT (PEM) sign the EFI programs for Secure Boot (docs/booting.md).
USB_CONFIG ?= configs/tiny.cfg
USB_FILES ?= $(GUEST_ELFS)
.PHONY: usb-image
usb-image: deps-build
	$(MAKE) all
	MKESP_SIGN_KEY=$(SIGN_KEY) MKESP_SIGN_CERT=$(SIGN_CERT) \
		scripts/mkusb.sh $(BUILD)/mica-usb.img $(USB_CONFIG) $(USB_FILES)

# The same stick with the pre-flight check (MICACHK.EFI) as its boot program: boot it on
# the target machine, read the verdict, then boot mica-usb.img (docs/hardware.md).
.PHONY: check-usb-image
check-usb-image: deps-build
	$(MAKE) all
	MKESP_LOADER=$(BUILD)/MICACHK.EFI MKESP_SIGN_KEY=$(SIGN_KEY) MKESP_SIGN_CERT=$(SIGN_CERT) \
		scripts/mkusb.sh $(BUILD)/mica-check-usb.img $(USB_CONFIG) $(USB_FILES)

# Debian's cloud kernel as a 2-vCPU partition with a 64 MiB virtio disk, served by the
# service partition, next to the counter (configs/linux.cfg). The disk image is made once
# (blank) and kept; Mica does not write it back, so each boot starts from what it holds.
run-linux: deps-run
	$(MAKE) all
	scripts/linux-image.sh
	test -f $(BUILD)/linux-disk.img || truncate -s 64M $(BUILD)/linux-disk.img
	scripts/mkesp.sh $(BUILD)/esp-linux.img configs/linux.cfg $(BUILD)/linux/vmlinuz \
		$(BUILD)/linux/initrd.img $(BUILD)/guests/counter.elf $(BUILD)/vmm/vmm.elf \
		$(BUILD)/linux-disk.img
	scripts/qemu.sh $(BUILD)/esp-linux.img

test: deps-test
	$(MAKE) all
	$(MAKE) unit-test
	$(MAKE) fuzz-smoke
	$(MAKE) test-svm
	$(MAKE) test-vmx
	$(MAKE) test-linux-vmx
	$(MAKE) soak-smoke

bench: deps-run
	$(MAKE) all
	$(PYTHON) scripts/bench.py

clean:
	rm -rf $(BUILD)
