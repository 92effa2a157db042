#!/bin/sh
# Builds a FAT image that UEFI firmware boots Mica from (mtools only: no root, no loop device).
# Usage: scripts/mkesp.sh OUT.img CONFIG [FILE...]
#   \EFI\BOOT\BOOTX64.EFI  <- $BUILD/BOOTX64.EFI   (BUILD defaults to build; MKESP_LOADER
#                            names another EFI program, e.g. the check: build/MICACHK.EFI)
#   \EFI\BOOT\MICACHK.EFI  <- $BUILD/MICACHK.EFI   (the pre-flight check, if built)
# MKESP_SIGN_KEY and MKESP_SIGN_CERT (PEM files): both EFI programs are signed with them
# (sbsign) for a machine with Secure Boot on; see docs/booting.md, "Secure Boot".
#   \mica\core.elf         <- $BUILD/core.elf
#   \mica\mica.cfg         <- CONFIG
#   \mica\<basename FILE>  <- each FILE (guest images, initrds, ...)
# The image is a "superfloppy" (FAT on the whole disk, no partition table); see docs/booting.md.
set -eu

die() { printf 'mkesp: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 OUT.img CONFIG [FILE...]"
out=$1
cfg=$2
shift 2
build=${BUILD:-build}
loader=${MKESP_LOADER:-$build/BOOTX64.EFI}
check=$build/MICACHK.EFI
[ -f "$check" ] || check=""
core=$build/core.elf

for tool in mformat mmd mcopy; do
	command -v $tool >/dev/null 2>&1 || die "$tool not found: install mtools (scripts/deps.sh build)"
done
[ -f "$loader" ] || die "no loader at $loader: run 'make loader' first"
[ -f "$core" ] || die "no core at $core: run 'make core' first"
[ -f "$cfg" ] || die "config '$cfg' not found"

# Every FILE must exist and land under a name of its own.
names=" mica.cfg core.elf "
for f in "$@"; do
	[ -f "$f" ] || die "file '$f' not found"
	b=$(basename "$f")
	case "$names" in
	*" $b "*) die "two files would be \\mica\\$b on the ESP ('$f' and an earlier one)" ;;
	esac
	names="$names$b "
done

# Size: the files, plus a quarter for FAT overhead and growth, plus 4 MiB; at least 16 MiB.
bytes=0
for f in "$loader" $check "$core" "$cfg" "$@"; do
	bytes=$((bytes + $(stat -L -c %s "$f")))
done
mib=$(( (bytes + bytes / 4) / 1048576 + 4 ))
[ $mib -ge 16 ] || mib=16

# Built under a private name beside OUT and renamed at the end: parallel runs with other
# OUT names never meet, and nobody ever boots a half-written image.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM
truncate -s ${mib}M "$tmp"

export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
# 64 heads x 32 sectors: a geometry mtools accepts for any size. FAT16 for small images,
# FAT32 (what the UEFI spec asks of an ESP) from 256 MiB on, where FAT16 clusters get big.
fat32=""
[ $mib -lt 256 ] || fat32="-F"
# MKESP_HIDDEN_SECTORS: where the partition holding this FAT starts (scripts/mkusb.sh).
mformat -i "$tmp" $fat32 -T $((mib * 2048)) -h 64 -s 32 -H "${MKESP_HIDDEN_SECTORS:-0}" \
	-v MICA :: \
	|| die "mformat failed on $tmp"
mmd -i "$tmp" ::/EFI ::/EFI/BOOT ::/mica
# Signed copies beside OUT, gone with the temporary image.
if [ -n "${MKESP_SIGN_KEY:-}${MKESP_SIGN_CERT:-}" ]; then
	[ -f "${MKESP_SIGN_KEY:-}" ] && [ -f "${MKESP_SIGN_CERT:-}" ] \
		|| die "MKESP_SIGN_KEY and MKESP_SIGN_CERT must both name files (PEM key and certificate)"
	command -v sbsign >/dev/null 2>&1 || die "sbsign not found: install sbsigntool (scripts/deps.sh build)"
	for f in "$loader" $check; do
		sbsign --key "$MKESP_SIGN_KEY" --cert "$MKESP_SIGN_CERT" --output "$tmp.$(basename "$f")" \
			"$f" >/dev/null 2>&1 || die "sbsign could not sign $f with $MKESP_SIGN_KEY"
	done
	loader="$tmp.$(basename "$loader")"
	[ -z "$check" ] || check="$tmp.$(basename "$check")"
	trap 'rm -f "$tmp" "$tmp".*.EFI' EXIT INT TERM
fi
mcopy -i "$tmp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
[ -z "$check" ] || mcopy -i "$tmp" "$check" ::/EFI/BOOT/MICACHK.EFI
mcopy -i "$tmp" "$core" ::/mica/core.elf
mcopy -i "$tmp" "$cfg" ::/mica/mica.cfg
for f in "$@"; do
	mcopy -i "$tmp" "$f" "::/mica/$(basename "$f")"
done
chmod 644 "$tmp"
mv -f "$tmp" "$out"
rm -f "$tmp".*.EFI
trap - EXIT INT TERM
echo "mkesp: $out ($mib MiB): BOOTX64.EFI${check:+, MICACHK.EFI}${MKESP_SIGN_KEY:+ (signed)}, core.elf, mica.cfg${*:+ and $# file(s)}"
