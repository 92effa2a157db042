"""Passthrough scenarios (docs/passthrough.md): QEMU's `edu` device given to a partition
behind each IOMMU QEMU has (intel-iommu, amd-iommu), and the configs Mica must refuse.
They need QEMU (svm and svm-mb2 backends): Bochs has no IOMMU.

The edu guest (tests/guests/edu.c) checks its own DMA and MSI, then aims DMA outside its
RAM: past its end, and at the neighbour's RAM by host address, which Mica logs and this
script types into the edu guest's console. The neighbour (tests/guests/victim.c) watches
its memory and must keep saying it is intact."""

import os
import re

from harness import BUILD, Allow, Forbid, Run, Script, Type, Wait, config_line
from linux import (DMESG, EXITS, LINUX_FILES, Ready, dmesg_check, linux_partition,
                   shell_prompt)
from scenarios import (BANNER, NO_PARTITION_OUTPUT, POWERED_OFF, Expect, Scenario, cfg_error,
                       lit, out, restarting, stopped)

EDU = "-device edu,addr=0x10,dma_mask=0xffffffff"
VTD = "-device intel-iommu,intremap=on " + EDU
AMDVI = "-device amd-iommu,intremap=on " + EDU

EDU_CONFIG = """
    [partition edu]
    cpus = 1
    memory = 16M
    image = edu.elf
    pci = 00:10.0

    [partition victim]
    cpus = 2
    memory = 16M
    image = victim.elf
"""


class Capture(Wait):
    """A line matching pattern; its first group is kept as ctx[key]."""

    def __init__(self, pattern, key, what=None):
        super().__init__(pattern, what=what)
        self.key = key

    def end(self, ctx):
        ctx[self.key] = ctx["match"].group(1)


class TypeCaptured(Type):
    """Types what a Capture kept, then a newline (a Type: it reads no line itself)."""

    def __init__(self, key):
        self.key = key
        self.what = f"typing the captured {key}"

    def begin(self, console, ctx):
        console.send(ctx[self.key] + "\n")


def edu_script(iommu, fault_lines):
    victim_ok = out("victim", r"victim: memory intact \(\d+ checks\)$")
    return Script(
        [
            BANNER,
            Wait(r"^mica: iommu: " + lit(iommu) + lit(", 1 unit: DMA from every device is "
                                                       "blocked unless it is given to a partition")),
            Wait(r"^mica: pci 00:10\.0 1234:11e8 other -> partition 'edu'$"),
            Wait(lit("mica: partition 'edu': device 00:10.0 (1234:11e8 other) at guest "
                     "00:08.0, 1 interrupt vector; reset: ")),
            Capture(r"^mica: partition 'victim': RAM at host (0x[0-9a-f]+)-0x[0-9a-f]+$",
                    "victim"),
            Wait(out("edu", lit("edu: PASS: identity 0x10000ed and liveness through the mapped BAR"))),
            Wait(out("edu", lit("edu: PASS: the device's interrupt arrived as MSI vector 0x58"))),
            Wait(out("edu", lit("edu: PASS: DMA to and from its own RAM (2048 bytes checked), "
                                "completion interrupt arrived"))),
            # Fault lines come from CPU 0 (VT-d's fault interrupt) and may land before or
            # after the guest's own lines: each Wait takes its lines in any order.
            Wait(out("edu", lit("edu: DMA write to guest-physical 0x1100000 (outside its 16 MiB) "
                                "done")),
                 out("edu", lit("edu: waiting for the neighbour's host RAM address")),
                 *fault_lines[:1]),
            TypeCaptured("victim"),
            Wait(out("edu", r"edu: DMA write to 0x[0-9a-f]+ \(the neighbour's RAM, as a host "
                            r"address\) done$"),
                 out("edu", lit("edu: PASS: DMA within its own RAM still works after the "
                                "blocked ones")),
                 out("edu", lit("edu: PASS: BAR0 moved from 0xc8000000 to 0xcc000000 answers "
                                "there only (3000 reads)")),
                 stopped("edu", POWERED_OFF), *fault_lines[1:]),
            # The 3000 reads of the moved BAR took no exits: the stage-2 followed it (ECAM
            # and the rest make a few hundred).
            Wait(r"^mica: partition 'edu' exits: total \d+.*, stage2-fault \d{1,3}(,|$)"),
            Wait(victim_ok),
            Wait(victim_ok),
        ],
        forbidden=[out("victim", "FAILED")],
    )


