#!/usr/bin/env bash
# Boots build/guests/{vmlinuz,initramfs.cpio.gz} under QEMU (TCG by default)
# and runs in-guest benchmarks: the reference numbers for vmlite's engines.
#   run-qemu.sh [-b BENCHES] [-a "extra kernel args"] [-k KERNEL] [-i INITRD]
#               [-- extra qemu args]
# Prints the guest's serial output, then one summary line:
#   QEMU_BOOT wall_to_init_s=X guest_uptime_s=Y wall_total_s=Z
# where wall_to_init_s is from starting QEMU to the guest's first
# "vmlite-init: start" line. Environment: QEMU_MACHINE (pc; microvm boots
# only the PVH vmlinux), QEMU_ACCEL (tcg), QEMU_TIMEOUT (300 s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KERNEL=$ROOT/build/guests/vmlinuz
INITRD=$ROOT/build/guests/initramfs.cpio.gz
BENCHES=getppid,pidigits
EXTRA=
while getopts "b:a:k:i:" o; do
    case $o in
        b) BENCHES=$OPTARG ;;
        a) EXTRA=$OPTARG ;;
        k) KERNEL=$OPTARG ;;
        i) INITRD=$OPTARG ;;
        *) echo "usage: $0 [-b benches] [-a kernel-args] [-k kernel] [-i initrd] [-- qemu args]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
command -v qemu-system-x86_64 >/dev/null ||
    { echo "run-qemu: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 12; }
[ -e "$KERNEL" ] && [ -e "$INITRD" ] || { echo "run-qemu: build the guest first: make guests" >&2; exit 2; }

APPEND="console=ttyS0 quiet vmlite.bench=$BENCHES $EXTRA"
us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
t0=$(us)
t_init='' uptime=''
while IFS= read -r line; do
    line=${line//$'\r'/}
    printf '%s\n' "$line"
    case "$line" in
        *"vmlite-init: start"*) [ -n "$t_init" ] || t_init=$(us) ;;
        *"vmlite-init: uptime="*) uptime=${line#*uptime=}; uptime=${uptime%% *} ;;
    esac
done < <(timeout "${QEMU_TIMEOUT:-300}" qemu-system-x86_64 -M "${QEMU_MACHINE:-pc}" -accel "${QEMU_ACCEL:-tcg}" \
    -m 512M -nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" "$@" 2>&1)
t1=$(us)
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }
echo "QEMU_BOOT wall_to_init_s=$([ -n "$t_init" ] && ms "$t0" "$t_init" || echo NA)" \
     "guest_uptime_s=${uptime:-NA} wall_total_s=$(ms "$t0" "$t1")"
