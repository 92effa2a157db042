#!/usr/bin/env python3
"""The screen console (issue #16): Mica in QEMU with a VGA card and no serial port at all
(`-serial none`). OVMF hands the loader a framebuffer; Mica finds no UART, draws its log and
the partitions' output on the screen, and says so. The test takes QEMU screendumps and reads
them back with Mica's own font (kernel/host/font.c): every cell of the screen must be a
glyph of the font or blank, and the banner, the console line and the partitions' lines
must be there. Run by `make test-svm`; `python3 tests/e2e/screen.py -v` prints the screen."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from harness import BUILD, ROOT, Failure, kill_all
from scenarios import HELLO_BESIDE_COUNTER

HEADER = os.path.join(ROOT, "kernel", "host", "fbcon.h")
FONT = os.path.join(ROOT, "kernel", "host", "font.c")
TIMEOUT = 120


def load_font():
    """The cell geometry (fbcon.h) and a map from each glyph's 5x8 dots to its character."""
    consts = dict(re.findall(r"#define (FBCON_\w+)\s+(0x[0-9a-fA-F]+|\d+)",
                             open(HEADER).read()))
    geo = {k[len("FBCON_"):].lower(): int(v, 0) for k, v in consts.items()}
    rows = re.findall(r"\{ ((?:0x[0-9a-f]{2}, ){7}0x[0-9a-f]{2}) \}", open(FONT).read())
    first = geo["first"]
    if len(rows) != geo["last"] - first + 1:
        raise Failure(f"kernel/host/font.c has {len(rows)} glyphs, fbcon.h says "
                      f"{geo['last'] - first + 1}")
    glyphs = {}
    for i, r in enumerate(rows):
        key = tuple(int(b, 16) for b in r.split(", "))
        glyphs[key] = chr(first + i)
    return geo, glyphs


def read_ppm(path):
    data = open(path, "rb").read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    if not m:
        raise Failure(f"{path} is not a binary PPM")
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, data[m.end():]


def read_screen(path, geo, glyphs):
    """The text on a screendump, one string per row of cells (trailing blanks cut); raises
    Failure for a cell that is neither blank nor a glyph of the font."""
    w, h, px = read_ppm(path)
    cw, ch, sx, sy, sc = geo["cell_w"], geo["cell_h"], geo["glyph_x"], geo["glyph_y"], geo["scale"]
    fw, fh = geo["font_w"], geo["font_h"]

    def lit(x, y):
        o = (y * w + x) * 3
        return px[o] + px[o + 1] + px[o + 2] > 3 * 0x60

    lines = []
    for row in range(h // ch):
        text = []
        for col in range(w // cw):
            x0, y0 = col * cw, row * ch
            dots = []
            for j in range(fh):
                bits = 0
                for i in range(fw):
                    bits = bits << 1 | lit(x0 + sx + sc * i, y0 + sy + sc * j)
                dots.append(bits)
            c = glyphs.get(tuple(dots))
            if c is None:
                raise Failure(f"{os.path.relpath(path)}: the cell at row {row}, column {col} "
                              f"is no glyph of Mica's font (dots {dots})")
            text.append(c)
        lines.append("".join(text).rstrip())
    return lines


class Monitor:
    """QEMU's human monitor on a UNIX socket."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise Failure("QEMU's monitor socket never opened")
                time.sleep(0.2)
        self.sock.settimeout(10)
        self._until(b"(qemu) ")

    def _until(self, marker):
        buf = b""
        while marker not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Failure("QEMU's monitor closed")
            buf += chunk
        return buf

    def command(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self._until(b"(qemu) ")


WANT = [
    ("the console line", r"^mica: console: no serial port \(no UART answers at 0x3f8, the default\); screen (\d+)x(\d+), "
                         r"(\d+)x(\d+) characters$"),
    ("the banner", r"^mica: Mica \S+ \(uefi\): 4 CPUs, \d+ MiB free, backend svm"),
    ("hello's pass line", r"^\[hello\] PASS: hello$"),
    ("a count from counter", r"^\[counter\] count \d+"),
]


def run(verbose=False):
    geo, glyphs = load_font()
    out = os.path.join(BUILD, "e2e", "screen")
    os.makedirs(out, exist_ok=True)
    cfg = os.path.join(out, "screen.cfg")
    img = os.path.join(out, "screen.img")
    with open(cfg, "w") as f:
        f.write(HELLO_BESIDE_COUNTER.lstrip())
    res = subprocess.run([os.path.join(ROOT, "scripts", "mkesp.sh"), img, cfg,
                          os.path.join(BUILD, "guests", "hello.elf"),
                          os.path.join(BUILD, "guests", "counter.elf")],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if res.returncode:
        raise Failure("scripts/mkesp.sh failed: " + res.stdout.decode(errors="replace"))
    sock = tempfile.mktemp(prefix="mica-mon-", dir=out)
    env = dict(os.environ, MICA_SERIAL="none", MICA_DISPLAY="vga",
               MICA_QEMU_EXTRA=f"-monitor unix:{sock},server=on,wait=off")
    log = open(os.path.join(out, "screen.qemu.log"), "wb")
    proc = subprocess.Popen([os.path.join(ROOT, "scripts", "qemu.sh"), img], env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    lines, seen = [], []
    try:
        mon = Monitor(sock, deadline)
        shot = os.path.join(out, "screen.ppm")
        while time.monotonic() < deadline:
            time.sleep(1)
            if proc.poll() is not None:
                raise Failure(f"QEMU stopped (status {proc.returncode}); see "
                              f"{os.path.relpath(log.name)}")
            mon.command(f"screendump {shot}")
            try:
                lines = read_screen(shot, geo, glyphs)
            except Failure as e:
                if verbose:
                    print(f"  screen: {e}")
                continue  # OVMF's own screen (another font) until Mica clears it
            seen += [line for line in lines if line and line not in seen]
            missing = [what for what, pat in WANT
                       if not any(re.search(pat, line) for line in seen)]
            if not missing:
                break
        else:
            raise Failure("not on the screen after %d s: %s; what was there:\n    %s"
                          % (TIMEOUT, ", ".join(missing), "\n    ".join(seen[:40])))
        for line in seen:
            for word in ("PANIC", "FAIL", "exception"):
                if word in line:
                    raise Failure(f"'{word}' on the screen: {line}")
        m = next(re.search(WANT[0][1], line) for line in seen if re.search(WANT[0][1], line))
        width, height, cols, rows = (int(g) for g in m.groups())
        if (cols, rows) != (width // geo["cell_w"], height // geo["cell_h"]):
            raise Failure(f"the console line says {cols}x{rows} characters for {width}x"
                          f"{height} pixels")
        if verbose:
            print("\n".join(seen))
        print(f"PASS screen: Mica's console on a {width}x{height} screen ({cols}x{rows}), "
              "no serial port")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        log.close()
        if os.path.exists(sock):
            os.unlink(sock)


if __name__ == "__main__":
    try:
        run("-v" in sys.argv)
    except Failure as e:
        kill_all()
        sys.exit(f"FAIL screen: {e}")
