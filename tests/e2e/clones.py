"""Copy-on-write clones (issue #14, docs/management.md "Clones"), driven through the
management console.

snapmem checks every tick that its RAM (one word in each page of 6 MiB) and XMM5 hold
what its previous tick left there. A clone starts as an exact copy: it goes on ticking
from where its origin was, and once it sees its new VM generation it mixes its own
partition number into every word it writes. So a write of either that reached the
other's RAM (sharing that was not copy on write) makes the next check print
"snapmem: FAIL"."""

import os
import re

from harness import Failure, Forbid, Run, Script, Type, Wait, Watch
from linux import ready
from manage import ESC, PoolLine, log_re, said
from scenarios import BANNER, Scenario, lit, started
from soak import FREE, FreeSame, Remember
from virtio import (E2E_DIR, HELLO, LINUX_FILES, SERVICE_PART, VMM, linux, make_disk,
                    ping_check)

CONFIG = SERVICE_PART + """
[partition snapmem]
cpus = 1
memory = 16M
image = snapmem.elf
"""


def cmd(line, *answers, timeout=30):
    return [Type(line + "\r"), Wait(*answers, timeout=timeout)]


def tick(part):
    return said(part, r"tick \d+$")


TICK = re.compile(lit("[snapmem] ") + r"tick (\d+)$")


def last_tick(line, ctx):
    """The Watch that keeps the last tick snapmem printed in ctx["last"]."""
    m = TICK.search(line)
    if m:
        ctx["last"] = int(m.group(1))


class Cloned(Wait):
    """The clone's log line; remembers snapmem's last tick then (ctx["at_clone"])."""

    def feed(self, line, ctx):
        done = super().feed(line, ctx)
        if done:
            ctx["at_clone"] = ctx.get("last", 0)
        return done


class TickOn(Wait):
    """The clone's first tick follows on from its origin's tick at the moment of the clone
    (the origin may have printed one more before Mica's line, or been caught between its
    tick and its print)."""

    def __init__(self, part):
        super().__init__(said(part, r"tick (\d+)$"), timeout=30,
                         what=f"{part}'s first tick to follow on from its origin's")

    def feed(self, line, ctx):
        if not super().feed(line, ctx):
            return False
        got, before = int(ctx["match"].group(1)), ctx["at_clone"]
        if not before - 1 <= got <= before + 1:
            raise Failure(f"the clone began at tick {got}; its origin was at tick {before} "
                          f"when it was cloned")
        return True


CLONED = (r"partition '{new}' cloned from '{old}' on CPU {cpu}: 16 MiB, \d+ MiB of it shared "
          r"copy on write; '{old}' paused \d+ us")

FORBIDDEN = [lit("snapmem: FAIL"), r"mica: partition '(svc|snapmem)' (stopped|restarting)",
             r"bad request", r"PANIC", r"exception"]


