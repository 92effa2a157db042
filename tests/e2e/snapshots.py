"""Snapshots in RAM (issue #14, docs/snapshots.md), driven through the management console.

snapmem checks every tick that its RAM (one word in each page of 6 MiB) and XMM5 hold
what its previous tick left there, then moves on and prints "tick N". A restore must
bring it back to the tick it was at when the snapshot was taken, RAM, registers and FPU
together (it would print "snapmem: FAIL" otherwise), and it must go on ticking."""

import re

import os

from harness import Allow, Failure, Forbid, Run, Script, Type, Wait, Watch
from manage import ESC, log, log_re, said
from scenarios import BANNER, Scenario, lit, started
from soak import FREE, FreeSame, Remember
from linux import ready
from virtio import E2E_DIR, HELLO, LINUX_FILES, SERVICE_PART, VMM, linux, make_disk, ping_check

CONFIG = SERVICE_PART + """
[partition snapmem]
cpus = 1
memory = 16M
image = snapmem.elf

[partition counter]
cpus = 2
memory = 16M
image = counter.elf
"""

TICK = re.compile(r"\[snapmem\] tick (\d+)$")


def last_tick(line, ctx):
    """The Watch that keeps the last tick snapmem printed in ctx["last"]."""
    m = TICK.search(line)
    if m:
        ctx["last"] = int(m.group(1))


WATCH = Watch(last_tick, "remembering snapmem's ticks")


class Ticks(Wait):
    """Waits for patterns like Wait, remembering as ctx[key] the last tick snapmem printed
    before they all appeared (WATCH must come first)."""

    def __init__(self, *patterns, key, timeout=None):
        super().__init__(*patterns, timeout=timeout)
        self.key = key

    def feed(self, line, ctx):
        done = super().feed(line, ctx)
        if done:
            ctx[self.key] = ctx.get("last", -1)
        return done


def cmd(line, *answers, timeout=30):
    return [Type(line + "\r"), Wait(*answers, timeout=timeout)]


def gen_line(old, new):
    return said("snapmem", lit(f"snapmem: VM generation {old} -> {new}: restored (reseed)"))


class TickBack(Wait):
    """The first tick after a restore: the one after the snapshot's (the snapshot's log
    line may follow one more tick), and well before the last one seen. With gen (a
    pattern), also snapmem's line that its VM generation moved on: before that first tick
    or after it (the snapshot may have caught snapmem between its tick and its print),
    within two more ticks."""

    def __init__(self, snap_key, before_key, gen=None):
        super().__init__(r"\[snapmem\] tick \d+$", timeout=30)
        self.snap_key, self.before_key, self.gen = snap_key, before_key, gen
        self.what = f"snapmem's first tick after the restore to be the one after {snap_key}'s"
        if gen:
            self.what += " and its VM generation line"

    def begin(self, console, ctx):
        super().begin(console, ctx)
        self._first, self._later, self._gen_seen = None, 0, self.gen is None

    def feed(self, line, ctx):
        if self.gen and re.search(self.gen, line):
            self._gen_seen = True
            return self._first is not None
        m = TICK.search(line)
        if not m:
            return False
        if self._first is not None:
            self._later += 1
            if self._later > 2:
                raise Failure(f"no VM generation line ({self.gen}) by the third tick after "
                              f"the restore")
            return False
        got, snap = int(m.group(1)), ctx[self.snap_key]
        if got not in (snap, snap + 1) or got >= ctx[self.before_key]:
            raise Failure(f"after the restore snapmem went on at tick {got}; the snapshot "
                          f"was taken after tick {snap - 1}..{snap}, the last tick before the "
                          f"restore was {ctx[self.before_key]}")
        self._first = got
        return self._gen_seen


TICKS = said("snapmem", r"tick \d+$")


def ticks(n):
    return [Wait(TICKS) for _ in range(n)]


FORBIDDEN = [lit("snapmem: FAIL"), r"mica: partition 'svc' (stopped|restarting)",
             r"bad request", r"PANIC", r"exception"]


