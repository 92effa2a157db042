"""`make run`'s own config (configs/default.cfg), read from the file as shipped: the service
partition, two Linux partitions on switch lan (web with a disk), and the counter. Both
shells come up, web reaches peer over the switch and uses its disk, and the management
console lists all four (issue #14: what a newcomer sees)."""

import os

from harness import BUILD, ROOT, Run, Script, Type, Wait
from linux import INITRD, VMLINUZ, ready
from scenarios import BANNER, Scenario, out, started
from virtio import VMM, make_disk, ping_check

CONFIG = os.path.join(ROOT, "configs", "default.cfg")
WEB_DISK = os.path.join(BUILD, "e2e", "demo", "web-disk.img")  # the name the config gives


def disk_check(output, status):
    """busybox's mke2fs talks whatever -q says; the file's line comes last."""
    if status != 0 or not output.strip().endswith("kept"):
        return f"no file system with the file on /dev/vda (status {status})"
    return None


def script():
    return Script(
        [
            BANNER,
            Wait(started("svc", "0", "16 MiB", "vmm.elf"),
                 started("web", "1", "256 MiB", "vmlinuz"),
                 started("peer", "2", "256 MiB", "vmlinuz"),
                 started("counter", "3", "16 MiB", "counter.elf")),
            Wait(r"^mica: console input goes to partition 2 'web' \(Ctrl-\] then 1-4 or n "
                 r"switches, m manages\)$"),
            Wait(ready("web"), ready("peer"), timeout=400),
            Run("ping -c 2 -W 5 10.0.0.2", ping_check, part="web", timeout=60),
            Run("mke2fs -q /dev/vda && mkdir -p /mnt && mount /dev/vda /mnt && "
                "echo kept > /mnt/f && cat /mnt/f", disk_check, part="web", timeout=120),
            Type("\x1dm"),
            Wait(r"Mica management console: type help"),
            Type("list\r"),
            Wait(r"^ 1 svc +running +0 +16M .* service$",
                 r"^ 2 web +running +1 +256M .* disk,net$",
                 r"^ 3 peer +running +2 +256M .* net$",
                 r"^ 4 counter +running +3 +16M .* -$"),
            Type("exit\r"),
            Wait(r"mica: console input goes to partition 2 'web' again$"),
            Wait(out("counter", r"count \d+$")),
            Wait(out("counter", r"count \d+$")),
        ],
        forbidden=[r"^mica: partition '\w+' (stopped|restarting)", r"Kernel panic",
                   r"^mica: partition '\w+': virtio"],
    )


def prepare():
    make_disk(WEB_DISK, 64)


with open(CONFIG) as f:
    DEMO = Scenario(
        "make-run",
        "make run's configs/default.cfg as shipped: the service, web (disk and net) and peer "
        "(net) on switch lan, the counter; both shells, a ping over the switch, a file "
        "system on web's disk, the management console's list",
        f.read(), [VMM, VMLINUZ, INITRD, "counter.elf", WEB_DISK], script(), timeout=420,
        vendors=("svm",))  # typed into: Bochs' console takes no input
    DEMO.prepare = prepare

DEMO_SCENARIOS = [DEMO]
