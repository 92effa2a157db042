"""Shared machinery for Mica's emulator runs: build an ESP image, boot it, read the serial
console line by line against expectations, and always clean up the emulator.

Used by tests/e2e/run.py (scenarios) and scripts/bench.py (benchmarks). Python 3 stdlib only.
"""

import os
import re
import select
import signal
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
GUEST_DIR = os.path.join(BUILD, "guests")

# What must never show on the console of any run (plus each scenario's own additions). The
# UEFI shell means the firmware gave up on Mica's loader: no point waiting for the timeout.
ALWAYS_FORBIDDEN = [r"PANIC", r"FAIL", r"exception", r"UEFI Interactive Shell"]

_ANSI = re.compile(r"\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1bc")


class Failure(Exception):
    """A run that did not meet an expectation; the message says which."""


# --------------------------------------------------------------------------------------
# Emulator processes. Every process we start is remembered so that nothing is left behind,
# whatever happens (failure, timeout, Ctrl-C, SIGTERM).

_live = set()
_live_lock = threading.Lock()
_stopping = threading.Event()


def _kill_group(proc):
    """Ends the process group of proc (the wrapper script and the emulator it started)."""
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # The wrapper may be gone while the emulator in its group lives on.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all():
    """Stops every run still going (called on Ctrl-C and at exit)."""
    _stopping.set()
    with _live_lock:
        procs = list(_live)
    for p in procs:
        _kill_group(p)


def install_signal_handlers():
    """SIGINT (even if inherited as ignored), SIGTERM and SIGHUP all make the main thread
    raise KeyboardInterrupt, which stops every emulator."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


class Console:
    """A running emulator whose serial console comes on its stdout."""

    def __init__(self, argv, env=None, log_path=None):
        if _stopping.is_set():
            raise Failure("interrupted")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        with _live_lock:
            _live.add(self.proc)
        self.lines = []  # every line so far, escape sequences removed
        self._buf = b""
        self._log = open(log_path, "wb") if log_path else None
        self.started = time.monotonic()

    def close(self):
        _kill_group(self.proc)
        with _live_lock:
            _live.discard(self.proc)
        self._drain()
        if self._buf:
            self._add(self._buf)
            self._buf = b""
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _add(self, raw):
        if self._log:
            self._log.write(raw + b"\n")
        text = raw.decode("utf-8", "replace").rstrip("\r")
        text = _ANSI.sub("", text).replace("\r", "")
        self.lines.append(text)
        return text

    def _drain(self):
        fd = self.proc.stdout.fileno()
        try:
            while select.select([fd], [], [], 0)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._buf += chunk
        except (OSError, ValueError):
            pass
        while b"\n" in self._buf:
            raw, self._buf = self._buf.split(b"\n", 1)
            self._add(raw)

    def read_line(self, deadline):
        """Next console line, or None at the deadline; raises Failure if the emulator exits."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            if _stopping.is_set():
                raise Failure("interrupted")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select.select([fd], [], [], min(left, 0.5))[0]
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                if self._buf:
                    raw, self._buf = self._buf, b""
                    return self._add(raw)
                rc = self.proc.wait()
                raise Failure(f"the emulator exited (status {rc})")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\n", 1)
        return self._add(raw)

    def elapsed(self):
        return time.monotonic() - self.started


# --------------------------------------------------------------------------------------
# Backends: how to make a bootable image and how to boot it. A backend is named after the
# virtualization extension it exercises; the hypervisor's banner names the same backend.

class Backend:
    name = "?"

    def build_image(self, image, config_path, files):
        raise NotImplementedError

    def boot(self, image, log_path, env=None):
        """Returns a Console for the booted image."""
        raise NotImplementedError


