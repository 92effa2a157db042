#!/bin/sh
# Builds the Linux test guest from Debian's own packages (see docs/linux.md):
#   OUTDIR/vmlinuz     the cloud kernel's bzImage, unmodified
#   OUTDIR/initrd.img  gzip'd newc cpio: static busybox, tests/linux/init, virtio modules
#   OUTDIR/cmdline     a suggested kernel command line
#   OUTDIR/version     kernel release and package versions
# Usage: scripts/linux-image.sh [OUTDIR]            (default build/linux)
# Rebuilds only when an input changed (package versions, tests/linux contents, this script);
# the .debs stay in OUTDIR/debs, so a rebuild at unchanged versions needs no network.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/linux}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SELF="$ROOT/scripts/linux-image.sh"
SRC="$ROOT/tests/linux"
KMETA=linux-image-cloud-amd64      # depends on the current linux-image-6.1.0-N-cloud-amd64
BBPKG=busybox-static
# Virtio drivers copied into the initramfs; the load order is worked out from their
# "depends=" fields. virtio_pci_{modern,legacy}_dev are separate modules in 6.1.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
virtio_console virtio_blk failover net_failover virtio_net"
# Loaded only when asked for (not listed in modules.load): the Linux bridge, for a gateway
# partition (mica.bridge=, docs/network.md); its load order goes to modules.bridge.
MODULES_BRIDGE="llc stp bridge"
CMDLINE="console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init"

say() { echo "linux-image: $*"; }
die() { echo "linux-image: error: $*" >&2; exit 1; }

# Tools: all but gzip/xz/zstd are in every Debian (apt, dpkg, coreutils, util-linux, tar).
for t in apt-get apt-cache dpkg-deb flock sha256sum gzip; do
	command -v "$t" >/dev/null || die "'$t' not found (this script expects Debian 12)"
done

exec 9>"$OUT/.lock"
flock 9          # a second run in parallel waits here, then finds the cache up to date