def script():
    return Script([
        Watch(last_tick, "remembering snapmem's ticks"),
        BANNER,
        Wait(started("snapmem", "1", "16 MiB", "snapmem.elf"),
             said("snapmem", lit("snapmem: start (6144 KiB checked every tick, VM generation "
                                 "0)"))),
        Wait(tick("snapmem")), Wait(tick("snapmem")),
        Type(ESC + "f"), Wait(FREE), Remember("free_before"),
        Type(ESC + "m"), Wait(r"Mica management console: type help"),
        Type("list\r"), PoolLine("2,3"),
        # the clone: on the first free CPU, from snapmem's state of the moment
        Type("clone snapmem twin\r"),
        Cloned(log_re(CLONED.format(new="twin", old="snapmem", cpu="2"))),
        Wait(said("twin", lit("snapmem: VM generation 0 -> 1: cloned as 'twin' (partition 2; "
                              "reseed, new identity)"))),
        TickOn("twin"),
        # both go on, each checking its own RAM every tick
        *[Wait(tick("twin"), tick("snapmem")) for _ in range(4)],
        # a clone of the clone, on the CPU named
        *cmd("clone twin triplet cpus=3",
             log_re(CLONED.format(new="triplet", old="twin", cpu="3")),
             said("triplet", lit("snapmem: VM generation 1 -> 2: cloned as 'triplet' "
                                 "(partition 3; reseed, new identity)"))),
        *[Wait(tick("twin"), tick("snapmem"), tick("triplet")) for _ in range(4)],
        *cmd("list", r"^ 3 twin +running +2 +16M +\S+ +0 +\d+ +-  \(clone of snapmem; \d+[MK] "
                     r"of its RAM shared\)$",
             r"^ 4 triplet +running +3 +16M +\S+ +0 +\d+ +-  \(clone of twin; \d+[MK] of its "
             r"RAM shared\)$",
             r"^ 2 snapmem +running +1 +16M +\S+ +0 +\d+ +-$"),
        # refusals: one line each, nothing changes
        *cmd("clone snapmem twin2", r"^cannot clone 'snapmem' as 'twin2': not 1 free CPUs "),
        *cmd("clone snapmem twin", r"^cannot clone 'snapmem' as 'twin': a partition of that "
                                   r"name exists"),
        *cmd("clone svc x", r"^cannot clone 'svc' as 'x': it runs this console"),
        *cmd("clone snapmem a/b", r"^cannot clone 'snapmem' as 'a/b': a name is 1 to 31 "),
        *cmd("clone snapmem x cpus=3-", r"^cannot clone 'snapmem': expected cpus=LIST"),
        *cmd("clone snapmem x cpus=2,3", r"^cannot clone 'snapmem' as 'x': cpus= names 2 CPUs; "
                                         r"the clone needs as many as 'snapmem' has vCPUs "
                                         r"\(1\)$"),
        *cmd("clone snapmem x cpus=2", r"^cannot clone 'snapmem' as 'x': not 1 free CPUs "
                                       r"among those named"),
        *cmd("clone snapmem", r"^usage: clone NAME NEW \[cpus=LIST\]$"),
        # a clone is a partition like the others: stopped and destroyed, its CPU free
        # again; the clone of it and its origin go on
        *cmd("stop twin", log_re(r"partition 'twin' stopped: stopped from the management "
                                 r"console")),
        *cmd("destroy twin", log_re(r"partition 'twin' destroyed: 16 MiB of RAM back to the "
                                    r"free pool \(\d+ MiB free now\); its CPUs idle")),
        *[Wait(tick("triplet"), tick("snapmem")) for _ in range(2)],
        Type("list\r"), PoolLine("2"),
        *cmd("clone snapmem again",
             log_re(CLONED.format(new="again", old="snapmem", cpu="2")),
             said("again", lit("snapmem: VM generation 0 -> 1: cloned as 'again' (partition 4; "
                               "reseed, new identity)"))),
        *[Wait(tick("again"), tick("snapmem"), tick("triplet")) for _ in range(2)],
        *cmd("stop triplet", log_re(r"partition 'triplet' stopped: stopped from the "
                                    r"management console")),
        *cmd("destroy triplet", log_re(r"partition 'triplet' destroyed: 16 MiB of RAM back to "
                                       r"the free pool \(\d+ MiB free now\); its CPUs idle")),
        *cmd("stop again", log_re(r"partition 'again' stopped: stopped from the management "
                                  r"console")),
        *cmd("destroy again", log_re(r"partition 'again' destroyed: 16 MiB of RAM back to "
                                     r"the free pool \(\d+ MiB free now\); its CPUs idle")),
        Wait(tick("snapmem")), Wait(tick("snapmem")),
        *cmd("exit", log_re(r"console input goes to partition \d '\w+' again")),
        FreeSame(),  # every page the clones held is back in the pool
        Wait(tick("snapmem")),
    ], forbidden=FORBIDDEN)


# --- Linux: a counting process, tmpfs and disk contents, the network -----------------------

LINUX_DISK = os.path.join(E2E_DIR, "clone-disk.img")
LINUX_CONFIG = (SERVICE_PART + "\n"
                + linux("linux", 1, "mica.ip=10.0.0.1/24", ["disk = clone-disk.img",
                                                            "net = lan"]))
GREETING = r"Mica management console: type help"
LINUX_CLONED = (r"partition '{new}' cloned from '{old}' on CPU {cpu}: 256 MiB, \d+ MiB of it "
                r"shared copy on write; '{old}' paused \d+ us; its disk copied")
COUNTING = ("a=$(cat /tmp/c); sleep 1; b=$(cat /tmp/c); test $b -gt $a && echo counting; "
            "cat /tmp/t /mnt/f")


def manage(*lines, back):
    """Into the management console, the commands (each with its answer), and back."""
    steps = [Type(ESC + "m"), Wait(GREETING)]
    for line, *answers in lines:
        steps += cmd(line, *answers, timeout=120)
    return steps + cmd("exit", log_re(r"console input goes to partition \d '" + back +
                                      r"' again"))


def renumber(part, n):
    """Its own MAC and address: what a clone's guest does when it learns it was cloned."""
    return (f"ip link set eth0 down && ip link set eth0 address 02:4d:49:00:0{n}:03 && "
            f"ip addr flush dev eth0 && ip addr add 10.0.0.{n + 1}/24 dev eth0 && "
            f"ip link set eth0 up && cat /sys/class/net/eth0/address")