class QemuSvm(Backend):
    """AMD SVM under QEMU TCG with OVMF: scripts/mkesp.sh and scripts/qemu.sh."""
    name = "svm"

    def build_image(self, image, config_path, files):
        script = os.path.join(ROOT, "scripts", "mkesp.sh")
        if not os.path.exists(script):
            raise Failure("scripts/mkesp.sh does not exist yet")
        for f in files:
            if not os.path.exists(f):
                raise Failure(f"{os.path.relpath(f, ROOT)} is missing (run `make all`)")
        os.makedirs(os.path.dirname(image), exist_ok=True)
        res = subprocess.run([script, image, config_path] + list(files), cwd=ROOT,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            out = res.stdout.decode("utf-8", "replace").strip().splitlines()[-10:]
            raise Failure("scripts/mkesp.sh failed:\n    " + "\n    ".join(out))

    def boot(self, image, log_path, env=None):
        script = os.path.join(ROOT, "scripts", "qemu.sh")
        if not os.path.exists(script):
            raise Failure("scripts/qemu.sh does not exist yet")
        return Console([script, image], env=env, log_path=log_path)


# A Bochs backend for Intel VMX ("vmx") goes here: build_image as for QEMU (or a GRUB ISO),
# boot() starting a wrapper that runs Bochs and copies its serial file to stdout.
BACKENDS = {b.name: b for b in (QemuSvm(),)}


# --------------------------------------------------------------------------------------
# Expectations.

class Expect:
    """What a run's console must show.

    steps     ordered; each step is a regex or a list of regexes (all of them, any order),
              searched in the lines after the previous step completed.
    anywhere  regexes that must each appear at some point (order free).
    forbidden regexes that must never appear (ALWAYS_FORBIDDEN is added).
    settle    seconds to keep watching for forbidden lines once everything was seen.
    """

    def __init__(self, steps, anywhere=(), forbidden=(), settle=0.0):
        self.steps = [[s] if isinstance(s, str) else list(s) for s in steps]
        self.anywhere = list(anywhere)
        self.forbidden = ALWAYS_FORBIDDEN + list(forbidden)
        self.settle = settle

    def substitute(self, **names):
        """Copy with <key> in every pattern replaced (e.g. <vendor> -> svm)."""
        def sub(p):
            for k, v in names.items():
                p = p.replace(f"<{k}>", v)
            return p
        e = Expect([], settle=self.settle)
        e.steps = [[sub(p) for p in step] for step in self.steps]
        e.anywhere = [sub(p) for p in self.anywhere]
        e.forbidden = [sub(p) for p in self.forbidden]
        return e


def watch(console, expect, timeout, on_line=None):
    """Reads the console until every expectation is met (then settle seconds more).
    Raises Failure naming the unmet expectation."""
    steps = [[re.compile(p) for p in step] for step in expect.steps]
    anywhere = {p: re.compile(p) for p in expect.anywhere}
    forbidden = [re.compile(p) for p in expect.forbidden]
    deadline = console.started + timeout
    step, pending, settle_end = 0, None, None

    while True:
        line = console.read_line(settle_end or deadline)
        if line is None:
            if settle_end is not None:
                return
            break
        if on_line:
            on_line(line)
        for f in forbidden:
            if f.search(line):
                raise Failure(f"forbidden /{f.pattern}/ appeared: {line!r}")
        for p in [p for p, r in anywhere.items() if r.search(line)]:
            del anywhere[p]
        if step < len(steps):
            if pending is None:
                pending = list(steps[step])
            pending = [r for r in pending if not r.search(line)]
            if not pending:
                step, pending = step + 1, None
        if step == len(steps) and not anywhere and settle_end is None:
            if expect.settle <= 0:
                return
            settle_end = min(time.monotonic() + expect.settle, deadline + expect.settle)

    if step < len(steps):
        todo = pending if pending is not None else steps[step]
        what = " and ".join(f"/{r.pattern}/" for r in todo)
        raise Failure(f"timed out after {timeout:.0f}s waiting for {what} "
                      f"(step {step + 1} of {len(steps)})")
    what = " and ".join(f"/{p}/" for p in anywhere)
    raise Failure(f"timed out after {timeout:.0f}s; never saw {what}")


def guest_path(name):
    return os.path.join(GUEST_DIR, name)


def config_line(config, text, nth=1):
    """1-based number of the nth config line containing text (so expectations need no
    counting by hand)."""
    for n, line in enumerate(config.splitlines(), 1):
        if text in line:
            nth -= 1
            if nth == 0:
                return n
    raise ValueError(f"{text!r} is not in the config {nth} more time(s)")
