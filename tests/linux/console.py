#!/usr/bin/env python3
"""Drive a Linux guest's serial console from a test (stdlib only).

The console is either a child process whose stdin/stdout carry the serial port
(QEMU with -serial stdio, scripts/linux-bare.sh, a Mica run), or a pair of file
descriptors, or a file the emulator appends to (reading only, e.g. Bochs' com1 file).

    from console import SerialConsole
    with SerialConsole.spawn(["scripts/linux-bare.sh"], log="build/linux/bare.log") as c:
        c.expect(r"mica-linux: shell ready \\(cpus (\\d+), mem (\\d+) kB\\)", timeout=60)
        assert c.run("nproc").output == "2"
        c.poweroff()

Text is matched after removing '\\r' and terminal escape sequences; patterns are
compiled with re.MULTILINE, so ^ and $ match at line boundaries.
"""
import os
import re
import select
import signal
import subprocess
import time

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


class ConsoleTimeout(Exception):
    """expect() did not see its pattern in time (or the console closed first)."""

    def __init__(self, what, timeout, tail, closed=False):
        self.what, self.timeout, self.tail, self.closed = what, timeout, tail, closed
        why = "console closed" if closed else "timed out after %.1fs" % timeout
        super().__init__("%s waiting for %s; last output:\n%s" % (why, what, tail))


class Result:
    """What run() returns: the command's output (without the final newline) and its status."""

    def __init__(self, command, output, status):
        self.command, self.output, self.status = command, output, status

    @property
    def lines(self):
        return self.output.splitlines()

    def __repr__(self):
        return "Result(%r, status=%d, output=%r)" % (self.command, self.status, self.output)


