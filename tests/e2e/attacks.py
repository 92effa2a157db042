"""The hostile-guest suite (issue #17): one tiny guest per attacked surface, in the spirit of
Xen's XTF, each next to a partition that must keep making progress. The guests are
tests/guests/attack_*.c; docs/security.md says what each covers. Hypercalls with hostile
arguments are `hcfuzz` (scenarios.py), the service calls from a partition that may not
make them are in hcfuzz too, a vCPU that never exits is `kick-spinner` (defects.py)."""

import textwrap

from scenarios import BANNER, Expect, POWERED_OFF, RIP, TRIPLE, Scenario, counting, lit, \
    out, restarting, stopped
from virtio import SERVICE_PART, VMM

NO_STRAY = [r"^mica: partition '(svc|counter|bystander)' (stopped|restarting)",
            r"^mica: partition '\w+' exits: .*\bunhandled\b"]


def plain_and_apic(image):
    """svc on CPU 0; the attack as a plain partition on CPU 1 and with a local APIC (its
    virtio console gives it one) on CPU 3; the counter on CPU 2."""
    return SERVICE_PART + textwrap.dedent(f"""
        [partition plain]
        cpus = 1
        memory = 16M
        image = {image}

        [partition apic]
        cpus = 3
        memory = 16M
        image = {image}
        console = virtio

        [partition counter]
        cpus = 2
        memory = 16M
        image = counter.elf
    """)


def both_pass(name):
    return [pat for p in ("plain", "apic")
            for pat in (out(p, lit(f"PASS: {name}") + "$"), stopped(p, POWERED_OFF))]


MSR_RANGES = ["architectural and Intel 0-0x1fff", "hypervisor 0x40000000-0x400001ff",
              "KVM 0x4b564d00-0x4b564d0f", "AMD64 0xc0000000-0xc00001ff",
              "AMD 0xc0010000-0xc0011fff"]

VIRT_INSNS = ["VMRUN", "VMLOAD", "VMSAVE", "STGI", "CLGI", "SKINIT", "INVLPGA", "VMLAUNCH",
              "VMRESUME", "VMXOFF", "VMFUNC", "VMXON", "VMPTRLD", "VMPTRST", "VMCLEAR",
              "VMREAD", "VMWRITE", "INVEPT", "INVVPID", "GETSEC", "ENCLS", "ENCLU", "ENCLV"]


def s2_probes(mem, maxphys):
    """What attack_s2.c's probe_for() makes, run by run: (kind, guest-physical address)."""
    special = [("write to", mem), ("read from", 0xfee00000), ("write to", 0xfec00000),
               ("read from", 0xfed00000), ("read from", 0xb0000000),
               ("read from", 0xfffff000), ("instruction fetch from", 0x80000000),
               ("read from", (1 << maxphys) - 0x1000)]
    gib = [("write to" if r & 1 else "read from", (r + 1) * (1 << 30) + (r % 3) * 0x1000)
           for r in range(511)]
    return special + gib


def s2_steps():
    steps = []
    for k, (kind, gpa) in enumerate(s2_probes(4 << 20, 40)):
        if k == 7:  # the top of the physical address space: as wide as the CPU says
            addr = r"0x[0-9a-f]+"
        else:
            addr = lit(f"0x{gpa:x}")
        steps.append(restarting("s2", k + 1, lit(f"{kind} guest-physical ") + addr
                                + lit(" outside its RAM ") + RIP))
    return steps


