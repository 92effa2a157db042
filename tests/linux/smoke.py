#!/usr/bin/env python3
"""Boot the Linux test guest, check its shell answers, power it off; time each boot.

    tests/linux/smoke.py                        # once, bare QEMU (scripts/linux-bare.sh)
    tests/linux/smoke.py -n 5 --busy            # 5 boots, the other core kept busy
    tests/linux/smoke.py --cpus 2 -- CMD ARGS   # any command whose stdio is the guest's serial

Prints one line per boot (PASS/FAIL, seconds to the shell-ready marker, total) and exits
1 if any boot failed. Each console goes to build/linux/smoke-<i>.log.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console import READY, ConsoleTimeout, SerialConsole  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def boot_once(argv, log, cpus, mem_mb, timeout):
    """One boot: returns (ok, message, seconds to marker, total seconds)."""
    with SerialConsole.spawn(argv, log=log, cwd=ROOT) as c:
        t_qemu = None
        try:
            # linux-bare.sh says when it hands over to QEMU: time the boot from there.
            m = c.expect(r"^linux-bare: starting qemu|^mica-linux: shell ready", timeout)
            t_qemu = c.elapsed() if m.group(0).startswith("linux-bare") else 0.0
            m = c.expect(READY, timeout, "the shell-ready marker")
            t_ready = c.elapsed() - t_qemu
            phases = []
            for name, rx in (("kernel", r"Linux version "), ("init", r"Run /init as init process")):
                t = c.first(rx)
                if t is not None:
                    phases.append("%s %.2fs" % (name, t - t_qemu))
            got_cpus, got_mem = int(m.group(1)), int(m.group(2))
            r = c.run("echo hi; nproc; cat /proc/meminfo | head -1", 20)
            lines = r.lines
            if r.status != 0 or len(lines) != 3 or lines[0] != "hi":
                return False, "unexpected answer %r" % r, t_ready, c.elapsed()
            if cpus and (got_cpus != cpus or lines[1] != str(cpus)):
                return False, "cpus %d / nproc %s, expected %d" % (got_cpus, lines[1], cpus), t_ready, c.elapsed()
            mt = re.match(r"MemTotal:\s+(\d+) kB", lines[2])
            if not mt or int(mt.group(1)) != got_mem:
                return False, "MemTotal line %r vs marker %d" % (lines[2], got_mem), t_ready, c.elapsed()
            if mem_mb and not (mem_mb * 1024 * 0.8 < got_mem <= mem_mb * 1024):
                return False, "MemTotal %d kB for %d MiB" % (got_mem, mem_mb), t_ready, c.elapsed()
            mods = c.run("cat /proc/modules | wc -l").output
            st = c.poweroff(30)
            if st is None:
                return False, "poweroff -f did not end the emulator", t_ready, c.elapsed()
            return True, "(%s) cpus %d, MemTotal %d kB, %s modules, exit %d" % (
                ", ".join(phases), got_cpus, got_mem, mods, st), t_ready, c.elapsed()
        except ConsoleTimeout as e:
            return False, str(e), None, c.elapsed()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=1)
    ap.add_argument("--busy", action="store_true", help="keep the other core busy meanwhile")
    ap.add_argument("--cpus", type=int, default=2, help="expected CPU count (0: any)")
    ap.add_argument("--mem", type=int, default=512, help="guest RAM in MiB (0: do not check)")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--logdir", default=os.path.join(ROOT, "build", "linux"))
    ap.add_argument("command", nargs="*", help="default: scripts/linux-bare.sh")
    a = ap.parse_args()
    argv = a.command or [os.path.join(ROOT, "scripts", "linux-bare.sh")]
    os.makedirs(a.logdir, exist_ok=True)
    busy = None
    if a.busy:
        busy = subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True)
    failed = 0
    times = []
    try:
        for i in range(1, a.runs + 1):
            log = os.path.join(a.logdir, "smoke-%d.log" % i)
            ok, msg, t_ready, total = boot_once(argv, log, a.cpus, a.mem, a.timeout)
            ready = "%.2fs" % t_ready if t_ready is not None else "-"
            print("%s boot %d: shell ready after %s, %.2fs in all: %s%s" % (
                "PASS" if ok else "FAIL", i, ready, total, msg.splitlines()[0],
                "" if ok else "\n  log: " + log + "\n" + "\n".join(msg.splitlines()[1:])), flush=True)
            if ok:
                times.append(t_ready)
            else:
                failed += 1
    finally:
        if busy:
            busy.kill()
            busy.wait()
    if times:
        print("shell ready: min %.2fs, max %.2fs, mean %.2fs over %d boot(s)%s" % (
            min(times), max(times), sum(times) / len(times), len(times),
            " (other core busy)" if a.busy else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