class SerialConsole:
    def __init__(self, read_fd, write_fd=None, proc=None, log=None, echo=False,
                 follow_file=False, line_prefix=None):
        self.read_fd, self.write_fd, self.proc = read_fd, write_fd, proc
        self.follow_file = follow_file       # a regular file: poll it instead of select()
        self.text = ""                       # everything seen so far, cleaned
        self.pos = 0                         # expect() searches from here
        self.raw = b""                       # undecoded tail (an escape or UTF-8 sequence cut in two)
        self.closed = False
        self.echo = echo
        self.log = open(log, "wb") if isinstance(log, str) else log
        self.started = time.monotonic()
        self.seq = 0
        self.stamps = []                     # (length of text after a read, when it arrived)
        # A regex for what a multiplexer puts before each guest line (Mica: r"\[linux\] "):
        # run() accepts it before its markers and removes it from the output lines.
        self.line_prefix = line_prefix

    # ---- construction -----------------------------------------------------------
    @classmethod
    def spawn(cls, argv, log=None, echo=False, cwd=None, env=None, line_prefix=None):
        """Start argv with the console on its stdin/stdout (stderr merged), in its own
        process group so close() can end it and all its children."""
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                start_new_session=True, bufsize=0)
        os.set_blocking(proc.stdout.fileno(), False)
        return cls(proc.stdout.fileno(), proc.stdin.fileno(), proc=proc, log=log, echo=echo,
                   line_prefix=line_prefix)

    @classmethod
    def from_fds(cls, read_fd, write_fd=None, **kw):
        os.set_blocking(read_fd, False)
        return cls(read_fd, write_fd, **kw)

    @classmethod
    def from_file(cls, path, write_fd=None, **kw):
        """Follow a file an emulator writes the console to (created if missing)."""
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        return cls(fd, write_fd, follow_file=True, **kw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- reading ----------------------------------------------------------------
    def elapsed(self):
        """Seconds since this console was created (for boot-time measurements)."""
        return time.monotonic() - self.started

    def _feed(self, data):
        if self.log:
            self.log.write(data)
            self.log.flush()
        if self.echo:
            os.write(1, data)
        data = self.raw + data
        # Keep an incomplete escape sequence at the end for the next read.
        cut = data.rfind(b"\x1b")
        if cut >= 0 and len(data) - cut < 16 and not ANSI.match(data[cut:].decode("latin-1")):
            self.raw, data = data[cut:], data[:cut]
        else:
            self.raw = b""
        s = data.decode("utf-8", errors="replace")
        self.text += ANSI.sub("", s).replace("\r", "")
        self.stamps.append((len(self.text), time.monotonic()))

    def _read(self, timeout):
        """Read what is available, waiting at most timeout seconds. False when closed."""
        if self.closed:
            return False
        if self.follow_file:
            data = os.read(self.read_fd, 65536)
            if data:
                self._feed(data)
            else:
                if self.proc is not None and self.proc.poll() is not None:
                    self.closed = True
                    return False
                time.sleep(min(timeout, 0.05))
            return True
        r, _, _ = select.select([self.read_fd], [], [], max(timeout, 0))
        if not r:
            return True
        try:
            data = os.read(self.read_fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            self.closed = True
            return False
        self._feed(data)
        return True

    def arrival(self, pos):
        """Seconds after creation at which the character at text[pos] was read (None if not yet)."""
        lo, hi = 0, len(self.stamps)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.stamps[mid][0] <= pos:
                lo = mid + 1
            else:
                hi = mid
        return self.stamps[lo][1] - self.started if lo < len(self.stamps) else None

    def first(self, pattern):
        """Seconds at which a match of pattern first arrived (anywhere in the output), or None."""
        m = re.search(pattern, self.text, re.MULTILINE)
        return self.arrival(m.start()) if m else None

    def tail(self, n=30):
        return "\n".join("    | " + l for l in self.text.splitlines()[-n:])

    def expect(self, pattern, timeout=30.0, what=None):
        """Wait for pattern (a regex string or compiled regex) in output not yet consumed;
        consume up to the end of the match and return the match object."""
        rx = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text, self.pos)
            # A match that ends at the very end may be a line still being written ("$").
            if m and (m.end() < len(self.text) or not rx.pattern.endswith("$")):
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                m = rx.search(self.text, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise ConsoleTimeout(what or "/%s/" % rx.pattern, timeout, self.tail(),
                                     closed=self.closed)

    def drain(self, seconds=0.0):
        """Read for `seconds` and forget everything seen so far."""
        end = time.monotonic() + seconds
        while self._read(max(0.0, end - time.monotonic())) and time.monotonic() < end:
            pass
        self.pos = len(self.text)

    # ---- writing ----------------------------------------------------------------
    def send(self, data):
        if self.write_fd is None:
            raise RuntimeError("this console is read-only")
        if isinstance(data, str):
            data = data.encode()
        while data:
            n = os.write(self.write_fd, data)
            data = data[n:]

    def sendline(self, line=""):
        self.send(line + "\n")

    def run(self, command, timeout=30.0, check=False):
        """Run a shell command on the guest and return a Result with its output (between
        two unique markers, so the echo of the typed line is never mistaken for it) and
        its exit status. The command is one line and must not read stdin."""
        self.seq += 1
        n = self.seq
        command = command.strip().rstrip(";").rstrip()
        # One typed line (type-ahead would be echoed by the tty into the output); the
        # quotes split the markers in that echo, so only the commands' output matches.
        if "\n" in command:
            raise ValueError("run() takes a one-line command")
        self.sendline('echo "__MICA_B""EGIN_%d__"; %s; echo "__MICA_E""ND_%d__ $?"' % (n, command, n))
        pre = "(?:%s)?" % self.line_prefix if self.line_prefix else ""
        self.expect(r"^%s__MICA_BEGIN_%d__\n" % (pre, n), timeout, "the start of `%s`" % command)
        start = self.pos
        m = self.expect(r"^%s__MICA_END_%d__ (\d+)\n" % (pre, n), timeout, "the end of `%s`" % command)
        out = self.text[start:m.start()]
        if pre:
            out = re.sub("^" + pre, "", out, flags=re.MULTILINE)
        res = Result(command, out.rstrip("\n"), int(m.group(1)))
        if check and res.status != 0:
            raise RuntimeError("`%s` failed with status %d:\n%s" % (command, res.status, res.output))
        return res

    # ---- ending -----------------------------------------------------------------
    def wait_exit(self, timeout=30.0):
        """Read until the process exits (or the console closes); return its exit status,
        or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._read(min(0.2, deadline - time.monotonic())):
                break
            if self.proc is not None and self.proc.poll() is not None:
                break
        if self.proc is None:
            return 0 if self.closed else None
        try:
            return self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None

    def poweroff(self, timeout=30.0, command="poweroff -f"):
        """Type `poweroff -f` and wait for the emulator to end; return its status."""
        self.sendline(command)
        return self.wait_exit(timeout)

    def close(self):
        """End the child process group (if any) and close the log."""
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
        if self.proc is not None:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        elif self.follow_file:
            os.close(self.read_fd)
        if self.log:
            self.log.close()
            self.log = None


# The marker /init prints when its shell is up (not anchored at the start: a multiplexer
# such as Mica may put "[name] " before it).
READY = r"mica-linux: shell ready \(cpus (\d+), mem (\d+) kB\)$"
