"""Real machines' shapes (issue #16). `usb-stick`: `make usb-image`'s kind of image (a GPT
disk with one EFI System Partition, scripts/mkusb.sh) boots from an emulated USB stick on
QEMU's xHCI controller, with no other disk in the machine, and runs two partitions.
`check-*`: the pre-flight check (MICACHK.EFI) on machines of different shapes, each of its
lines compared with what the emulator was told to emulate; `no-vmx`: the core on a Bochs
CPU model without VT-x says so and stops."""

import os

from harness import BUILD, OVMF_DIR, SECURE_BOOT_ENV
from scenarios import (BANNER, HELLO_BESIDE_COUNTER, POWERED_OFF, Expect, Scenario, counting,
                       lit, out, started, stopped)


def chk(level, topic, text):
    """One line of the check: its level, topic and (a regex for) what it found."""
    return rf"^mica-check: {level:<7} {topic}: " + text


CHECK_START = lit("mica-check: Mica pre-flight check: what this machine has against what "
                  "Mica needs")
AMD_TCG = [
    chk("OK", "cpu", r"AuthenticAMD family \d+ model \d+ stepping \d+: QEMU TCG CPU"),
    chk("OK", "svm", lit("SVM present and enabled")),
    chk("OK", "npt", lit("nested paging, 2 MiB pages yes, 1 GiB pages yes")),
    chk("WARNING", "nrips", lit("no: Mica decodes")),
]
CAN_RUN = r"^mica-check: \d+ OK, \d+ WARNING, 0 MISSING: Mica can run here"
CANNOT_RUN = (r"^mica-check: \d+ OK, \d+ WARNING, [1-9]\d* MISSING: Mica cannot run here until "
              "each MISSING line is fixed$")
TWO_PARTITIONS_CFG = HELLO_BESIDE_COUNTER

# The edu device behind VT-d, passed to a partition: the check finds both.
CHECK_VTD_CFG = """
    [partition hello]
    cpus = 1
    memory = 16M
    image = hello.elf

    [partition edu]
    cpus = 2
    memory = 16M
    image = edu.elf
    pci = 00:10.0
    """
# A one-CPU machine and a config that wants two, and an image that is not on the stick.
CHECK_SMALL_CFG = """
    [partition hello]
    cpus = 1
    memory = 16M
    image = hello.elf

    [partition lost]
    cpus = 0
    memory = 16M
    image = lost.elf
    """
NUMA = ("-object memory-backend-ram,id=m0,size=3G -object memory-backend-ram,id=m1,size=3G "
        "-numa node,nodeid=0,cpus=0-2,memdev=m0 -numa node,nodeid=1,cpus=3-5,memdev=m1")

