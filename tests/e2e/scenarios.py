"""Mica's end-to-end scenarios: for each, the config, the guests it needs, and what the
serial console must (and must never) show. docs/testing.md explains how to add one.

Patterns are Python regexes matched against one console line at a time. Placeholders make
one pattern fit every backend (harness.py, Backend.subst): `<vendor>` is the virtualization
backend the banner names (svm, vmx); `<loader>` the boot path's message prefix (mica-loader
for UEFI, mica-mb2 for Multiboot2); `<cfgpath>` the config's path as the boot path names it
(\\mica\\mica.cfg, mica.cfg); `<missing-image>` the rest of the boot path's message for an
image it could not find. PANIC, FAIL and exception are always forbidden.
"""

import re
import textwrap

from harness import Expect, config_line


class Scenario:
    """expect: an Expect (output only), or a harness.Script (interactive: waits, typed
    commands and their checked answers), or a function of the config returning one.
    guests: file names in build/guests, or paths (the Linux image: tests/e2e/linux.py).
    env: extra environment for the emulator (e.g. MICA_SMP). explicit: run only when
    named exactly (slow ones), never as part of `all` or a glob."""

    def __init__(self, name, about, config, guests, expect, timeout=60, vendors=("svm", "vmx"),
                 env=None, explicit=False, core_build=None):
        self.core_build = core_build  # a test build of the core to boot (e2e.mk makes it)
        self.name = name
        self.about = about
        self.config = textwrap.dedent(config).lstrip("\n")
        self.guests = list(guests)
        self.expect = expect(self.config) if callable(expect) else expect
        self.timeout = timeout
        self.vendors = vendors
        self.env = dict(env or {})
        self.explicit = explicit


# --- building blocks for patterns ----------------------------------------------------------

BANNER = r"^mica: Mica \S+ \(.*\): \d+ CPUs, \d+ MiB free, backend <vendor>(, .*)?$"
NO_PARTITION_OUTPUT = [r"^\[[^\]]+\] ", r"^mica: partition '.*' started"]


def lit(text):
    """A literal piece of a line."""
    return re.escape(text)


def out(part, text):
    """A line the guest in partition `part` printed (text is a regex)."""
    return r"^\[" + re.escape(part) + r"\] " + text


def started(part, cpus, mem, image):
    return (r"^mica: partition " + lit(f"'{part}' started on CPU {cpus}: {mem}, image {image}")
            + "$")


def stopped(part, reason):
    return r"^mica: partition " + lit(f"'{part}' stopped: ") + reason


def restarting(part, k, reason):
    return r"^mica: partition " + lit(f"'{part}' restarting (restart {k}): ") + reason


def counting(part="counter"):
    """Two count lines: the counter was still running after the previous step."""
    return [out(part, r"count \d+$")], [out(part, r"count \d+$")]


POWERED_OFF = lit("powered off (code 0)")
RIP = r"\(RIP 0x[0-9a-f]+\)"
# a triple fault's: RIP, RSP, perhaps the event being delivered, CR2 (kernel/vcpu.c)
TRIPLE = (r"\(RIP 0x[0-9a-f]+, RSP 0x[0-9a-f]+, (delivering vector \d+ type \d, )?"
          r"CR2 0x[0-9a-f]+\)")

# the line before a triple fault's stop: the paging state, and CR2 walked through the
# guest's own tables (kernel/vcpu.c)
def paging_at_triple(part, walk):
    return (r"^mica: partition " + lit(f"'{part}': at its triple fault ") +
            r"CR0 0x[0-9a-f]+ CR3 0x[0-9a-f]+ CR4 0x[0-9a-f]+ EFER 0x[0-9a-f]+; "
            r"CR2 in its page tables now: " + walk + "$")


def cfg_error(line, message):
    """The core refused the config at `line` (message is a regex)."""
    return r"^mica: config error: <cfgpath>" + lit(f":{line}: ") + message + "$"


def loader_error(line, message):
    """The boot path (UEFI loader or Multiboot2 entry) refused the config at `line`."""
    return r"^<loader>: <cfgpath>" + lit(f":{line}: ") + message + "$"


COUNTER = """
    [partition counter]
    cpus = 2
    memory = 16M
    image = counter.elf
"""


def beside_counter(config):
    """The config plus a counter partition on CPU 2 that must keep running."""
    return (textwrap.dedent(config).strip("\n") + "\n\n"
            + textwrap.dedent(COUNTER).strip("\n") + "\n")


# hello (CPU 1) and the counter: the smallest machine that shows two partitions at work.
HELLO_BESIDE_COUNTER = beside_counter("""
    [partition hello]
    cpus = 1
    memory = 16M
    image = hello.elf
""")


# --- the scenarios -------------------------------------------------------------------------

