"""The management console (issue #14, docs/management.md), driven through the serial
console as a person would: Ctrl-] then m, commands typed at `mica>`, Mica's log lines
and the guests' output checked.

The console is one stream: Mica's log lines and the partitions' lines may follow the
prompt on the same line, so the patterns here that can come after a prompt are not
anchored at the start."""

import os
import re

from harness import Failure, BUILD, Allow, Forbid, Script, Type, Wait
from scenarios import BANNER, Scenario, lit, started
from virtio import SERVICE_PART, VMM

VMM_MGMTTEST = os.path.join(BUILD, "vmm", "vmm-mgmttest.elf")

CONFIG = SERVICE_PART + """
[partition hello]
cpus = 1
memory = 16M
image = hello.elf
start = no
console = virtio

[partition counter]
cpus = 2
memory = 16M
image = counter.elf

[partition tui]
cpus = 3
memory = 16M
image = tui.elf
"""

ESC = "\x1d"  # Ctrl-]


def log(text):
    """One of Mica's own lines, maybe after the prompt."""
    return lit("mica: " + text) + "$"


def log_re(pattern):
    """One of Mica's own lines (a regex), maybe after the prompt."""
    return r"mica: " + pattern + "$"


def said(part, text):
    """A partition's line, maybe after the prompt."""
    return lit(f"[{part}] ") + text


COUNT = said("counter", r"count \d+$")


class WaitRaw(Wait):
    """A line whose bytes as they came (escape sequences and CR in) match a bytes regex."""

    def __init__(self, pattern, what):
        super().__init__(what=what)
        self.raw = re.compile(pattern)

    def begin(self, console, ctx):
        self.console = console

    def feed(self, line, ctx):
        return bool(self.raw.search(self.console.raw_lines[-1]))


class PoolLine(Wait):
    """The list's last line, the free pool: CPUs (their list, or "none") and memory,
    kept in ctx["free_mib"]; with grew=N, the memory must be N MiB more than the last
    PoolLine saw (a destroy gave back exactly its RAM)."""

    def __init__(self, cpus, grew=None):
        super().__init__(r"^free: CPUs " + re.escape(cpus) + r", memory (\d+)M "
                         r"\(no partition's: never given, or destroyed\)$",
                         what=f"the free pool: CPUs {cpus}" +
                         (f", {grew} MiB more memory than before" if grew else ""))
        self.grew = grew

    def feed(self, line, ctx):
        if not super().feed(line, ctx):
            return False
        m = ctx["match"]
        mib = int(m.group(1))
        if self.grew is not None:
            before = ctx.get("free_mib")
            # its RAM exactly, and its tables and control blocks (tens of KiB), which may
            # carry the MiB figure over by one
            if before is None or mib not in (before + self.grew, before + self.grew + 1):
                raise Failure(f"free memory {mib} MiB after the destroy, expected "
                              f"{before} + {self.grew} MiB")
        ctx["free_mib"] = mib
        return True


LETTERS = "".join(chr(ord("a") + i % 26) for i in range(200))
TUI_UNATTACHED = said("tui", r"\.\[H\.\[2Jtui: frame \d+ abc")  # split, ESC as '.'
HELD = [COUNT, said("tui", ""), said("svc", "")]


def cmd(line, *answers, timeout=30):
    """Types a command line; then waits for every answer (regexes, any order)."""
    return [Type(line + "\r"), Wait(*answers, timeout=timeout)]