CHECK_SCENARIOS = [
    Scenario(
        "check-q35-vtd",
        "the pre-flight check on QEMU's q35 with 4 CPUs, 1 GiB, VT-d (intel-iommu with "
        "interrupt remapping), a VGA card and the edu device: it names the CPU, SVM and NPT "
        "as QEMU emulates them, 4 CPUs, the IOMMU, the ECAM window, the HPET, COM1 (no SPCR), "
        "the framebuffer, all memory below 4 GiB, and finds the config's files and its PCI "
        "device; nothing is missing",
        CHECK_VTD_CFG,
        ["hello.elf", "edu.elf"],
        Expect(steps=[
            CHECK_START, *AMD_TCG,
            chk("OK", "cpus", lit("4 CPUs in the MADT, APIC IDs up to 3")),
            chk("OK", "iommu", lit("Intel VT-d (DMAR), 1 unit(s), interrupt remapping")),
            chk("OK", "mcfg", lit("1 ECAM window(s), the first at 0xb0000000 (segment 0, buses 0-255)")),
            chk("OK", "numa", lit("no SRAT: one memory node")),
            chk("OK", "hpet", lit("present")),
            chk("OK", "pit", r"PIT channel 2 counts"),
            chk("OK", "serial", lit("no SPCR table: Mica writes COM1 (0x3F8) if a UART answers there")),
            chk("OK", "screen", lit("1280x800 framebuffer: Mica's console shows there (106x40 characters)")),
            chk("OK", "memory", r"usable: \d+ KiB below 1 MiB, \d+ MiB from 1 MiB to 4 GiB, "
                r"0 bytes above 4 GiB"),
            chk("OK", "secure boot", "off"),
            chk("OK", "config", lit("2 partition(s), 32 MiB of RAM, CPUs within the 4 this machine has")),
            chk("OK", "config", lit("all 2 file(s) it names are on this volume")),
            chk("OK", "config", lit("partition 'edu': PCI 0000:00:10.0 is there")),
            CAN_RUN,
        ]),
        timeout=60, vendors=("svm-check",),
        env={"MICA_DISPLAY": "vga",
             "MICA_QEMU_EXTRA": "-device intel-iommu,intremap=on "
                                "-device edu,addr=0x10,dma_mask=0xffffffff"}),
    Scenario(
        "check-numa-6g",
        "the pre-flight check on q35 without an HPET or a PIT, with 6 GiB (2 GiB below 4 GiB, "
        "max-ram-below-4g), two NUMA nodes and 6 CPUs in 2 sockets of 3 cores (APIC IDs "
        "0-2 and 4-6, not contiguous): it counts 6 CPUs up to APIC ID 6, 2 nodes with CPUs, "
        "no HPET, the PM timer in the PIT's place, 4 GiB above 4 GiB, and warns that there is "
        "no IOMMU",
        TWO_PARTITIONS_CFG,
        ["hello.elf", "counter.elf"],
        Expect(steps=[
            CHECK_START, *AMD_TCG,
            chk("OK", "cpus", lit("6 CPUs in the MADT, APIC IDs up to 6")),
            chk("WARNING", "iommu", lit("no DMAR or IVRS table")),
            chk("WARNING", "numa", lit("SRAT: 2 nodes, 2 with CPUs")),
            chk("OK", "hpet", lit("none")),
            chk("WARNING", "pit", lit("PIT channel 2 does not count: Mica measures the TSC "
                                      "against the ACPI PM timer (port 0x608, 24 bits) instead")),
            chk("OK", "memory", r"usable: \d+ KiB below 1 MiB, \d+ MiB from 1 MiB to 4 GiB, "
                r"4 GiB above 4 GiB"),
            chk("OK", "config", lit("2 partition(s), 32 MiB of RAM, CPUs within the 6")),
            CAN_RUN,
        ]),
        timeout=60, vendors=("svm-check",),
        env={"MICA_MACHINE": "q35,hpet=off,pit=off,max-ram-below-4g=2G", "MICA_MEM": "6144",
             "MICA_SMP": "6,sockets=2,cores=3", "MICA_QEMU_EXTRA": NUMA}),
    Scenario(
        "check-pc-1cpu",
        "the pre-flight check on QEMU's older pc machine (i440FX: no MCFG) with one CPU and "
        "512 MiB, and a config that wants CPU 1 and an image that is not on the stick: "
        "both are MISSING with their config lines, and the check says Mica cannot run",
        CHECK_SMALL_CFG,
        ["hello.elf"],
        Expect(steps=[
            CHECK_START, *AMD_TCG,
            chk("OK", "cpus", lit("1 CPU in the MADT, APIC IDs up to 0")),
            chk("WARNING", "mcfg", lit("no MCFG")),
            chk("OK", "memory", r"usable: \d+ KiB below 1 MiB, \d+ MiB from 1 MiB to 4 GiB"),
            chk("MISSING", "config", lit(r"\mica\mica.cfg:2: partition 'hello' wants CPU 1")),
            chk("MISSING", "config", lit(r"\mica\mica.cfg:9: 'lost.elf' is not on this volume")),
            CANNOT_RUN,
        ]),
        timeout=60, vendors=("svm-check",),
        env={"MICA_MACHINE": "pc", "MICA_MEM": "512", "MICA_SMP": "1"}),
]

