"""Real machines' shapes (issue #16). `usb-stick`: `make usb-image`'s kind of image (a GPT
disk with one EFI System Partition, scripts/mkusb.sh) boots from an emulated USB stick on
QEMU's xHCI controller, with no other disk in the machine, and runs two partitions."""

from scenarios import (BANNER, HELLO_BESIDE_COUNTER, POWERED_OFF, Expect, Scenario, counting,
                       lit, out, started, stopped)

MACHINE_SCENARIOS = [
    Scenario(
        "usb-stick",
        "the USB stick image (GPT, one EFI System Partition) boots from QEMU's xHCI "
        "controller as the only disk: OVMF finds the loader, the loader the core, its config "
        "and images on the stick; hello greets and powers off, counter goes on; Mica sees "
        "the xHCI controller and leaves it alone",
        HELLO_BESIDE_COUNTER,
        ["hello.elf", "counter.elf"],
        Expect(
            steps=[
                r'^BdsDxe: starting Boot[0-9A-F]{4} "UEFI QEMU QEMU USB HARDDRIVE ',
                r"^mica-loader: core \d+ KiB at 0x[0-9a-f]+, 2 images, 0 initrds, 0 disks, "
                r"starting Mica$",
                BANNER,
                out("hello", lit("PASS: hello") + "$"),
                stopped("hello", POWERED_OFF),
                *counting(),
            ],
            anywhere=[
                r"^mica: pci 00:[0-9a-f]{2}\.0 1b36:000d \S+ \(not assigned\)$",
                started("hello", "1", "16 MiB", "hello.elf"),
                started("counter", "2", "16 MiB", "counter.elf"),
            ],
        ),
        timeout=90,
        vendors=("svm-usb",),
    ),
]
