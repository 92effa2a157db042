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

    bench: linux_boot_ratio <R> (Mica by QEMU -kernel <s> / bare QEMU -kernel <s> ...)
    bench: linux_boot_ratio_grub <R> (Mica by SeaBIOS and GRUB <s> / bare QEMU <s> ...)
    bench: linux_boot_exits <N> exits (...)

and virtio through the service partition (VirtioBlkRead, VirtioNet, below):

    bench: virtio_blk_read_ratio <R> (Mica <x> MB/s / bare QEMU <y> MB/s, medians of N)
    bench: virtio_net_mbps <N> (guest-to-guest TCP through the switch, <B> bytes in <s> s)
    bench: virtio_net_ratio <R> (Mica <x> Mb/s / two bare QEMUs joined by -netdev socket <y>)

and a disk on NVMe served by the service partition (NvmeVirtioBlkRead, docs/storage.md):

    bench: nvme_virtio_blk_read_ratio <R> (Mica <x> MB/s / bare QEMU's NVMe <y> MB/s, ...)
    bench: nvme_fsync_write_ratio <R> (4 KiB write + fsync: Mica <a> us / bare QEMU <b> us ...)
    bench: nvme_share <R> (two guests reading from one NVMe at once: a <x> MB/s, b <y> MB/s)

and the way out through a gateway partition (GatewayTcp, docs/network.md):

    bench: gateway_tcp_mbps <N> (behind the gateway to a QEMU outside, <B> bytes in <s> s)

Each entry in BENCHES yields one or more figures. Usage: scripts/bench.py [--list] [NAME...]
(--linux-runs N: boots of each kind for the Linux ratio, default 3; --blk-runs N: the same
for virtio-blk, default 3; --net-runs N: boots for virtio-net, default 1)
"""

import argparse
import contextlib
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
from virtio import SERVICE_PART  # noqa: E402

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


# --- Virtio notify path: a guest's queue notify until the service takes the request ------

VNOTIFY_CONFIG = SERVICE_PART + """
[partition vbench]
cpus = 1
memory = 16M
image = vbench.elf
console = virtio
"""
VNOTIFY_RAW = re.compile(r"^\[vbench\] vbench-raw: base=(\d+) nops64=(\d+) warmup=(\d+) runs=(\d+) "
                         r"mem_runs=(\d+) irqs=(\d+)")
VNOTIFY_LINE = re.compile(r"^\[svc\] bench-notify: device \d+ t0=(\d+) t1=(\d+)$")


def virtio_notify_figures(lines, base, nops, warmup, runs, mem_runs=0):
    """From the service's `bench-notify` lines and vbench's calibration: the notify path in
    instructions as (min, median, max) over the runs after the first `warmup`, and the
    first run's; with mem_runs, the lines after those are the same queue notified through
    memory, and their (min, median, max) comes fourth (else None). Raises Failure when a
    line is missing or the clock does not count 256 ticks per instruction on both CPUs."""
    ticks = ticks_per_insn(base, nops)
    if ticks != ICOUNT_TICKS:
        raise Failure(f"the TSC ran {ticks} ticks per instruction, expected {ICOUNT_TICKS} "
                      "under -icount shift=8: the figures would be wrong")
    pairs = [(int(m.group(1)), int(m.group(2))) for m in map(VNOTIFY_LINE.search, lines) if m]
    if len(pairs) != warmup + runs + mem_runs or any(t1 == 0 for _, t1 in pairs):
        raise Failure(f"{len(pairs)} bench-notify lines from the service for "
                      f"{warmup + runs + mem_runs} notifies "
                      f"({sum(t1 == 0 for _, t1 in pairs)} without a NOTIFY time)")
    back = [(t0, t1) for t0, t1 in pairs if t1 <= t0]
    if back:
        raise Failure(f"the service's TSC read before the guest's ({back[0]}): the clock is "
                      "not shared between the CPUs")
    every = [instructions(t1 - t0, base) for t0, t1 in pairs]
    insns = sorted(every[warmup:warmup + runs])
    mem = sorted(every[warmup + runs:])
    mem_fig = (mem[0], median(mem), mem[-1]) if mem else None
    return insns[0], median(insns), insns[-1], every[0], mem_fig


class VirtioNotify:
    """The instructions from a guest's virtio queue-notify write until the service partition
    has taken the NOTIFY request off its ring, on both CPUs, under -icount shift=8 where the
    TSC is one clock for every vCPU (256 ticks per instruction executed by any of them).
    The service (vmm.elf, CPU 0) and vbench (tests/guests/vbench.c, CPU 1, console =
    virtio), nothing else; QEMU -smp 2, OVMF. vbench sends RUNS transmit buffers, each
    holding its TSC t0 read just before the notify, sleeping in between (HLT, woken by
    the used-ring MSI-X interrupt and then an x2APIC timer, so that the service is asleep
    when the notify comes); the service's benchmark hook (vmm/serve.c) reads t1 when it
    takes the NOTIFY and prints `bench-notify: ... t0= t1=`. Per run: (t1 - t0 - base) /
    256, base being vbench's own measuring instructions. The figure is the median (min and
    max go to stderr), not the minimum: QEMU runs all vCPUs on one thread, round robin, and
    an IPI does not switch it to the target CPU, so the guest's CPU goes on after its
    notify exit (back into the guest, its `sti; hlt`, Mica's HLT path) until it halts, and
    only then does the service's CPU run; those instructions are in every run. Now and
    then QEMU switches CPUs early (probably its 100 ms round-robin kick timer or an icount
    budget running out; not pinned down) and part of them falls outside: a few runs in a
    thousand come out 70-460 lower. The first run (warmup) is left out: a queue's first
    notify skips Mica's check that its previous NOTIFY left the ring, 50 instructions."""

    name = "virtio-notify"

    def __init__(self, timeout=180):
        self.timeout = timeout

    def run(self):
        vmm = os.path.join(BUILD, "vmm", "vmm.elf")
        for p in (vmm, guest_path("vbench.elf")):
            if not os.path.exists(p):
                raise Failure(f"{os.path.relpath(p, ROOT)} is missing (run `make all`)")
        backend = BACKENDS["svm"]
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(VNOTIFY_CONFIG)
        image = base + backend.image_ext
        backend.build_image(image, base + ".cfg", [vmm, guest_path("vbench.elf")])
        env = {"MICA_ICOUNT": "8", "MICA_SMP": "2"}
        with backend.boot(image, base + ".log", env=env) as console:
            try:
                watch(console, Expect([VNOTIFY_RAW.pattern],
                                      forbidden=[r"^mica: partition '(svc|vbench)' (stopped|restarting)"]),
                      self.timeout)
            except Failure as e:
                tail = "".join(f"\n    | {line}" for line in console.lines[-20:])
                raise Failure(f"{e}; last console lines:{tail}") from None
            lines = list(console.lines)
        m = next(filter(None, map(VNOTIFY_RAW.search, reversed(lines))))
        raw_base, nops, warmup, runs, mem_runs, irqs = (int(x) for x in m.groups())
        lo, mid, hi, first, mem = virtio_notify_figures(lines, raw_base, nops, warmup, runs,
                                                        mem_runs)
        print(f"bench-run: virtio-notify: port: min {lo}, median {mid:g}, max {hi} "
              f"instructions over {runs} notifies after {warmup} left out (the first: "
              f"{first}); memory: min {mem[0]}, median {mem[1]:g}, max {mem[2]} over "
              f"{mem_runs}; {irqs} used-ring interrupts; guest base {raw_base} ticks",
              file=sys.stderr, flush=True)
        if irqs != warmup + runs + mem_runs:
            print(f"bench-run: virtio-notify: note: {irqs} used-ring interrupts for "
                  f"{warmup + runs + mem_runs} notifies (vbench's `note:` lines in "
                  f"{os.path.relpath(base + '.log')} say where)", file=sys.stderr, flush=True)
        return [("virtio_notify_path", f"{mid:g}",
                 "instructions (guest queue notify through the notify port to backend "
                 "seeing it, icount)"),
                ("virtio_notify_path_mmio", f"{mem[1]:g}",
                 "instructions (the same through the notify register in memory)")]


BENCHES.append(VirtioNotify())


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
PART_STARTED = re.compile(r"^mica: partition 'linux' started")


def build_linux_image():
    """scripts/linux-image.sh build/linux (cached: ~20 ms when nothing changed)."""
    res = subprocess.run([os.path.join(ROOT, "scripts", "linux-image.sh"), LINUX_DIR],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if res.returncode != 0:
        raise Failure("scripts/linux-image.sh failed:\n" + res.stdout.decode(errors="replace"))


def fmt_runs(xs):
    """Every run's figure, for the spread: "3.1-3.4s"."""
    return f"{min(xs):.2f}-{max(xs):.2f}s"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


class LinuxBoot:
    """Wall time from the emulator's start to /init's shell-ready marker, Linux under Mica
    (QEMU's -kernel starting Mica's Multiboot entry, the kernel alone in a 1-vCPU
    partition) against the same kernel, initrd and command line booted directly by QEMU's
    -kernel (scripts/linux-bare.sh -smp 1 -m 256): like with like. A second line gives Mica
    booted the long way, by SeaBIOS and GRUB from an ISO (linux_boot_ratio_grub). Both are TCG with -cpu max, and the guest has
    one vCPU and 256 MiB in both. Mica's QEMU has -smp 2 -m 512: the partition runs on
    CPU 1 while Mica's boot CPU only idles (it takes the serial input), and Mica and its
    tables need room beside the partition. Runs alternate, Mica first; the
    ratio is of the medians.

    Under Mica the guest then types `poweroff -f`, and Mica's per-partition exit counts
    give linux_boot_exits: the VM exits of the whole boot and the power-off (median)."""

    name = "linux-boot"
    log_hint = "linux-boot-{mica,bare}-<n>.log"

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
        """image: a .mb1 (QEMU's -kernel, Multiboot v1) or a .iso (SeaBIOS and GRUB)."""
        env = {"MICA_SMP": "2", "MICA_MEM": "512"}
        backend = BACKENDS["svm-mb1" if image.endswith(".mb1") else "svm-mb2"]
        with backend.boot(image, log, env=env) as c:
            deadline = c.started + self.timeout
            _, t_part = self._read_until(c, PART_STARTED, deadline, "the partition's start")
            m, t = self._read_until(c, LINUX_READY, deadline, "the shell-ready marker under Mica")
            boot = t - c.started
            self.in_partition = t - t_part
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
        build_linux_image()
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(LINUX_CONFIG)
        files = [os.path.join(LINUX_DIR, "vmlinuz"), os.path.join(LINUX_DIR, "initrd.img")]
        image = base + ".mb1"
        BACKENDS["svm-mb1"].build_image(image, base + ".cfg", files)
        iso = base + ".iso"
        harness.build_iso(iso, base + ".cfg", files)
        mica, grub, bare, exits = [], [], [], []
        for i in range(1, self.runs + 1):
            t, e = self._mica(image, f"{base}-mica-{i}.log")
            mica.append(t)
            if e is not None:
                exits.append(e)
            grub.append(self._mica(iso, f"{base}-grub-{i}.log")[0])
            bare.append(self._bare(f"{base}-bare-{i}.log"))
            print(f"bench-run: linux-boot {i}: Mica by -kernel {mica[-1]:.2f}s"
                  f"{f' ({e} exits)' if e is not None else ''}, Mica by GRUB {grub[-1]:.2f}s, "
                  f"bare {bare[-1]:.2f}s", file=sys.stderr, flush=True)
        mm, mg, mb = median(mica), median(grub), median(bare)
        figures = [("linux_boot_ratio", f"{mm / mb:.2f}",
                    f"(Mica by QEMU -kernel {mm:.2f}s / bare QEMU -kernel {mb:.2f}s to the "
                    f"shell, medians of {self.runs}; runs {fmt_runs(mica)} / {fmt_runs(bare)})"),
                   ("linux_boot_ratio_grub", f"{mg / mb:.2f}",
                    f"(Mica by SeaBIOS and GRUB {mg:.2f}s / bare QEMU {mb:.2f}s, medians of "
                    f"{self.runs}; runs {fmt_runs(grub)})")]
        if exits:
            figures.append(("linux_boot_exits", int(median(exits)),
                            f"exits (boot and poweroff -f, median of {len(exits)})"))
        return figures


BENCHES.append(LinuxBoot())


class LinuxPvhBoot(LinuxBoot):
    """The same as linux-boot, but Mica boots Debian's uncompressed kernel (the bzImage's
    payload, scripts/extract-vmlinux.py) through its PVH entry: no decompression in the
    guest. The bare side is unchanged (QEMU -kernel with the bzImage), so the figure sits
    beside linux_boot_ratio: their Mica medians show what PVH saves."""

    name = "linux-pvh-boot"
    log_hint = "linux-pvh-boot-{mica,bare}-<n>.log"

    def run(self):
        build_linux_image()
        vmlinux = os.path.join(LINUX_DIR, "vmlinux")
        res = subprocess.run([os.path.join(ROOT, "scripts", "extract-vmlinux.py"),
                              os.path.join(LINUX_DIR, "vmlinuz"), vmlinux],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise Failure("scripts/extract-vmlinux.py failed: " + res.stdout.decode())
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(LINUX_CONFIG.replace("image = vmlinuz", "image = vmlinux"))
        image = base + ".mb1"
        BACKENDS["svm-mb1"].build_image(image, base + ".cfg",
                                        [vmlinux, os.path.join(LINUX_DIR, "initrd.img")])
        with open(base + "-bz.cfg", "w") as f:
            f.write(LINUX_CONFIG)
        bz_image = base + "-bz.mb1"
        BACKENDS["svm-mb1"].build_image(bz_image, base + "-bz.cfg",
                                        [os.path.join(LINUX_DIR, "vmlinuz"),
                                         os.path.join(LINUX_DIR, "initrd.img")])
        mica, bare, part_pvh, part_bz = [], [], [], []
        for i in range(1, self.runs + 1):
            t, _ = self._mica(image, f"{base}-mica-{i}.log")
            mica.append(t)
            part_pvh.append(self.in_partition)
            self._mica(bz_image, f"{base}-mica-bz-{i}.log")
            part_bz.append(self.in_partition)
            bare.append(self._bare(f"{base}-bare-{i}.log"))
            print(f"bench-run: linux-pvh-boot {i}: Mica (PVH) {mica[-1]:.2f}s, bare "
                  f"(bzImage) {bare[-1]:.2f}s; from the partition's start to the shell: PVH "
                  f"{part_pvh[-1]:.2f}s, bzImage {part_bz[-1]:.2f}s", file=sys.stderr,
                  flush=True)
        mm, mb = median(mica), median(bare)
        pp, pb = median(part_pvh), median(part_bz)
        return [("linux_pvh_boot_ratio", f"{mm / mb:.2f}",
                 f"(Mica, vmlinux by PVH {mm:.2f}s / bare QEMU, bzImage {mb:.2f}s to the "
                 f"shell, medians of {self.runs})"),
                ("linux_pvh_partition_ratio", f"{pp / pb:.2f}",
                 f"(in the partition, start to shell: PVH {pp:.2f}s / bzImage {pb:.2f}s, "
                 f"medians of {self.runs})")]


BENCHES.append(LinuxPvhBoot())


class HostLoad:
    """What the rest of the host did while one emulator measured something: a thread reads,
    every 50 ms, the host's busy CPU time (/proc/stat) and the emulator process's own
    (/proc/PID/stat, all its threads). others(t0, t1) is the CPU time that other processes
    used between two monotonic times, in cores (None without samples). Under TCG a guest
    served by the service partition keeps two of the emulator's vCPU threads busy at once,
    so on a 2-core host one busy core elsewhere can halve a virtio figure."""

    PERIOD = 0.05

    def __init__(self, pid):
        import threading
        self.pid = pid
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self):
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            with open(f"/proc/{self.pid}/stat") as f:
                x = f.read().rsplit(")", 1)[1].split()
            return (time.monotonic(), sum(v) - v[3] - v[4], int(x[11]) + int(x[12]))
        except (OSError, ValueError, IndexError):
            return None

    def _run(self):
        while not self._stop.is_set():
            s = self._sample()
            if s:
                self.samples.append(s)
            self._stop.wait(self.PERIOD)

    def stop(self):
        self._stop.set()
        self._thread.join()

    def others(self, t0, t1):
        before = [s for s in self.samples if s[0] <= t0]
        after = [s for s in self.samples if s[0] >= t1]
        a = before[-1] if before else (self.samples[0] if self.samples else None)
        b = after[0] if after else (self.samples[-1] if self.samples else None)
        if not a or not b or b[0] - a[0] < self.PERIOD:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / hz / (b[0] - a[0]))


def load_note(cores):
    return "" if cores is None else f"; other processes used {cores:.1f} host cores meanwhile"


# --- Block reads: virtio-blk in bare QEMU (the reference for Mica's virtio-blk) ------------

BLKREAD = re.compile(r"mica-linux: blkread bytes=(\d+) usec=(\d+) MBps=([0-9.]+)")
BLKREAD_FAILED = re.compile(r"mica-linux: blkread failed: .*")
FSYNC = re.compile(r"mica-linux: fsync ops=(\d+) usec_per_op=(\d+)")
BLKREAD_DISK_MIB = 96


def bare_blkread_mbps(runs=3, cpus=1, mem_mb=LINUX_MEM_MB, timeout=180, verbose=True, first=1,
                      nvme=False, fsync=None):
    """Sequential read speed of QEMU's own virtio-blk-pci (TCG), in MB/s (10^6 B/s): the
    median of `runs` boots. Each boot gets a fresh 96 MiB zero-filled raw image in a temp
    dir as /dev/vda (scripts/linux-bare.sh with MICA_LINUX_DISK, cache=unsafe; `-smp cpus
    -m mem_mb`, as LinuxBoot's bare side) and `quiet mica.then=blkbench`: /init runs
    /bin/mica-blkbench (tests/linux/bin), which makes ext2 on the disk, writes a 64 MiB
    file, drops the caches and times reading it back, prints
        mica-linux: blkread bytes=67108864 usec=<N> MBps=<x.y>
    and powers off. The figure is recomputed from bytes/usec. Logs: build/bench/
    blkread-bare-<i>.log, i counting from `first`. Raises Failure with the log's tail if
    the line never comes. nvme: the disk is a QEMU NVMe controller's namespace instead
    (MICA_LINUX_NVME, /dev/nvme0n1; logs blkread-bare-nvme-<i>.log). fsync: a list that
    gets each run's `mica-linux: fsync` figure (microseconds per 4 KiB write + fsync)."""
    import shutil
    import tempfile
    out_dir = os.path.join(BUILD, "bench")
    os.makedirs(out_dir, exist_ok=True)
    argv = [os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
            "-smp", str(cpus), "-m", str(mem_mb)]
    results = []
    for i in range(first, first + max(1, runs)):
        tmp = tempfile.mkdtemp(prefix="mica-blkread-")
        try:
            disk = os.path.join(tmp, "disk.img")
            with open(disk, "wb") as f:  # zero-filled (sparse) raw image
                f.truncate(BLKREAD_DISK_MIB << 20)
            if nvme:
                env = {"MICA_LINUX_NVME": disk,
                       "MICA_LINUX_APPEND": "quiet mica.then=blkbench:nvme0n1"}
            else:
                env = {"MICA_LINUX_DISK": disk, "MICA_LINUX_APPEND": "quiet mica.then=blkbench"}
            log = os.path.join(out_dir, f"blkread-bare-{'nvme-' if nvme else ''}{i}.log")
            with harness.Console(argv, env=env, log_path=log) as c:
                load = HostLoad(c.proc.pid)  # linux-bare.sh execs QEMU: the same process
                deadline = c.started + timeout
                m = None
                try:
                    while m is None:
                        line = c.read_line(deadline)
                        if line is None:
                            raise Failure(f"no blkread line within {timeout}s")
                        if BLKREAD_FAILED.search(line):
                            raise Failure(line.strip())
                        f = FSYNC.search(line)
                        if f and fsync is not None:
                            fsync.append(int(f.group(2)))
                        m = BLKREAD.search(line)
                    now = time.monotonic()
                except Failure as e:
                    tail = "".join(f"\n    | {l}" for l in c.lines[-20:])
                    raise Failure(f"bare blkread run {i}: {e} (log {os.path.relpath(log)}); "
                                  f"last console lines:{tail}") from None
                finally:
                    load.stop()
                took = now - c.started
                others = load.others(now - int(m.group(2)) / 1e6, now)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        nbytes, usec = int(m.group(1)), int(m.group(2))
        results.append(nbytes / usec)
        if verbose:
            print(f"bench-run: blkread bare{' nvme' if nvme else ''} {i}: {results[-1]:.1f} MB/s "
                  f"({nbytes} B in {usec / 1e6:.3f}s; boot to blkread {took:.1f}s"
                  f"{load_note(others)})", file=sys.stderr, flush=True)
    return median(results)


# --- Virtio through the service partition: block reads and guest-to-guest TCP -----------

VMM_ELF = os.path.join(BUILD, "vmm", "vmm.elf")
SERVICE_CONFIG = SERVICE_PART  # the service partition on CPU 0, as the e2e scenarios have it
NETFETCH = re.compile(r"mica-linux: netfetch bytes=(\d+) usec=(\d+) Mbps=([0-9.]+)")
NET_FAILED = re.compile(r"mica-linux: net(serve|fetch) failed: .*")
# Console lines worth repeating on stderr when they show up in a virtio bench (a partition
# that stops as the bench expects is left out by the caller).
NOTABLE = re.compile(r"needs reset|overflow|dropped|skipped|refused|not served|"
                     r"^mica: partition '[^']*' (stopped|restarting)|Kernel panic|"
                     r"mica-linux: (error|.* failed)|\b(BUG|WARNING|Call Trace|Oops)\b")


def linux_partition(name, cpus, extra, devices=()):
    """A 1-vCPU, 256M Linux partition with build/linux's kernel, initrd and command line
    (read from build/linux/cmdline, as scripts/linux-bare.sh does), plus LINUX_APPEND
    (`quiet`) and `extra`: the same guest as the bare QEMU side."""
    with open(os.path.join(LINUX_DIR, "cmdline")) as f:
        cmdline = " ".join([f.read().strip(), LINUX_APPEND, extra])
    return (f"[partition {name}]\ncpus = {cpus}\nmemory = {LINUX_MEM_MB}M\nimage = vmlinuz\n"
            f"initrd = initrd.img\ncmdline = \"{cmdline}\"\n"
            + "".join(f"{d}\n" for d in devices))


def _tail(console, n=20):
    return "".join(f"\n    | {l}" for l in console.lines[-n:])


def mica_linux_run(image, log, smp, part, result, failed, timeout, mem_mb=1024, after=None,
                   after_wait=60, extra="", also=None, also_out=None):
    """Boots `image` (a GRUB ISO: SeaBIOS + GRUB + the Multiboot2 entry, TCG -cpu max, as
    LinuxBoot) with `-smp smp -m mem_mb` and reads Mica's console until partition `part`
    prints a line matching `result` (`[part] ...`). Fails at once, with the last console
    lines, on a line matching `failed` (any partition), on `part` or the service stopping
    or restarting first, or after `timeout` s. Then keeps reading for up to `after_wait`
    s, until `after` (a regex) matches or, without one, Mica prints `part`'s exit counts
    (it powers off after its result). Returns (match, seconds from QEMU's start to the
    result, the exit-count line or None, the lines after the result, notable lines, and
    the host cores other processes used over the measured interval (HostLoad; the
    interval is group 2 of the match, in microseconds, up to the result line) or None).
    Lines of `part` before the result that match `also` are appended (as matches) to
    also_out."""
    env = {"MICA_SMP": str(smp), "MICA_MEM": str(mem_mb)}
    if extra:
        env["MICA_QEMU_EXTRA"] = extra  # more devices (passthrough: an IOMMU and NVMe)
    mine = re.compile(r"^\[" + re.escape(part) + r"\] ")
    ends = re.compile(r"^mica: partition '(" + re.escape(part) + r"|svc)' (stopped|restarting)")
    exits_rx = re.compile(r"^mica: partition '" + re.escape(part) + r"' exits: (.*)")
    expected_end = re.compile(r"^mica: partition '" + re.escape(part) + r"' stopped: powered off")
    notable = []
    with BACKENDS["svm-mb2"].boot(image, log, env=env) as c:
        load = HostLoad(c.proc.pid)
        deadline = c.started + timeout
        m = None
        try:
            while m is None:
                line = c.read_line(deadline)
                if line is None:
                    raise Failure(f"no result line from '{part}' within {timeout}s")
                if NOTABLE.search(line):
                    notable.append(line)
                if failed.search(line):
                    raise Failure(line.strip())
                if ends.search(line):
                    raise Failure(f"'{line.strip()}' before the result line")
                if mine.search(line):
                    if also and also.search(line) and also_out is not None:
                        also_out.append(also.search(line))
                    m = result.search(line)
            now = time.monotonic()
        except Failure as e:
            raise Failure(f"{e} (log {os.path.relpath(log, ROOT)}); last console lines:"
                          f"{_tail(c)}") from None
        finally:
            load.stop()
        took = now - c.started
        others = load.others(now - int(m.group(2)) / 1e6, now)
        exits, rest = None, []
        stop = time.monotonic() + after_wait
        try:
            while True:
                line = c.read_line(stop)
                if line is None:
                    break
                rest.append(line)
                if NOTABLE.search(line) and not expected_end.search(line):
                    notable.append(line)
                e = exits_rx.search(line)
                if e:
                    exits = line
                if (after.search(line) if after else e):
                    break
        except Failure:
            pass  # QEMU exited: the result is in
        return m, took, exits, rest, notable, others


def virtio_bench_base(name):
    """Builds what a virtio bench boots (the Linux image; the service must be built) and
    returns build/bench/<name>, the stem of its config, image and logs."""
    build_linux_image()
    _check_built(VMM_ELF)
    out_dir = os.path.join(BUILD, "bench")
    os.makedirs(out_dir, exist_ok=True)
    return os.path.join(out_dir, name)


def service_iso(base, config, extra_files=()):
    """Writes base.cfg and builds base.iso with the Linux image, the service and
    extra_files: the image a virtio bench boots."""
    with open(base + ".cfg", "w") as f:
        f.write(config)
    image = base + ".iso"
    harness.build_iso(image, base + ".cfg",
                      [os.path.join(LINUX_DIR, "vmlinuz"), os.path.join(LINUX_DIR, "initrd.img"),
                       VMM_ELF] + list(extra_files))
    return image


def _check_built(*paths):
    for p in paths:
        if not os.path.exists(p):
            raise Failure(f"{os.path.relpath(p, ROOT)} is missing (run `make all`)")


def mica_blkread_run(label, image, log, i, timeout, extra="", fsync=None):
    """One Mica boot of a blkread bench (mica.then=blkbench[:DEV] in partition `linux`):
    its MB/s, with the figures, Mica's exit counts and notable lines on stderr; its fsync
    figure appended to the list fsync, if given."""
    seen = []
    m, took, exits, _, notable, others = mica_linux_run(
        image, log, 2, "linux", BLKREAD, BLKREAD_FAILED, timeout, extra=extra, also=FSYNC,
        also_out=seen)
    if seen and fsync is not None:
        fsync.append(int(seen[-1].group(2)))
        print(f"bench-run: {label} {i}: Mica fsync {fsync[-1]} us per 4 KiB write",
              file=sys.stderr, flush=True)
    nbytes, usec = int(m.group(1)), int(m.group(2))
    mbps = nbytes / usec
    print(f"bench-run: {label} {i}: Mica {mbps:.1f} MB/s ({nbytes} B in {usec / 1e6:.3f}s; "
          f"QEMU start to blkread {took:.1f}s{load_note(others)})", file=sys.stderr, flush=True)
    print(f"bench-run: {label} {i}: {exits or 'no exit counts from Mica'}", file=sys.stderr,
          flush=True)
    for line in notable:
        print(f"bench-run: {label} {i}: noted: {line}", file=sys.stderr, flush=True)
    return mbps


def nvme_args(disk):
    """QEMU args for an NVMe controller at 00:11.0 with disk as its namespace."""
    return (f"-drive if=none,id=nvm,format=raw,cache=unsafe,file={disk} "
            "-device nvme,drive=nvm,serial=mica-nvme,addr=0x11")


def alternate_blkread(label, image, base, runs, timeout, bare_timeout, prepare=None,
                      nvme=False, fsync_mica=None, fsync_bare=None):
    """`runs` Mica boots of a blkread bench (mica_blkread_run), each followed by one bare
    boot (bare_blkread_mbps, nvme: its disk is QEMU's NVMe). prepare(), if given, makes the
    run's disk and returns the QEMU args that attach it. Returns the two median MB/s;
    fsync_mica and fsync_bare, lists if given, get each run's fsync figures."""
    mica, bare = [], []
    for i in range(1, runs + 1):
        extra = prepare() if prepare else ""
        mica.append(mica_blkread_run(label, image, f"{base}-mica-{i}.log", i, timeout,
                                     extra=extra, fsync=fsync_mica))
        bare.append(bare_blkread_mbps(runs=1, first=i, timeout=bare_timeout, nvme=nvme,
                                      fsync=fsync_bare))
        if fsync_bare:
            print(f"bench-run: blkread bare {i}: fsync {fsync_bare[-1]} us per 4 KiB write",
                  file=sys.stderr, flush=True)
    return median(mica), median(bare)


class VirtioBlkRead:
    """mica-blkbench's sequential read (docs/linux.md) on /dev/vda served by the service
    partition (vmm/blk.c), against the same in bare QEMU (bare_blkread_mbps: QEMU's own
    virtio-blk-pci). Under Mica: the service on CPU 0 (16M, vmm.elf), Linux on CPU 1 with
    the same kernel, initrd and command line as the bare side (`quiet mica.then=blkbench`)
    and `disk = virtio-blk-disk.img`, a fresh 96 MiB zero-filled raw image (on the ISO;
    Mica loads it into RAM at every boot, so each boot starts from zeros). QEMU -smp 2
    (TCG -cpu max, as the bare side), -m 1024. Runs alternate, Mica first; the ratio is of
    the median MB/s. Each run's figures and Mica's exit counts for the partition (printed
    at its power-off) go to stderr."""

    name = "virtio-blk"
    log_hint = "virtio-blk-mica-<n>.log"

    def __init__(self, runs=3, timeout=420, bare_timeout=300):
        self.runs = runs
        self.timeout = timeout
        self.bare_timeout = bare_timeout

    def run(self):
        base = virtio_bench_base(self.name)
        disk = base + "-disk.img"
        with open(disk, "wb") as f:  # fresh and zero-filled (sparse)
            f.truncate(BLKREAD_DISK_MIB << 20)
        image = service_iso(base, SERVICE_CONFIG + "\n" + linux_partition(
                "linux", 1, "mica.then=blkbench", [f"disk = {os.path.basename(disk)}"]), [disk])
        mm, mb = alternate_blkread(self.name, image, base, self.runs, self.timeout,
                                   self.bare_timeout)
        return [("virtio_blk_read_ratio", f"{mm / mb:.2f}",
                 f"(Mica {mm:.1f} MB/s / bare QEMU {mb:.1f} MB/s, medians of {self.runs})")]


def free_tcp_port():
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def bare_net_run(i, timeout):
    """The same two guests as VirtioNet in two bare QEMUs (scripts/linux-bare.sh, 1 vCPU
    and 256M each, QEMU's own virtio-net-pci) joined by `-netdev socket` on 127.0.0.1: B
    listens and serves, A connects and fetches. QEMU's socket backend carries no virtio-net
    header, so QEMU offers neither checksum nor segmentation offload there: 1500-byte
    frames, checksums in the guests. Returns A's NETFETCH match. Logs: build/bench/
    virtio-net-bare-<i>-{a,b}.log."""
    out_dir = os.path.join(BUILD, "bench")
    os.makedirs(out_dir, exist_ok=True)
    port = free_tcp_port()
    argv = [os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
            "-smp", "1", "-m", str(LINUX_MEM_MB)]
    env_b = {"MICA_LINUX_NET": f"socket,listen=127.0.0.1:{port}",
             "MICA_LINUX_MAC": "52:54:00:00:00:0b",
             "MICA_LINUX_APPEND": "quiet mica.ip=10.0.0.2/24 mica.then=netserve"}
    env_a = {"MICA_LINUX_NET": f"socket,connect=127.0.0.1:{port}",
             "MICA_LINUX_MAC": "52:54:00:00:00:0a",
             "MICA_LINUX_APPEND": "quiet mica.ip=10.0.0.1/24 mica.then=netfetch:10.0.0.2"}
    log_b = os.path.join(out_dir, f"virtio-net-bare-{i}-b.log")
    log_a = os.path.join(out_dir, f"virtio-net-bare-{i}-a.log")
    with harness.Console(argv, env=env_b, log_path=log_b) as b:
        deadline = b.started + timeout
        while True:  # A connects to B's socket: B must be listening first
            line = b.read_line(deadline)
            if line is None or NET_FAILED.search(line):
                raise Failure(f"bare virtio-net run {i}: B did not serve "
                              f"({line.strip() if line else f'nothing within {timeout}s'}; "
                              f"log {os.path.relpath(log_b)})")
            if "netserve ready" in line:
                break
        with harness.Console(argv, env=env_a, log_path=log_a) as a:
            deadline = a.started + timeout
            while True:
                line = a.read_line(deadline)
                if line is None or NET_FAILED.search(line):
                    raise Failure(f"bare virtio-net run {i}: A did not fetch "
                                  f"({line.strip() if line else f'nothing within {timeout}s'};"
                                  f" log {os.path.relpath(log_a)})")
                m = NETFETCH.search(line)
                if m:
                    return m


class VirtioNet:
    """Guest-to-guest TCP through the service partition's switch (vmm/net.c, switch.c):
    the service on CPU 0, Linux `linux-a` (CPU 1, 10.0.0.1, `mica.then=netfetch:10.0.0.2`)
    and `linux-b` (CPU 2, 10.0.0.2, `mica.then=netserve`), both `net = lan`, same guest as
    the other Linux benches (1 vCPU, 256M, `quiet`); QEMU -smp 3 -m 1024, TCG. B serves a
    32 MiB file with busybox httpd, A waits for B, times `wget -O /dev/null` of it
    (tests/linux/bin/mica-netbench) and powers off. Each Mica run is followed by one of the
    same guests in two bare QEMUs joined by -netdev socket (bare_net_run): the ratio of
    the medians is virtio_net_ratio. With several runs (--net-runs) the figures are the
    median run's. A's and B's eth0/TCP counters go to stderr."""

    name = "virtio-net"
    log_hint = "virtio-net-<n>.log"
    COUNTERS = re.compile(r"^\[linux-a\] mica-linux: netfetch (here|peer): (.*)")

    def __init__(self, runs=1, timeout=600):
        self.runs = runs
        self.timeout = timeout

    def run(self):
        base = virtio_bench_base(self.name)
        image = service_iso(base, SERVICE_CONFIG + "\n"
                    + linux_partition("linux-a", 1, "mica.ip=10.0.0.1/24 mica.then=netfetch:10.0.0.2",
                                      ["net = lan"]) + "\n"
                    + linux_partition("linux-b", 2, "mica.ip=10.0.0.2/24 mica.then=netserve",
                                      ["net = lan"]))
        results, bare = [], []
        for i in range(1, self.runs + 1):
            m, took, exits, rest, notable, others = mica_linux_run(
                image, f"{base}-{i}.log", 3, "linux-a", NETFETCH, NET_FAILED, self.timeout)
            nbytes, usec = int(m.group(1)), int(m.group(2))
            results.append((nbytes * 8 / usec, nbytes, usec))
            print(f"bench-run: virtio-net {i}: {results[-1][0]:.1f} Mb/s ({nbytes} B in "
                  f"{usec / 1e6:.3f}s; QEMU start to netfetch {took:.1f}s{load_note(others)})",
                  file=sys.stderr, flush=True)
            for line in rest:
                p = self.COUNTERS.search(line)
                if p:
                    side = "B (server)" if p.group(1) == "peer" else "A (client)"
                    print(f"bench-run: virtio-net {i}: {side}: {p.group(2).strip()}",
                          file=sys.stderr, flush=True)
            print(f"bench-run: virtio-net {i}: {exits or 'no exit counts from Mica'}",
                  file=sys.stderr, flush=True)
            for line in notable:
                print(f"bench-run: virtio-net {i}: noted: {line}", file=sys.stderr, flush=True)
            b = bare_net_run(i, self.timeout)
            bare.append(int(b.group(1)) * 8 / int(b.group(2)))
            print(f"bench-run: virtio-net bare {i}: {bare[-1]:.1f} Mb/s (two QEMUs, -netdev "
                  f"socket)", file=sys.stderr, flush=True)
        results.sort()
        mbps, nbytes, usec = results[len(results) // 2]
        runs = f", median of {self.runs}" if self.runs > 1 else ""
        return [("virtio_net_mbps", f"{mbps:.1f}",
                 f"(guest-to-guest TCP through the switch, {nbytes} bytes in "
                 f"{usec / 1e6:.3f} s{runs})"),
                ("virtio_net_ratio", f"{mbps / median(bare):.2f}",
                 f"(Mica {mbps:.1f} Mb/s / two bare QEMUs joined by -netdev socket "
                 f"{median(bare):.1f} Mb/s{runs})")]


BENCHES += [VirtioBlkRead(), VirtioNet()]


# --- Passthrough: Linux reading a passed-through NVMe, and a device's MSI into a guest ----

class PassthroughNvmeRead:
    """mica-blkbench's sequential read of a 64 MiB file (ext2 on the whole disk) on a QEMU
    NVMe controller passed through to Linux (pci = 00:11.0, behind QEMU's intel-iommu),
    against the same guest reading the same kind of controller in bare QEMU (no IOMMU):
    same kernel, initrd, command line (`quiet mica.then=blkbench:nvme0n1`), 1 vCPU, 256M,
    a fresh 96 MiB raw image (cache=unsafe) each boot. Runs alternate, Mica first; the
    ratio is of the median MB/s. The data path takes no exits under Mica (BARs mapped, DMA
    through the IOMMU); the exits it does take (the MSI-X table, interrupts) go to stderr."""

    name = "passthrough-nvme"
    log_hint = "passthrough-nvme-mica-<n>.log"

    def __init__(self, runs=3, timeout=420, bare_timeout=300):
        self.runs = runs
        self.timeout = timeout
        self.bare_timeout = bare_timeout

    def run(self):
        build_linux_image()
        out_dir = os.path.join(BUILD, "bench")
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, self.name)
        with open(base + ".cfg", "w") as f:
            f.write(linux_partition("linux", 1, "mica.then=blkbench:nvme0n1",
                                    ["pci = 00:11.0"]))
        image = base + ".iso"
        harness.build_iso(image, base + ".cfg", [os.path.join(LINUX_DIR, "vmlinuz"),
                                                 os.path.join(LINUX_DIR, "initrd.img")])
        disk = f"{base}-disk.img"

        def prepare():
            with open(disk, "wb") as f:  # fresh and zero-filled (sparse)
                f.truncate(BLKREAD_DISK_MIB << 20)
            return "-device intel-iommu,intremap=on " + nvme_args(disk)
        mm, mb = alternate_blkread(self.name, image, base, self.runs, self.timeout,
                                   self.bare_timeout, prepare, nvme=True)
        return [("passthrough_nvme_read_ratio", f"{mm / mb:.2f}",
                 f"(Mica {mm:.1f} MB/s / bare QEMU {mb:.1f} MB/s, medians of {self.runs})")]


# --- Disks on NVMe served by the service partition (docs/storage.md) ----------------------

NVME_DISK_MIB = 128  # one GPT partition, "bench", from 1 MiB to the end (~126 MiB)


def nvme_gpt_disk(path, mib=NVME_DISK_MIB):
    """A fresh zero-filled raw image with one GPT partition named bench (sgdisk)."""
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["sgdisk", "-o", "-n", "1:2048:0", "-c", "1:bench", path], check=True,
                   stdout=subprocess.DEVNULL)


