"""Disks on NVMe (docs/storage.md): QEMU's NVMe controller passed through to the service
partition behind an IOMMU, its GPT partitions served as guests' virtio disks
(`disk = nvme:NAME`). QEMU only (svm): Bochs has neither NVMe nor an IOMMU.

- storage-powercut: Linux writes a file to its disk, syncs, and QEMU is killed at once
  (SIGKILL). While the machine is off, the host checks the image: the file's bytes lie in
  the GPT partition's range and nowhere else, the other partition is untouched, and
  `e2fsck -fn` finds the file system clean. The same machine boots again: the file is
  there with the same checksum.
- storage-two-guests: two Linux partitions write their whole disks at the same time, each
  reads back only its own data, and one that writes past its end gets an error while the
  other's data stays.
- storage-bad-gpt-*: no GPT, a damaged GPT, a missing name: the service says so naming
  the disk and the problem, and the other partitions start and run.
"""

import os
import re
import subprocess
import textwrap

from harness import BUILD, Failure, PowerCut, Run, Script, Type, Wait
from linux import LINUX_FILES, Ready, ready
from virtio import HELLO, TO_A, TO_B, VMM, VMM_CRASHTEST, Checksum, linux as virtio_linux
from scenarios import BANNER, Scenario, lit, out

AMDVI = "-device amd-iommu,intremap=on"
SECTOR = 512
DISK_MIB = 64
# Two GPT partitions of 24 MiB each (sectors, inclusive), as sgdisk writes them below.
PARTS = {"web-root": (2048, 51199), "db-data": (51200, 100351)}
PART_BYTES = (51199 - 2048 + 1) * SECTOR
SERVICE = textwrap.dedent("""
    [partition svc]
    cpus = 0
    memory = 16M
    image = vmm.elf
    service = yes
    pci = 00:11.0
""").lstrip("\n")


def image(name):
    return os.path.join(BUILD, "e2e", name + ".nvme.img")


def qemu_extra(name):
    return (AMDVI + f" -drive file={image(name)},if=none,id=nvm,format=raw "
            "-device nvme,drive=nvm,serial=mica-nvme,addr=0x11")