def fault(addr):
    return (lit("mica: partition 'edu': iommu fault: device 00:10.0 (1234:11e8) write at ")
            + addr + lit(" blocked: the page is not writable"))


# edu alone behind a root port: OVMF gives the port bus 1.
BEHIND_PORT = ("-device intel-iommu,intremap=on "
               "-device pcie-root-port,id=rp,bus=pcie.0,addr=0x1c,chassis=1 "
               "-device edu,bus=rp,addr=0x0,dma_mask=0xffffffff")


def teardown_scenario(name, what, pci, qemu, reset):
    return Scenario(
        name, what, one(pci, name="edu-teardown", extra="on_crash = restart"), ["edu.elf"],
        Expect(
            steps=[
                BANNER,
                out("edu-teardown", lit("edu: DMA into 0x400000 started; crashing now")),
                r"^mica: partition 'edu-teardown' restarting \(restart 1\): ",
                out("edu-teardown", lit("edu: PASS: the DMA started before the crash never "
                                        "landed (restart 1)")),
                out("edu-teardown", lit("edu: PASS: DMA works again after the device's reset")),
                stopped("edu-teardown", POWERED_OFF),
            ],
            anywhere=[lit(f"mica: partition 'edu-teardown': device {pci} reset for the "
                          "restart: ") + reset]),
        vendors=("svm",), env={"MICA_QEMU_EXTRA": qemu})


def refused(line_of, message):
    return lambda cfg: Expect(
        steps=[BANNER, cfg_error(config_line(cfg, line_of), message + ".*"),
               r"^mica: no partition started"],
        forbidden=NO_PARTITION_OUTPUT, settle=3)


def one(pci, name="edu", extra=""):
    """One edu partition (the guest's mode follows its name) given pci."""
    return f"""
        [partition {name}]
        cpus = 1
        memory = 16M
        image = edu.elf
        pci = {pci}
        {extra}
    """


# --- Linux owning an NVMe controller ---------------------------------------------------------

def nvme_image(name):
    return os.path.join(BUILD, "e2e", name + ".nvme.img")


def nvme_extra(iommu, name):
    return (iommu + f" -drive file={nvme_image(name)},if=none,id=nvm,format=raw "
            "-device nvme,drive=nvm,serial=mica-nvme,addr=0x11")


