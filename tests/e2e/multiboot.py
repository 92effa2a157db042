"""Multiboot guests (issue #18): our 32-bit test kernel (tests/guests/mboot/) boots in a
partition as a Multiboot loader boots it, with a command line and two modules, reads the
PC's clock and the 8259s, and leaves through QEMU's debug-exit port; a counter beside it
goes on. `bare_qemu()` boots the same kernel with bare `qemu-system-x86_64 -kernel`, so the
test also shows the kernel is a real Multiboot kernel that behaves the same there."""

import datetime
import os
import re
import subprocess
import textwrap
import zlib

from harness import BUILD, ROOT
from scenarios import BANNER, Expect, Scenario, counting, lit, out, stopped

MODS = [os.path.join(BUILD, "guests", "mb-mod1.bin"), os.path.join(BUILD, "guests", "mb-mod2.txt")]
CMDLINE = "mods=2 hello"
EXIT_VALUE = 0x21  # the kernel's "everything held"


def make_modules():
    """Two module files with fixed contents: 5000 bytes that are not all alike, a line."""
    os.makedirs(os.path.dirname(MODS[0]), exist_ok=True)
    contents = [bytes((i * 7 + i // 256) & 0xFF for i in range(5000)), b"hello-module\n"]
    for path, data in zip(MODS, contents):
        if not os.path.exists(path) or open(path, "rb").read() != data:
            with open(path, "wb") as f:
                f.write(data)
    return [(len(d), zlib.crc32(d)) for d in contents]


MOD_SUMS = make_modules()


def dates_now():
    """Today's UTC date and its neighbours, as the kernel prints them (a run may cross
    midnight; the host's clock is the RTC the emulator gives the guest)."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [today + datetime.timedelta(days=d) for d in (-1, 0, 1)]
    return "(" + "|".join(f"{d.year}-{d.month}-{d.day}" for d in days) + ")"


def kernel_lines(loader, cmdline):
    return [out("mb", lit("mboot: started in 32-bit protected mode")),
            out("mb", lit(f"mboot: loader {loader}") + "$"),
            out("mb", lit(f"mboot: cmdline {cmdline}") + "$"),
            out("mb", r"mboot: mem_lower 639 KiB, mem_upper \d+ KiB$"),
            out("mb", r"mboot: memory map \d+ entries, \d+ KiB usable above 1 MiB$"),
            *[out("mb", lit(f"mboot: module {i} {n} bytes crc32 {c:x}") + "$")
              for i, (n, c) in enumerate(MOD_SUMS)],
            out("mb", r"mboot: rtc date " + dates_now() + "$"),
            out("mb", lit("mboot: PASS") + "$")]


MULTIBOOT_CONFIG = textwrap.dedent(f"""
    [partition mb]
    cpus = 1
    memory = 32M
    image = mboot.elf
    cmdline = {CMDLINE}
    modules = mb-mod1.bin mb-mod2.txt

    [partition counter]
    cpus = 2
    memory = 16M
    image = counter.elf
""")

MULTIBOOT_SCENARIOS = [
    Scenario(
        "multiboot",
        "a 32-bit Multiboot kernel with a command line and two modules: it sees Mica as its "
        "loader, a memory map, its modules byte for byte, today's date in the RTC and quiet "
        "8259s, and its debug-exit write stops it with the status QEMU would give; the "
        "counter goes on",
        MULTIBOOT_CONFIG, ["mboot.elf", "counter.elf"] + MODS,
        Expect(
            steps=[BANNER,
                   *kernel_lines("Mica", f"mboot.elf {CMDLINE}"),
                   stopped("mb", lit(f"debug exit: the guest wrote 0x{EXIT_VALUE:x} to port "
                                     f"0xf4 (QEMU's isa-debug-exit would exit with status "
                                     f"{(EXIT_VALUE << 1 | 1) & 0xFF})")),
                   *counting()],
            forbidden=[out("mb", "mboot: FAIL"),
                       r"^mica: partition 'counter' (stopped|restarting)"]),
        timeout=90),
]


def bare_qemu():
    """The same kernel, modules and command line under bare QEMU (-kernel, Multiboot):
    the same facts and the debug-exit status Mica's log names. Returns a list of problems."""
    kernel = os.path.join(BUILD, "guests", "mboot.elf")
    argv = ["qemu-system-x86_64", "-machine", "q35", "-m", "64", "-nodefaults", "-display",
            "none", "-serial", "stdio", "-kernel", kernel, "-append", CMDLINE,
            "-initrd", ",".join(MODS), "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    res = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    lines = ["[mb] " + l.rstrip("\r") for l in res.stdout.decode(errors="replace").splitlines()]
    problems = []
    for pat in kernel_lines("qemu", f"{kernel} {CMDLINE}"):
        if not any(re.search(pat, l) for l in lines):
            problems.append(f"no line matching {pat!r}")
    want = (EXIT_VALUE << 1 | 1) & 0xFF
    if res.returncode != want:
        problems.append(f"QEMU exited with status {res.returncode}, expected {want}")
    if problems:
        problems.append("QEMU's output:\n" + "\n".join(lines))
    return problems


if __name__ == "__main__":
    import sys
    found = bare_qemu()
    for p in found:
        print("multiboot-qemu: " + p)
    print("multiboot-qemu: " + ("FAIL" if found else
                                "PASS (the test kernel behaves the same under bare QEMU)"))
    sys.exit(1 if found else 0)