def make_gpt_disk(name, table=True):
    """A blank 64 MiB disk with both GPT partitions (sgdisk, as an administrator would)."""
    path = image(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(DISK_MIB << 20)
    if table:
        args = ["sgdisk", "-o"]
        for k, (part, (first, last)) in enumerate(PARTS.items(), 1):
            args += ["-n", f"{k}:{first}:{last}", "-c", f"{k}:{part}"]
        subprocess.run(args + [path], check=True, stdout=subprocess.DEVNULL)
    return path


def linux(name, cpus, disk):
    return virtio_linux(name, cpus, "", [f"disk = nvme:{disk}"])


def served(part, disk):
    return (r"^\[svc\] device \d+: block for " + lit(f"'{part}'") + r" \(00:[0-9a-f]{2}\.0\), "
            + lit(f"disk nvme:{disk}, {PART_BYTES >> 10} KiB"))


NVME_FOUND = r"^\[svc\] nvme 00:08\.0: .*namespace 1 has 131072 blocks of 512 bytes"
GPT_FOUND = lit("[svc] nvme 00:08.0: GPT with 2 partitions")
NO_TROUBLE = [r"^mica: .*iommu fault", r"^\[svc\] nvme .*(failed|fatal|no answer)",
              r"^mica: partition 'svc' (stopped|restarting)", r"Buffer I/O error",
              r"I/O error, dev vda"]


# --- storage-powercut ----------------------------------------------------------------------

MARK = "MICA-POWERCUT-7c1e5a"  # what the file is made of: found on the image by the host


def host_checks(name):
    """While the power is off: the file's bytes are in web-root's range and nowhere else,
    db-data is all zeros, and e2fsck finds web-root's file system clean."""
    def check():
        path = image(name)
        with open(path, "rb") as f:
            data = f.read()
        lo, hi = (s * SECTOR for s in (PARTS["web-root"][0], PARTS["web-root"][1] + 1))
        hits = [m.start() for m in re.finditer(re.escape(MARK.encode()), data)]
        if not hits:
            raise Failure(f"the image has no trace of the file written before the power cut "
                          f"({MARK} not found): the write did not reach the disk")
        outside = [h for h in hits if not lo <= h < hi]
        if outside:
            raise Failure(f"{len(outside)} copies of the file's bytes lie outside web-root's "
                          f"range [{lo:#x}, {hi:#x}) of the image, first at {outside[0]:#x}")
        d0, d1 = (s * SECTOR for s in (PARTS["db-data"][0], PARTS["db-data"][1] + 1))
        if data[d0:d1].count(0) != d1 - d0:
            raise Failure("db-data, which no guest was given, is no longer all zeros")
        part = path + ".web-root"
        with open(part, "wb") as f:
            f.write(data[lo:hi])
        res = subprocess.run(["/sbin/e2fsck", "-fn", part], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        os.unlink(part)
        if res.returncode != 0:
            raise Failure(f"e2fsck -fn on web-root after the power cut: status "
                          f"{res.returncode}:\n{res.stdout.decode(errors='replace')}")
    return check


def powercut_script(name):
    sums = {}

    boot = [
        Wait(BANNER),
        Wait(NVME_FOUND, timeout=120),
        Wait(GPT_FOUND),
        Wait(served("linux", "web-root")),
        Ready("linux", timeout=600),
    ]
    return Script(
        boot + [
            Run("cat /sys/block/vda/size", str(PART_BYTES // SECTOR)),
            Run("mkdir -p /mnt && mke2fs -q /dev/vda >/dev/null && mount /dev/vda /mnt && "
                f"yes {MARK} | head -c 4194304 >/mnt/f && sync && sha256sum /mnt/f",
                Checksum(sums, "f"), timeout=300),
            PowerCut(host_checks(name)),
            *boot,
            Run("mkdir -p /mnt && mount /dev/vda /mnt && sha256sum /mnt/f",
                Checksum(sums, "f", compare=True), timeout=120),
            Run("umount /mnt && echo unmounted", "unmounted"),
        ],
        forbidden=NO_TROUBLE + [r"^\[linux\] .*Kernel panic"],
    )


def powercut():
    name = "storage-powercut"
    s = Scenario(
        name,
        "an NVMe controller passed through to the service partition (AMD-Vi); Linux's disk "
        "is its GPT partition web-root: a file written and synced survives a SIGKILL of "
        "QEMU with the same checksum, its bytes on the image lie in web-root's range only, "
        "the other partition is untouched, and e2fsck finds the file system clean",
        SERVICE + "\n" + linux("linux", "1", "web-root"), [VMM] + LINUX_FILES,
        powercut_script(name),
        timeout=1200, vendors=("svm",), env={"MICA_QEMU_EXTRA": qemu_extra(name)})
    s.prepare = lambda: make_gpt_disk(name)
    return s


# --- storage-two-guests -------------------------------------------------------------------

FILL = PART_BYTES  # each guest writes its whole disk


def fill(mark):
    return f"yes {mark} | head -c {FILL}"


def own_data(mark):
    """Reads the whole disk from the device (the page cache dropped first) and compares it
    with what the guest wrote."""
    return (f'sync && echo 3 >/proc/sys/vm/drop_caches && [ "$({fill(mark)} | sha256sum)" = '
            f'"$(sha256sum </dev/vda)" ] && echo own data')


def own_data_check(output, status):
    """`own data` on a line of its own; a kernel message may share the console (under a
    loaded host, a soft-lockup warning while both guests keep their CPUs busy)."""
    if status != 0 or "own data" not in output.splitlines():
        return "expected `own data` (the disk read back from the device as written)"
    return None


def two_guests_script():
    return Script(
        [
            Wait(BANNER),
            Wait(served("a", "web-root")), Wait(served("b", "db-data")),
            Wait(ready("a"), ready("b"), HELLO("a"), HELLO("b"), timeout=600),
            # a writes in the background while b writes in the foreground
            Run(f"({fill('AAAA-web-root')} >/dev/vda && sync && echo a-wrote) >/dev/null "
                "2>&1 </dev/null & echo started", "started", part="a"),
            Type(TO_B),
            Run(f"{fill('BBBB-db-data')} >/dev/vda && sync && echo b-wrote", "b-wrote",
                part="b", timeout=600),
            # writing past the end is refused, and changes nothing of the other's
            Run(f"dd if=/dev/zero of=/dev/vda bs=512 seek={FILL // SECTOR} count=1 2>&1; "
                "echo status $?", r"(?s).*status 1", part="b"),
            Run(own_data("BBBB-db-data"), own_data_check, part="b", timeout=300),
            Type(TO_A),
            Run("wait $! && " + own_data("AAAA-web-root"), own_data_check, part="a",
                timeout=600),
        ],
        forbidden=NO_TROUBLE + [r"^\[(a|b)\] .*Kernel panic"],
    )


def two_guests():
    name = "storage-two-guests"
    s = Scenario(
        name,
        "two Linux partitions with one GPT partition each of the service's NVMe write their "
        "whole disks at once; each reads back only its own data (from the device, page "
        "cache dropped), and a write past the end fails",
        SERVICE + "\n" + linux("a", "1", "web-root") + "\n" + linux("b", "2", "db-data"),
        [VMM] + LINUX_FILES, two_guests_script(),
        timeout=1200, vendors=("svm",), env={"MICA_QEMU_EXTRA": qemu_extra(name)})
    s.prepare = lambda: make_gpt_disk(name)
    return s


# --- storage-service-crash ----------------------------------------------------------------

CRASH_SERVICE = (SERVICE.replace("image = vmm.elf", "image = vmm-crashtest.elf")
                 + "on_crash = restart\n")
ESC = "\x1d"  # Ctrl-]


def service_crash_script():
    sums = {}
    up = [Wait(NVME_FOUND, timeout=120), Wait(served("linux", "web-root"))]
    return Script(
        [
            Wait(BANNER), *up,
            Wait(ready("linux"), HELLO("linux"), timeout=600),
            Run("mkdir -p /mnt && mke2fs -q /dev/vda >/dev/null && mount /dev/vda /mnt && "
                f"yes {MARK} | head -c 4194304 >/mnt/f && sync && sha256sum /mnt/f",
                Checksum(sums, "f"), timeout=300),
            # disk writes go on in the background while the service crashes
            Run("(while :; do dd if=/dev/zero of=/mnt/g bs=64k count=128; sync; done) "
                ">/dev/null 2>&1 </dev/null & echo writing", "writing"),
            # the trigger is printed after 2 s on hvc0 (split in the typed line, so that
            # the line's own echo does not carry it)
            Type('sleep 2; echo "vmm-crashtest: crash the"" service now"\n'),
            Wait(out("svc", lit("crash test: faulting on purpose")), timeout=60),
            Wait(r"^mica: partition 'svc' restarting \(restart 1\): triple fault"),
            *up,
            # Linux's devices are in "needs reset": the partition is restarted
            Type(ESC + "m"),
            Wait(r"Mica management console: type help"),
            Type("restart linux\r"),
            Wait(lit("mica: partition 'linux' restarting (restart 1): restarted from the "
                     "management console")),
            Type("exit\r"),
            Wait(ready("linux"), HELLO("linux"), timeout=600),
            Run("mkdir -p /mnt && mount /dev/vda /mnt && sha256sum /mnt/f",
                Checksum(sums, "f", compare=True), timeout=120),
            Run("dd if=/dev/zero of=/mnt/h bs=64k count=16 2>/dev/null && sync && "
                "umount /mnt && echo written", "written", timeout=120),
        ],
        forbidden=[r"^mica: .*iommu fault", r"^\[svc\] nvme .*(failed|fatal|no answer)",
                   r"^mica: partition 'svc' restarting \(restart 2\)",
                   r"^\[linux\] .*Kernel panic"],
    )


def service_crash():
    name = "storage-service-crash"
    s = Scenario(
        name,
        "the service partition, which drives the NVMe, crashes while Linux writes to its "
        "nvme disk (crash-test build, on_crash = restart): it comes back and sets the "
        "controller up again; after a restart of the Linux partition the file written and "
        "synced before the crash is there with its checksum, and the disk takes writes",
        CRASH_SERVICE + "\n" + virtio_linux("linux", "1", "mica.shell=hvc0",
                                             ["console = virtio", "disk = nvme:web-root"]),
        [VMM_CRASHTEST] + LINUX_FILES, service_crash_script(),
        timeout=1200, vendors=("svm",), env={"MICA_QEMU_EXTRA": qemu_extra(name)})
    s.prepare = lambda: make_gpt_disk(name)
    return s


# --- bad disks -----------------------------------------------------------------------------

COUNTERS = textwrap.dedent("""
    [partition disked]
    cpus = 1
    memory = 16M
    image = counter.elf
    disk = nvme:{disk}

    [partition other]
    cpus = 2
    memory = 16M
    image = counter.elf
""").lstrip("\n")


BAD_TABLE = lit("nvme 00:08.0: none of its disks is served (check the table with sgdisk -v)")


def damage_headers(path):
    """Both GPT headers lose a bit of their first usable LBA (their CRCs not updated): with
    one good copy left, the firmware (OVMF) would have rewritten the other at boot."""
    with open(path, "r+b") as f:
        for at in (SECTOR + 40, (DISK_MIB << 20) - SECTOR + 40):
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 1]))


def not_served(disk, why):
    return lit(f"device 0: disk nvme:{disk} for 'disked' is not served" + why)


def bad_disk(name, about, disk, problem, prepare):
    """problem: the service's lines that say it, in order (regexes)."""
    s = Scenario(
        name, about + ": the service says so, naming the disk and the problem; the partition "
        "without its disk and the other one run on",
        SERVICE + "\n" + COUNTERS.format(disk=disk), [VMM, "counter.elf"],
        Script([
            Wait(BANNER),
            *[Wait(r"^\[svc\] " + p + "$") for p in problem],
            Wait(lit("[svc] serving 0 of 1 devices")),
            Wait(out("disked", r"count \d+$")), Wait(out("other", r"count \d+$")),
            Wait(out("disked", r"count \d+$")), Wait(out("other", r"count \d+$")),
        ], forbidden=[r"^mica: partition '(svc|disked|other)' (stopped|restarting)",
                      r"^mica: .*iommu fault"]),
        timeout=120, vendors=("svm",), env={"MICA_QEMU_EXTRA": qemu_extra(name)})
    s.prepare = prepare
    return s


def bad_disks():
    nogpt, damaged, noname = "storage-no-gpt", "storage-damaged-gpt", "storage-no-name"
    return [
        bad_disk(nogpt, "an NVMe disk without a partition table", "web-root",
                 [lit("nvme 00:08.0: no primary GPT header at LBA 1 (no 'EFI PART' signature): "
                      "the disk has no GUID partition table"), BAD_TABLE,
                  not_served("web-root", ": the NVMe disk cannot be used (see above)")],
                 lambda: make_gpt_disk(nogpt, table=False)),
        bad_disk(damaged, "an NVMe disk whose GPT headers are both damaged", "web-root",
                 [lit("nvme 00:08.0: the primary GPT header (LBA 1) is damaged: its CRC32 is "
                      "0x") + r"[0-9a-f]{8}, its contents give 0x[0-9a-f]{8}", BAD_TABLE,
                  not_served("web-root", ": the NVMe disk cannot be used (see above)")],
                 lambda: damage_headers(make_gpt_disk(damaged))),
        bad_disk(noname, "a disk name no GPT partition has", "no-such-name",
                 [not_served("no-such-name", ":"),
                  lit("device 0: no GPT partition is named 'no-such-name' (2 partitions; name "
                      "one with sgdisk -c N:no-such-name)")],
                 lambda: make_gpt_disk(noname)),
    ]


STORAGE_SCENARIOS = [powercut(), two_guests(), service_crash()] + bad_disks()