def script():
    return Script(
        [
            BANNER,
            Wait(started("svc", "0", "16 MiB", "vmm.elf"),
                 started("counter", "2", "16 MiB", "counter.elf"),
                 r"^mica: partition 'hello' ready on CPU 1: 16 MiB, image hello\.elf; not "
                 r"started \(start = no: Ctrl-\] m, then start hello\)$"),
            Wait(COUNT),
            Type(ESC + "m"),
            Wait(r"Mica management console: type help; exit \(or Ctrl-\] then 1-9\) goes "
                 r"back to a partition$"),
            *cmd("help", r"^  list +every partition", r"^  pause NAME +its vCPUs held",
                 r"^  exit +keys go back"),
            *cmd("list",
                 r"^ # NAME +STATE +CPUS +MEMORY +UPTIME +RESTARTS +EXITS/S +DEVICES$",
                 r"^ 1 svc +running +0 +16M +\S+ +0 +\d+ +service$",
                 r"^ 2 hello +stopped +1 +16M +- +0 +- +console$",
                 r"^ 3 counter +running +2 +16M +\S+s +0 +\d+ +-$",
                 r"^ 4 tui +running +3 +16M "),
            # start = no: started by command; once it has powered off, started again
            *cmd("start hello", log("partition 'hello' starting from the management console"),
                 said("hello", lit("PASS: hello")),
                 log("partition 'hello' stopped: powered off (code 0)")),
            *cmd("start 2", log("partition 'hello' starting from the management console"),
                 said("hello", lit("PASS: hello")),
                 log("partition 'hello' stopped: powered off (code 0)")),
            # destroy: only a stopped partition, never the service; its RAM goes back to
            # the free pool, exactly, and it cannot start again
            Type("list\r"), PoolLine("none"),
            *cmd("destroy counter", r"^cannot destroy 'counter': it is running \(stop it "
                                    r"first\)$"),
            *cmd("destroy svc", r"^cannot destroy 'svc': it runs this console \(the service "
                                r"partition\)$"),
            *cmd("destroy hello", log_re(r"partition 'hello' destroyed: 16 MiB of RAM back to "
                                         r"the free pool \(\d+ MiB free now\); its CPUs idle")),
            Type("list\r"), Wait(r"^ 2 hello +destroyed +1 +- +- +0 +- +console$"),
            PoolLine("1", 16),
            *cmd("start hello", r"^cannot start 'hello': it was destroyed \(it is gone until "
                                r"Mica restarts\)$"),
            *cmd("destroy 2", r"^cannot destroy 'hello': it is destroyed already$"),
            # pause holds the counter where it is; resume lets it go on
            *cmd("pause counter", log("partition 'counter' paused from the management "
                                      "console: its vCPUs wait where they were (resume "
                                      "counter goes on)")),
            Forbid(COUNT),
            *cmd("list", r"^ 3 counter +paused +2 +16M "),
            *cmd("pause counter", r"^cannot pause 'counter': it is paused already$"),
            *cmd("start counter", r"^cannot start 'counter': it is paused \(resume it\)$"),
            Allow(COUNT),
            *cmd("resume counter", log("partition 'counter' resumed from the management "
                                       "console")),
            Wait(COUNT),
            Wait(COUNT),
            # stop, and what a stopped partition refuses
            *cmd("stop counter", log("partition 'counter' stopped: stopped from the "
                                     "management console")),
            Forbid(COUNT),
            *cmd("stop counter", r"^cannot stop 'counter': it is stopped already$"),
            *cmd("resume counter",
                 r"^cannot resume 'counter': it is stopped, not paused \(start it\)$"),
            *cmd("stats counter", r"^'counter' is stopped: no exits since it stopped"),
            Allow(COUNT),
            *cmd("start counter", log("partition 'counter' starting from the management "
                                      "console"),
                 said("counter", lit("counter: start (restarts 0)"))),
            Wait(COUNT),
            *cmd("restart counter",
                 log("partition 'counter' restarting (restart 1): restarted from the "
                     "management console"),
                 said("counter", lit("counter: start (restarts 1)"))),
            Wait(COUNT),
            *cmd("stats counter", r"^'counter': running, up \S+, 1 restarts, 1 vCPUs, image "
                                  r"counter\.elf$",
                 r"^EXIT +COUNT +PER SECOND$", r"^io +\d+ +\d+$",
                 r"^total +\d+ +\d+  \(per second"),
            # what it wrote since boot, from its ring, without the [counter] prefix
            *cmd("log counter", r"^--- 'counter': the last \d+ bytes of its console output "
                                r"\(of \d+ since boot\) ---$",
                 r"^counter: start \(restarts 1\)$", r"^count \d+$",
                 r"^--- end of 'counter' ---$"),
            # refusals: one clear line each, nothing changes
            *cmd("stop svc", r"^cannot stop 'svc': it runs this console \(the service "
                             r"partition\)$"),
            *cmd("stop nosuch", r"^no partition 'nosuch' \(there are: svc, hello, counter, tui\)$"),
            *cmd("stop 9", r"^no partition '9' \(there are: svc, hello, counter, tui\)$"),
            *cmd("frobnicate now", r"^unknown command 'frobnicate' \(type help\)$"),
            *cmd("stop", r"^usage: stop NAME$"),
            *cmd("list counter", r"^usage: list$"),
            # line editing: backspace and Ctrl-U, a cursor key's sequence ignored
            *cmd("lisx\x7ft\x15stat\x1b[Ds counter", r"^'counter': running, up "),
            # the terminal to tui alone: its frames as they are, the others held
            Wait(TUI_UNATTACHED),
            Type("console tui\r"),
            Wait(r"^console attached to 'tui': its output as it is, keys go to it, the "
                 r"others' output held; Ctrl-\] comes back here$"),
            Forbid(*HELD),
            WaitRaw(rb"^\x1b\[H\x1b\[2Jtui: frame \d+ " + LETTERS.encode() +
                    rb" \x1b\[7mINV\x1b\[0m\r$",
                    "a whole frame of tui's, byte for byte (escapes, 200 letters, CR)"),
            WaitRaw(rb"^\x1b\[H\x1b\[2Jtui: frame \d+ ", "another"),
            Type(ESC),
            Wait(r"mica: console detached from 'tui'; held meanwhile: ('svc' \d+ bytes, )?"
                 r"'counter' \d+ bytes \(log NAME shows them\)$"),
            Allow(*HELD),
            Wait(r"Mica management console: type help"),
            Wait(COUNT, TUI_UNATTACHED),
            *cmd("console svc", r"^cannot attach to 'svc': it runs this console"),
            # back to the partitions
            *cmd("exit", log("console input goes to partition 2 'hello' again")),
            Wait(COUNT),
        ],
        forbidden=[r"mica: partition 'svc' (stopped|restarting)", r"bad request",
                   r"PANIC", r"exception"],
    )