class NvmeVirtioBlkRead:
    """mica-blkbench's sequential read (docs/linux.md) on /dev/vda when the disk is a GPT
    partition of an NVMe controller the service partition drives (`disk = nvme:bench`;
    the controller passed through to the service behind QEMU's amd-iommu), against the
    same guest reading QEMU's own NVMe in bare QEMU (bare_blkread_mbps, nvme=True): the
    same kernel, initrd and command line (`quiet mica.then=blkbench[:nvme0n1]`), 1 vCPU,
    256M, a fresh raw image (cache=unsafe) each boot. Runs alternate, Mica first; the ratio
    is of the median MB/s."""

    name = "nvme-virtio-blk"
    log_hint = "nvme-virtio-blk-mica-<n>.log"

    def __init__(self, runs=3, timeout=420, bare_timeout=300):
        self.runs = runs
        self.timeout = timeout
        self.bare_timeout = bare_timeout

    def run(self):
        base = virtio_bench_base(self.name)
        image = service_iso(base, SERVICE_CONFIG + "pci = 00:11.0\n\n" + linux_partition(
                "linux", 1, "mica.then=blkbench", ["disk = nvme:bench"]))
        disk = f"{base}-disk.img"

        def prepare():
            nvme_gpt_disk(disk)
            return "-device amd-iommu,intremap=on " + nvme_args(disk)
        fm, fb = [], []
        mm, mb = alternate_blkread(self.name, image, base, self.runs, self.timeout,
                                   self.bare_timeout, prepare, nvme=True, fsync_mica=fm,
                                   fsync_bare=fb)
        figures = [("nvme_virtio_blk_read_ratio", f"{mm / mb:.2f}",
                    f"(Mica {mm:.1f} MB/s / bare QEMU {mb:.1f} MB/s, medians of {self.runs})")]
        if fm and fb:
            # as a speed, like the read ratio: bare latency / Mica latency
            figures.append(("nvme_fsync_write_ratio", f"{median(fb) / median(fm):.2f}",
                            f"(4 KiB write + fsync: Mica {median(fm):.0f} us / bare QEMU "
                            f"{median(fb):.0f} us per write, as a speed; medians of "
                            f"{len(fm)}; runs {min(fm)}-{max(fm)} / {min(fb)}-{max(fb)} us)"))
        return figures