ATTACK_SCENARIOS = [
    Scenario(
        "attack-msr",
        "MSR sweeps (read, write all ones, put back) over the architectural, hypervisor, "
        "AMD and Intel ranges, then EFER.SVME, VM_HSAVE_PA, VM_CR, FEATURE_CONTROL, SMM, "
        "microcode, MTRRs, PAT, APIC_BASE: #GP or a virtual value, never another exception "
        "or a host effect; plain and with a local APIC, the counter goes on",
        plain_and_apic("attack_msr.elf"),
        [VMM, "attack_msr.elf", "counter.elf"],
        Expect(
            steps=[BANNER, both_pass("attack_msr"), *counting()],
            anywhere=[out(p, lit(f"PASS: MSR sweep {r}: ")) for p in ("plain", "apic")
                      for r in MSR_RANGES]
            + [out("apic", lit("PASS: APIC_BASE relocation gets #GP, APIC_BASE unchanged"))],
            forbidden=NO_STRAY + [r"^mica: partition '(plain|apic)' restarting"]),
        timeout=240),
    Scenario(
        "attack-virt",
        "every SVM, VMX, SMX and SGX instruction in a guest raises #UD there and writes "
        "nothing, on either vendor; plain and with a local APIC, the counter goes on",
        plain_and_apic("attack_virt.elf"),
        [VMM, "attack_virt.elf", "counter.elf"],
        Expect(
            steps=[BANNER, both_pass("attack_virt"), *counting()],
            anywhere=[out(p, lit(f"PASS: {i} gets #UD") + "$") for p in ("plain", "apic")
                      for i in VIRT_INSNS],
            forbidden=NO_STRAY + [r"^mica: partition '(plain|apic)' restarting"]),
        timeout=120),
    Scenario(
        "attack-io",
        "every I/O port at every width read and written, PCI configuration aimed at the "
        "host's functions, the reset lines, CMOS and the other UARTs: nothing leaves the "
        "partition, its own UART and PCI bus still behave; plain and with a local APIC",
        plain_and_apic("attack_io.elf"),
        [VMM, "attack_io.elf", "counter.elf"],
        Expect(
            steps=[BANNER, both_pass("attack_io"), *counting()],
            anywhere=[out(p, lit("attack_io: this line came through the partition's own UART"))
                      for p in ("plain", "apic")]
            + [out("plain", lit("attack_io: no PCI bus, 0 PCI functions, 0 I/O BARs")),
               out("apic", r"attack_io: a PCI bus, [1-9]\d* PCI functions, [1-9]\d* I/O BARs"),
               out("apic", lit("attack_io: own I/O BAR at ports 0xc010-0xc01f")),
               out("apic", lit("PASS: the partition's own PCI bus shows the same functions "
                               "afterwards"))],
            forbidden=NO_STRAY + [r"^mica: partition '(plain|apic)' restarting"]),
        timeout=600),
    Scenario(
        "attack-s2",
        "reads, writes and a fetch at every GiB to 512 GiB, just past RAM, the APIC, I/O APIC, "
        "HPET, ECAM and the top of the 4 GiB hole and of the physical address space: Mica "
        "stops the partition at each, naming the address and the access; the counter goes on",
        """
            [partition s2]
            cpus = 1
            memory = 4M
            image = attack_s2.elf
            on_crash = restart

            [partition counter]
            cpus = 2
            memory = 16M
            image = counter.elf
        """,
        ["attack_s2.elf", "counter.elf"],
        Expect(
            steps=[BANNER, *s2_steps(),
                   out("s2", lit("PASS: attack_s2: Mica stopped all 519 probes")),
                   stopped("s2", POWERED_OFF), *counting()],
            forbidden=NO_STRAY + [out("s2", "FAIL")]),
        timeout=600),
    Scenario(
        "attack-irq",
        "IPIs of every delivery mode to every foreign x2APIC ID, physical and logical, every "
        "shorthand, self-IPI storms with IF = 1 and 0, an interrupt-window storm held by the "
        "TPR, HLT with IF = 0, INIT/SIPI at its own vCPU: the attacker's vCPUs get what they "
        "should, the bystander nothing, and it keeps running",
        SERVICE_PART + textwrap.dedent("""
            [partition attacker]
            cpus = 1,3
            memory = 16M
            image = attack_irq.elf
            console = virtio

            [partition bystander]
            cpus = 2
            memory = 16M
            image = attack_irq.elf
            console = virtio
        """),
        [VMM, "attack_irq.elf"],
        Expect(
            steps=[BANNER, out("attacker", lit("PASS: attack_irq") + "$"),
                   stopped("attacker", POWERED_OFF),
                   out("bystander", r"bystander: second \d+, 0 interrupts$"),
                   out("bystander", r"bystander: second \d+, 0 interrupts$")],
            anywhere=[out("attacker", lit("PASS: IPIs of every mode to x2APIC IDs 2-255")),
                      out("attacker", lit("PASS: the shorthands and the broadcast ID")),
                      out("attacker", lit("PASS: an interrupt-window storm"))],
            forbidden=NO_STRAY + [out("bystander", "FAIL"),
                                  r"^mica: partition 'attacker' restarting"]),
        timeout=300),
    Scenario(
        "attack-arch",
        "every CPUID leaf and subleaf the same on both vCPUs but for the APIC ID, CR4.OSXSAVE, "
        "OSPKE and the XSAVE size the guest's own; reserved CR0/CR4/CR8/DR6/DR7 bits #GP; a "
        "double fault, a triple fault and a GDT outside RAM stop only this partition; plain "
        "and with a local APIC",
        SERVICE_PART + textwrap.dedent("""
            [partition arch]
            cpus = 1,3
            memory = 16M
            image = attack_arch.elf
            console = virtio
            on_crash = restart

            [partition plain]
            cpus = 2
            memory = 16M
            image = attack_arch.elf
            on_crash = restart
        """),
        [VMM, "attack_arch.elf"],
        Expect(
            steps=[BANNER,
                   [pat for p in ("arch", "plain") for pat in (
                       out(p, lit("PASS: a #GP with no gate present became a double fault")),
                       restarting(p, 1, lit("triple fault ") + TRIPLE),
                       restarting(p, 2, lit("read from guest-physical 0x80000010 outside its "
                                            "RAM ") + RIP),
                       out(p, lit("PASS: attack_arch") + "$"),
                       stopped(p, POWERED_OFF))]],
            anywhere=[out("arch", lit("PASS: ") + r"\d+" + lit(" CPUID leaves and subleaves: "
                                                               "vCPU 0 and vCPU 1 see the same")),
                      out("arch", lit("PASS: CPUID.0Dh.0:EBX is the XSAVE size")),
                      out("plain", lit("PASS: CPUID.0Dh.0:EBX is the XSAVE size")),
                      out("plain", lit("PASS: CPUID.1:ECX.OSXSAVE follows the guest's "
                                       "CR4.OSXSAVE (off)"))],
            forbidden=NO_STRAY + [r"^\[\w+\] FAIL",
                                  # a stop re-added the virtio console to a bus not reset
                                  r"virtual PCI: slot \d+ is taken"],
            settle=3.0),
        timeout=240),
]
