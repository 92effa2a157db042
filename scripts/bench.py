#!/usr/bin/env python3
"""Mica's benchmarks: path lengths counted in emulated instructions.

Under QEMU `-icount shift=8` the guest's TSC advances exactly 256 per emulated instruction,
the hypervisor's included, so an RDTSC delta around one exiting instruction, minus the same
delta without it, divided by 256, is the number of instructions the exit costs (the exiting
instruction, VMRUN and #VMEXIT included). The bench guest (tests/guests/bench.c) prints the
raw minimum deltas; this script boots it and turns them into figures:

    bench: svm_cpuid_exit <N> instructions
    bench: svm_null_hypercall <N> instructions

Each Bench below is one boot producing one or more figures; add VMX (Bochs) or a Linux boot
ratio as further entries. Usage: scripts/bench.py [--list] [NAME...]
"""

import argparse
import os
import re
import sys

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
    # Later: a Linux boot-time ratio (under Mica / bare QEMU).
]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="benches to run (default: all)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
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
                    print(f"bench: {name} {value} {unit}", flush=True)
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
