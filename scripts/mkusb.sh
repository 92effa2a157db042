#!/bin/sh
# Builds a USB stick image that UEFI firmware boots Mica from: a GPT disk with one EFI
# System Partition holding what scripts/mkesp.sh puts on an ESP. No root, no loop device:
# the FAT file system is made by mtools in a file of its own and copied into place.
# Usage: scripts/mkusb.sh OUT.img CONFIG [FILE...]   (the arguments of scripts/mkesp.sh)
# Layout: LBA 0 a protective MBR, LBA 1-33 the GPT, the ESP from 1 MiB (LBA 2048, the
# alignment partitioning tools use), 1 MiB at the end for the backup GPT. docs/booting.md
# says how to write it to a stick.
set -eu

die() { printf 'mkusb: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 OUT.img CONFIG [FILE...]"
out=$1
shift
command -v sgdisk >/dev/null 2>&1 || die "sgdisk not found: install gdisk (scripts/deps.sh build)"

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
esp=$(mktemp "$out.esp.XXXXXX")
trap 'rm -f "$tmp" "$esp"' EXIT INT TERM

# The FAT's boot sector says where its partition starts (hidden sectors), as mkfs.vfat
# would on a partition.
MKESP_HIDDEN_SECTORS=2048 "$(dirname "$0")/mkesp.sh" "$esp" "$@" >/dev/null
esp_bytes=$(stat -c %s "$esp")
[ $((esp_bytes % 1048576)) -eq 0 ] || die "the ESP image is not a whole number of MiB"
esp_sectors=$((esp_bytes / 512))

truncate -s $((esp_bytes + 2 * 1048576)) "$tmp"
sgdisk --clear --new=1:2048:+"$esp_sectors" --typecode=1:ef00 \
	--change-name=1:"EFI system partition" "$tmp" >/dev/null || die "sgdisk failed on $tmp"
dd if="$esp" of="$tmp" bs=1M seek=1 conv=notrunc status=none
sgdisk --verify "$tmp" | grep -q "No problems found" || die "sgdisk --verify: the GPT of $tmp is not sound"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT INT TERM
rm -f "$esp"
echo "mkusb: $out ($(( esp_bytes / 1048576 + 2 )) MiB): GPT, one EFI System Partition of $(( esp_bytes / 1048576 )) MiB at 1 MiB"
