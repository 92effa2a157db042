# Host unit tests (Criterion): pure modules built against the real libc, with ASan and
# UBSan so a parser bug shows up as a test failure, not as a boot-time mystery.
# `make unit-test` builds $(BUILD)/unit/unit-tests from every tests/unit/test_*.c plus
# UNIT_SRCS, then runs it. Add a pure module by appending to UNIT_SRCS (from any .mk).

UNIT_SRCS += kernel/config.c kernel/config_devices.c kernel/config_machine.c kernel/frame.c kernel/loader/elf.c arch/x86/pt.c kernel/host/acpi.c kernel/loader/bzimage.c kernel/loader/boot_linux.c kernel/platform/acpi_tables.c kernel/emul/gwalk.c kernel/emul/decode.c kernel/platform/vlapic.c kernel/platform/vioapic.c kernel/platform/vuart.c kernel/platform/vpit.c kernel/platform/vpm.c kernel/platform/pvclock.c lib/errmsg.c kernel/vpci/bus.c kernel/vpci/passthrough.c vmm/virtq.c vmm/switch.c kernel/virtio/transport.c vmm/backend.c vmm/blk.c vmm/console.c vmm/net.c kernel/virtio/svcring.c kernel/emul/insn_len.c kernel/loader/multiboot.c kernel/loader/phys_elf.c kernel/loader/pvh.c kernel/platform/vrtc.c kernel/platform/vpic.c lib/date.c
UNIT_SRCS += kernel/host/pci.c
UNIT_SRCS += kernel/host/dmar.c kernel/host/ivrs.c kernel/host/iommu_acpi.c
UNIT_SRCS += arch/x86/iommu/amdvi_pt.c kernel/assign_check.c
UNIT_SRCS += boot/check/judge.c boot/check/acpi_facts.c
UNIT_SRCS += kernel/host/fbcon.c kernel/host/font.c
UNIT_SRCS += tests/unit/guest_ram_stub.c vmm/mgmt.c lib/line.c kernel/snapram.c kernel/cow.c
UNIT_SRCS += vmm/gpt.c vmm/nvme_cmd.c vmm/offload.c
UNIT_SRCS += lib/crc32.c lib/snapimg.c
UNIT_SRCS += arch/x86/svm/intr.c
UNIT_TESTS = $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(BUILD)/unit/unit-tests

# No -Ilib/include: the host uses its own libc headers.
UNIT_CFLAGS := -Iinclude -I. -std=gnu11 -O1 -g -Wall -Wextra \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
UNIT_LDLIBS := -lcriterion
# Criterion forks a worker per test; leak checks in those workers only report its own state.
UNIT_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1

.PHONY: unit-test
unit-test: deps-test
	$(MAKE) $(UNIT_BIN)
	$(UNIT_ENV) $(UNIT_BIN) --jobs 2 $(UNIT_ARGS)
	$(PYTHON) scripts/check-layers.py --self-test

$(BUILD)/unit/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@

# Second expansion: UNIT_SRCS may still grow in .mk files read after this one.
.SECONDEXPANSION:
$(UNIT_BIN): $$(patsubst %,$(BUILD)/unit/%.o,$$(UNIT_SRCS) $$(UNIT_TESTS))
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $^ $(UNIT_LDLIBS)

-include $(wildcard $(BUILD)/unit/*/*.d $(BUILD)/unit/*/*/*.d $(BUILD)/unit/*/*/*/*.d)