def script():
    return Script([
        WATCH,
        BANNER,
        Wait(started("snapmem", "1", "16 MiB", "snapmem.elf"),
             said("snapmem", lit("snapmem: start (6144 KiB checked every tick, VM generation 0)"))),
        *ticks(3),
        Type(ESC + "f"),
        Wait(FREE),
        Remember("free_before"),
        Type(ESC + "m"),
        Wait(r"Mica management console: type help"),
        *cmd("snapshots", r"^no snapshots \(snapshot NAME \[TAG\] takes one\)$"),
        Type("snapshot snapmem one\r"),
        Ticks(log_re(r"partition 'snapmem': snapshot 'one' taken \(\d+ MiB of its RAM in use, "
                     r"paused \d+ us: vCPUs parked \d+, saved \d+, devices and RAM "
                     r"\d+\)"), key="one"),
        *ticks(4),
        *cmd("snapshots", r"^PARTITION +TAG +AGE +PAUSED +IN USE +HELD$",
             r"^snapmem +one +\S+ +\d+us +\d+M +\d+[MK]$"),
        Type("restore snapmem one\r"),
        Ticks(log_re(r"partition 'snapmem': restored to snapshot 'one' \(in \d+ us\)"),
              key="before1"),
        TickBack("one", "before1", gen_line(0, 1)),
        *ticks(4),  # and on: timers, RAM, registers all as they should be
        # again: the snapshot is still there, and still what it was
        Type("restore snapmem one\r"),
        Ticks(log_re(r"partition 'snapmem': restored to snapshot 'one' \(in \d+ us\)"),
              key="before2"),
        TickBack("one", "before2", gen_line(0, 2)),
        *ticks(2),
        # a second snapshot beside the first; a restore of a paused partition stays paused
        Type("snapshot snapmem two\r"),
        Ticks(log_re(r"partition 'snapmem': snapshot 'two' taken .*"), key="two"),
        *ticks(3),
        *cmd("snapshot snapmem two", r"^cannot snapshot 'snapmem' \(tag 'two'\): it has a "
                                     r"snapshot of that tag already"),
        Type("pause snapmem\r"),
        Ticks(log("partition 'snapmem' paused from the management console: its vCPUs wait "
                  "where they were (resume snapmem goes on)"), key="before3"),
        *cmd("restore snapmem two", log_re(r"partition 'snapmem': restored to snapshot 'two' "
                                           r"\(in \d+ us\); it stays paused \(resume goes "
                                           r"on\)")),
        *cmd("resume snapmem", log("partition 'snapmem' resumed from the management console")),
        TickBack("two", "before3", gen_line(2, 3)),
        *ticks(2),
        # after a stop (its devices reset, as after a crash): back where snapshot one was
        *cmd("stop snapmem", log("partition 'snapmem' stopped: stopped from the management "
                                 "console")),
        *cmd("snapshot snapmem three", r"^cannot snapshot 'snapmem' \(tag 'three'\): it is "
                                       r"stopped: there is nothing to keep \(start it\)$"),
        Type("restore snapmem one\r"),
        Ticks(log_re(r"partition 'snapmem': restored to snapshot 'one' .*"), key="stopped"),
        TickBack("one", "stopped", gen_line(0, 4)),
        *ticks(2),
        # refusals
        *cmd("restore snapmem nosuch", r"^cannot restore 'snapmem' \(tag 'nosuch'\): it has no "
                                       r"snapshot of that tag"),
        *cmd("snapshot svc x", r"^cannot snapshot 'svc' \(tag 'x'\): it runs this console"),
        *cmd("snapshot snapmem a/b", r"^cannot snapshot 'snapmem' \(tag 'a/b'\): a tag is 1 "
                                     r"to 31 letters"),
        # dropped, the RAM they held goes back
        *cmd("drop snapmem one", log("partition 'snapmem': snapshot 'one' dropped")),
        *cmd("drop snapmem two", log("partition 'snapmem': snapshot 'two' dropped")),
        *cmd("snapshots", r"^no snapshots"),
        *cmd("exit", log_re(r"console input goes to partition \d '\w+' again")),
        *ticks(3),
        FreeSame(),  # every page a snapshot held is back in the pool
        # a destroy drops the partition's snapshots with it
        Type(ESC + "m"),
        Wait(r"Mica management console: type help"),
        *cmd("snapshot snapmem last", log_re(r"partition 'snapmem': snapshot 'last' taken .*")),
        *cmd("stop snapmem", log("partition 'snapmem' stopped: stopped from the management "
                                 "console")),
        *cmd("destroy snapmem", log("partition 'snapmem': snapshot 'last' dropped"),
             log_re(r"partition 'snapmem' destroyed: 16 MiB of RAM back to the free pool "
                    r"\(\d+ MiB free now\), its snapshots dropped; its CPUs idle")),
        *cmd("snapshots", r"^no snapshots"),
        *cmd("restore snapmem last", r"^cannot restore 'snapmem' \(tag 'last'\): "),
    ], forbidden=FORBIDDEN)