def linux_script(cfg):
    return Script([
        BANNER,
        Wait(started("linux", "1", "256 MiB", "vmlinuz")),
        Wait(ready("linux"), HELLO("linux"), timeout=600),
        # state to carry over: a file on the disk, one in tmpfs, a process counting
        Run("mke2fs -q /dev/vda >/dev/null 2>&1 && mkdir -p /mnt && mount /dev/vda /mnt && "
            "echo disk-before > /mnt/f && sync && echo tmpfs-before > /tmp/t && "
            "cat /tmp/t /mnt/f", "tmpfs-before\ndisk-before", timeout=120),
        Run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; usleep 100000; done) "
            ">/dev/null 2>&1 & true", r".*"),
        Type(ESC + "f"), Wait(FREE), Remember("free_before"),
        *manage(("clone linux lin2", log_re(LINUX_CLONED.format(new="lin2", old="linux",
                                                                cpu="2"))), back="linux"),
        # the clone: the same process counting on, the same files
        Type(ESC + "3"), Wait(log_re(r"console input goes to partition 3 'lin2' \(.*"), timeout=30),
        Run(COUNTING, "counting\ntmpfs-before\ndisk-before", part="lin2", timeout=120),
        # then they diverge: writes in one are not seen by the other
        Run("echo tmpfs-lin2 > /tmp/t && echo disk-lin2 > /mnt/f && sync && cat /tmp/t /mnt/f",
            "tmpfs-lin2\ndisk-lin2", part="lin2", timeout=60),
        Run(renumber("lin2", 2), "02:4d:49:00:02:03", part="lin2"),
        Run("ping -c 2 -W 5 10.0.0.1", ping_check, part="lin2", timeout=60),
        Type(ESC + "2"), Wait(log_re(r"console input goes to partition 2 'linux' \(.*"), timeout=30),
        Run(COUNTING, "counting\ntmpfs-before\ndisk-before", timeout=60),
        Run("ping -c 2 -W 5 10.0.0.3", ping_check, timeout=60),
        # a clone of the clone: it has the clone's files and address
        *manage(("clone lin2 lin3 cpus=3", log_re(LINUX_CLONED.format(new="lin3", old="lin2",
                                                                      cpu="3"))),
                back="linux"),
        Type(ESC + "4"), Wait(log_re(r"console input goes to partition 4 'lin3' \(.*"), timeout=30),
        Run(COUNTING, "counting\ntmpfs-lin2\ndisk-lin2", part="lin3", timeout=120),
        Run(renumber("lin3", 3), "02:4d:49:00:03:03", part="lin3"),
        Run("ping -c 2 -W 5 10.0.0.1 && ping -c 2 -W 5 10.0.0.3", ping_check, part="lin3",
            timeout=60),
        # both clones destroyed: every page of theirs back in the pool; linux goes on
        Type(ESC + "2"), Wait(log_re(r"console input goes to partition 2 'linux' \(.*"), timeout=30),
        *manage(("stop lin3", log_re(r"partition 'lin3' stopped: stopped from the management "
                                     r"console")),
                ("destroy lin3", log_re(r"partition 'lin3' destroyed: 256 MiB of RAM back to "
                                        r"the free pool \(\d+ MiB free now\); its CPUs idle")),
                ("stop lin2", log_re(r"partition 'lin2' stopped: stopped from the management "
                                     r"console")),
                ("destroy lin2", log_re(r"partition 'lin2' destroyed: 256 MiB of RAM back to "
                                        r"the free pool \(\d+ MiB free now\); its CPUs idle")),
                back="linux"),
        FreeSame(),
        Run(COUNTING, "counting\ntmpfs-before\ndisk-before", timeout=60),
    ], forbidden=[r"mica: partition '(svc|linux)' (stopped|restarting)", r"bad request",
                  r"PANIC", r"exception", r"soft lockup", r"Kernel panic"])


LINUX_SCENARIO = Scenario(
    "clone-linux",
    "a Linux partition with a virtio disk and network cloned: the clone has the same "
    "counting process, tmpfs and disk files; then both diverge (writes in one unseen in the "
    "other), the clone takes its own MAC and address and they ping each other over the "
    "switch; the clone is cloned; both clones destroyed and every page back in the pool",
    LINUX_CONFIG, LINUX_FILES + [VMM, LINUX_DISK], linux_script, timeout=1200,
    vendors=("svm",), env={"MICA_SMP": "4", "MICA_MEM": "1024"})
LINUX_SCENARIO.prepare = lambda: make_disk(LINUX_DISK, 16)

CLONE_SCENARIOS = [
    Scenario(
        "clone-console",
        "copy-on-write clones from the management console: snapmem (6 MiB of RAM and XMM5 "
        "checked every tick) cloned onto a free CPU, and the clone cloned; all go on and "
        "diverge, each catching any write of another's; refusals; a clone destroyed, its "
        "CPU cloned onto again; all destroyed and every page of them back in the pool",
        CONFIG, [VMM, "snapmem.elf"],
        # typed into, and Bochs' console takes no input: manage-script clones on VT-x
        script(), timeout=240, vendors=("svm",)),
    LINUX_SCENARIO,
]