def scripted():
    import snapshots  # noqa: E402 (it imports this module)
    """What the management test build of the service (vmm/mgmttest.c) does by itself."""
    return Script(
        [
            snapshots.WATCH,
            BANNER,
            Wait(started("counter", "2", "16 MiB", "counter.elf"),
                 r"^mica: partition 'hello' ready on CPU 1: 16 MiB, image hello\.elf; not "
                 r"started"),
            Wait(r"Mica management console: type help"),
            Wait(r"^ 2 hello +stopped +1 +16M +- +0 +- +console$"),
            Wait(log("partition 'counter' paused from the management console: its vCPUs "
                     "wait where they were (resume counter goes on)")),
            Forbid(COUNT),
            Wait(r"^ 3 counter +paused +2 +16M "),
            Wait(log("partition 'counter' resumed from the management console")),
            Allow(COUNT),
            Wait(COUNT),
            Wait(log("partition 'counter' stopped: stopped from the management console")),
            Forbid(COUNT),
            Wait(log("partition 'counter' starting from the management console")),
            Allow(COUNT),
            Wait(said("counter", lit("counter: start (restarts 0)"))),
            Wait(COUNT),
            Wait(log("partition 'counter' restarting (restart 1): restarted from the "
                     "management console")),
            Wait(said("counter", lit("counter: start (restarts 1)"))),
            Wait(log("partition 'hello' starting from the management console")),
            # the script waits for hello to stop before it asks for the stats
            Wait(said("hello", lit("PASS: hello")),
                 log("partition 'hello' stopped: powered off (code 0)")),
            Wait(r"^'counter': running, up \S+, 1 restarts, 1 vCPUs, image counter\.elf$"),
            Wait(r"^--- 'counter': the last \d+ bytes of its console output", r"^count \d+$",
                 r"^--- end of 'counter' ---$"),
            Wait(log_re(r"partition 'hello' destroyed: 16 MiB of RAM back to the free pool "
                        r"\(\d+ MiB free now\); its CPUs idle")),
            # snapshots: snapmem goes back to the tick it was at, RAM and XMM5 with it
            snapshots.Ticks(log_re(r"partition 'snapmem': snapshot 's1' taken \(\d+ MiB of its "
                                   r"RAM in use, paused \d+ us: [^)]*\)"), key="s1"),
            Wait(r"^snapmem +s1 +\S+ +\d+us +\d+M +\d+[MK]$"),
            snapshots.Ticks(log_re(r"partition 'snapmem': restored to snapshot 's1' \(in \d+ "
                                   r"us\)"), key="before"),
            snapshots.TickBack("s1", "before", snapshots.gen_line(0, 1)),
            snapshots.Ticks(log("partition 'snapmem' paused from the management console: its "
                                "vCPUs wait where they were (resume snapmem goes on)"),
                            key="paused"),
            Wait(log_re(r"partition 'snapmem': restored to snapshot 's1' \(in \d+ "
                                  r"us\); it stays paused \(resume goes on\)")),
            Wait(log("partition 'snapmem' resumed from the management console")),
            snapshots.TickBack("s1", "paused", snapshots.gen_line(0, 2)),
            Wait(log("partition 'snapmem': snapshot 's1' dropped")),
            Wait(r"^no snapshots"),
            # a clone on hello's CPU, free again since its destroy
            Wait(log_re(r"partition 'twin' cloned from 'snapmem' on CPU 1: 16 MiB, \d+ MiB of "
                        r"it shared copy on write; 'snapmem' paused \d+ us")),
            Wait(said("twin", lit("snapmem: VM generation 2 -> 3: cloned as 'twin' (partition "
                                  "4; reseed, new identity)"))),
            Wait(said("twin", r"tick \d+$"), said("snapmem", r"tick \d+$")),
            Wait(said("twin", r"tick \d+$"), said("snapmem", r"tick \d+$")),
            Wait(r"^ 5 twin +running +1 +16M +\S+ +0 +\d+ +-  \(clone of snapmem; \d+[MK] of "
                 r"its RAM shared\)$"),
            Wait(log("partition 'twin' stopped: stopped from the management console")),
            Wait(log_re(r"partition 'twin' destroyed: 16 MiB of RAM back to the free pool "
                        r"\(\d+ MiB free now\); its CPUs idle")),
            Wait(said("svc", lit("mgmttest: script done"))),
            Wait(COUNT),
            Wait(said("snapmem", r"tick \d+$")),
        ],
        forbidden=[r"mica: partition 'svc' (stopped|restarting)", r"bad request",
                   r"^cannot |^no partition|^unknown command|^usage:", lit("snapmem: FAIL"), lit("mgmttest: FAIL")],
    )