# --- Linux: 2 vCPUs, a virtio disk and network, a peer on the same switch ----------------

LINUX_DISK = os.path.join(E2E_DIR, "snap-disk.img")
LINUX_CONFIG = (SERVICE_PART + "\n"
                + linux("linux", "1-2", "mica.ip=10.0.0.1/24",
                        ["disk = snap-disk.img", "net = lan"]) + "\n"
                + linux("peer", 3, "mica.ip=10.0.0.2/24", ["net = lan"]))
GREETING = r"Mica management console: type help"
BACK = log_re(r"console input goes to partition 2 'linux' again")
ENDS = r"^mica: partition 'linux' (stopped|restarting)"
BEFORE = "disk-before\ntmpfs-before"


# vgid: the 16 bytes of the VM generation ID, found where the DSDT's \_SB.VGEN.ADDR says
# (a Package of two integers: the low one a DWord, the high one Zero below 4 GiB).
VGID_FN = ("vgid() { le=$(hexdump -ve '1/1 \"%02x\"' /sys/firmware/acpi/tables/DSDT | "
           "sed -n 's/.*41444452120[0-9a-f]020c\\([0-9a-f]\\{8\\}\\)00.*/\\1/p'); "
           "a=$(echo $le | sed 's/\\(..\\)\\(..\\)\\(..\\)\\(..\\)/\\4\\3\\2\\1/'); "
           "test -n \"$a\" && echo $(devmem 0x$a 64)$(devmem $((0x$a + 8)) 64); }; ")


def manage(*lines):
    """Into the management console, the commands (each with its answer), and back."""
    steps = [Type(ESC + "m"), Wait(GREETING)]
    for line, answer in lines:
        steps += cmd(line, answer, timeout=120)
    return steps + cmd("exit", BACK)