# Bochs (VT-x) with OVMF, which builds no ACPI tables under Bochs: the check reads the VMX
# capabilities from the MSRs of Bochs' Skylake-X model.
CHECK_SCENARIOS.append(Scenario(
    "check-bochs-vmx",
    "the pre-flight check under Bochs' Skylake-X model: VT-x present (Bochs leaves "
    "IA32_FEATURE_CONTROL unlocked), EPT with 2 MiB pages, unrestricted guest and VPID; no "
    "ACPI tables, so one CPU; the config still fits",
    """
    [partition hello]
    cpus = 0
    memory = 16M
    image = hello.elf
    """,
    ["hello.elf"],
    Expect(steps=[
        CHECK_START,
        chk("OK", "cpu", r"GenuineIntel family 6 model \d+ stepping \d+"),
        chk("OK", "vt-x", r"VMX present"),
        chk("OK", "ept", r"EPT, 4-level, 2 MiB pages yes, 1 GiB pages (yes|no)$"),
        chk("OK", "unrestricted guest", lit("yes")),
        chk("OK", "vpid", lit("yes")),
        chk("WARNING", "cpus", r".*Mica will run on the boot CPU only$"),
        chk("OK", "pit", r"PIT channel 2 counts; the TSC runs at \d+ MHz against it$"),
        chk("OK", "config", lit("1 partition(s), 16 MiB of RAM, CPUs within the 1 this machine has")),
        CAN_RUN,
    ]),
    timeout=300, vendors=("vmx-check",)))

# The core itself on a CPU without VT-x (firmware that turned it off looks the same to
# CPUID on many machines): both backends' reasons and what to do, then a quiet stop.
NO_VMX = Scenario(
    "no-vmx",
    "Mica on Bochs' Pentium 4 (Prescott, 64-bit, no VMX): it says that neither SVM nor "
    "VT-x is there and why, what to do (the firmware setup, MICACHK.EFI), and stops "
    "without a crash",
    HELLO_BESIDE_COUNTER,
    ["hello.elf", "counter.elf"],
    Expect(steps=[
        r"^mica: Mica \S+ \(\S+\): cannot virtualize: AMD SVM: not an AMD CPU; Intel VT-x: "
        + lit("the CPU has no VMX (Intel VT-x)") + "$",
        "^mica: " + lit("no hardware virtualization, so no partition can run: turn on VT-x "
                        "or SVM in the firmware setup; MICACHK.EFI lists what this machine "
                        "lacks (docs/hardware.md). Mica stops here.") + "$",
    ], forbidden=[r"^mica: partition '.*' started"], settle=2.0),
    timeout=120, vendors=("vmx",), env={"MICA_BOCHS_CPU": "p4_prescott_celeron_336"})

# --- the default scenario on machines of other shapes (QEMU, OVMF, the UEFI loader) --------


def hello_counter(hello_cpu, counter_cpu):
    return f"""
    [partition hello]
    cpus = {hello_cpu}
    memory = 16M
    image = hello.elf

    [partition counter]
    cpus = {counter_cpu}
    memory = 16M
    image = counter.elf
    on_crash = restart
    """


def default_on(name, about, ncpus, env, hello_cpu="1", counter_cpu="2", extra_steps=(),
               anywhere=(), timeout=90):
    """HELLO_BESIDE_COUNTER (on the CPUs given) on a machine shaped by env: Mica finds all
    ncpus CPUs, hello passes and powers off, counter goes on."""
    return Scenario(
        name, about, hello_counter(hello_cpu, counter_cpu), ["hello.elf", "counter.elf"],
        Expect(steps=[
            # every shape measures the host's TSC (a few GHz), however its CPUs crowd the
            # host: 32 of them once made a 2.4 GHz TSC read as 19.8 GHz (arch/x86/tsc.c)
            BANNER.replace(r"\d+ CPUs", f"{ncpus} CPUs").replace(
                "(, .*)?$", r", TSC [1-9]\d{3} MHz$"),
            *extra_steps,
            out("hello", lit("PASS: hello") + "$"),
            stopped("hello", POWERED_OFF),
            *counting(),
        ], anywhere=[
            started("hello", hello_cpu, "16 MiB", "hello.elf"),
            started("counter", counter_cpu, "16 MiB", "counter.elf"),
            *anywhere,
        ]),
        timeout=timeout, vendors=("svm-machines",), env=env)


NUMA_CFG = hello_counter("1", "4") + """
    [partition wide]
    cpus = 2-3
    memory = 16M
    image = counter.elf
    """
