#!/bin/sh
# Boots an ESP image (scripts/mkesp.sh) in QEMU with OVMF; Mica's serial console is stdio.
# Usage: scripts/qemu.sh ESP.img [extra QEMU args...]
# Environment: MICA_MACHINE (q35; e.g. pc, or q35,hpet=off), MICA_MEM (MiB, 1024), MICA_SMP
# (4; any -smp value, e.g. 6,sockets=2,cores=3), MICA_ICOUNT=N (-icount shift=N, for
# benchmarks), MICA_DISK_BUS=usb (the image is a USB stick on an xHCI controller, e.g. from
# scripts/mkusb.sh; default: a virtio disk), MICA_SERIAL (QEMU's -serial, e.g. none; default
# stdio), MICA_DISPLAY=vga (a standard VGA card: OVMF gives the loader a framebuffer, and
# Mica draws its console on it), MICA_QEMU_EXTRA (more args, split on spaces),
# OVMF_CODE / OVMF_VARS (paths).
set -eu

die() { printf 'qemu.sh: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 ESP.img [extra QEMU args...]"
esp=$1
shift
[ -f "$esp" ] || die "ESP image '$esp' not found (build one with scripts/mkesp.sh)"
command -v qemu-system-x86_64 >/dev/null 2>&1 \
	|| die "qemu-system-x86_64 not found: install qemu-system-x86 (scripts/deps.sh run)"

code=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
vars=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
[ -f "$code" ] || die "no OVMF firmware at $code: install ovmf (scripts/deps.sh run)"
[ -f "$vars" ] || die "no OVMF variable store at $vars: install ovmf (scripts/deps.sh run)"

# Each run writes its own copy of the variable store. The copy is opened as fd 3 and its
# name removed at once, so it disappears when QEMU exits, however it exits, and parallel
# runs never share one.
tmpvars=$(mktemp "${TMPDIR:-/tmp}/mica-vars.XXXXXX")
cp "$vars" "$tmpvars"
exec 3<>"$tmpvars"
rm -f "$tmpvars"

# KVM only where it can run Mica's own VMX/SVM code: the host CPU must show svm or vmx
# (a software /dev/kvm without nested virtualization cannot).
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'svm|vmx' /proc/cpuinfo; then
	accel="-accel kvm -cpu host"
else
	accel="-accel tcg -cpu max"
fi

if [ -n "${MICA_SERIAL:-}" ]; then
	serial=$MICA_SERIAL
elif [ -t 0 ]; then
	serial="mon:stdio"
	echo "qemu.sh: serial console on this terminal; Ctrl-A X quits QEMU" >&2
else
	serial="stdio"
fi

icount=""
[ -n "${MICA_ICOUNT:-}" ] && icount="-icount shift=$MICA_ICOUNT"

case "${MICA_DISK_BUS:-virtio}" in
virtio) disk="-device virtio-blk-pci,drive=esp" ;;
usb) disk="-device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=esp,bootindex=1" ;;
*) die "MICA_DISK_BUS=$MICA_DISK_BUS: expected virtio or usb" ;;
esac

display=""
case "${MICA_DISPLAY:-none}" in
none) ;;
vga) display="-device VGA" ;;
*) die "MICA_DISPLAY=$MICA_DISPLAY: expected none or vga" ;;
esac

# shellcheck disable=SC2086 # accel, disk, display, icount and MICA_QEMU_EXTRA are word lists on purpose
exec qemu-system-x86_64 -machine "${MICA_MACHINE:-q35}" $accel -m "${MICA_MEM:-1024}" -smp "${MICA_SMP:-4}" \
	-nodefaults -display none -no-reboot -net none -serial "$serial" \
	-drive if=pflash,format=raw,readonly=on,file="$code" \
	-drive if=pflash,format=raw,file=/dev/fd/3 \
	-drive format=raw,file="$esp",if=none,id=esp $disk \
	$display $icount ${MICA_QEMU_EXTRA:-} "$@"