def linux_script(cfg):
    return Script([
        BANNER,
        Wait(started("linux", "1,2", "256 MiB", "vmlinuz"), started("peer", "3", "256 MiB",
                                                                      "vmlinuz")),
        Forbid(ENDS),
        Wait(ready("linux"), HELLO("linux"), ready("peer"), HELLO("peer"), timeout=600),
        # state to keep: a file on the disk, one in tmpfs, a process counting
        Run("mke2fs -q /dev/vda >/dev/null 2>&1 && mkdir -p /mnt && mount /dev/vda /mnt && "
            "echo disk-before > /mnt/f && sync && echo tmpfs-before > /tmp/t && "
            "cat /mnt/f /tmp/t", BEFORE, timeout=120),
        Run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; usleep 100000; done) "
            ">/dev/null 2>&1 & true", r".*"),
        Run("ping -c 1 -W 5 10.0.0.2", ping_check, timeout=60),
        # the VM generation ID device, its ID and GPE 0's count, kept to compare after
        Run(VGID_FN + "cat /sys/bus/acpi/devices/MICA0001:00/path; vgid > /tmp/id0; "
            "read n rest < /sys/firmware/acpi/interrupts/gpe00; echo $n > /tmp/gpe0; "
            "grep -c . /tmp/id0", r"\\_SB_\.VGEN\n1"),
        *manage(("snapshot linux s1", log_re(r"partition 'linux': snapshot 's1' taken \(\d+ "
                                             r"MiB of its RAM in use, paused \d+ us: [^)]*\); its "
                                             r"disk copied"))),
        # changes after it, everywhere
        Run("echo disk-after > /mnt/f && sync && echo tmpfs-after > /tmp/t && touch /tmp/new "
            "&& cat /mnt/f /tmp/t", "disk-after\ntmpfs-after", timeout=60),
        *manage(("restore linux s1", log_re(r"partition 'linux': restored to snapshot 's1' "
                                            r"\(in \d+ us\)"))),
        # all back, and it goes on: timers, the counting process, disk, network
        Run("cat /mnt/f /tmp/t; test ! -e /tmp/new", BEFORE),
        # a new VM generation ID, announced by GPE 0 (the SCI ran \_GPE._E00)
        Run(VGID_FN + "test \"$(vgid)\" != \"$(cat /tmp/id0)\" && echo new-id; "
            "read n rest < /sys/firmware/acpi/interrupts/gpe00; "
            "test $n -gt $(cat /tmp/gpe0) && echo gpe-seen", "new-id\ngpe-seen"),
        Run("a=$(cat /tmp/c); sleep 1; b=$(cat /tmp/c); test $b -gt $a && echo counting",
            "counting"),
        Run("echo 3 > /proc/sys/vm/drop_caches && cat /mnt/f", "disk-before"),
        Run("dd if=/dev/urandom of=/mnt/g bs=4k count=64 2>/dev/null && sync && "
            "echo 3 > /proc/sys/vm/drop_caches && wc -c < /mnt/g", "262144", timeout=60),
        Run("ping -c 2 -W 5 10.0.0.2", ping_check, timeout=60),
        # a crash: the kernel panics (panic=-1 reboots it), and the snapshot brings it back
        Allow(ENDS),
        Type("echo c > /proc/sysrq-trigger\n"),
        Wait(r"^mica: partition 'linux' restarting", timeout=120),
        *manage(("restore linux s1", log_re(r"partition 'linux': restored to snapshot 's1' "
                                            r"\(in \d+ us\)"))),
        Forbid(ENDS),
        Run("cat /mnt/f /tmp/t", BEFORE),
        Run("a=$(cat /tmp/c); sleep 1; b=$(cat /tmp/c); test $b -gt $a && echo counting",
            "counting"),
        Run("ping -c 1 -W 5 10.0.0.2", ping_check, timeout=60),
        *manage(("drop linux s1", log("partition 'linux': snapshot 's1' dropped"))),
    ], forbidden=[r"^mica: partition '(svc|peer)' (stopped|restarting)", r"bad request",
                  r"soft lockup", r"rcu: INFO", r"^mica: partition 'linux': virtio",
                  r"hung_task", r"PANIC"])


LINUX_SCENARIO = Scenario(
    "snapshot-linux",
    "a 2-vCPU Linux with a virtio disk and network beside a peer on its switch: a file on "
    "the disk, one in tmpfs and a counting process are snapshotted, changed, and come back "
    "with a restore; then timers, the process, the disk and ping to the peer go on; after a "
    "kernel panic (and the reboot it causes) the snapshot brings it back again",
    LINUX_CONFIG, LINUX_FILES + [VMM, LINUX_DISK], linux_script, timeout=1200,
    vendors=("svm",), env={"MICA_SMP": "4", "MICA_MEM": "1024"})
LINUX_SCENARIO.prepare = lambda: make_disk(LINUX_DISK, 24)

SNAPSHOT_SCENARIOS = [
    Scenario(
        "snapshot-console",
        "snapshots in RAM from the management console: snapmem (6 MiB of RAM and XMM5 "
        "checked every tick) snapshotted, restored twice, a second snapshot restored while "
        "paused, one restored after a stop; refusals; both dropped; a third dropped by a "
        "destroy",
        CONFIG, [VMM, "snapmem.elf", "counter.elf"],
        script(), timeout=240, vendors=("svm",)),
    LINUX_SCENARIO,
]