MATRIX = [
    default_on("machine-pc", "the i440FX 'pc' machine (no PCIe, no MCFG) instead of q35", 4,
               {"MICA_MACHINE": "pc"}),
    default_on("machine-2cpu", "two CPUs: hello on the boot CPU (0), counter on CPU 1", 2,
               {"MICA_SMP": "2"}, hello_cpu="0", counter_cpu="1"),
    default_on("machine-8cpu-sparse", "8 CPUs as 2 sockets of 3 cores with 2 threads "
               "(maxcpus 12): APIC IDs 0-5 and 8-9, not contiguous; the partitions on the "
               "last two", 8, {"MICA_SMP": "8,sockets=2,cores=3,threads=2,maxcpus=12"},
               hello_cpu="6", counter_cpu="7"),
    default_on("machine-32cpu", "32 CPUs as 2 sockets of 12 cores with 2 threads (maxcpus "
               "48): APIC IDs 0-23 and 32-39; the partitions on the last two CPUs, the 30 "
               "others idle", 32, {"MICA_SMP": "32,sockets=2,cores=12,threads=2,maxcpus=48"},
               hello_cpu="30", counter_cpu="31", timeout=180),
    default_on("machine-no-pit", "a q35 without the 8254 PIT (pit=off) and without an HPET: "
               "Mica measures the TSC against the ACPI PM timer (as on any machine that has "
               "one) and finds a rate of a few GHz; timers in the partitions still work "
               "(counter's count)", 4,
               {"MICA_MACHINE": "q35,pit=off,hpet=off"}),
]
# One CPU: room for one partition, on the boot CPU.
MATRIX.append(Scenario(
    "machine-1cpu", "one CPU: counter alone on the boot CPU (0), which also runs Mica",
    """
    [partition counter]
    cpus = 0
    memory = 16M
    image = counter.elf
    """, ["counter.elf"],
    Expect(steps=[BANNER.replace(r"\d+ CPUs", "1 CPUs"), *counting()],
           anywhere=[started("counter", "0", "16 MiB", "counter.elf")]),
    timeout=60, vendors=("svm-machines",), env={"MICA_SMP": "1"}))

# 6 GiB, 2 GiB of it below 4 GiB, two NUMA nodes of 3 GiB (node 0: [0, 2 GiB) and
# [4, 5 GiB); node 1: [5, 8 GiB)), 6 CPUs in 2 sockets: each partition's RAM comes from its
# CPUs' node, so counter (CPU 4, node 1) runs from memory above 5 GiB.
MATRIX.append(Scenario(
    "machine-numa-6g",
    "6 GiB with 2 GiB below 4 GiB, two NUMA nodes (CPUs 0-2 and 3-5), no HPET: Mica lists "
    "the nodes, puts hello's RAM on node 0 and counter's on node 1 (above 5 GiB), says that "
    "'wide' (CPUs 2-3) spans both; all three run",
    NUMA_CFG, ["hello.elf", "counter.elf"],
    Expect(steps=[
        "^mica: " + lit("numa: 2 nodes in the SRAT: node 0: 3071 MiB, CPUs 0,1,2; node 1: "
                        "3 GiB, CPUs 3,4,5") + "$",
        BANNER.replace(r"\d+ CPUs", "6 CPUs"),
        r"^mica: partition 'hello': 16 MiB of RAM at 0x(?:[0-7][0-9a-f]{7}|[0-9a-f]{1,7}), on "
        r"NUMA node 0 with its CPUs$",
        r"^mica: partition 'counter': 16 MiB of RAM at 0x1[4-9a-f][0-9a-f]{7}, on NUMA node 1 "
        r"with its CPUs$",
        "^mica: " + lit("partition 'wide': its CPUs are on more than one NUMA node: its RAM "
                        "comes from any node") + "$",
        out("hello", lit("PASS: hello") + "$"),
        *counting(),
    ], anywhere=[started("wide", "2,3", "16 MiB", "counter.elf")]),
    timeout=90, vendors=("svm-machines",),
    env={"MICA_MACHINE": "q35,hpet=off,max-ram-below-4g=2G", "MICA_MEM": "6144",
         "MICA_SMP": "6,sockets=2,cores=3", "MICA_QEMU_EXTRA": NUMA}))

