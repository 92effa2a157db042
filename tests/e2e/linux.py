"""The Linux-guest scenarios: Debian's cloud kernel (scripts/linux-image.sh, docs/linux.md)
booted as a Mica partition, driven through its serial console.

These are interactive (harness.Script): they wait for /init's marker
    [linux] mica-linux: shell ready (cpus N, mem M kB)
then type shell commands into the console (QEMU: the emulator's stdin, which Mica passes
to the first Linux partition) and check the answers. On Bochs the console is a file, so
the VT-x scenario checks the output only.

run.py adds LINUX_SCENARIOS to the others; it builds the image first (cached) when one
of them is selected.
"""

import datetime
import os
import re
import textwrap

from harness import (BUILD, Allow, Failure, Forbid, Run, Script, Type, Wait)  # noqa: F401
from scenarios import (BANNER, Scenario, lit, out, restarting, started, stopped)

LINUX_DIR = os.path.join(BUILD, "linux")
VMLINUZ = os.path.join(LINUX_DIR, "vmlinuz")
INITRD = os.path.join(LINUX_DIR, "initrd.img")
VMLINUX = os.path.join(LINUX_DIR, "vmlinux")  # the bzImage's payload, for PVH (run.py makes it)
LINUX_FILES = [VMLINUZ, INITRD]
CMDLINE = "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init"

# MemTotal of a 256 MiB partition: the kernel keeps its own code and data, the initrd
# while it unpacks, page tables, the per-CPU areas and the crash-free reserves out of it
# (about 34 MiB for 6.1 cloud under Mica: 222508 kB with 2 vCPUs), so it is less than
# 256 MiB = 262144 kB, and much less would mean RAM was lost somewhere (an e820 map that
# leaves out a range, memory the kernel could not use). 200000 kB is ~76 % of 256 MiB.
MEM_256M_LO, MEM_256M_HI = 200000, 262144


def linux_partition(name="linux", cpus="1", memory="256M"):
    return textwrap.dedent(f"""
        [partition {name}]
        cpus = {cpus}
        memory = {memory}
        image = vmlinuz
        initrd = initrd.img
        cmdline = "{CMDLINE}"
    """).lstrip("\n")


def ready(part="linux"):
    """/init's marker: its shell is up; groups: vCPUs, MemTotal in kB."""
    return out(part, r"mica-linux: shell ready \(cpus (\d+), mem (\d+) kB\)$")


class Ready(Wait):
    """The shell-ready marker, with its vCPU count and MemTotal checked."""

    def __init__(self, part="linux", cpus=1, mem=(MEM_256M_LO, MEM_256M_HI), timeout=None):
        super().__init__(ready(part), timeout=timeout,
                         what=f"'{part}' to print its shell-ready marker (cpus {cpus})")
        self.part, self.cpus, self.mem = part, cpus, mem

    def end(self, ctx):
        m = ctx["match"]
        cpus, mem = int(m.group(1)), int(m.group(2))
        if cpus != self.cpus:
            raise Failure(f"'{self.part}' came up with {cpus} CPU(s), expected {self.cpus}: "
                          f"{m.group(0)!r}")
        lo, hi = self.mem
        if not lo <= mem <= hi:
            raise Failure(f"'{self.part}' has MemTotal {mem} kB, expected {lo}-{hi} kB: "
                          f"{m.group(0)!r}")


def kernel_line(text, part="linux"):
    """A kernel message on the partition's console (after its "[    1.234567] " stamp)."""
    return out(part, r"\[ *\d+\.\d+\] " + text)


def shell_prompt(part="linux"):
    """ash's greeting: the interactive shell reads the console from here on."""
    return Wait(out(part, lit("Enter 'help' for a list of built-in commands.")), timeout=60)


def memtotal_check(output, status):
    m = re.fullmatch(r"MemTotal:\s+(\d+) kB", output.strip())
    if status != 0 or not m:
        return "expected one line `MemTotal: <n> kB`"
    kb = int(m.group(1))
    if not MEM_256M_LO <= kb <= MEM_256M_HI:
        return (f"MemTotal {kb} kB is not within {MEM_256M_LO}-{MEM_256M_HI} kB "
                "(256 MiB less the kernel's reservations)")
    return None


# What the kernel log is searched for (case-insensitive), and which of the lines found
# are platform errors. Lines that only name Mica (the ACPI tables' OEM id "MICA") are fine.
DMESG = "dmesg | grep -iE 'mica|acpi.*(error|excep[t]ion)|bug:|warning:|unchecked msr|call trace|oops:|kernel panic|firmware bug'"
DMESG_BAD = re.compile(
    r"unchecked msr|\bbug:|warning:|acpi.*(error|exception)|call trace|\boops:|kernel panic"
    r"|firmware bug|mica.*(error|fail|unsupported|unknown)", re.IGNORECASE)


