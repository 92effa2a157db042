#!/bin/sh
# Builds a GRUB rescue ISO (legacy BIOS, i386-pc) that boots Mica through the Multiboot2
# entry. Usage: scripts/mkiso.sh OUT.iso CONFIG [FILE...]
#   /mica/mica-mb2.elf  <- $BUILD/mica-mb2.elf   (BUILD defaults to build); the kernel
#   /mica/core.elf      <- $BUILD/core.elf        module string "core.elf"
#   /mica/mica.cfg      <- CONFIG                 module string "mica.cfg"
#   /mica/<basename>    <- each FILE              module string "<basename>"
# Boots at once (timeout 0); GRUB's own messages also go to COM1. See docs/booting.md.
# Safe to run in parallel with different OUT names.
set -eu

die() { printf 'mkiso: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 OUT.iso CONFIG [FILE...]"
out=$1
cfg=$2
shift 2
build=${BUILD:-build}
stub=$build/mica-mb2.elf
core=$build/core.elf
grubdir=${GRUB_PC_DIR:-/usr/lib/grub/i386-pc}

for tool in grub-mkrescue xorriso; do
	command -v $tool >/dev/null 2>&1 || die "$tool not found: install grub-pc-bin, grub-common, xorriso and mtools (scripts/deps.sh test)"
done
[ -f "$grubdir/multiboot2.mod" ] || die "no GRUB BIOS modules in $grubdir: install grub-pc-bin"
[ -f "$stub" ] || die "no Multiboot2 entry at $stub: run 'make mb2' first"
[ -f "$core" ] || die "no core at $core: run 'make core' first"
[ -f "$cfg" ] || die "config '$cfg' not found"

names=" mica.cfg core.elf mica-mb2.elf "
for f in "$@"; do
	[ -f "$f" ] || die "file '$f' not found"
	b=$(basename "$f")
	case "$b" in
	*[!A-Za-z0-9._+-]*) die "'$b': GRUB module names here may use only letters, digits and . _ + -" ;;
	esac
	case "$names" in
	*" $b "*) die "two files would be /mica/$b on the ISO ('$f' and an earlier one)" ;;
	esac
	names="$names$b "
done

# Everything is staged in a private directory beside OUT and the ISO renamed into place at
# the end: parallel runs never meet, and nobody boots a half-written ISO.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/iso/boot/grub" "$tmp/iso/mica"
cp "$stub" "$tmp/iso/mica/mica-mb2.elf"
cp "$core" "$tmp/iso/mica/core.elf"
cp "$cfg" "$tmp/iso/mica/mica.cfg"
for f in "$@"; do
	cp "$f" "$tmp/iso/mica/$(basename "$f")"
done

{
	cat <<'GRUB'
# Written by scripts/mkiso.sh. Each module's string is its name for Mica.
serial --unit=0 --speed=115200
terminal_output console serial
set timeout=0
set timeout_style=hidden
menuentry "Mica" {
	multiboot2 /mica/mica-mb2.elf
	module2 /mica/core.elf core.elf
	module2 /mica/mica.cfg mica.cfg
GRUB
	for f in "$@"; do
		b=$(basename "$f")
		printf '\tmodule2 /mica/%s %s\n' "$b" "$b"
	done
	printf '\tboot\n}\n'
} >"$tmp/iso/boot/grub/grub.cfg"

# Only the BIOS platform; no locales, fonts or themes (a smaller ISO, built faster).
if ! grub-mkrescue -d "$grubdir" --locales= --fonts= --themes= \
	-o "$tmp/out.iso" "$tmp/iso" >"$tmp/log" 2>&1; then
	tail -n 20 "$tmp/log" >&2
	die "grub-mkrescue failed"
fi
chmod 644 "$tmp/out.iso"
mv -f "$tmp/out.iso" "$out"
echo "mkiso: $out: mica-mb2.elf, core.elf, mica.cfg${*:+ and $# file(s)}"
