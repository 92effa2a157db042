#!/bin/sh
# Boots the Linux test guest (scripts/linux-image.sh) directly in QEMU, without Mica: the
# reference for comparing boot times. The serial console is on stdin/stdout.
# Usage: scripts/linux-bare.sh [OUTDIR] [extra QEMU args...]     (OUTDIR default build/linux)
# Later -m/-smp/... in the extra args override the defaults below. Ctrl-C ends QEMU.
# Environment (all optional):
#   MICA_LINUX_APPEND="quiet ..."  words added to OUTDIR/cmdline (e.g. mica.then=blkbench,
#                                  mica.ip=10.0.2.15/24, mica.shell=hvc0: docs/linux.md)
#   MICA_LINUX_DISK=FILE           FILE, a raw image, as a virtio-blk-pci disk (/dev/vda):
#                                  -drive if=none,id=micadisk,format=raw,cache=unsafe,file=FILE
#                                  -device virtio-blk-pci,drive=micadisk
#   MICA_LINUX_NVME=FILE           FILE, a raw image, as an NVMe controller's namespace
#                                  (/dev/nvme0n1): -drive ...,cache=unsafe -device nvme
#   MICA_LINUX_NET=BACKEND         a virtio-net-pci NIC (eth0) on -netdev BACKEND,id=micanet,
#                                  e.g. MICA_LINUX_NET=user (QEMU's NAT: guest 10.0.2.15/24)
#   MICA_LINUX_MAC=52:54:00:...    that NIC's MAC (two guests on one -netdev socket need two)
#   MICA_LINUX_HVC=CHARDEV         a virtio console (hvc0) on -chardev CHARDEV,id=micahvc
#                                  (-device virtio-serial-pci -device virtconsole), e.g.
#                                  MICA_LINUX_HVC=socket,path=/tmp/hvc.sock,server=on,wait=off
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build/linux"
case "${1:-}" in
""|-*) ;;
*) OUT=$1; shift ;;
esac
# Devices go before the caller's QEMU args.
if [ -n "${MICA_LINUX_HVC:-}" ]; then
	set -- -chardev "$MICA_LINUX_HVC,id=micahvc" -device virtio-serial-pci \
		-device virtconsole,chardev=micahvc "$@"
fi
if [ -n "${MICA_LINUX_NET:-}" ]; then
	set -- -netdev "$MICA_LINUX_NET,id=micanet" \
		-device "virtio-net-pci,netdev=micanet${MICA_LINUX_MAC:+,mac=$MICA_LINUX_MAC}" "$@"
fi
if [ -n "${MICA_LINUX_DISK:-}" ]; then
	[ -f "$MICA_LINUX_DISK" ] || [ -b "$MICA_LINUX_DISK" ] ||
		{ echo "linux-bare: error: MICA_LINUX_DISK=$MICA_LINUX_DISK: no such file" >&2; exit 1; }
	disk=$(printf '%s' "$MICA_LINUX_DISK" | sed 's/,/,,/g')   # QEMU option syntax
	set -- -drive "if=none,id=micadisk,format=raw,cache=unsafe,file=$disk" \
		-device virtio-blk-pci,drive=micadisk "$@"
fi
if [ -n "${MICA_LINUX_NVME:-}" ]; then
	[ -f "$MICA_LINUX_NVME" ] ||
		{ echo "linux-bare: error: MICA_LINUX_NVME=$MICA_LINUX_NVME: no such file" >&2; exit 1; }
	nvme=$(printf '%s' "$MICA_LINUX_NVME" | sed 's/,/,,/g')
	set -- -drive "if=none,id=micanvme,format=raw,cache=unsafe,file=$nvme" \
		-device nvme,drive=micanvme,serial=mica-nvme "$@"
fi
"$ROOT/scripts/deps.sh" linux >&2
"$ROOT/scripts/linux-image.sh" "$OUT" >&2
echo "linux-bare: starting qemu ($OUT)" >&2
exec qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512 -smp 2 \
	-nodefaults -display none -no-reboot -serial stdio \
	-kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.img" -append "$(cat "$OUT/cmdline")${MICA_LINUX_APPEND:+ $MICA_LINUX_APPEND}" "$@"
