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
# UEFI shell means the firmware gave up on Mica's loader, "error: " at the start of a line
# is GRUB failing (a module file missing, a bad kernel): no point waiting for the timeout.
ALWAYS_FORBIDDEN = [r"PANIC", r"FAIL", r"exception", r"UEFI Interactive Shell", r"^error: ",
                    # every emulated machine has a PIT or a PM timer: a guessed TSC rate
                    # makes every guest timer wrong
                    r"^mica: neither PIT channel 2 nor an ACPI PM timer counts"]

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
    """A running emulator and its serial console, read line by line with deadlines.

    By default the console is the emulator's stdout (QEMU). With serial_path, the emulator's
    own output goes to serial_path + ".out" and the console is the file serial_path, which
    the emulator writes (Bochs): it is followed as it grows."""

    def __init__(self, argv, env=None, log_path=None, serial_path=None):
        if _stopping.is_set():
            raise Failure("interrupted")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._serial = None
        if serial_path:
            open(serial_path, "wb").close()  # exists (empty) before the emulator starts
            out = open(serial_path + ".out", "wb")
        else:
            out = subprocess.PIPE
        # The emulator's stdin is the serial console's input when the console is its stdout
        # (QEMU -serial stdio): send() types into it. A file console is output only.
        stdin = subprocess.DEVNULL if serial_path else subprocess.PIPE
        self._argv, self._env = argv, full_env
        try:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdin=stdin,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            if serial_path:
                out.close()
        with _live_lock:
            _live.add(self.proc)
        if serial_path:
            self._serial = open(serial_path, "rb")
        self.lines = []  # every line so far, escape sequences removed
        self.raw_lines = []  # the same lines as they came (bytes, escapes and CRs in)
        self._buf = b""
        self._log = open(log_path, "wb") if log_path else None
        self.started = time.monotonic()
        # Typing pace: a partition's virtual UART has a 16-byte receive FIFO and drops what
        # does not fit, and Mica only passes bytes on, so input goes in small bursts.
        self.type_chunk = int(full_env.get("MICA_TYPE_CHUNK", "8"))
        self.type_delay = float(full_env.get("MICA_TYPE_DELAY", "0.05"))

    @property
    def can_send(self):
        return self.proc.stdin is not None

    def send(self, text):
        """Types text into the serial console (the emulator's stdin), a few bytes at a time.
        Raises Failure for an output-only console or once the emulator is gone."""
        if not self.can_send:
            raise Failure("this console is output only (no input to type into)")
        data = text.encode() if isinstance(text, str) else text
        try:
            for i in range(0, len(data), self.type_chunk):
                if i:
                    time.sleep(self.type_delay)
                self.proc.stdin.write(data[i:i + self.type_chunk])
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            raise Failure(f"could not type into the console: {e}") from None

    def power_cut(self, between=None):
        """Kills the emulator at once (SIGKILL to its process group: no shutdown, no flush
        by anyone), calls between() if given (the disk images are still now), then boots
        the same machine again on this console: a power cut. QEMU consoles only."""
        if self._serial:
            raise Failure("a power cut needs a QEMU console (stdin/stdout)")
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        with _live_lock:
            _live.discard(self.proc)
        self._drain_all()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self._log:
            self._log.write(b"==== power cut (SIGKILL); booting the same machine again ====\n")
        if between:
            between()
        self.proc = subprocess.Popen(self._argv, cwd=ROOT, env=self._env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        with _live_lock:
            _live.add(self.proc)

    def close(self):
        for c in getattr(self, "companions", ()):
            c.close()
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        _kill_group(self.proc)
        with _live_lock:
            _live.discard(self.proc)
        self._drain_all()
        if self._log:
            self._log.close()
            self._log = None
        if self._serial:
            self._serial.close()
            self._serial = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _add(self, raw):
        if self._log:
            self._log.write(raw + b"\n")
        self.raw_lines.append(raw)
        text = raw.decode("utf-8", "replace").rstrip("\r")
        text = _ANSI.sub("", text).replace("\r", "")
        self.lines.append(text)
        return text

    def _drain_all(self):
        """Every line the emulator left, the last one even without its newline."""
        self._drain()
        if self._buf:
            self._add(self._buf)
            self._buf = b""

    def _drain(self):
        if self._serial:
            try:
                self._buf += self._serial.read()
            except (OSError, ValueError):
                pass
        else:
            self._drain_pipe()
        while b"\n" in self._buf:
            raw, self._buf = self._buf.split(b"\n", 1)
            self._add(raw)

    def _drain_pipe(self):
        fd = self.proc.stdout.fileno()
        try:
            while select.select([fd], [], [], 0)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._buf += chunk
        except (OSError, ValueError):
            pass

    def _read_file(self, deadline):
        """More bytes of the serial file (b"" at the deadline); raises Failure once the
        emulator has exited and the file has nothing more."""
        while True:
            if _stopping.is_set():
                raise Failure("interrupted")
            chunk = self._serial.read(65536)
            if chunk:
                return chunk
            rc = self.proc.poll()
            if rc is not None:
                chunk = self._serial.read()
                if chunk:
                    return chunk
                raise Failure(f"the emulator exited (status {rc})")
            left = deadline - time.monotonic()
            if left <= 0:
                return b""
            time.sleep(min(left, 0.05))

    def read_line(self, deadline):
        """Next console line, or None at the deadline; raises Failure if the emulator exits."""
        if self._serial:
            while b"\n" not in self._buf:
                try:
                    chunk = self._read_file(deadline)
                except Failure:
                    if self._buf:
                        raw, self._buf = self._buf, b""
                        return self._add(raw)
                    raise
                if not chunk:
                    return None
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\n", 1)
            return self._add(raw)
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
    """name: what run.py --vendor takes and build/e2e/<name>/ is called; vendor: the
    virtualization backend the hypervisor's banner must name (svm, vmx). subst: what the
    <key> placeholders in scenario patterns become (see scenarios.py), already as regexes."""
    name = "?"
    vendor = "?"
    image_ext = ".img"
    timeout_scale = 1.0
    subst = {}
    named_only = False  # runs only the scenarios that name this backend in their vendors
    efi_program = None  # UEFI backends: another program than the loader as BOOTX64.EFI

    def build_image(self, image, config_path, files, build=None):
        raise NotImplementedError

    def boot(self, image, log_path, env=None, limit=None):
        """Returns a Console for the booted image. limit: seconds after which the emulator
        may stop by itself (only Bochs needs to be told)."""
        raise NotImplementedError

    def substitutions(self):
        return dict(self.subst, vendor=self.vendor)


def _run_script(name, args, build=None, extra_env=None):
    """build: another build folder to take the core and boot stubs from (a test build).
    extra_env: more environment for the script (e.g. MKESP_LOADER)."""
    script = os.path.join(ROOT, "scripts", name)
    if not os.path.exists(script):
        raise Failure(f"scripts/{name} does not exist yet")
    env = dict(os.environ, **(extra_env or {}))
    if build:
        env["BUILD"] = build
    res = subprocess.run([script] + list(args), cwd=ROOT, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    if res.returncode != 0:
        out = res.stdout.decode("utf-8", "replace").strip().splitlines()[-10:]
        raise Failure(f"scripts/{name} failed:\n    " + "\n    ".join(out))


def _check_files(files):
    for f in files:
        if not os.path.exists(f):
            raise Failure(f"{os.path.relpath(f, ROOT)} is missing (run `make all`)")


# Patterns for the two boot paths' messages (scenarios.py: loader_error, cfg_error).
UEFI_SUBST = {
    "loader": "mica-loader",
    "cfgpath": re.escape("\\mica\\mica.cfg"),
    "missing-image": r"not found on the ESP \(looked for .*\)",
}
MB2_SUBST = {
    "loader": "mica-mb2",
    "cfgpath": re.escape("mica.cfg"),
    "missing-image": r"has no module \(expected a module named '.*'\)",
}


class QemuSvm(Backend):
    """AMD SVM under QEMU TCG with OVMF: scripts/mkesp.sh and scripts/qemu.sh."""
    name = "svm"
    vendor = "svm"
    subst = UEFI_SUBST
    image_script = "mkesp.sh"

    def image_env(self, build):
        """Environment for the image script (scripts/mkesp.sh's MKESP_*)."""
        if not self.efi_program:
            return {}
        program = os.path.join(ROOT, build or BUILD, self.efi_program)
        _check_files([program])
        return {"MKESP_LOADER": program}

    def build_image(self, image, config_path, files, build=None):
        _check_files(files)
        os.makedirs(os.path.dirname(image), exist_ok=True)
        _run_script(self.image_script, [image, config_path] + list(files), build,
                    self.image_env(build))

    def boot(self, image, log_path, env=None, limit=None):
        script = os.path.join(ROOT, "scripts", "qemu.sh")
        if not os.path.exists(script):
            raise Failure("scripts/qemu.sh does not exist yet")
        return Console([script, image], env=env, log_path=log_path)


class QemuSvmUsb(QemuSvm):
    """As svm, from a USB stick image (scripts/mkusb.sh: GPT, one EFI System Partition) on
    QEMU's xHCI controller, the way a real machine boots `make usb-image`."""
    name = "svm-usb"
    named_only = True
    image_script = "mkusb.sh"

    def boot(self, image, log_path, env=None, limit=None):
        return QemuSvm.boot(self, image, log_path, dict(env or {}, MICA_DISK_BUS="usb"), limit)


# Secure Boot in OVMF (docs/booting.md, "Secure Boot"): its secboot build needs SMM and a
# secure flash; the variable stores come with PK/KEK/db enrolled (Microsoft's keys, or
# Debian's test key "snakeoil", whose private key ships with the ovmf package).
OVMF_DIR = "/usr/share/OVMF"
SECURE_BOOT_ENV = {"MICA_MACHINE": "q35,smm=on",
                   "MICA_QEMU_EXTRA": "-global driver=cfi.pflash01,property=secure,value=on",
                   "OVMF_CODE": os.path.join(OVMF_DIR, "OVMF_CODE_4M.secboot.fd")}
SNAKEOIL_KEY = "/usr/share/ovmf/PkKek-1-snakeoil.key"  # PEM, passphrase "snakeoil"
SNAKEOIL_CERT = "/usr/share/ovmf/PkKek-1-snakeoil.pem"


class QemuSvmSecureBoot(QemuSvm):
    """As svm with Secure Boot on and Debian's test key enrolled; the ESP's EFI programs are
    signed with that key (MKESP_SIGN_KEY, MKESP_SIGN_CERT), the way a user signs with their
    own."""
    name = "svm-secboot"
    named_only = True

    def image_env(self, build):
        _check_files([SNAKEOIL_KEY, SNAKEOIL_CERT])
        key = os.path.join(BUILD, "e2e", "snakeoil.key")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        res = subprocess.run(["openssl", "pkey", "-in", SNAKEOIL_KEY, "-passin", "pass:snakeoil",
                              "-out", key], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode:
            raise Failure("openssl could not read Debian's snakeoil key: "
                          + res.stdout.decode(errors="replace"))
        return dict(QemuSvm.image_env(self, build), MKESP_SIGN_KEY=key,
                    MKESP_SIGN_CERT=SNAKEOIL_CERT)

    def boot(self, image, log_path, env=None, limit=None):
        env = dict(env or {})
        extra = SECURE_BOOT_ENV["MICA_QEMU_EXTRA"] + " " + env.get("MICA_QEMU_EXTRA", "")
        env.update(SECURE_BOOT_ENV, MICA_QEMU_EXTRA=extra.strip(),
                   OVMF_VARS=os.path.join(OVMF_DIR, "OVMF_VARS_4M.snakeoil.fd"))
        return QemuSvm.boot(self, image, log_path, env, limit)


class QemuSvmMachines(QemuSvm):
    """As svm, for the scenarios that shape the machine (tests/e2e/machines.py: CPUs,
    memory, NUMA, machine type, firmware): each names this backend, so they run once, not
    on every svm backend."""
    name = "svm-machines"
    named_only = True


class QemuSvmCheck(QemuSvm):
    """The pre-flight check (MICACHK.EFI) as the boot program of an ESP, under QEMU with
    OVMF: it prints its judgement of the emulated machine and the config, then returns."""
    name = "svm-check"
    named_only = True
    efi_program = "MICACHK.EFI"


def build_iso(image, config_path, files, build=None):
    """A GRUB ISO booting Mica through the Multiboot2 entry (scripts/mkiso.sh)."""
    _check_files(files)
    os.makedirs(os.path.dirname(image), exist_ok=True)
    _run_script("mkiso.sh", [image, config_path] + list(files), build)


def qemu_accel():
    """As scripts/qemu.sh: KVM only where it can run Mica's own SVM/VMX code."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        if (os.access("/dev/kvm", os.R_OK | os.W_OK)
                and re.search(r"\b(svm|vmx)\b", flags)):
            return ["-accel", "kvm", "-cpu", "host"]
    except OSError:
        pass
    return ["-accel", "tcg", "-cpu", "max"]


class QemuSvmMb2(Backend):
    """AMD SVM under QEMU TCG, booted by SeaBIOS and GRUB through the Multiboot2 entry:
    the path real machines with legacy BIOS take. Same scenarios as svm."""
    name = "svm-mb2"
    vendor = "svm"
    image_ext = ".iso"
    subst = MB2_SUBST

    def build_image(self, image, config_path, files, build=None):
        build_iso(image, config_path, files, build)

    def boot(self, image, log_path, env=None, limit=None):
        env = dict(os.environ, **(env or {}))
        argv = (["qemu-system-x86_64", "-machine", "q35"] + qemu_accel()
                + ["-m", env.get("MICA_MEM", "1024"), "-smp", env.get("MICA_SMP", "4"),
                   "-nodefaults", "-display", "none", "-no-reboot", "-net", "none",
                   "-serial", "stdio", "-cdrom", image,
                   # the CD first: a disk with a GPT (its protective MBR) looks bootable
                   "-boot", "order=d"])
        if env.get("MICA_ICOUNT"):
            argv += ["-icount", f"shift={env['MICA_ICOUNT']}"]
        argv += env.get("MICA_QEMU_EXTRA", "").split()
        return Console(argv, env=env, log_path=log_path)


class QemuSvmMb1(Backend):
    """AMD SVM under QEMU TCG, started by QEMU's own Multiboot (v1) loader: `-kernel
    mica-mb2.elf -initrd "core.elf,CONFIG mica.cfg,FILE,..."` (SeaBIOS, no GRUB, no disk).
    The "image" is a text file holding the kernel and the module list."""
    name = "svm-mb1"
    vendor = "svm"
    image_ext = ".mb1"
    subst = dict(MB2_SUBST)

    def build_image(self, image, config_path, files, build=None):
        d = os.path.join(ROOT, build or BUILD)
        kernel, core = os.path.join(d, "mica-mb2.elf"), os.path.join(d, "core.elf")
        _check_files([kernel, core] + list(files))
        mods = [core, f"{os.path.abspath(config_path)} mica.cfg"] + [os.path.abspath(f) for f in files]
        if any("," in m for m in mods):
            raise Failure("a module path holds a comma, which QEMU's -initrd cannot pass")
        os.makedirs(os.path.dirname(image), exist_ok=True)
        with open(image, "w") as f:
            f.write(kernel + "\n" + ",".join(mods) + "\n")

    def boot(self, image, log_path, env=None, limit=None):
        env = dict(os.environ, **(env or {}))
        kernel, initrd = open(image).read().splitlines()[:2]
        argv = (["qemu-system-x86_64", "-machine", env.get("MICA_MACHINE", "q35")] + qemu_accel()
                + ["-m", env.get("MICA_MEM", "1024"), "-smp", env.get("MICA_SMP", "4"),
                   "-nodefaults", "-display", "none", "-no-reboot", "-net", "none",
                   "-serial", "stdio", "-kernel", kernel, "-initrd", initrd])
        if env.get("MICA_ICOUNT"):
            argv += ["-icount", f"shift={env['MICA_ICOUNT']}"]
        argv += env.get("MICA_QEMU_EXTRA", "").split()
        return Console(argv, env=env, log_path=log_path)


class BochsVmx(Backend):
    """Intel VT-x under Bochs 2.7 (corei7_skylake_x, 4 CPUs), booted by the Bochs BIOS and
    GRUB through the Multiboot2 entry: scripts/mkiso.sh and scripts/bochs.sh. The serial
    console is a file (<image>.serial) the Console follows; Bochs' own log is beside it
    (<image>.serial.bochs.log) and names every failed VM-entry check."""
    name = "vmx"
    vendor = "vmx"
    image_ext = ".iso"
    subst = MB2_SUBST
    timeout_scale = 2.0  # Bochs runs ~60 MIPS shared by all 4 CPUs

    def build_image(self, image, config_path, files, build=None):
        build_iso(image, config_path, files, build)

    def boot(self, image, log_path, env=None, limit=None):
        limit = max(900, int(limit or 0))
        script = os.path.join(ROOT, "scripts", "bochs.sh")
        if not os.path.exists(script):
            raise Failure("scripts/bochs.sh does not exist yet")
        serial = os.path.splitext(image)[0] + ".serial"
        return Console([script, image, serial, str(limit)], env=env, log_path=log_path,
                       serial_path=serial)


class BochsVmxUefi(BochsVmx):
    """Intel VT-x under Bochs, booted by OVMF and the UEFI loader from an ESP image: the
    slow path (~10x longer to reach Mica than GRUB), run for a smoke scenario only.
    OVMF under Bochs builds no ACPI tables, so Mica runs on the boot CPU alone."""
    name = "vmx-uefi"
    named_only = True
    image_ext = ".img"
    image_script = "mkesp.sh"
    subst = UEFI_SUBST
    timeout_scale = 4.0

    image_env = QemuSvm.image_env

    def build_image(self, image, config_path, files, build=None):
        QemuSvm.build_image(self, image, config_path, files, build)


class BochsVmxCheck(BochsVmxUefi):
    """The pre-flight check under Bochs (VT-x) with OVMF."""
    name = "vmx-check"
    efi_program = "MICACHK.EFI"


def boot_lines(backend, image, log_path, until, timeout, env=None):
    """Boots a built image, reads its console until a line matches the regex `until` (or
    the timeout), stops the emulator and returns every console line. For scripts that
    want the serial output of one run, e.g. scripts/bench.py on Bochs:
        boot_lines(BACKENDS["vmx"], "build/bench/x.iso", "build/bench/x.log",
                   r"^\\[bench\\] bench-raw:", 300)
    Raises Failure if the line never comes."""
    with backend.boot(image, log_path, env=env) as console:
        watch(console, Expect([until]), timeout)
        return list(console.lines)


BACKENDS = {b.name: b for b in (QemuSvm(), QemuSvmMb2(), QemuSvmMb1(), QemuSvmUsb(),
                                 QemuSvmCheck(), QemuSvmSecureBoot(), QemuSvmMachines(), BochsVmx(),
                                 BochsVmxUefi(), BochsVmxCheck())}


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
                read_after(console)
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


# --------------------------------------------------------------------------------------
# Interactive runs: a script of steps that wait for console lines, type into the console
# and check what shell commands answer. Used by the Linux scenarios (tests/e2e/linux.py).

class Step:
    """One step of a script. begin() runs when the step becomes current (it may type);
    feed() sees each console line after that and returns True once the step is complete;
    end() checks what was gathered and raises Failure if it is wrong. timeout: seconds
    for this step alone (None: only the scenario's overall timeout applies)."""
    timeout = None
    what = "?"

    def begin(self, console, ctx):
        pass

    def feed(self, line, ctx):
        return True

    def end(self, ctx):
        pass


class Wait(Step):
    """Lines matching every one of the patterns (any order), after the previous step."""

    def __init__(self, *patterns, timeout=None, what=None):
        self.patterns = list(patterns)
        self.timeout = timeout
        self.what = what or " and ".join(f"/{p}/" for p in self.patterns)

    def begin(self, console, ctx):
        self._pending = [re.compile(p) for p in self.patterns]

    def feed(self, line, ctx):
        for r in self._pending:
            m = r.search(line)
            if m:
                ctx["match"] = m
                self._pending.remove(r)
                break
        return not self._pending


class Type(Step):
    """Types text into the console (add "\\n" to end a line); complete at once."""

    def __init__(self, text, what=None):
        self.text = text
        self.what = what or f"typing {text!r}"

    def begin(self, console, ctx):
        console.send(self.text)


class PowerCut(Type):
    """Cuts the machine's power at once (Console.power_cut), runs check() while it is off
    (it raises Failure when what it finds is wrong), and boots it again."""

    def __init__(self, check=None, what="a power cut"):
        self.check = check
        self.what = what

    def begin(self, console, ctx):
        console.power_cut(self.check)


class Companion(Type):
    """Starts a second emulator beside the one under test (a machine on the same virtual
    network: the "outside" of a gateway, docs/network.md) as ctx[key], a Console closed
    with the main one. Its output goes to log_path, not into the scenario's lines; steps
    talk to it with CompanionRun."""

    def __init__(self, key, argv, env=None, log_path=None, what=None):
        self.key, self.argv, self.env, self.log_path = key, argv, env, log_path
        self.what = what or f"starting {key}"

    def begin(self, console, ctx):
        c = Console(self.argv, env=self.env, log_path=self.log_path)
        if not hasattr(console, "companions"):
            console.companions = []
        console.companions.append(c)
        ctx[self.key] = c


class CompanionRun(Type):
    """Waits for `wait` (a regex; None: nothing) on companion ctx[key]'s console, then,
    if command is given, types it there and checks its output as Run does (a regex or a
    function (output, status) -> problem). Blocks on the companion alone (the main
    console's output waits in its pipe meanwhile), up to timeout seconds."""

    _seq = 0

    def __init__(self, key, command=None, check=r"(?s).*", wait=None, timeout=120, what=None):
        self.key, self.command, self.check, self.wait = key, command, check, wait
        self.timeout = timeout
        self.what = what or f"`{command or wait}` on {key}"

    def _line(self, c, deadline, waiting_for):
        line = c.read_line(deadline)
        if line is None:
            tail = "".join(f"\n    | {l}" for l in c.lines[-15:])
            raise Failure(f"{self.key}: timed out ({self.timeout}s) waiting for {waiting_for}"
                          f"; its last lines:{tail}")
        return line

    def begin(self, console, ctx):
        c = ctx[self.key]
        deadline = time.monotonic() + self.timeout
        if self.wait:
            rx = re.compile(self.wait)
            while not rx.search(self._line(c, deadline, f"/{self.wait}/")):
                pass
        if not self.command:
            return
        CompanionRun._seq += 1
        n = CompanionRun._seq
        c.send(f'echo @CB{n}""@; {self.command}; echo @CE{n}""@ $?\n')
        begin, end = re.compile(f"^@CB{n}@$"), re.compile(f"^@CE{n}@ (\\d+)$")
        while not begin.search(self._line(c, deadline, f"`{self.command}` to start")):
            pass
        out = []
        while True:
            line = self._line(c, deadline, f"`{self.command}` to end")
            m = end.search(line)
            if m:
                break
            out.append(line)
        status = int(m.group(1))
        problem = check_answer(self.check, "\n".join(out), status)
        if problem:
            shown = "\n".join(f"      > {l}" for l in out[-20:]) or "      > (no output)"
            raise Failure(f"`{self.command}` on {self.key}: {problem}; it answered (status "
                          f"{status}):\n{shown}")


class Forbid(Step):
    """From here on, lines matching these patterns fail the run (until Allow)."""

    def __init__(self, *patterns):
        self.patterns = list(patterns)
        self.what = "forbid " + ", ".join(self.patterns)

    def begin(self, console, ctx):
        for p in self.patterns:
            ctx["forbidden"][p] = re.compile(p)


class Allow(Step):
    """Lifts an earlier Forbid (the run may now show these lines)."""

    def __init__(self, *patterns):
        self.patterns = list(patterns)
        self.what = "allow " + ", ".join(self.patterns)

    def begin(self, console, ctx):
        for p in self.patterns:
            ctx["forbidden"].pop(p, None)


class Watch(Step):
    """From here on, fn(line, ctx) sees every console line before the step that takes it
    (to remember something the later steps check); complete at once."""

    def __init__(self, fn, what="watching the console"):
        self.fn = fn
        self.what = what

    def begin(self, console, ctx):
        ctx.setdefault("watch", []).append(self.fn)


def check_answer(check, output, status):
    """What is wrong with a command's answer, or None: check is a regex the whole output
    must match (status 0 required), or a function (output, status) -> problem."""
    if callable(check):
        return check(output, status)
    if status != 0:
        return f"exit status {status}"
    if not re.fullmatch(check, output):
        return f"expected /{check}/"
    return None


class Run(Step):
    """Types one shell command into partition `part`'s shell and checks its answer.

    The typed line is  echo @MB<n>""@; CMD; echo @ME<n>""@ $?  : the command's output is
    the partition's lines between the two markers (the quotes split the markers in the
    tty's echo of the typed line, so the echo never matches), "[part] " removed; then
    its exit status. check is a regex the whole output must match (status 0 required),
    or a function (output, status) -> None if good, else a message saying what is wrong.
    The command must be one line and must not read stdin."""

    _seq = 0
    _seq_lock = threading.Lock()

    def __init__(self, command, check, part="linux", timeout=60, what=None):
        if "\n" in command:
            raise ValueError("Run takes a one-line command")
        self.command = command.strip().rstrip(";")
        self.check = check
        self.part = part
        self.timeout = timeout
        self.what = what or f"the answer to `{self.command}` in '{part}'"

    def begin(self, console, ctx):
        with Run._seq_lock:
            Run._seq += 1
            n = Run._seq
        prefix = r"^\[" + re.escape(self.part) + r"\] "
        self._prefix = re.compile(prefix)
        self._begin = re.compile(prefix + f"@MB{n}@$")
        self._end = re.compile(prefix + f"@ME{n}@ (\\d+)$")
        self._out, self._inside, self._status = [], False, None
        console.send(f'echo @MB{n}""@; {self.command}; echo @ME{n}""@ $?\n')

    def feed(self, line, ctx):
        if not self._inside:
            self._inside = bool(self._begin.search(line))
            return False
        m = self._end.search(line)
        if m:
            self._status = int(m.group(1))
            return True
        if self._prefix.search(line):
            self._out.append(self._prefix.sub("", line, count=1))
        return False

    def end(self, ctx):
        output = "\n".join(self._out)
        ctx.setdefault("answers", []).append((self.command, output, self._status))
        problem = check_answer(self.check, output, self._status)
        if problem:
            shown = "\n".join(f"      > {l}" for l in self._out[-30:]) or "      > (no output)"
            raise Failure(f"`{self.command}` in '{self.part}': {problem}; "
                          f"it answered (status {self._status}):\n{shown}")


class Script:
    """An interactive scenario's steps (Step objects; a plain regex is a Wait) and the
    patterns that must never appear (ALWAYS_FORBIDDEN is added)."""

    def __init__(self, steps, forbidden=()):
        self.steps = [Wait(s) if isinstance(s, str) else s for s in steps]
        self.forbidden = ALWAYS_FORBIDDEN + list(forbidden)

    def substitute(self, **names):
        """Copy with <key> in every pattern replaced (as Expect.substitute)."""
        def sub(p):
            for k, v in names.items():
                p = p.replace(f"<{k}>", v)
            return p
        import copy
        steps = []
        for st in self.steps:
            st = copy.copy(st)
            if isinstance(st, (Wait, Forbid, Allow)):
                st.patterns = [sub(p) for p in st.patterns]
                if isinstance(st, Wait):
                    st.what = sub(st.what)
            steps.append(st)
        s = Script([])
        s.steps = steps
        s.forbidden = [sub(p) for p in self.forbidden]
        return s


def read_after(console, seconds=3.0):
    """Reads what the console says for a few more seconds, into its log: a guest's panic
    or Mica's report goes on for lines (registers, a call trace) after the line that
    failed the scenario, and those lines are what a person needs."""
    end = time.monotonic() + seconds
    while console.read_line(end) is not None:
        pass


def play(console, script, timeout, on_line=None):
    """Runs a Script against a console. Raises Failure naming the step that was not met
    (with its number) or the forbidden line that appeared."""
    ctx = {"forbidden": {p: re.compile(p) for p in script.forbidden}}
    deadline = console.started + timeout
    total = len(script.steps)
    for i, step in enumerate(script.steps, 1):
        begun = time.monotonic()
        try:
            step.begin(console, ctx)
        except Failure as e:
            raise Failure(f"{e} (step {i} of {total}: {step.what})") from None
        if isinstance(step, (Type, Forbid, Allow, Watch)):
            continue
        step_deadline = deadline
        if step.timeout:
            step_deadline = min(deadline, begun + step.timeout)
        while True:
            line = console.read_line(step_deadline)
            if line is None:
                limit = (f"{step.timeout:.0f}s for this step" if step_deadline < deadline
                         else f"{timeout:.0f}s in all")
                raise Failure(f"timed out ({limit}) waiting for {step.what} "
                              f"(step {i} of {total})")
            if on_line:
                on_line(line)
            for fn in ctx.get("watch", ()):
                fn(line, ctx)
            for f in ctx["forbidden"].values():
                if f.search(line):
                    read_after(console)
                    raise Failure(f"forbidden /{f.pattern}/ appeared: {line!r} "
                                  f"(during step {i} of {total}: {step.what})")
            if step.feed(line, ctx):
                break
        step.end(ctx)
    return ctx