# An edu device (QEMU's DMA test device) behind VT-d, given to a partition that never
# started: destroying it must reset the device and detach it from the IOMMU before the
# partition's RAM goes back to the pool.
PT_EXTRA = "-device intel-iommu,intremap=on -device edu,addr=0x10,dma_mask=0xffffffff"
PT_CONFIG = SERVICE_PART + """
[partition edu]
cpus = 1
memory = 16M
image = edu.elf
pci = 00:10.0
start = no

[partition counter]
cpus = 2
memory = 16M
image = counter.elf
"""


def passthrough_script():
    return Script(
        [
            BANNER,
            Wait(r"^mica: partition 'edu' ready on CPU 1: 16 MiB, image edu\.elf; not "
                 r"started"),
            Wait(COUNT),
            Type(ESC + "m"),
            Wait(r"Mica management console: type help"),
            *cmd("destroy edu",
                 log_re(r"partition 'edu': device 00:10\.0 given up: .+; then its memory "
                        r"decoding and bus mastering off, its DMA blocked in the IOMMU"),
                 log_re(r"partition 'edu' destroyed: 16 MiB of RAM back to the free pool "
                        r"\(\d+ MiB free now\); its CPUs idle")),
            *cmd("list", r"^ 2 edu +destroyed +1 +- +- +0 +- +pci$"),
            *cmd("start edu", r"^cannot start 'edu': it was destroyed"),
            *cmd("exit", log("console input goes to partition 2 'edu' again")),
            Wait(COUNT),
            Wait(COUNT),
        ],
        forbidden=[r"mica: partition 'svc' (stopped|restarting)", r"iommu fault", r"PANIC",
                   r"exception"],
    )


MANAGE_SCENARIOS = [
    Scenario(
        "manage-console",
        "the management console through the serial port: Ctrl-] m, help, list; a start = "
        "no partition started (twice), then destroyed (its RAM back in the free pool); the "
        "counter paused, resumed, stopped, started and restarted, its stats; every refusal answers with one line; line editing; exit",
        CONFIG, [VMM, "hello.elf", "counter.elf", "tui.elf"], script(), timeout=180,
        vendors=("svm",)),  # Bochs' console takes no input
    Scenario(
        "manage-script",
        "the same calls without a keyboard, for Bochs: the service's management test build "
        "types a script into its own console (list, pause, resume, stop, start, restart, "
        "start a start = no partition, stats, destroy it); the counter is held while paused and "
        "stopped, and goes on after",
        CONFIG.replace("image = vmm.elf", "image = vmm-mgmttest.elf").split("[partition tui]")[0]
        + "[partition snapmem]\ncpus = 3\nmemory = 16M\nimage = snapmem.elf\n",
        [VMM_MGMTTEST, "hello.elf", "counter.elf", "snapmem.elf"], scripted(), timeout=300),
    Scenario(
        "manage-destroy-passthrough",
        "destroy of a never-started partition that owns a PCI device (edu behind VT-d): "
        "the device is reset and detached from the IOMMU before its RAM goes to the pool; "
        "the counter beside it runs on",
        PT_CONFIG, [VMM, "edu.elf", "counter.elf"], passthrough_script(), timeout=90,
        vendors=("svm",), env={"MICA_QEMU_EXTRA": PT_EXTRA}),  # typed into; Bochs: no IOMMU
]