# Hash of the files of tests/linux that go into the image (*.py and *.md do not).
src_hash() {
	(cd "$SRC" && find . -type f ! -name '*.py' ! -name '*.pyc' ! -name '*.md' ! -path '*/__pycache__/*' |
		LC_ALL=C sort | xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}

# Resolving the package versions costs ~1.5 s of apt-cache here (no pkgcache.bin), so the
# answer is cached under a fingerprint of APT's package lists and configuration: the
# candidates cannot change unless one of those files does.
apt_fingerprint() {
	find /var/lib/apt/lists /etc/apt -maxdepth 2 -type f ! -name lock -printf '%p %s %T@\n' \
		2>/dev/null | LC_ALL=C sort | sha256sum | cut -d' ' -f1
}

resolve() {
	kpkg=$(apt-cache depends "$KMETA" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	[ -n "$kpkg" ] || return 1
	kver=$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')
	bver=$(apt-cache policy "$BBPKG" | sed -n 's/^ *Candidate: //p')
	[ -n "$kver" ] && [ "$kver" != "(none)" ] && [ -n "$bver" ] && [ "$bver" != "(none)" ]
}

# Newest .deb of package $1 kept in OUTDIR/debs (offline fallback).
cached_deb_version() {
	for f in "$OUT/debs/$1"_*.deb; do
		[ -f "$f" ] && dpkg-deb -f "$f" Version
	done 2>/dev/null | sort -V | tail -n1
}

fp=$(apt_fingerprint)
kpkg="" kver="" bver=""
if [ -f "$OUT/.resolved" ] && [ "$(sed -n 1p "$OUT/.resolved")" = "$fp" ]; then
	read -r kpkg kver bver <<EOF
$(sed -n 2p "$OUT/.resolved")
EOF
fi
if [ -z "$kpkg" ]; then
	if ! resolve; then
		if [ "$(id -u)" = 0 ]; then
			say "$KMETA not known to APT: running apt-get update"
			apt-get update -qq || true
			fp=$(apt_fingerprint)
		fi
		if ! resolve; then
			# Offline and no package lists: fall back to what OUTDIR/debs already holds.
			for f in "$OUT/debs"/linux-image-6*-cloud-amd64_*.deb; do
				[ -f "$f" ] && kpkg=$(dpkg-deb -f "$f" Package)
			done
			[ -n "$kpkg" ] || die "cannot resolve $KMETA (no APT lists, no cached .debs); run apt-get update as root"
			kver=$(cached_deb_version "$kpkg")
			bver=$(cached_deb_version "$BBPKG")
			[ -n "$bver" ] || die "cannot resolve $BBPKG"
			say "APT cannot resolve the packages: using the cached .debs"
			fp=none
		fi
	fi
	printf '%s\n%s %s %s\n' "$fp" "$kpkg" "$kver" "$bver" >"$OUT/.resolved"
fi

key=$( { echo "$kpkg=$kver $BBPKG=$bver"; sha256sum <"$SELF"; src_hash; } | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$key" ] &&
	[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/cmdline" ]; then
	say "up to date, used the cache ($kpkg $kver, $OUT)"
	exit 0
fi

# --- fetch --------------------------------------------------------------------------
mkdir -p "$OUT/debs"
fetch() { # package version -> path of its .deb in OUTDIR/debs
	pkg=$1 ver=$2 found=""
	for f in "$OUT/debs/${pkg}"_*.deb; do
		[ -f "$f" ] || continue
		if [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$ver" ]; then found=$f
		else rm -f "$f"; fi   # an older version: no longer needed
	done
	if [ -z "$found" ]; then
		say "downloading $pkg $ver" >&2
		# apt-get download as root warns that _apt cannot write here: harmless.
		(cd "$OUT/debs" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v -e '^W: Download is performed unsandboxed' -e '^Get:' >&2 || true)
		for f in "$OUT/debs/${pkg}"_*.deb; do
			[ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && found=$f
		done
		[ -n "$found" ] || die "apt-get download $pkg=$ver failed"
	fi
	echo "$found"
}
kdeb=$(fetch "$kpkg" "$kver")
bdeb=$(fetch "$BBPKG" "$bver")
for f in "$OUT/debs"/*.deb; do   # e.g. the previous kernel ABI's package
	[ "$f" = "$kdeb" ] || [ "$f" = "$bdeb" ] || rm -f "$f"
done

# --- unpack -------------------------------------------------------------------------
T="$OUT/.tmp"
rm -rf "$T"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
say "unpacking $(basename "$kdeb") and $(basename "$bdeb")"
dpkg-deb -x "$kdeb" "$T/kernel"
dpkg-deb -x "$bdeb" "$T/busybox"
krel=${kpkg#linux-image-}
[ -f "$T/kernel/boot/vmlinuz-$krel" ] || die "no /boot/vmlinuz-$krel in $kdeb"
MODSRC="$T/kernel/lib/modules/$krel/kernel"
BB="$T/busybox/bin/busybox"
[ -x "$BB" ] || die "no /bin/busybox in $bdeb"

# --- initramfs tree -----------------------------------------------------------------
R="$T/root"
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/dev" "$R/proc" "$R/sys" \
	"$R/tmp" "$R/root" "$R/etc" "$R/lib/modules/$krel"
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list-full); do
	case "$a" in bin/busybox|linuxrc) continue ;; esac
	[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
# Everything in tests/linux except the host-side Python helpers; init becomes /init, and
# files under bin/ and sbin/ are executable (e.g. bin/mica-blkbench); a file named like a
# busybox applet replaces the applet's symlink.
(cd "$SRC" && find . -type f ! -name '*.py' ! -name '*.pyc' ! -name '*.md' ! -path '*/__pycache__/*') |
while read -r f; do
	case "$f" in
	./init) install -m 0755 "$SRC/init" "$R/init" ;;
	./bin/* | ./sbin/* | ./usr/bin/* | ./usr/sbin/*)
		mkdir -p "$R/$(dirname "$f")"; rm -f "$R/$f"; install -m 0755 "$SRC/$f" "$R/$f" ;;
	*) mkdir -p "$R/$(dirname "$f")"; cp "$SRC/$f" "$R/$f" ;;
	esac
done
[ -x "$R/init" ] || die "tests/linux/init is missing"

# Modules: uncompressed .ko in /lib/modules/<release>/ (busybox insmod cannot read
# compressed ones). Debian 6.1 ships them uncompressed; newer kernels may use xz or zstd.
MD="$R/lib/modules/$krel"
for m in $MODULES $MODULES_BRIDGE; do
	f=$(find "$MODSRC" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -n1)
	[ -n "$f" ] || die "module $m not found in $kpkg"
	case "$f" in
	*.ko)     cp "$f" "$MD/$m.ko" ;;
	*.ko.xz)  xz -dc "$f" >"$MD/$m.ko" ;;
	*.ko.gz)  gzip -dc "$f" >"$MD/$m.ko" ;;
	*.ko.zst) command -v zstd >/dev/null || die "zstd needed to unpack $f"; zstd -qdc "$f" >"$MD/$m.ko" ;;
	esac
done
deps_of() { grep -ao 'depends=[A-Za-z0-9_,-]*' "$MD/$1.ko" | head -n1 | sed 's/^depends=//; s/,/ /g; s/-/_/g'; }
order=""
visit() {
	case " $order " in *" $1 "*) return ;; esac
	[ -f "$MD/$1.ko" ] || die "module $2 needs $1, which is not in the list"
	for d in $(deps_of "$1"); do visit "$d" "$1"; done
	order="$order $1"
}
for m in $MODULES; do visit "$m" "$m"; done
for m in $order; do echo "$m"; done >"$MD/modules.load"
boot_order=$order order=""
for m in $MODULES_BRIDGE; do visit "$m" "$m"; done
for m in $order; do echo "$m"; done >"$MD/modules.bridge"
bridge_order=$order order=$boot_order

printf '%s\n' "$CMDLINE" >"$R/etc/cmdline.suggested"
echo "mica-linux" >"$R/etc/hostname"

# --- archive ------------------------------------------------------------------------
find "$R" -exec touch -h -d @0 {} + 2>/dev/null || true   # fixed mtimes
(cd "$R" && find . ! -name . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null) |
	gzip -9 -n >"$T/initrd.img"
cp "$T/kernel/boot/vmlinuz-$krel" "$T/vmlinuz"
printf '%s\n' "$CMDLINE" >"$T/cmdline"
printf 'release %s\nkernel %s %s\nbusybox %s %s\nmodules%s\n' \
	"$krel" "$kpkg" "$kver" "$BBPKG" "$bver" "$order" >"$T/version"
for f in vmlinuz initrd.img cmdline version; do mv -f "$T/$f" "$OUT/$f"; done
echo "$key" >"$OUT/.stamp"
say "built $OUT: vmlinuz $(stat -c %s "$OUT/vmlinuz") B, initrd.img $(stat -c %s "$OUT/initrd.img") B ($krel)"
say "modules, in load order:$order; for mica.bridge=:$bridge_order"