def spcr_table(port, irq):
    """An ACPI SPCR table (revision 2, 80 bytes) naming a 16550 at I/O port `port`, PC-AT
    IRQ `irq`, 115200 baud, for QEMU's -acpitable (QEMU builds no SPCR on x86)."""
    body = bytearray(80)
    body[0:4] = b"SPCR"
    body[4:8] = (80).to_bytes(4, "little")
    body[8] = 2
    body[10:16] = b"MICA  "
    body[16:24] = b"MICATEST"
    body[36] = 0                                  # interface: 16550
    body[40:44] = bytes([1, 8, 0, 1])             # GAS: I/O, 8 bits, offset 0, byte access
    body[44:52] = port.to_bytes(8, "little")
    body[52], body[53] = 1, irq                   # interrupt type: PC-AT; the IRQ
    body[58], body[60] = 7, 1                     # 115200 baud; 1 stop bit
    body[64:68] = b"\xff\xff\xff\xff"            # not a PCI device
    body[9] = (-sum(body)) & 0xFF
    path = os.path.join(BUILD, "e2e", f"spcr-{port:x}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes(body))
    return path


# The firmware's SPCR names COM2: with nothing on COM1 and the console on COM2, everything
# from Mica's console line on comes out of COM2.
MATRIX.append(Scenario(
    "serial-spcr-com2",
    "an SPCR table (injected with -acpitable) naming COM2 (0x2f8, IRQ 3) while COM1 leads "
    "nowhere: Mica moves its console to COM2 as the SPCR says, says so there, and the "
    "partitions' output follows",
    HELLO_BESIDE_COUNTER, ["hello.elf", "counter.elf"],
    Expect(steps=[
        "^mica: " + lit("console: serial port 0x2f8, IRQ 3 (the SPCR table); no screen (the "
                        "boot path found no framebuffer)") + "$",
        BANNER,
        out("hello", lit("PASS: hello") + "$"),
        *counting(),
    ]),
    timeout=90, vendors=("svm-machines",),
    env={"MICA_SERIAL": "null",
         "MICA_QEMU_EXTRA": f"-serial stdio -acpitable file={spcr_table(0x2f8, 3)}"}))

# Secure Boot: an unsigned loader is refused by the firmware; one signed with a key the
# firmware trusts (Debian's test key, enrolled in OVMF_VARS_4M.snakeoil.fd) boots Mica.
MATRIX.append(Scenario(
    "secure-boot-unsigned",
    "Secure Boot on (OVMF's secboot build with Microsoft's keys): the unsigned loader is "
    "refused with 'Access Denied' and nothing of Mica runs, as docs/booting.md says",
    HELLO_BESIDE_COUNTER, ["hello.elf", "counter.elf"],
    Expect(steps=[
        r'^BdsDxe: failed to load Boot0001 "UEFI Misc Device" from .*: Access Denied$',
        r"^BdsDxe: No bootable option or device was found\.$",
    ], forbidden=[r"^mica-loader:", r"^mica:"]),
    timeout=180, vendors=("svm-machines",),
    env=dict(SECURE_BOOT_ENV, OVMF_VARS=os.path.join(OVMF_DIR, "OVMF_VARS_4M.ms.fd"))))
MATRIX.append(Scenario(
    "secure-boot-signed",
    "Secure Boot on with a key of the user's own enrolled (Debian's test key) and the "
    "ESP's BOOTX64.EFI signed with it (scripts/mkesp.sh MKESP_SIGN_KEY/CERT): the firmware "
    "starts it and Mica runs the default partitions",
    HELLO_BESIDE_COUNTER, ["hello.elf", "counter.elf"],
    Expect(steps=[
        r'^BdsDxe: starting Boot0001 "UEFI Misc Device" from ',
        r"^mica-loader: core \d+ KiB at 0x[0-9a-f]+, 2 images, 0 initrds, 0 disks, "
        r"starting Mica$",
        BANNER,
        out("hello", lit("PASS: hello") + "$"),
        *counting(),
    ]),
    timeout=180, vendors=("svm-secboot",)))

MACHINE_SCENARIOS = CHECK_SCENARIOS + [NO_VMX] + MATRIX + [
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
