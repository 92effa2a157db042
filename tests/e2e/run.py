#!/usr/bin/env python3
"""Runs Mica's end-to-end scenarios (tests/e2e/scenarios.py) in an emulator.

    tests/e2e/run.py                      every scenario, on QEMU (svm), 2 at a time
    tests/e2e/run.py --vendor vmx         every scenario on Bochs (Intel VT-x), GRUB ISO
    tests/e2e/run.py --vendor svm-mb2     every scenario on QEMU, booted by GRUB (Multiboot2)
    tests/e2e/run.py triple-fault 'config-*'   a subset, by name or glob
    tests/e2e/run.py --list

Each scenario's image (ESP .img or GRUB .iso), config and full serial log go to
build/e2e/<backend>/<name>.*; Bochs' own log to build/e2e/vmx/<name>.serial.bochs.log.
Prints one line per scenario and ends with `N passed, N failed`; exits 1 if any failed.
"""

import argparse
import concurrent.futures
import fnmatch
import os
import re
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import BACKENDS, BUILD, Failure, Script, guest_path, play, watch  # noqa: E402
from scenarios import SCENARIOS as BASIC_SCENARIOS  # noqa: E402
from linux import LINUX_SCENARIOS, needs_linux  # noqa: E402
from virtio import DISK, VIRTIO_SCENARIOS, make_disk  # noqa: E402
from defects import DEFECT_SCENARIOS  # noqa: E402
from multiboot import MULTIBOOT_SCENARIOS  # noqa: E402
from passthrough import PASSTHROUGH_SCENARIOS  # noqa: E402
from attacks import ATTACK_SCENARIOS  # noqa: E402
from soak import SOAK_SCENARIOS  # noqa: E402
from machines import MACHINE_SCENARIOS  # noqa: E402
from manage import MANAGE_SCENARIOS  # noqa: E402
from snapshots import SNAPSHOT_SCENARIOS  # noqa: E402
from demo import DEMO_SCENARIOS  # noqa: E402
from storage import STORAGE_SCENARIOS  # noqa: E402
from network import NETWORK_SCENARIOS  # noqa: E402
from clones import CLONE_SCENARIOS  # noqa: E402

SCENARIOS = (BASIC_SCENARIOS + LINUX_SCENARIOS + VIRTIO_SCENARIOS + DEFECT_SCENARIOS +
             MULTIBOOT_SCENARIOS + PASSTHROUGH_SCENARIOS + ATTACK_SCENARIOS + SOAK_SCENARIOS +
             MACHINE_SCENARIOS + MANAGE_SCENARIOS + SNAPSHOT_SCENARIOS + DEMO_SCENARIOS +
             STORAGE_SCENARIOS + NETWORK_SCENARIOS + CLONE_SCENARIOS)

TAIL = 40
_print_lock = threading.Lock()


def run_one(scn, backend, timeout_scale, verbose):
    """Returns (ok, seconds, detail, console lines). Known rare events get one more try,
    said on a RETRY line, with the first log kept as <scenario>.attempt1.log (and QEMU's
    CPU-reset dump beside it):
    - the emulator vanished (the whole machine reset or powered off under it);
    - a Linux guest stopped making progress and a step timed out (seen twice in CI, in
      svm-mb2/linux-smp while /init loaded modules; docs/testing.md);
    - a partition could not take an event: a Linux guest's double fault, or the service's
      triple fault (storage-two-guests under both guests' writes: QEMU delivering an
      EVENTINJ interrupt twice, worked around in arch/x86/svm/intr.c; docs/testing.md).
      The first log keeps 3 s of console after the line;
    - QEMU's SVM gave a partition the host's own state back as its guest state at an exit
      (Mica detects it and says so: seen once, in storage-two-guests; docs/testing.md)."""
    ok, secs, detail, lines = run_attempt(scn, backend, timeout_scale, verbose)
    vanished = "the emulator exited" in detail
    stalled = needs_linux(scn) and "timed out" in detail
    undeliverable = ("PANIC: double fault" in detail or
                     re.search(r"partition '[^']*' stopped: triple fault", detail) is not None)
    lost_state = "stopped: the CPU saved the host's state as the guest's" in detail
    if ok or not (vanished or stalled or undeliverable or lost_state):
        return ok, secs, detail, lines
    base = os.path.join(BUILD, "e2e", backend.name, scn.name)
    for ext in (".log", ".qemu.log"):
        if os.path.exists(base + ext):
            os.replace(base + ext, base + ".attempt1" + ext)
    with _print_lock:
        print(f"RETRY {backend.name}/{scn.name}: {detail.splitlines()[0]} "
              f"(first log: {os.path.relpath(base)}.attempt1.log)", flush=True)
    return run_attempt(scn, backend, timeout_scale, verbose)


