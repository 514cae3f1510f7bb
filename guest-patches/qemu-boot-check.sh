#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots build/guests/bzImage-vmi under QEMU/TCG with a tiny busybox initramfs,
# once as is and once with vmi=off. QEMU has no VMI page, so both runs must
# take the native paths (the transparent-paravirtualisation requirement).
# Prints the guest's VMI-CHECK lines; exits non-zero if a boot fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/guests
KERNEL=${KERNEL:-$OUT/bzImage-vmi}
INITRD=$OUT/vmi-check-initramfs.cpio.gz
TIMEOUT=${TIMEOUT:-120}

say() { printf '[guest-linux-check] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -f "$KERNEL" ] || die "$KERNEL missing; run make guest-linux"
command -v qemu-system-x86_64 >/dev/null ||
    die "qemu-system-x86_64 missing; apt-get install -y qemu-system-x86"
[ -x /bin/busybox ] || die "/bin/busybox missing; apt-get install -y busybox-static"

make_initramfs() {
    local d
    d=$(mktemp -d)
    mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev"
    cp /bin/busybox "$d/bin/busybox"
    cat >"$d/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "VMI-CHECK: init running on $(uname -r)"
echo "VMI-CHECK: cmdline: $(cat /proc/cmdline)"
dmesg | grep -E "VMI|Hypervisor detected|Switched to clocksource" | sed 's/^/VMI-CHECK: dmesg: /'
if grep -qw vmi_pv /proc/cpuinfo; then echo "VMI-CHECK: cpu flag vmi_pv set"
else echo "VMI-CHECK: cpu flag vmi_pv absent (native)"; fi
echo "VMI-CHECK: shell says $(sh -c 'echo $((6 * 7))')"
echo "VMI-CHECK: done"
poweroff -f
EOF
    chmod +x "$d/init"
    (cd "$d" && find . | cpio -o -H newc --quiet | gzip -9) >"$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$d"
}

boot() {
    local name=$1 append=$2 log=$OUT/qemu-$1.log start end
    say "booting ($name): $append"
    start=$(date +%s.%N)
    timeout "$TIMEOUT" qemu-system-x86_64 -M pc -accel tcg -m 256M -smp 2 -nographic \
        -no-reboot -kernel "$KERNEL" -initrd "$INITRD" -append "$append" \
        </dev/null >"$log" 2>&1 || true
    end=$(date +%s.%N)
    tr -d '\r' <"$log" | grep '^VMI-CHECK' || true
    grep -q 'VMI-CHECK: done' "$log" || die "$name boot did not reach the end of /init; see ${log#$ROOT/}"
    say "$name: ok in $(printf '%.1f' "$(echo "$end - $start" | bc)") s wall"
}

make_initramfs
boot native "console=ttyS0 panic=-1"
boot vmi-off "console=ttyS0 panic=-1 vmi=off"
