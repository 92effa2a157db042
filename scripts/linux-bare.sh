#!/bin/sh
# Boots the Linux test guest (scripts/linux-image.sh) directly in QEMU, without Mica: the
# reference for comparing boot times. The serial console is on stdin/stdout.
# Usage: scripts/linux-bare.sh [OUTDIR] [extra QEMU args...]     (OUTDIR default build/linux)
# Later -m/-smp/... in the extra args override the defaults below. Ctrl-C ends QEMU.
# MICA_LINUX_APPEND="quiet ..." is added to OUTDIR/cmdline.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build/linux"
case "${1:-}" in
""|-*) ;;
*) OUT=$1; shift ;;
esac
"$ROOT/scripts/deps.sh" linux >&2
"$ROOT/scripts/linux-image.sh" "$OUT" >&2
echo "linux-bare: starting qemu ($OUT)" >&2
exec qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512 -smp 2 \
	-nodefaults -display none -no-reboot -serial stdio \
	-kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.img" -append "$(cat "$OUT/cmdline")${MICA_LINUX_APPEND:+ $MICA_LINUX_APPEND}" "$@"