def run_attempt(scn, backend, timeout_scale, verbose):
    """Returns (ok, seconds, detail, console lines)."""
    label = f"{backend.name}/{scn.name}"
    out_dir = os.path.join(BUILD, "e2e", backend.name)
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, scn.name)
    cfg_path, img, log = base + ".cfg", base + backend.image_ext, base + ".log"
    with open(cfg_path, "w") as f:
        f.write(scn.config)
    expect = scn.expect.substitute(**backend.substitutions())
    lines = []
    start = time.monotonic()
    try:
        backend.build_image(img, cfg_path, [guest_path(g) for g in scn.guests],
                            build=scn.core_build)
        start = time.monotonic()
        on_line = None
        if verbose:
            def on_line(line):
                with _print_lock:
                    print(f"  {label}| {line}", flush=True)
        timeout = scn.timeout * timeout_scale * backend.timeout_scale
        env = dict(scn.env or {})
        if backend.name.startswith("svm"):
            # QEMU logs every CPU reset: if the machine resets under Mica, this says why.
            env["MICA_QEMU_EXTRA"] = (env.get("MICA_QEMU_EXTRA", "") +
                                      f" -d cpu_reset -D {base}.qemu.log").strip()
        with backend.boot(img, log, env=env, limit=timeout + 60) as console:
            lines = console.lines
            if isinstance(expect, Script):
                play(console, expect, timeout, on_line)
            else:
                watch(console, expect, timeout, on_line)
        return True, time.monotonic() - start, "", lines
    except Failure as e:
        return False, time.monotonic() - start, str(e), lines


def prepare_linux():
    """Builds the Linux test image (scripts/linux-image.sh; ~20 ms when it is cached)."""
    res = subprocess.run([os.path.join(harness.ROOT, "scripts", "linux-image.sh"),
                          os.path.join(BUILD, "linux")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        sys.stdout.write(res.stdout.decode("utf-8", "replace"))
        sys.exit("e2e: scripts/linux-image.sh failed: the Linux scenarios cannot run")
    linux = os.path.join(BUILD, "linux")
    res = subprocess.run([os.path.join(harness.ROOT, "scripts", "extract-vmlinux.py"),
                          os.path.join(linux, "vmlinuz"), os.path.join(linux, "vmlinux")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if res.returncode != 0:
        sys.stdout.write(res.stdout.decode("utf-8", "replace"))
        sys.exit("e2e: scripts/extract-vmlinux.py failed: the PVH scenario cannot run")


def select(names, backend, listing=False):
    vendor = backend.name
    # A backend runs the scenarios listed for it by name, else those for its vendor.
    chosen = [s for s in SCENARIOS if backend.name in s.vendors
              or (backend.vendor in s.vendors and not backend.named_only)]
    if not names:
        return [s for s in chosen if listing or not s.explicit]
    picked = []
    for pat in names:
        pat = pat.split("/", 1)[1] if pat.startswith(vendor + "/") else pat
        # Slow scenarios (explicit) run only when named exactly, never through a glob.
        hits = [s for s in chosen if s.name == pat
                or (not s.explicit and fnmatch.fnmatchcase(s.name, pat))]
        if not hits:
            sys.exit(f"e2e: no scenario matches '{pat}' (see --list)")
        picked += [s for s in hits if s not in picked]
    return picked


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="scenario names or globs (default: all)")
    ap.add_argument("--vendor", default="svm", choices=sorted(BACKENDS),
                    help="backend: svm = QEMU + OVMF (UEFI loader), svm-mb2 = QEMU + SeaBIOS + "
                         "GRUB (Multiboot2 entry), vmx = Bochs + GRUB (default: svm)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="scenarios at once (default 2)")
    ap.add_argument("--timeout-scale", type=float, default=1.0,
                    help="multiply every scenario's timeout (slow hosts)")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo every console line")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = ap.parse_args()

    backend = BACKENDS[args.vendor]
    scenarios = select(args.names, backend, listing=args.list)
    if args.list:
        for s in scenarios:
            print(f"{backend.name}/{s.name:24} {s.about}"
                  + (" (only when named)" if s.explicit else ""))
        return 0

    harness.install_signal_handlers()
    if any(needs_linux(s) for s in scenarios):
        prepare_linux()
    if any(DISK in s.guests for s in scenarios):
        make_disk()  # a blank disk: the scenario formats it
    for s in scenarios:
        if getattr(s, "prepare", None):
            s.prepare()  # what a scenario needs made fresh (passthrough: its NVMe disk)
    passed = failed = 0
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    # The long scenarios first (their timeouts say which): one that starts last keeps one
    # worker busy for minutes after the others are done (storage-two-guests, ~4.5 min).
    order = sorted(scenarios, key=lambda s: -s.timeout)
    try:
        futures = {pool.submit(run_one, s, backend, args.timeout_scale, args.verbose): s
                   for s in order}
        for fut in concurrent.futures.as_completed(futures):
            scn = futures[fut]
            ok, secs, detail, lines = fut.result()
            label = f"{backend.name}/{scn.name}"
            with _print_lock:
                print(f"{'PASS' if ok else 'FAIL'} {label} {secs:.1f}s", flush=True)
                if ok:
                    passed += 1
                    continue
                failed += 1
                print(f"  scenario: {label} — {scn.about}")
                print(f"  not met:  {detail}")
                log = os.path.join(BUILD, "e2e", backend.name, scn.name + ".log")
                print(f"  log:      {os.path.relpath(log)}")
                if lines:
                    print(f"  last {min(TAIL, len(lines))} console lines:")
                    for line in lines[-TAIL:]:
                        print(f"    | {line}")
                sys.stdout.flush()
    except KeyboardInterrupt:
        print("e2e: interrupted, stopping the emulators", file=sys.stderr, flush=True)
        harness.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        return 130
    finally:
        harness.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
