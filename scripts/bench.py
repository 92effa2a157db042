#!/usr/bin/env python3
"""Mica's benchmarks: path lengths counted in emulated instructions.

Under QEMU `-icount shift=8` the guest's TSC advances exactly 256 per emulated instruction,
the hypervisor's included, so an RDTSC delta around one exiting instruction, minus the same
delta without it, divided by 256, is the number of instructions the exit costs (the exiting
instruction, VMRUN and #VMEXIT included). The bench guest (tests/guests/bench.c) prints the
raw minimum deltas; this script boots it and turns them into figures:

    bench: svm_cpuid_exit <N> instructions
    bench: svm_null_hypercall <N> instructions

plus the same on VT-x (Bochs), and the Linux guest's boot (LinuxBoot, below):

    bench: linux_boot_ratio <R> (Mica <s> / bare QEMU <s> ...)
    bench: linux_boot_exits <N> exits (...)

Each entry in BENCHES yields one or more figures. Usage: scripts/bench.py [--list] [NAME...]
(--linux-runs N: boots of each kind for the Linux ratio, default 3)
"""

import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import harness  # noqa: E402
from harness import BACKENDS, BUILD, Expect, Failure, guest_path, watch  # noqa: E402

ICOUNT_TICKS = 256  # TSC ticks per instruction at -icount shift=8

BENCH_CONFIG = """\
[partition bench]
cpus = 1
memory = 16M
image = bench.elf
"""

RAW = re.compile(r"^\[bench\] bench-raw: base=(\d+) cpuid=(\d+) hcall=(\d+) nops64=(\d+)")


def instructions(delta, base, ticks=ICOUNT_TICKS):
    """Instructions in the measured instruction's path: delta/ticks - base/ticks, rounded."""
    return round(delta / ticks - base / ticks)


def ticks_per_insn(base, nops):
    """TSC ticks per guest instruction, from 64 NOPs measured like the exits."""
    return (nops - base) / 64


class Bench:
    """One boot: a config, the guests, the environment, and how to read figures off the
    console. figures(match) returns [(name, value, unit), ...]."""

    def __init__(self, name, backend, config, guests, marker, figures, env=None,
                 timeout=180):
        self.name = name
        self.backend = backend
        self.config = config
        self.guests = guests
        self.marker = marker
        self.figures = figures
        self.env = env or {}
        self.timeout = timeout

    def run(self):
        backend = BACKENDS[self.backend]
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(self.config)
        image = base + backend.image_ext
        backend.build_image(image, base + ".cfg", [guest_path(g) for g in self.guests])
        with backend.boot(image, base + ".log", env=self.env) as console:
            try:
                watch(console, Expect([self.marker.pattern]), self.timeout)
            except Failure as e:
                tail = "".join(f"\n    | {line}" for line in console.lines[-20:])
                raise Failure(f"{e}; last console lines:{tail}") from None
            for line in reversed(console.lines):
                m = self.marker.search(line)
                if m:
                    return self.figures(m)
        raise Failure(f"no line matching /{self.marker.pattern}/")


def svm_exit_figures(m):
    base, cpuid, hcall, nops = (int(x) for x in m.groups())
    ticks = ticks_per_insn(base, nops)
    if ticks != ICOUNT_TICKS:
        raise Failure(f"the TSC ran {ticks} ticks per instruction, expected {ICOUNT_TICKS} "
                      "under -icount shift=8: the figures would be wrong")
    return [("svm_cpuid_exit", instructions(cpuid, base), "instructions"),
            ("svm_null_hypercall", instructions(hcall, base), "instructions")]


def vmx_exit_figures(m):
    """Bochs' TSC follows its own instruction count; the 64-NOP calibration says how many
    ticks one instruction is (1 with one CPU at any `ips`), and the figure is checked to
    be a whole number of instructions."""
    base, cpuid, hcall, nops = (int(x) for x in m.groups())
    ticks = ticks_per_insn(base, nops)
    if ticks <= 0:
        raise Failure(f"the TSC did not advance over 64 NOPs (base {base}, nops {nops})")
    return [("vmx_cpuid_exit", instructions(cpuid, base, ticks), "instructions"),
            ("vmx_null_hypercall", instructions(hcall, base, ticks), "instructions")]


# Bochs with one CPU: with several, its TSC advances by their shared instruction count.
BENCH_CONFIG_CPU0 = BENCH_CONFIG.replace("cpus = 1", "cpus = 0")

BENCHES = [
    Bench("svm-exits", "svm", BENCH_CONFIG, ["bench.elf"], RAW, svm_exit_figures,
          env={"MICA_ICOUNT": "8"}),
    Bench("vmx-exits", "vmx", BENCH_CONFIG_CPU0, ["bench.elf"], RAW, vmx_exit_figures,
          env={"MICA_SMP": "1"}, timeout=300),
]


