# End-to-end scenarios in an emulator (docs/testing.md). Included by the top Makefile.
# `make test-svm` boots every scenario in QEMU (AMD SVM): through OVMF and the UEFI loader,
# then through SeaBIOS, GRUB and the Multiboot2 entry, then a few through QEMU's Multiboot
# (v1) loader (-kernel), then the USB stick scenario, the machine matrix (CPUs, memory,
# NUMA, machine types, no PIT, Secure Boot), the pre-flight check (MICACHK.EFI) on
# several machine shapes and the screen console
# (tests/e2e/screen.py). `make test-vmx` boots every scenario in Bochs (Intel VT-x) through
# GRUB, then one through OVMF, then the check. E2E_ARGS picks a subset or options, e.g.
# `make test-svm E2E_ARGS="triple-fault -v"`. `make test-linux-vmx` boots the Linux guest in
# Bochs (about 2.5 minutes).

E2E_ARGS ?=
# What runs through QEMU's own Multiboot (v1) loader (-kernel): a few scenarios, the path's
# own parts (modules, memory map, the config error path) and a Linux guest.
MB1_SCENARIOS ?= two-partitions config-missing-image linux-smp

.PHONY: test-svm test-vmx test-linux-vmx linux-image soak soak-smoke
test-svm: deps-test core loader check-efi guests vmm $(BUILD)/mica-mb2.elf linux-image testcore
	$(PYTHON) tests/e2e/run.py --vendor svm $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-mb2 $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-mb1 $(MB1_SCENARIOS) $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-usb $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-machines $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-secboot $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor svm-check $(E2E_ARGS)
	$(PYTHON) tests/e2e/screen.py
	$(PYTHON) tests/e2e/multiboot.py

# A test build of the core with a deliberately broken VMCS field (scenario vmx-broken-vmcs).
.PHONY: vmxbreak-core
vmxbreak-core: $(BUILD)/mica-mb2.elf
	$(MAKE) core BUILD=$(BUILD)/vmxbreak CORE_DEFINES=-DMICA_VMX_BREAK_VMCS
	cp $(BUILD)/mica-mb2.elf $(BUILD)/vmxbreak/

# A test build of the core (docs/testing.md) that pauses vCPUs other than 0 for 100 ms just
# before each guest entry (scenario kick-window) and leaves XSETBV's rules to the CPU, so
# that the exception table must turn its #GP into the guest's (scenario defects-fixup), and
# that fills all free memory with 0xa5 at boot (scenario ram-zeroed).
.PHONY: testcore
testcore: $(BUILD)/mica-mb2.elf loader
	$(MAKE) core BUILD=$(BUILD)/testcore \
		CORE_DEFINES="-DMICA_TEST_KICK_WINDOW -DMICA_TEST_TRUST_CPU -DMICA_TEST_DIRTY_RAM"
	cp $(BUILD)/mica-mb2.elf $(BUILD)/BOOTX64.EFI $(BUILD)/testcore/

test-vmx: deps-test core loader check-efi guests vmm $(BUILD)/mica-mb2.elf vmxbreak-core testcore
	$(PYTHON) tests/e2e/run.py --vendor vmx $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor vmx-uefi $(E2E_ARGS)
	$(PYTHON) tests/e2e/run.py --vendor vmx-check $(E2E_ARGS)

test-linux-vmx: deps-test core guests vmm $(BUILD)/mica-mb2.elf linux-image
	$(PYTHON) tests/e2e/run.py --vendor vmx linux-boot linux-poweroff linux-pvh-vmx virtio-linux-vmx \
		$(E2E_ARGS)

# The Linux test guest (docs/linux.md): Debian's kernel and a busybox initramfs. Cached:
# ~20 ms when nothing changed.
linux-image:
	@scripts/deps.sh linux
	@scripts/linux-image.sh $(BUILD)/linux

# The soak (tests/e2e/soak.py, docs/testing.md): two Linux partitions with checksummed disk
# and network traffic, random reboots and service crashes, for SOAK_MINUTES (default 30);
# soak-smoke: the same for 3 minutes (`make test` runs it last).
SOAK_MINUTES ?= 30
soak: deps-run
	$(MAKE) core loader guests vmm linux-image
	SOAK_MINUTES=$(SOAK_MINUTES) $(PYTHON) tests/e2e/run.py --vendor svm soak $(E2E_ARGS)

soak-smoke:
	$(MAKE) soak SOAK_MINUTES=3
