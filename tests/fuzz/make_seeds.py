#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/seeds/<harness>/): small valid
inputs, so that the fuzzers start from what the parsers accept. Run from the repository
root after `make` (the ELF seeds are built guests); the seeds are checked in, and this
script is how they were made."""

import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")


def put(harness, name, data):
    d = os.path.join(SEEDS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def acpi_table(sig, body, rev=1):
    """An ACPI table with its header and a correct checksum."""
    length = 36 + len(body)
    hdr = bytearray(sig + struct.pack("<IBB", length, rev, 0) + b"MICA  " + b"MICATEST" +
                    struct.pack("<I", 1) + b"MICA" + struct.pack("<I", 1))
    t = hdr + body
    t[9] = (-sum(t)) & 0xff
    return bytes(t)


def configs():
    for name in ("default.cfg", "tiny.cfg", "linux.cfg"):
        shutil.copy(os.path.join(ROOT, "configs", name), os.path.join(SEEDS, "fuzz_config", name))
    put("fuzz_config", "passthrough.cfg",
        b"[partition edu]\ncpus = 1\nmemory = 16M\nimage = edu.elf\npci = 00:10.0, 0000:01:00.0\n"
        b"on_crash = restart\n\n[partition svc]\ncpus = 2-3\nmemory = 32M\nimage = vmm.elf\n"
        b"service = yes\n\n[partition linux]\ncpus = 4\nmemory = 256M\nimage = vmlinuz\n"
        b"initrd = initrd.img\ncmdline = \"console=ttyS0 quiet\"\ndisk = d.img\nnet = lan\n"
        b"console = virtio\nmodules = a.bin b.bin\n")


def elfs():
    for name in ("hello.elf", "mboot.elf"):
        src = os.path.join(ROOT, "build", "guests", name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(SEEDS, "fuzz_elf", name))


def bzimage():
    setup_sects, kernel = 3, 0x2000
    setup = (setup_sects + 1) * 512
    img = bytearray(setup + kernel)
    img[0x1f1] = setup_sects
    struct.pack_into("<I", img, 0x1f4, kernel // 16)
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200:0x202] = b"\xeb\x6a"
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020f)
    struct.pack_into("<H", img, 0x20e, 0x200)
    img[0x400:0x400 + 30] = b"6.1.0-seed (mica@seed) #1 SMP\0"
    img[0x211] = 1
    struct.pack_into("<I", img, 0x214, 0x100000)
    struct.pack_into("<I", img, 0x22c, 0x7fffffff)
    struct.pack_into("<I", img, 0x230, 0x200000)
    img[0x234], img[0x235] = 1, 21
    struct.pack_into("<H", img, 0x236, 3)
    struct.pack_into("<I", img, 0x238, 2047)
    struct.pack_into("<Q", img, 0x258, 0x1000000)
    struct.pack_into("<I", img, 0x260, 0x800000)
    put("fuzz_bzimage", "bzimage-2.15", bytes(img))


def iommu():
    # DMAR: width 39 bits, interrupt remapping; one DRHD (INCLUDE_PCI_ALL) and an RMRR with
    # a device scope 00:1d.0; first byte 1 selects the DMAR parser.
    drhd = struct.pack("<HHBBHQ", 0, 16, 1, 0, 0, 0xfed90000)
    scope = struct.pack("<BBHBB", 1, 8, 0, 0, 0) + bytes([0x1d, 0])
    rmrr = struct.pack("<HHHHQQ", 1, 24 + len(scope), 0, 0, 0x7f000000, 0x7f0fffff) + scope
    put("fuzz_iommu_acpi", "dmar", b"\x01" + acpi_table(b"DMAR", bytes([38, 1]) + bytes(10) +
                                                        drhd + rmrr))
    # IVRS: one IVHD 0x10 for 00:02.0 covering all devices (range 0000-ffff) and an IVMD.
    entries = struct.pack("<BHB", 3, 0x0000, 0) + struct.pack("<BHB", 4, 0xffff, 0)
    ivhd = struct.pack("<BBHHHQHHI", 0x10, 0x30, 24 + len(entries), 0x0010, 0x40, 0xfeb80000,
                       0, 0, 0) + entries
    ivmd = struct.pack("<BBHHHQQQ", 0x20, 1, 32, 0, 0, 0, 0x7e000000, 0x100000)
    put("fuzz_iommu_acpi", "ivrs", b"\x00" + acpi_table(b"IVRS", struct.pack("<I", 0x3f40) +
                                                        bytes(8) + ivhd + ivmd, rev=2))


def decode():
    for i, insn in enumerate([b"\x02\x89\x07", b"\x02\x48\x8b\x05\x00\x10\x00\x00",
                              b"\x01\xc7\x00\x78\x56\x34\x12", b"\x02\x0f\xb6\x07",
                              b"\x02\xf0\x83\x08\x01", b"\x00\x66\x89\x07", b"\x02\x0f\xa2",
                              b"\x02\x66\x0f\x01\xd9", b"\x01\xf4", b"\x02\xa1" + bytes(8)]):
        put("fuzz_decode", f"insn-{i}", insn)


def gwalk():
    # 4-level paging: cr3 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> data 0x5000;
    # gva 0x123, a read; then 64 KiB of memory from address 0.
    regs = struct.pack("<IHIHIB", 0x80010001, 0x1000, 0x20, 0x0d00, 0x2, 48)
    regs += struct.pack("<QB", 0x123, 0)
    mem = bytearray(0x6000)
    struct.pack_into("<Q", mem, 0x1000, 0x2000 | 7)
    struct.pack_into("<Q", mem, 0x2000, 0x3000 | 7)
    struct.pack_into("<Q", mem, 0x3000, 0x4000 | 7)
    struct.pack_into("<Q", mem, 0x3008, 0x200000 | 0x87)  # a 2 MiB page
    struct.pack_into("<Q", mem, 0x4000, 0x5000 | 7)
    mem[0x5000:0x5010] = b"data of the page"
    put("fuzz_gwalk", "4level", regs + bytes(mem))
    regs32 = struct.pack("<IHIHIB", 0x80000001, 0x1000, 0x10, 0, 0, 32) + struct.pack("<QB", 0x400123, 2)
    mem32 = bytearray(0x2000)
    struct.pack_into("<I", mem32, 0x1004, 0x400000 | 0x87)  # a 4 MiB page (PSE)
    put("fuzz_gwalk", "32bit-pse", regs32 + bytes(mem32))


def virtq():
    # 8 entries: desc 0x1000, avail 0x2000, used 0x3000; a chain of a 16-byte header and a
    # 512-byte writable buffer, then one of a single readable buffer.
    cfg = struct.pack("<BHHHB", 3, 0x1000, 0x2000, 0x3000, 0) + (0x10000).to_bytes(3, "little")
    ram = bytearray(0x6000)
    struct.pack_into("<QIHH", ram, 0x1000, 0x4000, 16, 1, 1)
    struct.pack_into("<QIHH", ram, 0x1010, 0x5000, 512, 2, 0)
    struct.pack_into("<QIHH", ram, 0x1020, 0x4100, 64, 0, 0)
    struct.pack_into("<HHHH", ram, 0x2000, 0, 2, 0, 2)
    put("fuzz_virtq", "two-chains", cfg + bytes(ram))


def host_acpi():
    # MADT body: local APIC address, flags; two CPUs, an x2APIC CPU, two I/O APICs (the
    # second listed first), an override of IRQ 4. MCFG: one window for buses 0-255.
    madt = struct.pack("<II", 0xfee00000, 1)
    madt += bytes([0, 8, 0, 0]) + struct.pack("<I", 1) + bytes([0, 8, 1, 1]) + struct.pack("<I", 1)
    madt += bytes([9, 16, 0, 0]) + struct.pack("<III", 300, 1, 300)
    madt += bytes([1, 12, 9, 0]) + struct.pack("<II", 0xfec01000, 24)
    madt += bytes([1, 12, 8, 0]) + struct.pack("<II", 0xfec00000, 0)
    madt += bytes([2, 10, 0, 4]) + struct.pack("<IH", 4, 0xd)
    mcfg = struct.pack("<QHBBI", 0xb0000000, 0, 0, 255, 0)
    split = (len(madt) * 255 + len(madt) + len(mcfg) - 1) // (len(madt) + len(mcfg))
    put("fuzz_host_acpi", "two-ioapics", bytes([min(split, 255)]) + madt + mcfg)


def host_pci():
    def fn(bus, dev, f, header, masks, caps=b""):
        c = bytearray(64)
        c[0:64] = header.ljust(64, b"\0")[:64]
        return bytes([bus, dev, f, (len(caps) + 15) // 16]) + bytes(c) + bytes(masks) + \
            caps.ljust((len(caps) + 15) // 16 * 16, b"\0")
    hb = struct.pack("<HHHHIBBBB", 0x8086, 0x29c0, 6, 0, 0x06000000, 0, 0, 0, 0)
    port = bytearray(struct.pack("<HHHHIBBBB", 0x1b36, 0x000c, 7, 0x10, 0x06040000, 0, 0, 1, 0))
    port += bytes(8) + bytes([0, 1, 1, 0])  # BARs 0-1, then primary 0, secondary 1, subordinate 1
    ep = bytearray(struct.pack("<HHHHIBBBB", 0x1234, 0x11e8, 6, 0x10, 0x00ff0010, 0, 0, 0, 0))
    ep += struct.pack("<IIIIII", 0xfe000000, 0xfe100004, 0, 0, 0, 0)
    ep = ep.ljust(0x34, b"\0") + bytes([0x40])
    msi = bytes([0x05, 0x00]) + struct.pack("<H", 0x0086)
    data = fn(0, 0, 0, hb, [0] * 6) + fn(0, 0x1c, 0, bytes(port), [12, 12, 0, 0, 0, 0])
    data += fn(1, 0, 0, bytes(ep), [20, 14, 0, 0, 0, 0], msi)
    put("fuzz_host_pci", "port-and-endpoint", data)


def mbi():
    def tag(t, body):
        b = struct.pack("<II", t, 8 + len(body)) + body
        return b + bytes((-len(b)) % 8)
    tags = tag(1, b"console=com1\0") + tag(3, struct.pack("<II", 0x200000, 0x300000) + b"mica.cfg\0")
    tags += tag(6, struct.pack("<II", 24, 0) + struct.pack("<QQII", 0, 0x9fc00, 1, 0) +
                struct.pack("<QQII", 0x100000, 0x3ff00000, 1, 0))
    tags += tag(14, b"RSD PTR " + bytes(12)) + tag(0, b"")
    put("fuzz_mbi", "grub", struct.pack("<II", 8 + len(tags), 0) + tags)


def vpci():
    # Operations as fuzz_vpci.c reads them: kind (bits 1:0 where, 5:4 size 1/2/4/8, 6
    # write), the value, then the where. NVMe (slot 9): bus master and memory on, MSI-X
    # enabled, entry 3 programmed and unmasked, vector 3 signalled; edu (slot 8): MSI with 4
    # vectors, vector 2 signalled.
    def ecam(slot, reg, size_idx, val):
        n = [1, 2, 4, 8][size_idx]
        return bytes([0x40 | size_idx << 4]) + val.to_bytes(n, "little") + \
            ((slot << 15) | reg).to_bytes(3, "little")

    def bar(off, size_idx, val):
        n = [1, 2, 4, 8][size_idx]
        return bytes([0x41 | size_idx << 4]) + val.to_bytes(n, "little") + off.to_bytes(4, "little")

    def signal(slot, vec):
        return bytes([0x03]) + bytes(1) + bytes([slot, vec])
    ops = ecam(9, 0x04, 1, 0x0006) + ecam(9, 0x42, 1, 0x8000)
    ops += bar(0x08100000 + 0x2000 + 3 * 16, 3, 0xfee01000) + bar(0x08100000 + 0x2000 + 3 * 16 + 8, 3, 0x41)
    ops += signal(9, 3)
    ops += ecam(8, 0x04, 1, 0x0006) + ecam(8, 0x44, 2, 0xfee00000) + ecam(8, 0x4c, 1, 0x50)
    ops += ecam(8, 0x42, 1, 0x0025) + signal(8, 2)
    put("fuzz_vpci", "msix-and-msi", ops)


def gpt():
    """An 8-block disk as fuzz_gpt reads it: LBA 1 primary header, 2 four entries,
    3-5 usable, 6 the backup entries, 7 the backup header (both sealed with CRC32)."""
    import zlib
    bs, blocks = 512, 8
    disk = bytearray(bs * blocks)
    entries = bytearray(bs)
    for i, (first, last, name) in enumerate([(3, 3, "web-root"), (4, 5, "db")]):
        e = bytes([0xAF] * 16) + bytes([0x10 + i] * 16) + struct.pack("<QQQ", first, last, 0)
        e += name.encode("utf-16-le").ljust(72, b"\0")
        entries[128 * i:128 * (i + 1)] = e
    disk[2 * bs:3 * bs] = entries
    disk[6 * bs:7 * bs] = entries
    acrc = zlib.crc32(bytes(entries))
    for at, alt, arr in ((1, 7, 2), (7, 1, 6)):
        h = bytearray(b"EFI PART" + struct.pack("<IIII", 0x00010000, 92, 0, 0)
                      + struct.pack("<QQQQ", at, alt, 3, 5) + bytes([0x42] * 16)
                      + struct.pack("<QIII", arr, 4, 128, acrc))
        struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)))
        disk[at * bs:at * bs + len(h)] = h
    put("fuzz_gpt", "two-partitions", bytes(disk))
    sealed = bytearray(disk)
    sealed[0] |= 1  # the harness seals what the input says
    put("fuzz_gpt", "sealed", bytes(sealed))


def snapimg():
    """fuzz_snapimg: an image of a 2-vCPU partition with 8 KiB of RAM (lib/snapimg.h), whole
    and CRC-sealed (its first byte, the magic's 'M', is odd: the harness seals it again,
    which changes nothing)."""
    import zlib
    crc = zlib.crc32
    h = bytearray(256)
    sections = [(1, 0, b"\xa0" * 40), (1, 1, b"\xa1" * 40), (2, 0, b"\xd0" * 20),
                (5, 0, bytes((i * 13) & 0xff for i in range(8192)))]
    body, chain = bytearray(), 0
    for typ, index, data in sections:
        d = crc(data)
        sh = bytearray(struct.pack("<IIQI", typ, index, len(data), d))
        sh += struct.pack("<I", crc(bytes(sh)))
        body += sh + data + bytes(-len(data) % 8)
        chain = crc(struct.pack("<I", d), chain)
    end = bytearray(struct.pack("<IIQI", 0xffffffff, 0, 0, chain))
    end += struct.pack("<I", crc(bytes(end)))
    body += end
    h[0:8] = b"MICASNAP"
    struct.pack_into("<IIQII", h, 8, 1, 256, 256 + len(body), 1, 2)
    struct.pack_into("<IIIIQQQQQ", h, 32, 0x80202001, 0x178bfbff, 0x209, 0, 7, 0x1234, 8192, 0,
                     1765000000)
    h[88:88 + 3] = b"web"
    h[120:120 + 6] = b"before"
    struct.pack_into("<I", h, 252, crc(bytes(h[:252])))
    img = bytes(h) + bytes(body)
    put("fuzz_snapimg", "two-vcpus", img)


def offload():
    """fuzz_offload: a virtio-net header, the shape byte (odd: the harness lays Ethernet,
    IP and TCP headers over the frame), then the frame: a TCPv4 and a tagged TCPv6 GSO
    frame of 3000 bytes, a partial checksum, a plain frame."""
    def frame(n):
        return bytes((i * 7) & 0xff for i in range(n))
    # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers
    put("fuzz_offload", "tso4", struct.pack("<BBHHHHH", 1, 1, 66, 1448, 34, 16, 0) + b"\x01" +
        frame(3000))
    put("fuzz_offload", "tso6-tagged", struct.pack("<BBHHHHH", 1, 4, 90, 1400, 58, 16, 0) +
        b"\x03" + frame(3000))
    put("fuzz_offload", "csum", struct.pack("<BBHHHHH", 1, 0, 0, 0, 34, 16, 0) + b"\x00" +
        frame(600))
    put("fuzz_offload", "plain", bytes(12) + b"\x00" + frame(60))


def main():
    for h in ("fuzz_config", "fuzz_elf"):
        os.makedirs(os.path.join(SEEDS, h), exist_ok=True)
    configs()
    elfs()
    bzimage()
    iommu()
    decode()
    gwalk()
    virtq()
    host_acpi()
    host_pci()
    mbi()
    vpci()
    gpt()
    offload()
    snapimg()


if __name__ == "__main__":
    main()