def dmesg_check(output, status):
    if status not in (0, 1):  # grep: 1 = nothing found, which is fine
        return f"dmesg | grep failed (status {status})"
    bad = [line for line in output.splitlines() if DMESG_BAD.search(line)]
    if bad:
        return (f"the kernel log has {len(bad)} line(s) that point at a platform problem "
                "(unchecked MSR access, BUG/WARNING, ACPI error, call trace): "
                + " | ".join(bad[:12]))
    return None


def counter_lines(n=2):
    """n count lines from the counter: it was still running after the previous step."""
    return [Wait(out("counter", r"count \d+$"), timeout=60) for _ in range(n)]


EXITS = r"^mica: partition 'linux' exits: total \d+"
LINUX_ENDS = r"^mica: partition 'linux' (stopped|restarting)"

# Always wrong in these runs: the neighbour stopping or starting over, a kernel panic.
LINUX_FORBIDDEN = [
    r"^mica: partition 'counter' (stopped|restarting)",
    r"counter: start \(restarts [1-9]",
    r"^\[linux\] .*Kernel panic",
]

SMP_CONFIG = linux_partition(cpus="1-2") + textwrap.dedent("""
    [partition counter]
    cpus = 3
    memory = 16M
    image = counter.elf
""")


def _days_now():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return [today + datetime.timedelta(days=d) for d in (-1, 0, 1)]


def date_check(output, status):
    """The guest's clock came from the partition's CMOS RTC: today (UTC), not 1970."""
    days = [d.isoformat() for d in _days_now()]
    if output.strip() not in days:
        return f"`date` says {output.strip()!r}; expected one of {days} (the host's date)"
    return None


def hwclock_check(output, status):
    """/dev/rtc0 (rtc_cmos) reads the same date."""
    if status != 0:
        return f"hwclock failed (status {status}): {output.strip()!r}"
    if not any(str(d.year) in output and d.strftime("%b") in output for d in _days_now()):
        return f"hwclock says {output.strip()!r}; expected this month and year"
    return None


def rtc_irq_check(output, status):
    """An alarm 2 s ahead (rtc_cmos sets AIE): IRQ 8 came, counted on the rtc0 line."""
    if status != 0:
        return f"no rtc0 line in /proc/interrupts (status {status}): {output.strip()!r}"
    counts = [int(w) for w in output.split()[1:] if w.isdigit()]
    if not counts or sum(counts) < 1:
        return f"the RTC alarm raised no interrupt: {output.strip()!r}"
    return None


def smp_script(cfg):
    boot_checks = [
        Ready(cpus=2, timeout=300),
        shell_prompt(),
        Run("nproc", "2"),
        Run("grep MemTotal /proc/meminfo", memtotal_check),
        Run(DMESG, dmesg_check, timeout=90),
        Run("date -u +%Y-%m-%d", date_check),
        Run("hwclock -r -u", hwclock_check),
        Run("echo +2 > /sys/class/rtc/rtc0/wakealarm && sleep 4 && grep rtc0 /proc/interrupts",
            rtc_irq_check, timeout=60),
    ]
    return Script(
        [
            BANNER,
            Wait(started("linux", "1,2", "256 MiB", "vmlinuz"),
                 started("counter", "3", "16 MiB", "counter.elf")),
            Forbid(LINUX_ENDS),  # nothing may end the guest before we ask
            *boot_checks,
            *counter_lines(),
            Allow(LINUX_ENDS),
            Type("reboot -f\n"),
            Wait(restarting("linux", 1, lit("reset by the guest (port 0xCF9)")), EXITS,
                 timeout=60),
            Forbid(LINUX_ENDS),
            *counter_lines(),  # the counter went on while Linux restarted
            *boot_checks,      # the second boot is as good as the first
            *counter_lines(),
            Allow(LINUX_ENDS),
            Type("poweroff -f\n"),
            Wait(stopped("linux", lit("powered off (ACPI S5)")), EXITS, timeout=60),
            *counter_lines(),  # and after Linux is gone
        ],
        forbidden=LINUX_FORBIDDEN + [r"restart 2\)"],
    )


# Two vCPUs: Linux starts its AP with INIT/SIPI, which on VT-x means real mode under
# unrestricted guest and the CR0 writes Mica emulates.
# No typing into Bochs (its console is a file): /init reboots by itself after the marker
# (mica.then=reboot), so the restart of a Linux partition on VT-x is tested too.
VMX_CONFIG = linux_partition(cpus="1-2").replace(CMDLINE, CMDLINE + " mica.then=reboot")
VMX_POWEROFF_CONFIG = linux_partition(cpus="1").replace(CMDLINE, CMDLINE + " mica.then=poweroff")


