#!/usr/bin/env bash
# Builds the Linux guest images from Debian packages:
#   OUT/vmlinuz            Debian's stock kernel (linux-image-amd64's current 6.1 image)
#   OUT/initramfs.cpio.gz  busybox-static + our /init + the benchmark programs
#                          (vmbench, linked as /bench/<name>)
#                          + the virtio/ext4 modules the stock kernel lacks built in
#   OUT/vmlinux            the same kernel uncompressed (ELF with a PVH entry
#                          note): skips the in-guest xz decompression, which
#                          costs ~3 s under TCG
#   OUT/modules.txt        which drivers are built in and which are modules
# Usage: make-guests.sh [OUT=build/guests] [VMBENCH=build/bench/vmbench]
# The kernel package is fetched with `apt-get download` and unpacked into
# OUT/deb/ only: nothing is installed on the host. Every step is skipped when
# its outputs are newer than its inputs, so a second run does no work.
set -euo pipefail

OUT=${1:-build/guests}
VMBENCH=${2:-build/bench/vmbench}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
INIT_SRC=$ROOT/scripts/guest-init/init
SELF=$ROOT/scripts/make-guests.sh
# Drivers a vmlite guest may need that Debian ships as modules (see modules.txt).
GUEST_MODULES=${GUEST_MODULES:-"virtio_pci virtio_mmio virtio_blk virtio_console virtio_net ext4 crc32c_generic crc32c_intel"}
GZIP_LEVEL=${GZIP_LEVEL:-9}

log() { echo "make-guests: $*" >&2; }
die() { echo "make-guests: error: $*" >&2; exit 1; }

mkdir -p "$OUT/deb"
OUT=$(cd "$OUT" && pwd)
DEB=$OUT/deb

# ---- 1. the kernel package ------------------------------------------------
# linux-image-amd64 is a metapackage; the image it depends on names the ABI
# (e.g. linux-image-6.1.0-56-amd64). The archive only serves the current one.
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(kernel_pkg || true)
if [ -z "$KPKG" ]; then
    log "no apt lists for linux-image-amd64; running apt-get update"
    apt-get update -qq || true
    KPKG=$(kernel_pkg || true)
fi
if [ -z "$KPKG" ]; then
    # Offline but already downloaded once: keep using what we have.
    KDEB=$(ls -1 "$DEB"/linux-image-*-amd64_*.deb 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$KDEB" ] || die "cannot resolve linux-image-amd64 (apt-cache depends) and no cached .deb in $DEB"
    KPKG=$(basename "$KDEB" | cut -d_ -f1)
    log "apt cannot resolve linux-image-amd64; using cached $KDEB"
fi

find_deb() { ls -1 "$DEB/${KPKG}"_*_amd64.deb 2>/dev/null | sort -V | tail -n1 || true; }
KDEB=$(find_deb)
if [ -z "$KDEB" ]; then
    log "downloading $KPKG"
    download() { (cd "$DEB" && apt-get -q -o APT::Sandbox::User=root download "$KPKG"); }
    if ! download; then
        log "apt-get download failed; running apt-get update and retrying"
        apt-get update -qq
        download
    fi
    KDEB=$(find_deb)
    [ -n "$KDEB" ] || die "apt-get download $KPKG produced no .deb in $DEB"
    # The archive moved to a new ABI: drop the old package and its 400 MB tree.
    for old in "$DEB"/linux-image-*; do
        case "$old" in "$DEB/$KPKG" | "$DEB/${KPKG}_"*) ;; *) rm -rf "$old" ;; esac
    done
fi

KROOT=$DEB/$KPKG
if [ ! -e "$KROOT/.extracted" ] || [ "$KDEB" -nt "$KROOT/.extracted" ]; then
    log "extracting $(basename "$KDEB")"
    rm -rf "$KROOT"
    mkdir -p "$KROOT"
    dpkg-deb -x "$KDEB" "$KROOT"
    touch "$KROOT/.extracted"
