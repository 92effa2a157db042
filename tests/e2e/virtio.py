"""Virtio scenarios: the service partition (build/vmm/vmm.elf, docs/vmm.md) serving virtio
devices of other partitions.

- virtio-hostile (every backend): the vhostile test guest drives its virtio console by
  hand, sends a good line, then six kinds of broken descriptor chains; each must put only
  its device into NEEDS_RESET, and after a reset the device must serve again. A counter
  without virtio devices runs beside it.
- virtio-linux (QEMU only: two Linux guests are too slow for Bochs): Linux A has a virtio
  console (its shell is on hvc0), a disk and a port on switch `lan`; Linux B a port on
  `lan`. A makes a file system on /dev/vda and a file, reboots, and finds the file with the
  same checksum; A and B ping each other and copy a file over TCP (httpd and wget); vhostile attacks its
  own device meanwhile.
"""

import os
import re
import textwrap

from harness import BUILD, Allow, Failure, Forbid, Run, Script, Type, Wait  # noqa: F401
from linux import (DMESG, INITRD, LINUX_FILES, VMLINUZ, Ready, dmesg_check,  # noqa: F401
                   kernel_line, ready)
from scenarios import BANNER, Expect, Scenario, lit, out, restarting, started, stopped

VMM = os.path.join(BUILD, "vmm", "vmm.elf")
VMM_CRASHTEST = os.path.join(BUILD, "vmm", "vmm-crashtest.elf")
E2E_DIR = os.path.join(BUILD, "e2e")
DISK = os.path.join(E2E_DIR, "vda.img")
DISK_MIB = 24


def make_disk(path=DISK, mib=DISK_MIB):
    """A zero-filled raw disk image (made fresh for every run: the test formats it)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


SERVICE = """
    [partition svc]
    cpus = 0
    memory = 16M
    image = vmm.elf
    service = yes
"""
# The same, ready to paste at the start of a config (also scripts/bench.py's).
SERVICE_PART = textwrap.dedent(SERVICE).lstrip("\n")

HOSTILE_CASES = ["loop", "outside RAM", "absurd length", "zero length", "indirect",
                 "avail index jump"]


def needs_reset(part, kind):
    return (r"^mica: partition " + lit(f"'{part}': virtio {kind} at 00:") + r"[0-9a-f]{2}\.0 "
            + lit("needs reset: "))


def hostile_steps(part="vhostile"):
    return [
        out(part, lit("vhostile: hello through virtio")),
        out(part, lit("vhostile: done, 6 of 6 hostile cases detected")),
        # a line made available with no notify: the service's watch finds it
        out("svc", r"device \d+ \('" + part + r"' transmitq0\): requests waited a second "
            r"unannounced \(avail 1 ahead of \d+, used \d+, event \d+\): served now$"),
        out(part, lit("vhostile: never notified, still served")),
        stopped(part, lit("powered off (code 0)")),
    ]


HOSTILE_CONFIG = SERVICE_PART + textwrap.dedent("""
    [partition vhostile]
    cpus = 1
    memory = 16M
    image = vhostile.elf
    console = virtio

    [partition counter]
    cpus = 2
    memory = 16M
    image = counter.elf
""")

HOSTILE = Scenario(
    "virtio-hostile",
    "vhostile sends six kinds of broken virtio chains to the service: each puts only its "
    "console into NEEDS_RESET, a reset brings it back; the service and a counter go on",
    HOSTILE_CONFIG,
    [VMM, "vhostile.elf", "counter.elf"],
    Expect(
        steps=[BANNER, *hostile_steps(), out("counter", r"count \d+$")],
        anywhere=[started("svc", "0", "16 MiB", "vmm.elf"),
                  out("svc", lit("serving 1 of 1 devices"))]
        + [needs_reset("vhostile", "console")] * 1,
        forbidden=[r"^mica: partition 'svc' (stopped|restarting)",
                   r"^mica: partition 'counter' (stopped|restarting)"],
    ),
    timeout=120,
    vendors=("svm", "vmx"),
)


RESTART_CONFIG = SERVICE_PART.replace(
    "image = vmm.elf", "image = vmm-crashtest.elf") + "on_crash = restart\n" + textwrap.dedent("""
    [partition vrestart]
    cpus = 1
    memory = 16M
    image = vrestart.elf
    console = virtio

    [partition counter]
    cpus = 2
    memory = 16M
    image = counter.elf