def vmx_script(cfg):
    """Bochs: output only (its serial console is a file)."""
    return Script(
        [
            BANNER,
            Wait(started("linux", "1,2", "256 MiB", "vmlinuz")),
            Forbid(LINUX_ENDS),
            Wait(kernel_line(lit("Linux version ")), timeout=600),
            Wait(kernel_line(lit("smp: Brought up 1 node, 2 CPUs"))),
            Wait(kernel_line(lit("Run /init as init process"))),
            Ready(cpus=2),
            Allow(LINUX_ENDS),
            Wait(restarting("linux", 1, lit("reset by the guest (port 0xCF9)")), EXITS,
                 timeout=120),
            Forbid(LINUX_ENDS),
            Wait(kernel_line(lit("smp: Brought up 1 node, 2 CPUs")), timeout=600),
            Ready(cpus=2),  # the second boot starts its AP again
        ],
        forbidden=LINUX_FORBIDDEN,
    )


PVH_CONFIG = linux_partition(cpus="1-2").replace("image = vmlinuz", "image = vmlinux") + \
    textwrap.dedent("""
    [partition counter]
    cpus = 3
    memory = 16M
    image = counter.elf
""")


def pvh_script(cfg):
    return Script(
        [
            BANNER,
            Wait(started("linux", "1,2", "256 MiB", "vmlinux"),
                 started("counter", "3", "16 MiB", "counter.elf")),
            Forbid(LINUX_ENDS),
            Ready(cpus=2, timeout=300),
            shell_prompt(),
            Run("nproc", "2"),
            Run("date -u +%Y-%m-%d", date_check),
            Run(DMESG, dmesg_check, timeout=90),
            *counter_lines(),
            Allow(LINUX_ENDS),
            Type("poweroff -f\n"),
            Wait(stopped("linux", lit("powered off (ACPI S5)")), EXITS, timeout=60),
            *counter_lines(),
        ],
        forbidden=LINUX_FORBIDDEN,
    )


def poweroff_script(image):
    """Bochs, output only: Linux on 1 vCPU reaches /init's marker and powers itself off."""
    return Script(
        [
            BANNER,
            Wait(started("linux", "1", "256 MiB", image)),
            Forbid(LINUX_ENDS),
            Wait(kernel_line(lit("Run /init as init process")), timeout=600),
            Ready(cpus=1),
            Allow(LINUX_ENDS),
            Wait(stopped("linux", lit("powered off (ACPI S5)")), EXITS, timeout=120),
        ],
        forbidden=LINUX_FORBIDDEN,
    )


LINUX_SCENARIOS = [
    Scenario(
        "linux-smp",
        "Linux on 2 vCPUs (256M) beside the counter: shell answers, clean kernel log, "
        "reboot -f restarts it, poweroff -f stops it, the counter never stops",
        SMP_CONFIG,
        LINUX_FILES + ["counter.elf"],
        smp_script,
        timeout=900,
        vendors=("svm",),
    ),
    Scenario(
        "linux-pvh",
        "Debian's uncompressed kernel (the bzImage's vmlinux) booted through its PVH entry "
        "on 2 vCPUs beside the counter: shell, both CPUs, today's date, clean kernel log, "
        "poweroff",
        PVH_CONFIG,
        [VMLINUX, INITRD, "counter.elf"],
        pvh_script,
        timeout=900,
        vendors=("svm",),
    ),
    Scenario(
        "linux-boot",
        "Linux on 2 vCPUs (256M) boots to its shell on Intel VT-x under Bochs, the AP started "
        "by the guest's INIT/SIPI; it reboots itself and comes back the same (output only)",
        VMX_CONFIG,
        LINUX_FILES,
        vmx_script,
        timeout=1500,  # doubled for Bochs
        vendors=("vmx",),
        env={"MICA_SMP": "3"},
        explicit=True,
    ),
    Scenario(
        "linux-poweroff",
        "Linux on 1 vCPU on Intel VT-x under Bochs powers itself off through ACPI S5 "
        "(mica.then=poweroff): the partition stops alone, with its exit counts",
        VMX_POWEROFF_CONFIG,
        LINUX_FILES,
        lambda cfg: poweroff_script("vmlinuz"),
        timeout=1500,
        vendors=("vmx",),
        env={"MICA_SMP": "2"},
        explicit=True,
    ),
    Scenario(
        "linux-pvh-vmx",
        "Debian's vmlinux through its PVH entry on 1 vCPU on Intel VT-x under Bochs: it "
        "starts in 32-bit protected mode with paging off (unrestricted guest), reaches its "
        "shell and powers itself off (output only)",
        VMX_POWEROFF_CONFIG.replace("image = vmlinuz", "image = vmlinux"),
        [VMLINUX, INITRD],
        lambda cfg: poweroff_script("vmlinux"),
        timeout=1500,
        vendors=("vmx",),
        env={"MICA_SMP": "2"},
        explicit=True,
    ),
]


def needs_linux(scenario):
    return any(f in LINUX_FILES or f == VMLINUX for f in scenario.guests)
