"""The soak (issue #17, `make soak`): two Linux partitions run tests/linux/bin/mica-soak for
SOAK_MINUTES (default 30; `make soak-smoke` runs 3): rounds of checksummed writes and reads
on their virtio disks and checksummed TCP transfers to each other through switch lan, each
rebooting itself after a random 3 to 7 rounds, while the chaos partition (a tiny guest,
tests/guests/chaos.c) makes the crash-test service partition fault every 60 to 120 s (Mica
restarts it; the Linux guests' watchdogs reboot them to get their devices back). At the
end: every checksum matched (a MISMATCH line fails at once), no hypervisor error line, both
partitions and the service went through reboots, and Mica's free memory (Ctrl-] then f) is
what it was before the first round."""

import os
import re
import time

from harness import Failure, Step, Script, Type, Wait
from linux import LINUX_FILES, ready
from scenarios import BANNER, Scenario, started
from virtio import BASE_CMDLINE, VMM_CRASHTEST, make_disk, BUILD

DISKS = [os.path.join(BUILD, "e2e", f"soak-{p}.img") for p in "ab"]
FREE = r"^mica: memory: (\d+) KiB free$"


def soak_minutes():
    return float(os.environ.get("SOAK_MINUTES", "30"))


def partition(name, cpu, ip, peer, disk):
    return (f"[partition {name}]\ncpus = {cpu}\nmemory = 256M\nimage = vmlinuz\n"
            f"initrd = initrd.img\n"
            f'cmdline = "{BASE_CMDLINE} mica.ip={ip}/24 mica.then=soak:{peer}"\n'
            f"disk = {os.path.basename(disk)}\nnet = lan\non_crash = restart\n")


CONFIG = ("[partition svc]\ncpus = 0\nmemory = 16M\nimage = vmm-crashtest.elf\n"
          "service = yes\non_crash = restart\n\n"
          + partition("soak-a", 1, "10.0.0.1", "10.0.0.2", DISKS[0]) + "\n"
          + partition("soak-b", 2, "10.0.0.2", "10.0.0.1", DISKS[1]) + "\n"
          + "[partition chaos]\ncpus = 3\nmemory = 16M\nimage = chaos.elf\nconsole = virtio\n")

ROUND = re.compile(r"^\[(soak-[ab])\] mica-soak: round \d+: disk gen \d+ ok, net (ok|down)$")
VERIFIED = re.compile(r"^\[(soak-[ab])\] mica-soak: disk gen \d+ verified$")
REBOOT = re.compile(r"^mica: partition '(soak-[ab])' restarting \(restart \d+\): reset by "
                    r"the guest")
SVC = re.compile(r"^\[chaos\] chaos: served again after the service restarted$")


class Soak(Step):
    """Watches the console for `minutes`, counting rounds, transfers, verified disks at boot,
    reboots and service restarts; too few of them (end()) and the soak did not soak."""

    def __init__(self, minutes):
        self.minutes = minutes
        self.timeout = minutes * 60 + 180  # no line for that long: something hung
        self.what = f"{minutes:g} minutes of soak"

    def begin(self, console, ctx):
        self.console = console
        self.end_at = time.monotonic() + self.minutes * 60
        self.count = {k: {"soak-a": 0, "soak-b": 0} for k in ("round", "net", "verified",
                                                             "reboot")}
        self.svc = 0

    def feed(self, line, ctx):
        m = ROUND.search(line)
        if m:
            self.count["round"][m.group(1)] += 1
            self.count["net"][m.group(1)] += m.group(2) == "ok"
        for key, rx in (("verified", VERIFIED), ("reboot", REBOOT)):
            m = rx.search(line)
            if m:
                self.count[key][m.group(1)] += 1
        self.svc += bool(SVC.search(line))
        return time.monotonic() >= self.end_at

    def end(self, ctx):
        summary = ", ".join(f"{k} {v['soak-a']}/{v['soak-b']}" for k, v in self.count.items())
        summary += f", service restarts {self.svc}"
        print(f"soak: {self.minutes:g} min: {summary} (soak-a/soak-b)", flush=True)
        ctx["soak"] = summary
        # Every partition finishes rounds and reboots. A partition booting while the
        # service crashes waits for its watchdog (45 s) and boots again, so in the
        # 3-minute smoke one may not get to verify its disk or reach its peer: there the
        # disk checks and transfers must have happened at least once overall.
        each = ("round", "net", "verified", "reboot") if self.minutes >= 10 else ("round",
                                                                                  "reboot")
        short = [f"{k} in {p}" for k in each for p, n in self.count[k].items() if n == 0]
        short += [f"{k} anywhere" for k in ("net", "verified")
                  if not sum(self.count[k].values())]
        if short or not self.svc:
            raise Failure(f"the soak did not exercise everything ({summary}): none of "
                          + ", ".join(short + ([] if self.svc else ["service restarts"]))
                          + "; the management console said:" + diagnose(self.console))