SCENARIOS = [
    Scenario(
        "two-partitions",
        "hello and counter side by side: hello greets, passes and powers off; counter goes on",
        HELLO_BESIDE_COUNTER,
        ["hello.elf", "counter.elf"],
        Expect(
            steps=[
                BANNER,
                out("hello", lit("hello from hello: partition 0, vCPU 0 of 1, 16 MiB RAM") + "$"),
                out("hello", lit("hello: this line came through the console hypercall")),
                out("hello", lit("PASS: hello") + "$"),
                stopped("hello", POWERED_OFF),
                *counting(),
            ],
            anywhere=[
                started("hello", "1", "16 MiB", "hello.elf"),
                started("counter", "2", "16 MiB", "counter.elf"),
                out("counter", lit("counter: start (restarts 0)")),
            ],
        ),
    ),
    Scenario(
        "cpuid",
        "the CPUID policy a partition sees: hypervisor bit, no VMX/SVM, Mica's leaves",
        """
            [partition cpuid]
            cpus = 1
            memory = 16M
            image = cpuid.elf
        """,
        ["cpuid.elf"],
        Expect(
            steps=[
                BANNER,
                out("cpuid", lit("PASS: cpuid policy") + "$"),
                stopped("cpuid", POWERED_OFF),
            ],
            anywhere=[
                out("cpuid", lit("PASS: CPUID.1:ECX.hypervisor[bit 31] = 1")),
                out("cpuid", lit("PASS: CPUID.1:ECX.VMX[bit 5] = 0")),
                out("cpuid", lit("PASS: CPUID.80000001h:ECX.SVM[bit 2] = 0")),
                out("cpuid", lit("PASS: leaf 0x40000000 signature is MicaMicaMica")),
                out("cpuid", lit("PASS: leaf 0x40000000 EAX >= 0x40000001")),
                out("cpuid", lit("PASS: leaf 0x40000001 EAX = MICA_ABI_VERSION")),
            ],
        ),
    ),
    Scenario(
        "isolation-probe",
        "a guest writing past its RAM is stopped there; the counter beside it goes on",
        beside_counter("""
            [partition probe]
            cpus = 1
            memory = 16M
            image = probe.elf
        """),
        ["probe.elf", "counter.elf"],
        Expect(
            steps=[
                BANNER,
                out("probe", lit("PASS: probe own RAM read/write")),
                out("probe", lit("probe: writing guest-physical 0x1000000 (outside RAM)")),
                stopped("probe", lit("write to guest-physical 0x1000000 outside its RAM ") + RIP),
                *counting(),
            ],
            anywhere=[out("counter", lit("counter: start (restarts 0)"))],
        ),
    ),
    Scenario(
        "triple-fault",
        "a triple fault stops only the partition that caused it",
        beside_counter("""
            [partition triple]
            cpus = 1
            memory = 16M
            image = triple.elf
        """),
        ["triple.elf", "counter.elf"],
        Expect(
            steps=[
                BANNER,
                out("triple", lit("triple: faulting now")),
                paging_at_triple("triple", lit("guest-physical 0x0")),
                stopped("triple", lit("triple fault ") + TRIPLE),
                *counting(),
            ],
            anywhere=[out("counter", lit("counter: start (restarts 0)"))],
        ),
    ),
    Scenario(
        "restart-on-crash",
        "on_crash = restart: crasher is restarted twice, then passes and powers off",
        beside_counter("""
            [partition crasher]
            cpus = 1
            memory = 16M
            image = crasher.elf
            on_crash = restart
        """),
        ["crasher.elf", "counter.elf"],
        Expect(
            steps=[
                BANNER,
                out("crasher", lit("crasher: run 0") + "$"),
                restarting("crasher", 1, lit("triple fault ") + TRIPLE),
                out("crasher", lit("crasher: run 1") + "$"),
                restarting("crasher", 2, lit("triple fault ") + TRIPLE),
                out("crasher", lit("crasher: run 2") + "$"),
                out("crasher", lit("PASS: restarted twice")),
                stopped("crasher", POWERED_OFF),
                *counting(),
            ],
            anywhere=[out("counter", lit("counter: start (restarts 0)"))],
            forbidden=[r"restart 3\)"],
        ),
    ),
    Scenario(
        "hypercall-fuzz",
        "20000 random hypercalls all get the ABI's answers; the counter beside goes on",
        beside_counter("""
            [partition hcfuzz]
            cpus = 1
            memory = 16M
            image = hcfuzz.elf
        """),
        ["hcfuzz.elf", "counter.elf"],
        Expect(
            steps=[
                BANNER,
                out("hcfuzz", r"hcfuzz: seed 0x[0-9a-f]+, 20000 calls, restarts 0$"),
                out("hcfuzz", lit("hcfuzz: 20000 calls, 0 mismatches")),
                out("hcfuzz", lit("PASS: hcfuzz 20000 calls survived")),
                stopped("hcfuzz", POWERED_OFF),
                *counting(),
            ],
            anywhere=[out("counter", lit("counter: start (restarts 0)"))],
        ),
        timeout=120,
    ),

    # --- configs the loader must refuse -------------------------------------------------
    Scenario(
        "config-unknown-key",
        "a misspelt key is named with the keys that exist",
        """
            [partition hello]
            cpus = 1
            memroy = 16M
            image = hello.elf
        """,
        ["hello.elf"],
        lambda cfg: Expect(
            steps=[loader_error(config_line(cfg, "memroy"), lit(
                "unknown key 'memroy' (expected cpus, memory, image, initrd, cmdline, modules, "
                "on_crash, service, start, log, console, disk, net, pci or debug_exit)"))],
            forbidden=NO_PARTITION_OUTPUT, settle=3),
    ),
    Scenario(
        "config-cpu-overlap",
        "two partitions cannot share a CPU",
        """
            [partition hello]
            cpus = 2
            memory = 16M
            image = hello.elf

            [partition counter]
            cpus = 2
            memory = 16M
            image = counter.elf
        """,
        ["hello.elf", "counter.elf"],
        lambda cfg: Expect(
            steps=[loader_error(config_line(cfg, "cpus = 2", 2), lit(
                f"CPU 2 is already given to partition 'hello' "
                f"(line {config_line(cfg, 'cpus = 2')}); each CPU runs one partition"))],
            forbidden=NO_PARTITION_OUTPUT, settle=3),
    ),
    Scenario(
        "config-missing-image",
        "an image that is not on the boot medium is named with what was looked for",
        """
            [partition hello]
            cpus = 1
            memory = 16M
            image = nope.elf
        """,
        ["hello.elf"],
        lambda cfg: Expect(
            steps=[loader_error(config_line(cfg, "nope.elf"),
                                lit("image 'nope.elf' ") + "<missing-image>")],
            forbidden=NO_PARTITION_OUTPUT, settle=3),
    ),

    # --- configs the core must refuse (they need the machine's facts) -----------------
    Scenario(
        "config-too-much-memory",
        "partitions asking for more RAM than the machine has free: nothing starts",
        """
            [partition hello]
            cpus = 1
            memory = 16M
            image = hello.elf

            [partition big]
            cpus = 2
            memory = 4G
            image = hello.elf
        """,
        ["hello.elf"],
        lambda cfg: Expect(
            steps=[
                BANNER,
                cfg_error(config_line(cfg, "memory = 4G"),
                          lit("partition 'big' needs 4 GiB of RAM; with the partitions before it "
                              "that makes ") + ".* but the machine has .* free"),
                r"^mica: no partition started",
            ],
            forbidden=NO_PARTITION_OUTPUT, settle=3),
    ),
    Scenario(
        "config-no-such-cpu",
        "a CPU the machine does not have: nothing starts",
        """
            [partition hello]
            cpus = 1
            memory = 16M
            image = hello.elf

            [partition x]
            cpus = 7
            memory = 16M
            image = hello.elf
        """,
        ["hello.elf"],
        lambda cfg: Expect(
            steps=[
                BANNER,
                cfg_error(config_line(cfg, "cpus = 7"), lit(
                    "partition 'x' wants CPU 7, but this machine has CPUs 0-3")),
                r"^mica: no partition started",
            ],
            forbidden=NO_PARTITION_OUTPUT, settle=3),
    ),
    Scenario(
        "uefi-smoke",
        "the UEFI loader under OVMF on Intel VT-x: hello runs on the boot CPU and powers off",
        """
            [partition hello]
            cpus = 0
            memory = 16M
            image = hello.elf
        """,
        ["hello.elf"],
        Expect(
            steps=[
                r"^mica-loader: Mica UEFI loader",
                BANNER,
                started("hello", "0", "16 MiB", "hello.elf"),
                out("hello", lit("PASS: hello") + "$"),
                stopped("hello", POWERED_OFF),
            ],
        ),
        timeout=60, vendors=("vmx-uefi",)),
    Scenario(
        "vmx-broken-vmcs",
        "a test build writes a bad VMCS link pointer: VM entry fails, Mica says why in words "
        "and stops the partition instead of crashing",
        """
            [partition hello]
            cpus = 1
            memory = 16M
            image = hello.elf
        """,
        ["hello.elf"],
        Expect(
            steps=[
                BANNER,
                stopped("hello", lit("VM entry failed: invalid guest state (VMCS link pointer)")),
            ],
            anywhere=[started("hello", "1", "16 MiB", "hello.elf")],
        ),
        vendors=("vmx",), core_build="build/vmxbreak"),
]