fi
KVER=$(ls -1 "$KROOT/lib/modules" | head -n1)
[ -n "$KVER" ] || die "no lib/modules/<version> in $KDEB"
KMOD=$KROOT/lib/modules/$KVER
# The package ships no modules.dep (its postinst runs depmod): make one.
if [ ! -e "$KMOD/modules.dep" ] || [ "$KROOT/.extracted" -nt "$KMOD/modules.dep" ]; then
    log "depmod $KVER"
    depmod -b "$KROOT" "$KVER"
fi

if [ ! -e "$OUT/vmlinuz" ] || [ "$KROOT/boot/vmlinuz-$KVER" -nt "$OUT/vmlinuz" ]; then
    cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
    log "vmlinuz <- $KPKG ($KVER)"
fi

# The bzImage's setup header locates the compressed payload: it starts
# payload_offset (0x248) bytes into the protected-mode part, which follows
# (setup_sects (0x1f1) + 1) * 512 bytes of real-mode setup, and is
# payload_length (0x24c) bytes long. Debian compresses it with xz.
extract_vmlinux() {
    local bz=$1 out=$2 ss po pl
    ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    [ "$ss" = 0 ] && ss=4
    po=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    pl=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    # The payload ends with the kernel's 4-byte size trailer: --single-stream
    # makes xz stop at the end of the stream instead of rejecting it.
    dd if="$bz" iflag=skip_bytes,count_bytes skip=$(((ss + 1) * 512 + po)) \
        count="$pl" bs=1M status=none |
        xz -dc --single-stream >"$out.tmp" ||
        { rm -f "$out.tmp"; die "cannot decompress the payload of $bz (not xz?)"; }
    [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
        { rm -f "$out.tmp"; die "payload of $bz is not an ELF vmlinux"; }
    mv "$out.tmp" "$out"
}
if [ ! -e "$OUT/vmlinux" ] || [ "$OUT/vmlinuz" -nt "$OUT/vmlinux" ]; then
    extract_vmlinux "$OUT/vmlinuz" "$OUT/vmlinux"
    log "vmlinux <- vmlinuz ($(stat -c %s "$OUT/vmlinux") bytes)"
fi

# ---- 2. built-in vs module report -----------------------------------------
CONFIG=$KROOT/boot/config-$KVER
if [ ! -e "$OUT/modules.txt" ] || [ "$CONFIG" -nt "$OUT/modules.txt" ] || [ "$SELF" -nt "$OUT/modules.txt" ]; then
    {
        echo "# $KPKG ($KVER): y = built in, m = module (included in the initramfs when listed in GUEST_MODULES)"
        for opt in VIRTIO VIRTIO_PCI VIRTIO_PCI_LEGACY VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES \
                   VIRTIO_BLK VIRTIO_CONSOLE VIRTIO_NET HVC_DRIVER SERIAL_8250 SERIAL_8250_CONSOLE \
                   EXT4_FS JBD2 TMPFS DEVTMPFS BLK_DEV_INITRD RD_GZIP ACPI PVH PARAVIRT KVM_GUEST \
                   HYPERVISOR_GUEST DEVPORT MODULE_COMPRESS_NONE; do
            v=$(grep -E "^CONFIG_$opt=|^# CONFIG_$opt is not set" "$CONFIG" | head -n1 || true)
            case "$v" in
                *=*) echo "CONFIG_$opt=${v#*=}" ;;
                *) echo "CONFIG_$opt=n" ;;
            esac
        done
    } >"$OUT/modules.txt"
fi

# ---- 3. the initramfs -------------------------------------------------------
BUSYBOX=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)
[ -n "$BUSYBOX" ] && [ -x "$BUSYBOX" ] || die "busybox-static is not installed (apt-get install busybox-static)"
"$BUSYBOX" --list-full >/dev/null 2>&1 || die "$BUSYBOX is not a busybox binary"

[ -x "$VMBENCH" ] || die "no $VMBENCH (run: make bench-progs)"
BENCH_NAMES=$("$VMBENCH" --list) || die "$VMBENCH --list failed"

