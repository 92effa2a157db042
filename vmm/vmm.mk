# The service partition (docs/vmm.md): a freestanding ELF64 linked at 1 MiB and booted by
# Mica's ELF protocol, with its own runtime in vmm/rt/. Included by the top Makefile;
# `make vmm` builds $(BUILD)/vmm/vmm.elf. The pure modules (VMM_PURE_SRCS) are also host
# unit tested (tests/unit/unit.mk).

VMM_OUT := $(BUILD)/vmm
VMM_ELF := $(VMM_OUT)/vmm.elf

# As the test guests (tests/guests/guests.mk), plus -I. for "vmm/..." and "kernel/..." headers.
VMM_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -fno-builtin -nostdlib -static -fno-stack-protector -fno-strict-aliasing \
	-fno-common -fno-pie -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-fno-asynchronous-unwind-tables -Ilib/include -Iinclude -I.
VMM_LDFLAGS := -nostdlib -static -no-pie --build-id=none -z max-page-size=4096 \
	-z noexecstack -T vmm/rt/vmm.ld

VMM_RT_SRCS   := vmm/rt/crt0.S vmm/rt/vectors.S vmm/rt/init.c vmm/rt/hcall.c vmm/rt/idt.c \
	vmm/rt/apic.c vmm/rt/paging.c
VMM_PURE_SRCS := vmm/virtq.c vmm/switch.c vmm/backend.c vmm/blk.c vmm/console.c vmm/net.c vmm/offload.c \
	vmm/mgmt.c vmm/gpt.c vmm/nvme_cmd.c
VMM_SRCS := $(VMM_RT_SRCS) vmm/main.c vmm/setup.c vmm/serve.c vmm/pci.c vmm/nvme.c vmm/storage.c \
	$(VMM_PURE_SRCS) \
	lib/errmsg.c lib/string.c lib/format.c lib/line.c lib/crc32.c
VMM_OBJS := $(patsubst %,$(VMM_OUT)/obj/%.o,$(VMM_SRCS))

.PHONY: vmm
vmm: $(VMM_ELF) $(VMM_OUT)/vmm-crashtest.elf $(VMM_OUT)/vmm-mgmttest.elf

$(VMM_OUT)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(VMM_CFLAGS) -MMD -MP -c $< -o $@

$(VMM_OUT)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(VMM_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c $< -o $@

$(VMM_ELF): $(VMM_OBJS) vmm/rt/vmm.ld
	$(LD) $(VMM_LDFLAGS) -o $@ $(VMM_OBJS)

# Test builds of the service: the same program with one test hook compiled in.
#   vmm-crashtest.elf (vmm/crashtest.h): faults when a guest writes a trigger line.
#   vmm-mgmttest.elf (vmm/mgmttest.h): types a fixed script into its own management
#   console at start, for emulators whose console takes no input (Bochs).
# $(1): variable stem, $(2): name, $(3): the define, $(4): its extra source.
define VMM_VARIANT
VMM_$(1)_OUT := $(BUILD)/vmm/$(2)
VMM_$(1)_OBJS := $$(patsubst %,$$(VMM_$(1)_OUT)/obj/%.o,$$(VMM_SRCS) $(4))

.PHONY: vmm-$(2)
vmm-$(2): $(VMM_OUT)/vmm-$(2).elf

$$(VMM_$(1)_OUT)/obj/%.c.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(VMM_CFLAGS) -D$(3) -MMD -MP -c $$< -o $$@

$$(VMM_$(1)_OUT)/obj/%.S.o: %.S
	@mkdir -p $$(dir $$@)
	$$(CC) $$(VMM_CFLAGS) -D$(3) -D__ASSEMBLY__ -MMD -MP -c $$< -o $$@

$(VMM_OUT)/vmm-$(2).elf: $$(VMM_$(1)_OBJS) vmm/rt/vmm.ld
	$$(LD) $$(VMM_LDFLAGS) -o $$@ $$(VMM_$(1)_OBJS)

-include $$(VMM_$(1)_OBJS:.o=.d)
endef

$(eval $(call VMM_VARIANT,CT,crashtest,VMM_CRASHTEST,vmm/crashtest.c))
$(eval $(call VMM_VARIANT,MT,mgmttest,VMM_MGMTTEST,vmm/mgmttest.c))

-include $(VMM_OBJS:.o=.d)