# --- Linux boot time: under Mica vs. bare QEMU ----------------------------------------------

LINUX_DIR = os.path.join(BUILD, "linux")
LINUX_MEM_MB = 256
LINUX_READY = re.compile(r"mica-linux: shell ready \(cpus (\d+), mem (\d+) kB\)$")
LINUX_CONFIG = f"""\
[partition linux]
cpus = 1
memory = {LINUX_MEM_MB}M
image = vmlinuz
initrd = initrd.img
cmdline = "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init quiet"
"""
# Both sides boot with `quiet` added to build/linux/cmdline: the figure is about the
# platform, not about how fast each side can print 360 lines of kernel log.
LINUX_APPEND = "quiet"
EXITS = re.compile(r"^mica: partition 'linux' exits: total (\d+)")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


class LinuxBoot:
    """Wall time from the emulator's start to /init's shell-ready marker, Linux under Mica
    (QEMU, SeaBIOS + GRUB + the Multiboot2 entry, the kernel alone in a 1-vCPU partition)
    against the same kernel, initrd and command line booted directly by QEMU
    (scripts/linux-bare.sh -smp 1 -m 256). Both are TCG with -cpu max, and the guest has
    one vCPU and 256 MiB in both. Mica's QEMU has -smp 2 -m 512: the partition runs on
    CPU 1 while Mica's boot CPU only idles (a partition on CPU 0 does not run yet), and
    Mica and its tables need room beside the partition. Runs alternate, Mica first; the
    ratio is of the medians.

    Under Mica the guest then types `poweroff -f`, and Mica's per-partition exit counts
    give linux_boot_exits: the VM exits of the whole boot and the power-off (median)."""

    name = "linux-boot"

    def __init__(self, runs=3, timeout=300):
        self.runs = runs
        self.timeout = timeout

    def _read_until(self, console, rx, deadline, what):
        while True:
            line = console.read_line(deadline)
            if line is None:
                tail = "".join(f"\n    | {l}" for l in console.lines[-20:])
                raise Failure(f"timed out waiting for {what}; last console lines:{tail}")
            m = rx.search(line)
            if m:
                return m, time.monotonic()

    def _mica(self, image, log):
        env = {"MICA_SMP": "2", "MICA_MEM": "512"}
        with BACKENDS["svm-mb2"].boot(image, log, env=env) as c:
            deadline = c.started + self.timeout
            m, t = self._read_until(c, LINUX_READY, deadline, "the shell-ready marker under Mica")
            boot = t - c.started
            self._read_until(c, re.compile(r"Enter 'help' for a list"), deadline, "the shell")
            c.send("poweroff -f\n")
            try:
                e, _ = self._read_until(c, EXITS, time.monotonic() + 60,
                                        "Mica's exit counts after poweroff -f")
                exits = int(e.group(1))
            except Failure as err:
                print(f"bench: linux_boot_exits left out: {err}", file=sys.stderr)
                exits = None
            return boot, exits

    def _bare(self, log):
        argv = [os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
                "-smp", "1", "-m", str(LINUX_MEM_MB)]
        with harness.Console(argv, env={"MICA_LINUX_APPEND": LINUX_APPEND}, log_path=log) as c:
            deadline = c.started + self.timeout
            _, t0 = self._read_until(c, re.compile(r"^linux-bare: starting qemu"), deadline,
                                     "scripts/linux-bare.sh to start QEMU")
            _, t = self._read_until(c, LINUX_READY, deadline, "the shell-ready marker (bare)")
            return t - t0

    def run(self):
        res = subprocess.run([os.path.join(ROOT, "scripts", "linux-image.sh"), LINUX_DIR],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise Failure("scripts/linux-image.sh failed:\n" + res.stdout.decode(errors="replace"))
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(LINUX_CONFIG)
        image = base + ".iso"
        harness.build_iso(image, base + ".cfg",
                          [os.path.join(LINUX_DIR, "vmlinuz"), os.path.join(LINUX_DIR, "initrd.img")])
        mica, bare, exits = [], [], []
        for i in range(1, self.runs + 1):
            t, e = self._mica(image, f"{base}-mica-{i}.log")
            mica.append(t)
            if e is not None:
                exits.append(e)
            bare.append(self._bare(f"{base}-bare-{i}.log"))
            print(f"bench-run: linux-boot {i}: Mica {mica[-1]:.2f}s"
                  f"{f' ({e} exits)' if e is not None else ''}, bare {bare[-1]:.2f}s",
                  file=sys.stderr, flush=True)
        mm, mb = median(mica), median(bare)
        figures = [("linux_boot_ratio", f"{mm / mb:.2f}",
                    f"(Mica {mm:.2f}s / bare QEMU {mb:.2f}s to the shell, medians of "
                    f"{self.runs})")]
        if exits:
            figures.append(("linux_boot_exits", int(median(exits)),
                            f"exits (boot and poweroff -f, median of {len(exits)})"))
        return figures


BENCHES.append(LinuxBoot())


# --- Block reads: virtio-blk in bare QEMU (the reference for Mica's virtio-blk) ------------

BLKREAD = re.compile(r"mica-linux: blkread bytes=(\d+) usec=(\d+) MBps=([0-9.]+)")
BLKREAD_FAILED = re.compile(r"mica-linux: blkread failed: .*")
BLKREAD_DISK_MIB = 96


def bare_blkread_mbps(runs=3, cpus=1, mem_mb=LINUX_MEM_MB, timeout=180, verbose=True):
    """Sequential read speed of QEMU's own virtio-blk-pci (TCG), in MB/s (10^6 B/s): the
    median of `runs` boots. Each boot gets a fresh 96 MiB zero-filled raw image in a temp
    dir as /dev/vda (scripts/linux-bare.sh with MICA_LINUX_DISK, cache=unsafe; `-smp cpus
    -m mem_mb`, as LinuxBoot's bare side) and `quiet mica.then=blkbench`: /init runs
    /bin/mica-blkbench (tests/linux/bin), which makes ext2 on the disk, writes a 64 MiB
    file, drops the caches and times reading it back, prints
        mica-linux: blkread bytes=67108864 usec=<N> MBps=<x.y>
    and powers off. The figure is recomputed from bytes/usec. Logs: build/bench/
    blkread-bare-<i>.log. Raises Failure with the log's tail if the line never comes."""
    import shutil
    import tempfile
    out_dir = os.path.join(BUILD, "bench")
    os.makedirs(out_dir, exist_ok=True)
    argv = [os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
            "-smp", str(cpus), "-m", str(mem_mb)]
    results = []
    for i in range(1, max(1, runs) + 1):
        tmp = tempfile.mkdtemp(prefix="mica-blkread-")
        try:
            disk = os.path.join(tmp, "disk.img")
            with open(disk, "wb") as f:  # zero-filled (sparse) raw image
                f.truncate(BLKREAD_DISK_MIB << 20)
            env = {"MICA_LINUX_DISK": disk, "MICA_LINUX_APPEND": "quiet mica.then=blkbench"}
            log = os.path.join(out_dir, f"blkread-bare-{i}.log")
            with harness.Console(argv, env=env, log_path=log) as c:
                deadline = c.started + timeout
                m = None
                try:
                    while m is None:
                        line = c.read_line(deadline)
                        if line is None:
                            raise Failure(f"no blkread line within {timeout}s")
                        if BLKREAD_FAILED.search(line):
                            raise Failure(line.strip())
                        m = BLKREAD.search(line)
                except Failure as e:
                    tail = "".join(f"\n    | {l}" for l in c.lines[-20:])
                    raise Failure(f"bare blkread run {i}: {e} (log {os.path.relpath(log)}); "
                                  f"last console lines:{tail}") from None
                took = c.elapsed()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        nbytes, usec = int(m.group(1)), int(m.group(2))
        results.append(nbytes / usec)
        if verbose:
            print(f"bench-run: blkread bare {i}: {results[-1]:.1f} MB/s "
                  f"({nbytes} B in {usec / 1e6:.3f}s; boot to blkread {took:.1f}s)",
                  file=sys.stderr, flush=True)
    return median(results)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="benches to run (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--linux-runs", type=int, default=3,
                    help="boots under Mica and bare for linux-boot, each (default 3)")
    args = ap.parse_args()
    for b in BENCHES:
        if isinstance(b, LinuxBoot):
            b.runs = max(1, args.linux_runs)
    benches = [b for b in BENCHES if not args.names or b.name in args.names]
    if args.list or not benches:
        for b in BENCHES:
            print(b.name)
        return 0 if benches or not args.names else 2

    harness.install_signal_handlers()
    failed = 0
    try:
        for b in benches:
            try:
                for name, value, unit in b.run():
                    print(f"bench: {name} {value} {unit}".rstrip(), flush=True)
            except Failure as e:
                failed += 1
                print(f"bench: {b.name} failed: {e} "
                      f"(log: {os.path.relpath(os.path.join(BUILD, 'bench', b.name + '.log'))})",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        harness.kill_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
