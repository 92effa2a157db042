#!/usr/bin/env python3
"""The include rules of docs/architecture.md ("Layers and include rules"), checked on every
build of the core: each quoted #include, and each call into the vendor backend (`virt->`),
must be allowed for the folder of the file that makes it. Prints one line per breach, with
the rule it breaks, and exits 1 if there is any; `--self-test` shows that a breach is
caught. Run from the repository root."""
import glob
import re
import sys

# Folder of a source file -> (include prefixes it may use, may it call virt->, why).
ROOT_CONTRACTS = ("kernel/arch.h", "kernel/config.h", "kernel/console.h", "kernel/log.h",
                  "kernel/mem.h", "kernel/partition.h", "kernel/percpu.h", "kernel/vcpu.h",
                  "kernel/vcpu_layout.h", "kernel/virt.h", "kernel/spinlock.h",
                  "kernel/irq.h", "kernel/frame.h", "kernel/hypercall.h", "kernel/iommu.h",
                  "kernel/host/iommu_acpi.h", "kernel/ram.h")
X86_INSNS = ("arch/x86/cpu.h", "arch/x86/extable.h")
RULES = {
    "lib": (("lib/",), False, "lib/ stands alone: every program links it"),
    "kernel/vpci": (("kernel/vpci/", "lib/"), False,
                    "the PCI bus is pure: it knows no partition and none of its devices"),
    "kernel/host": (("kernel/host/", "lib/"), False,
                    "readers of the host's tables are pure"),
    "kernel/loader": (("kernel/loader/", "kernel/platform/acpi_tables.h", "kernel/virt.h",
                       "lib/"), False,
                      "loaders lay out images; they touch no device, bus or backend"),
    "kernel/platform": (("kernel/platform/", "lib/") + ROOT_CONTRACTS, False,
                        "the guest's PC is models and their glue: no backend, no arch/x86"),
    "kernel/virtio": (("kernel/virtio/", "kernel/vpci/", "lib/") + ROOT_CONTRACTS, False,
                      "virtio devices sit on the bus and talk to the service: no backend, "
                      "no arch/x86, no emulation"),
    "kernel/emul": (("kernel/emul/", "kernel/platform/", "kernel/vpci/", "lib/") +
                    ROOT_CONTRACTS + X86_INSNS, True,
                    "emulation reaches devices through the bus and the platform, never a "
                    "virtio device directly"),
    "kernel": (("kernel/", "lib/") + X86_INSNS, True,
               "the core uses x86 instructions (arch/x86/cpu.h) but no backend's headers"),
    "arch/x86": (("arch/x86/", "lib/", "kernel/host/acpi.h", "kernel/emul/fetch.h") +
                 ROOT_CONTRACTS, True,
                 "a backend sees the kernel's contracts only (kernel/virt.h lists them)"),
}


def folder(path):
    parts = path.split("/")
    if parts[0] == "kernel" and len(parts) > 2:
        return "kernel/" + parts[1]
    if parts[0] == "arch":
        return "arch/x86"
    return parts[0]


def breaches(files):
    out = []
    for path, text in files:
        rule = RULES.get(folder(path))
        if rule is None:
            continue
        allowed, may_call_backend, why = rule
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m and not any(m.group(1) == a or (a.endswith("/") and m.group(1).startswith(a))
                             for a in allowed):
                out.append(f"{path}:{n}: includes {m.group(1)}: {why}")
            if not may_call_backend and re.search(r"\bvirt->", line):
                out.append(f"{path}:{n}: calls the backend (virt->): {why}")
    return out


def sources():
    paths = sorted(set(glob.glob("kernel/**/*.[chS]", recursive=True) +
                       glob.glob("arch/**/*.[chS]", recursive=True) +
                       glob.glob("lib/**/*.[ch]", recursive=True)))
    return [(p, open(p, encoding="utf-8").read()) for p in paths]


def self_test():
    bad = [("kernel/platform/x.c", '#include "arch/x86/cpu.h"\n'),
           ("kernel/vpci/x.c", '#include "kernel/virtio/device.h"\n'),
           ("kernel/virtio/x.c", "\tvirt->stage2_map(0, 0, 0, 0, 0);\n"),
           ("kernel/emul/x.c", '#include "kernel/virtio/device.h"\n'),
           ("kernel/x.c", '#include "arch/x86/svm/svm.h"\n'),
           ("arch/x86/svm/x.c", '#include "kernel/platform/vlapic.h"\n'),
           ("lib/x.h", '#include "kernel/log.h"\n')]
    good = [("kernel/platform/x.c", '#include "kernel/partition.h"\n#include "lib/bytes.h"\n'),
            ("kernel/x.c", '#include "arch/x86/cpu.h"\n\tvirt->vcpu_run(v);\n')]
    found = breaches(bad)
    ok = len(found) == len(bad) and not breaches(good)
    print("check-layers: self-test " + ("passed" if ok else "FAILED: " + repr(found)))
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    found = breaches(sources())
    for line in found:
        print("check-layers: " + line, file=sys.stderr)
    if found:
        print("check-layers: see docs/architecture.md, \"Layers and include rules\"",
              file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