class NvmeShare:
    """Fairness between two guests on one NVMe (docs/storage.md, "Several guests on one
    disk"): partitions `a` (CPU 1) and `b` (CPU 2), each `disk = nvme:<its name>` on one
    controller passed through to the service (CPU 0), boot together and run mica-blkbench
    (`mica.then=blkbench`) at the same time. Figure: the slower guest's read rate over the
    faster one's (1.0: an even share), and both rates. QEMU -smp 3 -m 1024, TCG."""

    name = "nvme-share"
    log_hint = "nvme-share-<n>.log"
    RESULT = re.compile(r"^\[(a|b)\] mica-linux: blkread bytes=(\d+) usec=(\d+)")

    def __init__(self, runs=1, timeout=600):
        self.runs = runs
        self.timeout = timeout

    def run(self):
        base = virtio_bench_base(self.name)
        image = service_iso(base, SERVICE_CONFIG + "pci = 00:11.0\n\n"
                    + linux_partition("a", 1, "mica.then=blkbench", ["disk = nvme:a"]) + "\n"
                    + linux_partition("b", 2, "mica.then=blkbench", ["disk = nvme:b"]))
        disk = base + "-disk.img"
        shares = []
        for i in range(1, self.runs + 1):
            with open(disk, "wb") as f:
                f.truncate(256 << 20)
            subprocess.run(["sgdisk", "-o", "-n", "1:2048:+100M", "-c", "1:a", "-n",
                            "2:0:+100M", "-c", "2:b", disk], check=True,
                           stdout=subprocess.DEVNULL)
            env = {"MICA_SMP": "3", "MICA_MEM": "1024",
                   "MICA_QEMU_EXTRA": "-device amd-iommu,intremap=on " + nvme_args(disk)}
            rates = {}
            with BACKENDS["svm-mb2"].boot(image, f"{base}-{i}.log", env=env) as c:
                deadline = c.started + self.timeout
                while len(rates) < 2:
                    line = c.read_line(deadline)
                    if line is None:
                        raise Failure(f"no blkread lines from both a and b within "
                                      f"{self.timeout}s; last console lines:{_tail(c)}")
                    if BLKREAD_FAILED.search(line) or (NOTABLE.search(line) and
                                                       "powered off" not in line):
                        raise Failure(f"{line.strip()}; last console lines:{_tail(c)}")
                    m = self.RESULT.search(line)
                    if m:
                        rates[m.group(1)] = int(m.group(2)) / int(m.group(3))
            lo, hi = sorted(rates.values())
            shares.append((lo / hi, rates["a"], rates["b"]))
            print(f"bench-run: nvme-share {i}: a {rates['a']:.1f} MB/s, b {rates['b']:.1f} "
                  f"MB/s at the same time", file=sys.stderr, flush=True)
        shares.sort()
        share, ra, rb = shares[len(shares) // 2]
        runs = f", median of {self.runs}" if self.runs > 1 else ""
        return [("nvme_share", f"{share:.2f}",
                 f"(two guests reading from one NVMe at once: a {ra:.1f} MB/s, b {rb:.1f} "
                 f"MB/s{runs})")]


BENCHES += [NvmeVirtioBlkRead(), NvmeShare()]


# --- The way out: TCP through a gateway partition (docs/network.md) ------------------------

class GatewayTcp:
    """tests/e2e/network.py's set-up as a benchmark: partition `behind` (CPU 2, 10.0.0.1,
    `mica.then=netfetch:10.0.0.9`) fetches the 32 MiB file that a second QEMU, bare Linux
    on this machine (10.0.0.9, `mica.then=netserve`), serves, through the gateway
    partition `gw` (CPU 1: Linux bridging its switch port and a passed-through
    virtio-net-pci behind amd-iommu, whose link is a TCP socket to the outside QEMU).
    QEMU -smp 3 -m 1024 for Mica, -smp 1 -m 256 for the outside, both TCG. The median of
    --net-runs runs."""

    name = "gateway"
    log_hint = "gateway-<n>.log"

    def __init__(self, runs=1, timeout=600):
        self.runs = runs
        self.timeout = timeout

    def run(self):
        from network import nic_args, free_port
        base = virtio_bench_base(self.name)
        image = service_iso(base, SERVICE_CONFIG + "\n"
                    + linux_partition("gw", 1, "mica.bridge=br0 mica.ip=10.0.0.2/24",
                                      ["net = lan", "pci = 00:12.0"]) + "\n"
                    + linux_partition("behind", 2, "mica.ip=10.0.0.1/24 "
                                      "mica.then=netfetch:10.0.0.9", ["net = lan"]))
        results = []
        for i in range(1, self.runs + 1):
            port = free_port()
            env = {"MICA_LINUX_NET": f"socket,listen=127.0.0.1:{port}",
                   "MICA_LINUX_APPEND": "quiet mica.ip=10.0.0.9/24 mica.then=netserve"}
            # The outside listens first; Mica's NIC connects to it.
            with harness.Console([os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
                                  "-smp", "1", "-m", "256"], env=env,
                                 log_path=f"{base}-outside-{i}.log"):
                time.sleep(1)
                m, took, exits, rest, notable, others = mica_linux_run(
                    image, f"{base}-{i}.log", 3, "behind", NETFETCH, NET_FAILED, self.timeout,
                    extra=nic_args(port, "connect"))
            nbytes, usec = int(m.group(1)), int(m.group(2))
            results.append((nbytes * 8 / usec, nbytes, usec))
            print(f"bench-run: gateway {i}: {results[-1][0]:.1f} Mb/s ({nbytes} B in "
                  f"{usec / 1e6:.3f}s; QEMU start to netfetch {took:.1f}s{load_note(others)})",
                  file=sys.stderr, flush=True)
            for line in notable:
                print(f"bench-run: gateway {i}: noted: {line}", file=sys.stderr, flush=True)
        results.sort()
        mbps, nbytes, usec = results[len(results) // 2]
        runs = f", median of {self.runs}" if self.runs > 1 else ""
        return [("gateway_tcp_mbps", f"{mbps:.1f}",
                 f"(behind the gateway to a QEMU outside, {nbytes} bytes in "
                 f"{usec / 1e6:.3f} s{runs})")]


BENCHES += [GatewayTcp()]


MSI_RAW = re.compile(r"^\[edu-bench\] edu-bench-raw: base=(\d+) nops64=(\d+) msi=(\d+)")


def msi_figures(m):
    base, nops, msi = (int(x) for x in m.groups())
    ticks = ticks_per_insn(base, nops)
    if ticks != ICOUNT_TICKS:
        raise Failure(f"the TSC ran {ticks} ticks per instruction, expected {ICOUNT_TICKS} "
                      "under -icount shift=8: the figure would be wrong")
    return [("msi_delivery_path", instructions(msi, base), "instructions")]


MSI_CONFIG = """\
[partition edu-bench]
cpus = 1
memory = 16M
image = edu.elf
pci = 00:10.0
"""

# QEMU's edu raises its MSI synchronously with the guest's register write; the path is
# the IOMMU's remapping, Mica's host vector, and the injection into the guest's handler.
BENCHES.append(Bench("msi-path", "svm", MSI_CONFIG, ["edu.elf"], MSI_RAW, msi_figures,
                     env={"MICA_ICOUNT": "8",
                          "MICA_QEMU_EXTRA": "-device intel-iommu,intremap=on "
                                             "-device edu,addr=0x10,dma_mask=0xffffffff"}))
BENCHES.append(PassthroughNvmeRead())


SNAP_TAKEN = re.compile(r"^mica: partition 'linux': snapshot 's(\d+)' taken \((\d+) MiB of its "
                        r"RAM in use, paused (\d+) us: vCPUs parked (\d+), saved (\d+), "
                        r"devices and RAM (\d+)\)")
SNAP_RESTORED = re.compile(r"^mica: partition 'linux': restored to snapshot 's(\d+)' "
                           r"\(in (\d+) us\)")


def _until(c, deadline, rx, what):
    """The first console line matching rx (its match); Failure if the Linux partition or the
    service stops or restarts, or by the deadline."""
    while True:
        line = c.read_line(deadline)
        if line is None:
            raise Failure(f"timed out waiting for {what}; last console lines:{_tail(c)}")
        if re.search(r"^mica: partition '(linux|svc)' (stopped|restarting)", line):
            raise Failure(line.strip())
        m = rx.search(line)
        if m:
            return m


@contextlib.contextmanager
def _managed_linux(name, smp, timeout):
    """The service and a Linux partition `linux` (1 vCPU, 256M) under QEMU TCG -smp smp,
    booted to its shell with the management console open: yields (console, until), where
    until(rx, what) is _until against the bench's deadline."""
    base = virtio_bench_base(name)
    image = service_iso(base, SERVICE_CONFIG + "\n" + linux_partition("linux", 1, ""))
    env = {"MICA_SMP": str(smp), "MICA_MEM": "1024"}
    with BACKENDS["svm-mb2"].boot(image, base + ".log", env=env) as c:
        deadline = c.started + timeout

        def until(rx, what):
            return _until(c, deadline, rx, what)

        until(LINUX_READY, "the shell-ready marker")
        c.send("\x1dm")
        until(re.compile(r"Mica management console"), "the management console")
        yield c, until


class Snapshot:
    """Snapshots in RAM (docs/snapshots.md) of the Linux partition the other benches boot
    (1 vCPU, 256M, `quiet`, no devices), beside the service, from the management console.
    Once its shell is up, `runs` times: a snapshot (Mica's line says how long the partition
    was paused: from the request to the partition going on, which is what the guest sees),
    a few seconds on, a restore (how long from the request until the partition can go on).
    Each run's figures go to stderr; the figures are medians. QEMU TCG -cpu max, -smp 2:
    times are wall-clock microseconds of emulated Mica code, which under TCG runs many
    times slower than on a CPU."""

    name = "snapshot"
    log_hint = "snapshot.log"

    def __init__(self, runs=5, timeout=400):
        self.runs = runs
        self.timeout = timeout

    def run(self):
        pauses, restores = [], []
        with _managed_linux(self.name, 2, self.timeout) as (c, until):
            for i in range(1, self.runs + 1):
                c.send(f"snapshot linux s{i}\r")
                t = until(SNAP_TAKEN, "the snapshot's line")
                pauses.append(int(t.group(3)))
                time.sleep(2)  # the guest runs on and writes: copies on write
                c.send(f"restore linux s{i}\r")
                r = until(SNAP_RESTORED, "the restore's line")
                restores.append(int(r.group(2)))
                print(f"bench-run: snapshot {i}: {t.group(2)} MiB in use, paused {t.group(3)} us "
                      f"(parking {t.group(4)}, vCPU state {t.group(5)}, devices and RAM "
                      f"{t.group(6)}); restore {r.group(2)} us", file=sys.stderr, flush=True)
                c.send(f"drop linux s{i}\r")
                until(re.compile(r"snapshot 's%d' dropped" % i), "the drop's line")
        return [("snapshot_pause", f"{median(pauses):g}",
                 f"us (256 MiB Linux, TCG; runs {min(pauses)}-{max(pauses)} us)"),
                ("restore_ready", f"{median(restores):g}",
                 f"us (the same; runs {min(restores)}-{max(restores)} us)")]


BENCHES.append(Snapshot())


CLONED = re.compile(r"^mica: partition '(c\d+)' cloned from 'linux' on CPU \d+: 256 MiB, "
                    r"(\d+) MiB of it shared copy on write; 'linux' paused (\d+) us")
CLONE_RAN = re.compile(r"^mica: partition '(c\d+)': its first instruction (\d+) us after "
                       r"the clone command")


class Clone:
    """Copy-on-write clones (docs/management.md, "Clones") of the same Linux partition as
    the snapshot bench (1 vCPU, 256M), onto the free CPU, from the management console:
    `runs` times a clone (Mica's line says how long the origin was paused, and the clone's
    vCPU 0 says how long after the command it entered the guest), a few seconds of both
    running, then the clone stopped and destroyed (its CPU and RAM back for the next).
    Medians of wall-clock microseconds under QEMU TCG -smp 3."""

    name = "clone"
    log_hint = "clone.log"

    def __init__(self, runs=5, timeout=500):
        self.runs = runs
        self.timeout = timeout

    def run(self):
        pauses, firsts = [], []
        with _managed_linux(self.name, 3, self.timeout) as (c, until):
            for i in range(1, self.runs + 1):
                c.send(f"clone linux c{i}\r")
                t = until(CLONED, "the clone's line")
                f = until(CLONE_RAN, "the clone's first instruction")
                pauses.append(int(t.group(3)))
                firsts.append(int(f.group(2)))
                print(f"bench-run: clone {i}: {t.group(2)} MiB shared, origin paused "
                      f"{t.group(3)} us, first instruction after {f.group(2)} us",
                      file=sys.stderr, flush=True)
                time.sleep(2)  # both run on: copies on first touch and first write
                c.send(f"stop c{i}\r")
                until(re.compile(r"partition 'c%d' stopped" % i), "the stop's line")
                c.send(f"destroy c{i}\r")
                until(re.compile(r"partition 'c%d' destroyed" % i), "the destroy's line")
        return [("clone_pause", f"{median(pauses):g}",
                 f"us (256 MiB Linux, TCG; runs {min(pauses)}-{max(pauses)} us)"),
                ("clone_first_instruction", f"{median(firsts):g}",
                 f"us (the command to the clone's first guest instruction; runs "
                 f"{min(firsts)}-{max(firsts)} us)")]


BENCHES.append(Clone())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="benches to run (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--linux-runs", type=int, default=3,
                    help="boots under Mica and bare for linux-boot, each (default 3)")
    ap.add_argument("--blk-runs", type=int, default=3,
                    help="boots under Mica and bare for virtio-blk and passthrough-nvme, each (default 3)")
    ap.add_argument("--net-runs", type=int, default=1,
                    help="boots under Mica for virtio-net (default 1)")
    args = ap.parse_args()
    for b in BENCHES:
        if isinstance(b, LinuxBoot):
            b.runs = max(1, args.linux_runs)
        elif isinstance(b, (VirtioBlkRead, PassthroughNvmeRead, NvmeVirtioBlkRead)):
            b.runs = max(1, args.blk_runs)
        elif isinstance(b, (VirtioNet, GatewayTcp, NvmeShare)):
            b.runs = max(1, args.net_runs)
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
                log = getattr(b, "log_hint", b.name + ".log")
                print(f"bench: {b.name} failed: {e} "
                      f"(log: {os.path.relpath(os.path.join(BUILD, 'bench', log))})",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        harness.kill_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