IMG=$OUT/initramfs.cpio.gz
inputs=("$BUSYBOX" "$INIT_SRC" "$SELF" "$KROOT/.extracted" "$VMBENCH")
stale=0
[ -e "$IMG" ] || stale=1
for f in "${inputs[@]}"; do
    [ "$f" -nt "$IMG" ] && stale=1
done
# The module selection is part of the input too.
[ "$(cat "$OUT/.modules-wanted" 2>/dev/null || true)" = "$GUEST_MODULES" ] || stale=1
if [ $stale -eq 0 ]; then
    log "up to date: $IMG ($(stat -c %s "$IMG") bytes)"
    exit 0
fi

STAGE=$OUT/initramfs
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,bench,mnt}

cp "$BUSYBOX" "$STAGE/bin/busybox"
# Applet links exactly where this busybox expects them (bin/, sbin/, usr/...).
while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$STAGE/$(dirname "$applet")"
    ln -sf /bin/busybox "$STAGE/$applet"
done < <("$BUSYBOX" --list-full)

install -m 0755 "$INIT_SRC" "$STAGE/init"
strip -o "$STAGE/bench/vmbench" "$VMBENCH"
for n in $BENCH_NAMES; do
    ln -s vmbench "$STAGE/bench/$n"
done

# Modules: the wanted ones plus everything modules.dep says they need.
declare -A seen=()
modpath() { # module name -> path relative to $KMOD (names: '-' == '_')
    local n=${1//-/_}
    awk -F: -v n="$n" '{ p = $1; b = p; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b);
                         gsub(/-/, "_", b); if (b == n) { print p; exit } }' "$KMOD/modules.dep"
}
add_module() {
    local path=$1 dep
    [ -n "${seen[$path]:-}" ] && return 0
    seen[$path]=1
    mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$path")"
    case "$path" in
        *.ko.xz) xz -dc "$KMOD/$path" >"$STAGE/lib/modules/$KVER/${path%.xz}" ;;
        *.ko.zst) zstd -qdc "$KMOD/$path" >"$STAGE/lib/modules/$KVER/${path%.zst}" ;;
        *) cp "$KMOD/$path" "$STAGE/lib/modules/$KVER/$path" ;;
    esac
    for dep in $(grep -E "^$path:" "$KMOD/modules.dep" | cut -d: -f2-); do
        add_module "$dep"
    done
}
for m in $GUEST_MODULES; do
    if grep -qE "/${m//_/[_-]}\.ko" "$KMOD/modules.builtin"; then
        continue # built in: nothing to ship
    fi
    p=$(modpath "$m")
    [ -n "$p" ] || die "module $m is neither built into $KVER nor in its modules.dep"
    add_module "$p"
done
if [ ${#seen[@]} -gt 0 ]; then
    cp "$KMOD/modules.builtin" "$KMOD/modules.builtin.modinfo" "$STAGE/lib/modules/$KVER/"
    grep -Fx -f <(printf '%s\n' "${!seen[@]}") "$KMOD/modules.order" \
        >"$STAGE/lib/modules/$KVER/modules.order" || true
    depmod -b "$STAGE" "$KVER"
    # busybox modprobe reads the text files only.
    rm -f "$STAGE/lib/modules/$KVER"/*.bin "$STAGE/lib/modules/$KVER/modules.builtin.modinfo"
fi

# The kernel opens /dev/console for /init before anything is mounted.
if [ "$(id -u)" -eq 0 ]; then
    mknod -m 600 "$STAGE/dev/console" c 5 1
    mknod -m 666 "$STAGE/dev/null" c 1 3
fi
echo vmlite >"$STAGE/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$STAGE/etc/passwd"
printf 'root:x:0:\n' >"$STAGE/etc/group"

# Fixed timestamps and owners: the same inputs give the same image.
find "$STAGE" -exec touch -h -d @0 {} +
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) |
    gzip -n -"$GZIP_LEVEL" >"$IMG.tmp"
mv "$IMG.tmp" "$IMG"
echo "$GUEST_MODULES" >"$OUT/.modules-wanted"
log "built $IMG ($(stat -c %s "$IMG") bytes; kernel $KVER; modules: ${#seen[@]} files)"
