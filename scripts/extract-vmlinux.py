#!/usr/bin/env python3
"""Writes the uncompressed kernel (an ELF vmlinux) that a bzImage carries: the payload the
boot protocol describes (setup header: payload_offset at 0x248, payload_length at 0x24C,
protocol 2.08 and later), decompressed by its format. Used for PVH boots of Debian's kernel
(docs/guests.md), whose package ships only the bzImage.

    scripts/extract-vmlinux.py BZIMAGE OUT   (does nothing when OUT is newer than BZIMAGE)
"""
import gzip
import lzma
import os
import struct
import subprocess
import sys


def payload(bz):
    if bz[0x202:0x206] != b"HdrS" or struct.unpack_from("<H", bz, 0x206)[0] < 0x208:
        raise SystemExit("extract-vmlinux: not a bzImage of boot protocol 2.08 or later")
    setup_sects = bz[0x1F1] or 4
    off, length = struct.unpack_from("<II", bz, 0x248)
    start = (setup_sects + 1) * 512 + off
    return bz[start:start + length]


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    tools = {b"\x02\x21\x4c\x18": ["lz4", "-dc"], b"\x28\xb5\x2f\xfd": ["zstd", "-dc"]}
    tool = tools.get(data[:4])
    if not tool:
        raise SystemExit(f"extract-vmlinux: unknown payload format {data[:6].hex()}")
    # The kernel's build appends the decompressed size: the tools may complain about the
    # trailing bytes; what they wrote before that is the whole image.
    res = subprocess.run(tool, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return res.stdout


def main():
    src, dst = sys.argv[1], sys.argv[2]
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return 0
    elf = decompress(payload(open(src, "rb").read()))
    if elf[:4] != b"\x7fELF":
        raise SystemExit("extract-vmlinux: the payload did not decompress to an ELF image")
    with open(dst + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(dst + ".tmp", dst)
    print(f"extract-vmlinux: {dst} ({len(elf) >> 20} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
