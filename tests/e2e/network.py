"""A way out to the network (docs/network.md): a gateway partition, Linux owning a NIC by
passthrough and a port on switch `lan`, bridges the two, so a partition behind it reaches a
machine outside. QEMU only (svm): the NIC is QEMU's virtio-net-pci (the cloud kernel has no
e1000e), behind the vIOMMU (iommu_platform=on), its link a TCP socket to a second QEMU on
this machine running bare Linux: "the machine outside".

- network-gateway: the partition behind the gateway pings the outside machine and fetches
  a file of random bytes from it over TCP (the checksum matches); the outside machine pings
  it back.
"""

import os
import socket
import textwrap

from harness import (BUILD, ROOT, Companion, CompanionRun, Run, Script, Type, Wait)
from linux import LINUX_DIR, LINUX_FILES, ready
from scenarios import BANNER, Scenario, lit, out
from virtio import HELLO, SERVICE_PART, TO_B, VMM, Checksum, linux, ping_check

OUTSIDE_IP, GW_IP, BEHIND_IP = "10.0.0.9", "10.0.0.2", "10.0.0.1"
NIC = "00:12.0"


def free_port():
    """A TCP port free on 127.0.0.1 now (the NIC's socket listens on it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nic_args(port, mode="listen"):
    """The gateway's NIC: virtio-net-pci translated by AMD-Vi, its link a socket that
    listens (or connects: mode); no option ROM (OVMF would offer a network boot)."""
    return ("-device amd-iommu,intremap=on "
            f"-netdev socket,id=up,{mode}=127.0.0.1:{port} "
            "-device virtio-net-pci,netdev=up,addr=0x12,iommu_platform=on,disable-legacy=on,"
            "mac=52:54:00:00:00:09,romfile=")


def outside(port, log):
    """The machine outside: bare QEMU with the same Linux, its NIC on the socket."""
    env = {"MICA_LINUX_NET": f"socket,connect=127.0.0.1:{port}",
           "MICA_LINUX_APPEND": f"mica.ip={OUTSIDE_IP}/24 mica.then=netserve"}
    return Companion("outside", [os.path.join(ROOT, "scripts", "linux-bare.sh"), LINUX_DIR,
                                 "-smp", "1", "-m", "256"], env=env, log_path=log,
                     what="the outside machine (bare QEMU, scripts/linux-bare.sh)")


CONFIG = (SERVICE_PART + "\n"
          + linux("gw", 1, f"mica.bridge=br0 mica.ip={GW_IP}/24", ["net = lan", f"pci = {NIC}"])
          + "\n" + linux("behind", 2, f"mica.ip={BEHIND_IP}/24", ["net = lan"]))

def gateway_script(port, log):
    sums = {}
    return Script(
        [
            Wait(BANNER),
            Wait(lit(f"mica: partition 'gw': device {NIC} (1af4:1041 ethernet) at guest "
                     "00:08.0")),
            Wait(out("gw", r"mica-linux: br0 bridges eth0 eth1$"),
                 out("gw", lit(f"mica-linux: br0 {GW_IP}/24 mac ")),
                 out("behind", lit(f"mica-linux: eth0 {BEHIND_IP}/24 mac ")),
                 ready("gw"), ready("behind"), HELLO("gw"), HELLO("behind"), timeout=600),
            outside(port, log),
            CompanionRun("outside", wait=r"mica-linux: netserve ready \(", timeout=300),
            CompanionRun("outside", "dd if=/dev/urandom of=/tmp/www/r bs=64k count=64 "
                         "2>/dev/null && sha256sum /tmp/www/r", Checksum(sums, "r")),
            Type(TO_B),
            Run(f"ping -c 3 -W 5 {OUTSIDE_IP}", ping_check, part="behind", timeout=90),
            Run(f"wget -q -O /tmp/r http://{OUTSIDE_IP}:8080/r && sha256sum /tmp/r",
                Checksum(sums, "r", compare=True), part="behind", timeout=300),
            CompanionRun("outside", f"ping -c 3 -W 5 {BEHIND_IP}", ping_check, timeout=90),
            Run(f"ping -c 2 -W 5 {GW_IP}", ping_check, part="behind", timeout=60),
        ],
        forbidden=[r"^mica: .*iommu fault", r"^mica: partition '(svc|gw|behind)' "
                   r"(stopped|restarting)", r"^\[(gw|behind)\] .*Kernel panic",
                   r"^mica: partition '(gw|behind)': virtio"],
    )


def gateway():
    name = "network-gateway"
    port = free_port()
    log = os.path.join(BUILD, "e2e", name + ".outside.log")
    return Scenario(
        name,
        "a gateway partition (Linux: a passed-through virtio-net NIC behind AMD-Vi and a "
        "port on switch lan, bridged) joins lan to a second QEMU on this machine: the "
        "partition behind it pings the outside machine, fetches a random file over TCP "
        "(checksum), and is pinged back",
        CONFIG, [VMM] + LINUX_FILES, gateway_script(port, log),
        timeout=1200, vendors=("svm",), env={"MICA_QEMU_EXTRA": nic_args(port)})


NETWORK_SCENARIOS = [gateway()]