def make_nvme(name):
    """A blank 64 MiB disk: the scenario formats it, so what it reads back is its own."""
    path = nvme_image(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(64 << 20)


def nvme_script(iommu, restart, neighbour):
    """restart: after the checks, reboot -f (the device is reset) and find the file again;
    then poweroff -f either way. neighbour: a second Linux partition ('other') boots beside
    it and must not see the controller on its PCI bus (its kernel lists every function it
    finds: "pci 0000:00:08.0: [1b36:0010] ...")."""
    seen = {}

    def remember(output, status):
        m = re.fullmatch(r"([0-9a-f]{64})  /mnt/f", output.strip())
        if status != 0 or not m:
            return "expected one sha256sum line for /mnt/f"
        seen["sum"] = m.group(1)
        return None

    def same(output, status):
        m = re.fullmatch(r"([0-9a-f]{64})  /mnt/f", output.strip())
        if status != 0 or not m:
            return "expected one sha256sum line for /mnt/f after the restart"
        if m.group(1) != seen.get("sum"):
            return f"the file changed across the restart: {m.group(1)} != {seen.get('sum')}"
        return None

    def msix_counting(output, status):
        rows = [line.split() for line in output.splitlines() if "nvme0q" in line]
        counts = [sum(int(x) for x in r[1:] if x.isdigit()) for r in rows]
        if status != 0 or len(rows) < 2 or not all("MSI" in " ".join(r) for r in rows):
            return "expected nvme0q0 and I/O queue rows of message-signalled (PCI-MSI) interrupts"
        if sum(counts[1:]) == 0:
            return "the NVMe I/O queues' interrupts did not count"
        return None

    checks_after_boot = [
        Ready(cpus=2, timeout=300),
        shell_prompt(),
        Run("cat /sys/bus/pci/devices/0000:00:08.0/vendor /sys/bus/pci/devices/0000:00:08.0/device",
            r"0x1b36\n0x0010"),
        Run("ls /sys/block | grep nvme", "nvme0n1"),
    ]
    restart_steps = [
        Allow(r"^mica: partition 'linux' (stopped|restarting)"),
        Type("reboot -f\n"),
        Wait(restarting("linux", 1, lit("reset by the guest (port 0xCF9)")), EXITS, timeout=60),
        Forbid(r"^mica: partition 'linux' (stopped|restarting)"),
        *checks_after_boot,
        Run("mkdir -p /mnt && mount /dev/nvme0n1 /mnt && sha256sum /mnt/f && umount /mnt", same,
            timeout=120),
    ]
    return Script(
        [
            BANNER,
            Wait(r"^mica: iommu: " + lit(iommu) + ", 1 unit"),
            Wait(r"^mica: pci 00:11\.0 1b36:0010 nvme -> partition 'linux'$"),
            Wait(lit("mica: partition 'linux': device 00:11.0 (1b36:0010 nvme) at guest 00:08.0")),
            Forbid(r"^mica: .*iommu fault", r"^mica: partition 'linux' (stopped|restarting)"),
            # 'other' has no devices, so no PCI bus at all; its kernel says so, and its
            # PCI set-up ends ("PCI: CLS") without any nvme.
            *([Forbid(out("other", r"\[ *\d+\.\d+\] pci 0000:.*\[1b36:0010\]"),
                      out("other", r"\[ *\d+\.\d+\] nvme"),
                      r"^mica: partition 'other' (stopped|restarting)"),
               Wait(out("other", r"\[ *\d+\.\d+\] PCI: System does not support PCI$"),
                    timeout=300),
               Wait(out("other", r"\[ *\d+\.\d+\] PCI: CLS \d+ bytes"), timeout=300)]
              if neighbour else []),
            *checks_after_boot,
            Run("mkdir -p /mnt && mke2fs -q /dev/nvme0n1 >/dev/null && mount /dev/nvme0n1 /mnt && "
                "dd if=/dev/urandom of=/mnt/f bs=64k count=64 2>/dev/null && sync && "
                "sha256sum /mnt/f && umount /mnt", remember, timeout=180),
            Run("grep nvme /proc/interrupts", msix_counting),
            Run(DMESG, dmesg_check, timeout=90),
            *(restart_steps if restart else []),
            Allow(r"^mica: partition 'linux' (stopped|restarting)"),
            Type("poweroff -f\n"),
            Wait(stopped("linux", lit("powered off (ACPI S5)")),
                 lit("mica: partition 'linux': device 00:11.0 stopped: "), timeout=60),
        ],
        forbidden=[r"^\[linux\] .*Kernel panic"],
    )


NVME_CONFIG = linux_partition(cpus="1-2").rstrip("\n") + "\npci = 00:11.0\n"
NVME_NEIGHBOUR = linux_partition(name="other", cpus="3", memory="192M")


def nvme_scenario(name, iommu_name, iommu_args, restart=False, neighbour=False):
    s = Scenario(
        name,
        f"Linux on 2 vCPUs owns a QEMU NVMe controller behind {iommu_name}: finds the disk, "
        "makes a file system and writes a file; its MSI-X vectors count; no IOMMU fault"
        + ("; reboot -f resets the device and the file is back unchanged" if restart else "")
        + ("; a second Linux partition (no devices of its own: no PCI bus) does not see the controller" if neighbour else "")
        + "; the device is reset when Linux powers off",
        NVME_CONFIG + (NVME_NEIGHBOUR if neighbour else ""), LINUX_FILES,
        nvme_script(iommu_name, restart, neighbour),
        timeout=900, vendors=("svm",), env={"MICA_QEMU_EXTRA": nvme_extra(iommu_args, name)})
    s.prepare = lambda: make_nvme(name)
    return s


PASSTHROUGH_SCENARIOS = [
    nvme_scenario("passthrough-nvme-vtd", "VT-d", "-device intel-iommu,intremap=on",
                  restart=True, neighbour=True),
    nvme_scenario("passthrough-nvme-amdvi", "AMD-Vi", "-device amd-iommu,intremap=on",
                  restart=True),
    Scenario(
        "passthrough-edu-vtd",
        "edu passed through behind VT-d: MSI remapped into the guest, DMA inside its RAM "
        "works, DMA outside it (past its end, at the neighbour) is blocked and logged",
        EDU_CONFIG, ["edu.elf", "victim.elf"],
        edu_script("VT-d", [fault("0x1100000"), fault(r"0x[0-9a-f]+")]),
        timeout=90, vendors=("svm",), env={"MICA_QEMU_EXTRA": VTD}),
    Scenario(
        "passthrough-fault-storm",
        "edu behind VT-d makes DMA fault after DMA outside its RAM: Mica logs at most 5 "
        "lines a second and counts the rest, turns the device's bus mastering off after 16 "
        "faults, and the guest's next DMA no longer lands",
        one("00:10.0", name="edu-storm"), ["edu.elf"],
        Expect(
            steps=[
                BANNER,
                r"^mica: partition 'edu-storm': iommu fault: device 00:10\.0 \(1234:11e8\) "
                r"write at 0x[0-9a-f]+ blocked: ",
                r"^mica: partition 'edu-storm': \d+ more iommu faults? of device 00:10\.0 "
                r"(was|were) not logged \(at most 5 lines a second\)$",
                [lit("mica: partition 'edu-storm': device 00:10.0 made 16 IOMMU faults: its bus "
                     "mastering is off until the partition restarts"),
                 out("edu-storm", lit("edu: PASS: after the fault storm its DMA no longer "
                                      "lands (bus mastering off)"))],
                stopped("edu-storm", POWERED_OFF),
            ]),
        timeout=120, vendors=("svm",), env={"MICA_QEMU_EXTRA": VTD}),
    Scenario(
        "passthrough-edu-amdvi",
        "edu passed through behind AMD-Vi: the same checks (QEMU's AMD-Vi reports no faults: "
        "the neighbour's memory is the proof)",
        EDU_CONFIG, ["edu.elf", "victim.elf"],
        edu_script("AMD-Vi", []),
        timeout=90, vendors=("svm",), env={"MICA_QEMU_EXTRA": AMDVI}),
    teardown_scenario(
        "passthrough-teardown",
        "a guest starts a DMA into its RAM and crashes before it lands: Mica turns bus "
        "mastering off before the RAM is cleared, and the restarted guest finds nothing landed "
        "and the device working", "00:10.0", VTD, "no reset method: "),
    teardown_scenario(
        "passthrough-bus-reset",
        "the same with edu alone behind a PCI Express root port: no FLR and no power "
        "management, so Mica resets it through the port's secondary bus reset, restores its "
        "BARs, and the restarted guest finds nothing landed and the device working",
        "01:00.0", BEHIND_PORT, lit("secondary bus reset (bridge 00:1c.0)")),
    Scenario(
        "passthrough-no-iommu",
        "pci = on a machine without an IOMMU is refused: passthrough without DMA protection "
        "is never done",
        one("00:10.0"), ["edu.elf"],
        refused("pci = ", lit("passthrough needs an IOMMU to confine DMA, and this machine "
                              "has none usable")),
        vendors=("svm",), env={"MICA_QEMU_EXTRA": EDU}),
    Scenario(
        "passthrough-refusals",
        "a device that does not exist, and a host bridge, are refused with the line",
        one("00:1e.0"), ["edu.elf"],
        refused("pci = ", lit("PCI device 00:1e.0 does not exist on this machine")),
        vendors=("svm",), env={"MICA_QEMU_EXTRA": VTD}),
    Scenario(
        "passthrough-bridge",
        "the host bridge is never passed through",
        one("00:00.0"), ["edu.elf"],
        refused("pci = ", lit("PCI device 00:00.0 is a bridge (host-bridge): bridges are never "
                              "passed through")),
        vendors=("svm",), env={"MICA_QEMU_EXTRA": VTD}),
]