""")

RESTART = Scenario(
    "virtio-service-restart",
    "the service partition crashes (its crash-test build, on a trigger line): Mica reports "
    "it and restarts it (on_crash = restart), the guest's device says needs reset, and "
    "after a reset it is served again; the counter without devices never notices",
    RESTART_CONFIG,
    [VMM_CRASHTEST, "vrestart.elf", "counter.elf"],
    Expect(
        steps=[
            BANNER,
            out("vrestart", lit("vhostile: hello through virtio")),
            out("svc", lit("crash test: faulting on purpose")),
            restarting("svc", 1, lit("triple fault")),
            out("vrestart", lit("vrestart: served again after the service restarted")),
            out("vrestart", lit("vrestart: done")),
            stopped("vrestart", lit("powered off (code 0)")),
            out("counter", r"count \d+$"),
        ],
        anywhere=[out("vrestart", lit("vrestart: the service is gone: device needs reset (ok)"))],
        forbidden=[r"^mica: partition 'counter' (stopped|restarting)", r"restart 2\)"],
    ),
    timeout=120,
    vendors=("svm", "vmx"),
)


ISOLATION = Scenario(
    "virtio-service-isolation",
    "a hostile service (svcprobe): the service calls refuse other partitions' RAM, its own, "
    "made-up partitions and disks and bad buffers; the served partition's window is exactly "
    "its RAM, and a write past it stops the service alone",
    """
        [partition svcprobe]
        cpus = 0
        memory = 16M
        image = svcprobe.elf
        service = yes

        [partition served]
        cpus = 1
        memory = 16M
        image = counter.elf
        console = virtio

        [partition other]
        cpus = 2
        memory = 16M
        image = counter.elf
    """,
    ["svcprobe.elf", "counter.elf"],
    Expect(
        steps=[
            BANNER,
            out("svcprobe", lit("svcprobe: MAP the RAM of a partition without devices: -1 (ok)")),
            out("svcprobe", lit("svcprobe: MAP the served partition's RAM: ")),
            out("svcprobe", lit("svcprobe: the served partition's image is there")),
            out("svcprobe", lit("svcprobe: 0 failure(s) before the last step")),
            stopped("svcprobe", lit("write to guest-physical 0x") + r"[0-9a-f]+"
                    + lit(" outside its RAM")),
            out("served", r"count \d+$"), out("other", r"count \d+$"),
        ],
        forbidden=[r"^mica: partition '(served|other)' (stopped|restarting)"],
    ),
    timeout=120,
    vendors=("svm", "vmx"),
)


# --- Linux ------------------------------------------------------------------------------

BASE_CMDLINE = "console=ttyS0,115200 panic=-1 rdinit=/init"


def linux(name, cpus, extra, devices):
    return textwrap.dedent(f"""
        [partition {name}]
        cpus = {cpus}
        memory = 256M
        image = vmlinuz
        initrd = initrd.img
        cmdline = "{BASE_CMDLINE} {extra}"
    """).lstrip("\n") + "".join(f"{d}\n" for d in devices)


LINUX_CONFIG = (SERVICE_PART + "\n"
                + linux("linux-a", 1, "mica.shell=hvc0 mica.ip=10.0.0.1/24",
                        ["console = virtio", "disk = vda.img", "net = lan"]) + "\n"
                + linux("linux-b", 2, "mica.ip=10.0.0.2/24", ["net = lan"]) + "\n"
                + textwrap.dedent("""
                    [partition vhostile]
                    cpus = 3
                    memory = 16M
                    image = vhostile.elf
                    console = virtio
                """).lstrip("\n"))

SHA = re.compile(r"^([0-9a-f]{64})\b")


class Checksum:
    """A Run check that keeps the first SHA-256 it sees under `key`, or compares with it."""

    def __init__(self, store, key, compare=False):
        self.store, self.key, self.compare = store, key, compare

    def __call__(self, output, status):
        if status != 0:
            return f"exit status {status}: {output!r}"
        sums = [m.group(1) for m in (SHA.match(l.strip()) for l in output.splitlines()) if m]
        if not sums:
            return f"no SHA-256 in {output!r}"
        if not self.compare:
            self.store[self.key] = sums[-1]
            return None
        if sums[-1] != self.store.get(self.key):
            return f"checksum {sums[-1]} differs from {self.store.get(self.key)}"
        return None


def ping_check(output, status):
    m = re.search(r"(\d+) packets transmitted, (\d+) (packets )?received", output)
    if status != 0 or not m or m.group(2) == "0":
        return f"ping failed (status {status}): {output!r}"
    return None


A, B = "linux-a", "linux-b"
TO_A, TO_B = "\x1d2", "\x1d3"  # Ctrl-] then the partition's number (svc is 1)
def HELLO(part):
    """ash's greeting: its shell reads input from here on."""
    return out(part, lit("Enter 'help' for a list of built-in commands."))


A_ENDS = r"^mica: partition 'linux-a' (stopped|restarting)"