def diagnose(console, wait=8):
    """What the management console says of the partitions now (where each one's exits go,
    so a hung guest shows whether it spins or sleeps), as lines for a failure message."""
    try:
        console.send("\x1dm")
        time.sleep(0.5)
        console.send("list\rstats soak-a\rstats soak-b\rexit\r")
    except Failure as e:
        return f" (could not ask it: {e})"
    said, end = [], time.monotonic() + wait
    while time.monotonic() < end:
        try:
            line = console.read_line(end)
        except Failure:
            break
        if line is None:
            break
        if not line.startswith(("[soak-", "[svc]", "[chaos]")):
            said.append(line)
    return "".join(f"\n    | {l}" for l in said[-40:]) or " (nothing)"


class FreeSame(Step):
    """Mica's free memory now equals what the first Ctrl-] f said (ctx['free'])."""
    what = "the free memory to be back where it started"

    def begin(self, console, ctx):
        self._rx = re.compile(FREE)
        console.send("\x1df")

    def feed(self, line, ctx):
        m = self._rx.search(line)
        if m:
            self.now = int(m.group(1))
            return True
        return False

    def end(self, ctx):
        before = int(ctx["free_before"].group(1))
        print(f"free memory: {before} KiB before, {self.now} KiB after", flush=True)
        if self.now != before:
            raise Failure(f"free memory went from {before} KiB to {self.now} KiB: a leak")


class Remember(Type):
    """Keeps the last Wait's match under ctx[key]; complete at once (a Type that types
    nothing: play() reads no line for it)."""

    def __init__(self, key):
        super().__init__("", what=f"remember {key}")
        self.key = key

    def begin(self, console, ctx):
        ctx[self.key] = ctx["match"]


def soak_script(cfg):
    minutes = soak_minutes()
    return Script(
        [
            BANNER,
            Wait(started("soak-a", "1", "256 MiB", "vmlinuz"),
                 started("soak-b", "2", "256 MiB", "vmlinuz")),
            Wait(ready("soak-a"), ready("soak-b"), timeout=600),
            Type("\x1df"),
            Wait(FREE),
            Remember("free_before"),
            Soak(minutes),
            FreeSame(),
        ],
        forbidden=[r"MISMATCH", r"^\[soak-.\] .*Kernel panic", r"^mica: partition '.*' stopped",
                   r"could not be emulated", r"does not handle", r"refused the guest state",
                   r"VM entry failed", r"mica-linux: error"],
    )


def prepare():
    """Fresh blank disks (mica-soak starts from a fresh disk)."""
    for d in DISKS:
        make_disk(d, 8)


SOAK = Scenario(
    "soak",
    "two Linux partitions write, read back and exchange checksummed data for SOAK_MINUTES "
    "while rebooting at random and crashing the service partition: no checksum mismatch, "
    "no hypervisor error, free memory back where it started",
    CONFIG,
    LINUX_FILES + [VMM_CRASHTEST, "chaos.elf"] + DISKS,
    soak_script,
    timeout=int(soak_minutes() * 60) + 1200,
    vendors=("svm",),
    env={"MICA_SMP": "4", "MICA_MEM": "1024"},
    explicit=True,
)

SOAK.prepare = prepare
SOAK_SCENARIOS = [SOAK]
