#!/bin/sh
# Installs the Debian packages Mica's build, run and test need, only when missing.
# Usage: scripts/deps.sh build|run|test
set -e
need="gcc make binutils gnu-efi mtools dosfstools gdisk sbsigntool openssl"
case "$1" in
run)  need="$need qemu-system-x86 ovmf" ;;
test) need="$need qemu-system-x86 ovmf libcriterion-dev python3 grub-pc-bin grub-common xorriso bochs bochsbios vgabios clang" ;;
bench) need="$need qemu-system-x86 ovmf grub-pc-bin grub-common xorriso bochs bochsbios vgabios" ;;
fuzz) need="clang" ;;   # libFuzzer and the sanitizers' runtimes come with it
linux) need="qemu-system-x86 python3 lz4" ;;   # Linux guest image + bare boot (apt, dpkg, gzip: always there)
esac
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing (run as root or install them yourself)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