def linux_script(cfg):
    sums = {}
    mkfs = ("mke2fs -q /dev/vda && mkdir -p /mnt && mount /dev/vda /mnt && "
            "dd if=/dev/urandom of=/mnt/data bs=4k count=256 2>/dev/null && "
            "sha256sum /mnt/data && sync")
    return Script(
        [
            BANNER,
            Wait(started("svc", "0", "16 MiB", "vmm.elf"),
                 started(A, "1", "256 MiB", "vmlinuz"), started(B, "2", "256 MiB", "vmlinuz")),
            Forbid(A_ENDS),
            # in any order: both shells, and vhostile's attack (which runs meanwhile)
            Wait(ready(A), ready(B), HELLO(A), HELLO(B), *hostile_steps(), timeout=400),
            Run("echo $(cat /sys/bus/virtio/devices/*/device | sort)",
                r"0x0001 0x0002 0x0003", part=A),
            # Linux took EVENT_IDX on all three and notifies through the I/O BARs; its
            # virtio-net took every offload and mergeable receive buffers (docs/vmm.md)
            Run("mica-vtransport", lit("3 devices, EVENT_IDX on 3, notify ports in use 3\n"
                                       "net took CSUM GUEST_CSUM GUEST_TSO4 GUEST_TSO6 "
                                       "HOST_TSO4 HOST_TSO6 MRG_RXBUF"), part=A),
            Run(DMESG, dmesg_check, part=A, timeout=90),
            Run(mkfs, Checksum(sums, "disk"), part=A, timeout=120),
            Run("ping -c 3 -W 5 10.0.0.2", ping_check, part=A, timeout=60),
            Run("dd if=/dev/urandom of=/tmp/f bs=4k count=64 2>/dev/null && sha256sum /tmp/f",
                Checksum(sums, "net"), part=A),
            Type(TO_B),
            Run("ping -c 3 -W 5 10.0.0.1", ping_check, part=B, timeout=60),
            # B fetches A's file over TCP: busybox httpd on A, wget on B
            Type(TO_A),
            Run("mkdir -p /tmp/www && cp /tmp/f /tmp/www/f && httpd -p 8080 -h /tmp/www", r"",
                part=A),
            Type(TO_B),
            Run("wget -q -O /tmp/r http://10.0.0.1:8080/f && wc -c < /tmp/r && sha256sum /tmp/r",
                Checksum(sums, "net", compare=True), part=B, timeout=120),
            Type(TO_A),
            Allow(A_ENDS),
            Run("umount /mnt && sync", r"", part=A),
            Type("reboot -f\n"),
            Wait(restarting(A, 1, lit("reset by the guest (port 0xCF9)")), timeout=60),
            Forbid(A_ENDS),
            Wait(ready(A), HELLO(A), timeout=400),
            Run("mkdir -p /mnt && mount /dev/vda /mnt && sha256sum /mnt/data", Checksum(sums, "disk", compare=True),
                part=A, timeout=60),
        ],
        forbidden=[r"^mica: partition '(svc|linux-b)' (stopped|restarting)",
                   r"^\[linux-.\] .*Kernel panic", r"^mica: partition 'linux-.': virtio"],
    )


LINUX = Scenario(
    "virtio-linux",
    "two Linux partitions and the service: A's hvc0 shell, mkfs + file on /dev/vda that "
    "survives A's reboot, ping both ways and a TCP copy through switch lan; vhostile "
    "attacks its own device meanwhile",
    LINUX_CONFIG,
    LINUX_FILES + [VMM, DISK, "vhostile.elf"],
    linux_script,
    timeout=1200,
    vendors=("svm",),
    env={"MICA_SMP": "4", "MICA_MEM": "1024"},
)

# VT-x under Bochs: one Linux partition checks its devices by itself (Bochs' console is a
# file, so nothing can be typed), beside the service. Two Linux guests for the network
# would double Bochs' ~45 s boot; the switch is covered on QEMU (virtio-linux).
VMX_CONFIG = (SERVICE_PART + "\n"
              + linux("linux", 1, "mica.then=vselftest", ["console = virtio", "disk = vda.img"]))


def vmx_script(cfg):
    return Script(
        [
            BANNER,
            Wait(started("svc", "0", "16 MiB", "vmm.elf"), started("linux", "1", "256 MiB", "vmlinuz")),
            Wait(out("svc", lit("serving 2 of 2 devices"))),
            Wait(ready("linux"), timeout=900),
            Wait(out("linux", lit("mica-linux: vselftest hvc0 says hello through the service")),
                 out("linux", lit("mica-linux: vselftest disk ok ")),
                 out("linux", lit("mica-linux: vselftest transport: 2 devices, EVENT_IDX on 2, "
                                  "notify ports in use 2")),
                 out("linux", lit("mica-linux: vselftest done (0 failed)")), timeout=300),
            Wait(stopped("linux", lit("powered off (ACPI S5)")), timeout=120),
        ],
        forbidden=[r"^mica: partition 'svc' (stopped|restarting)", r"^\[linux\] .*Kernel panic",
                   r"^mica: partition 'linux': virtio", r"vselftest (hvc0|disk) failed"],
    )


VMX_LINUX = Scenario(
    "virtio-linux-vmx",
    "Linux on Intel VT-x (Bochs) with a virtio console and disk: hvc0 reaches the serial "
    "through the service, mke2fs + a file on /dev/vda read back after a remount (output only)",
    VMX_CONFIG,
    LINUX_FILES + [VMM, DISK],
    vmx_script,
    timeout=1500,
    vendors=("vmx",),
    env={"MICA_SMP": "2"},
    explicit=True,
)

VIRTIO_SCENARIOS = [HOSTILE, RESTART, ISOLATION, LINUX, VMX_LINUX]
