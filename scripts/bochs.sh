#!/bin/sh
# Boots a GRUB ISO (scripts/mkiso.sh) in Bochs 2.7 as an Intel CPU with VT-x: the Intel
# counterpart of scripts/qemu.sh. Given an ESP image (*.img, scripts/mkesp.sh) instead, it
# boots OVMF and the UEFI loader (about 10x slower to reach Mica; OVMF under Bochs offers
# no ACPI tables, so Mica sees one CPU). Mica's serial console goes to SERIAL_FILE (Bochs
# cannot put it on stdout); follow it with `tail -f`. Usage:
#   scripts/bochs.sh ISO|ESP.img SERIAL_FILE [TIMEOUT_S]
# Writes SERIAL_FILE.bochsrc, SERIAL_FILE.dbgrc and Bochs' own log SERIAL_FILE.bochs.log
# (every failed VM-entry check is named there). Runs until the guest machine shuts down,
# Bochs panics, or TIMEOUT_S seconds (default 300) pass. Bochs' exit status means nothing:
# judge a run by its serial output. Several runs at once are fine (each gets its own VNC
# port for the display nobody looks at, and its own files).
# Environment: MICA_MEM (MiB, 512), MICA_SMP (4), MICA_BOCHS_CPU (corei7_skylake_x),
# MICA_BOCHS_IPS (50000000).
set -eu

die() { printf 'bochs.sh: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 ISO SERIAL_FILE [TIMEOUT_S]"
iso=$1
serial=$2
limit=${3:-300}
bios=/usr/share/bochs/BIOS-bochs-latest
vgabios=/usr/share/bochs/VGABIOS-lgpl-latest

command -v bochs >/dev/null 2>&1 || die "bochs not found: install bochs, bochsbios and vgabios (scripts/deps.sh test)"
[ -f "$bios" ] || die "no BIOS at $bios: install bochsbios"
[ -e "$vgabios" ] || die "no VGA BIOS at $vgabios: install vgabios"
[ -f "$iso" ] || die "image '$iso' not found (build one with scripts/mkiso.sh or scripts/mkesp.sh)"
case "$iso" in
*.img)
	ovmf=/usr/share/ovmf/OVMF.fd
	[ -f "$ovmf" ] || die "no OVMF at $ovmf: install ovmf"
	bios=$ovmf
	# Bochs locks a disk image while it runs; a stale lock from a killed run is harmless.
	rm -f "$iso.lock"
	media="ata0-master: type=disk, mode=flat, path=$iso"
	bootdev=disk
	;;
*)
	media="ata0-master: type=cdrom, path=$iso, status=inserted"
	bootdev=cdrom
	;;
esac

mkdir -p "$(dirname "$serial")"
: >"$serial"
rc=$serial.bochsrc
cat >"$rc" <<RC
# Written by scripts/bochs.sh
megs: ${MICA_MEM:-512}
cpu: model=${MICA_BOCHS_CPU:-corei7_skylake_x}, count=${MICA_SMP:-4}, ips=${MICA_BOCHS_IPS:-50000000}, reset_on_triple_fault=0
romimage: file=$bios
vgaromimage: file=$vgabios
pci: enabled=1, chipset=i440fx
display_library: rfb, options="timeout=0"
$media
boot: $bootdev
clock: sync=none
com1: enabled=1, mode=file, dev=$serial
port_e9_hack: enabled=1
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
log: $serial.bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
RC
# Debian's Bochs has the internal debugger: it reads these commands instead of a prompt.
printf 'c\nquit\n' >"$serial.dbgrc"
exec timeout -k 5 "$limit" bochs -q -f "$rc" -rc "$serial.dbgrc" </dev/null
