#!/usr/bin/env bash
# Runs every vmlite benchmark natively on the host with the same static
# binary the guest runs (build/bench/vmbench), printing the BENCH lines.
#   run-native.sh [VMBENCH=build/bench/vmbench] [NAME ...]
# Arguments mirror what the guest's /init passes: forkexec execs busybox's
# `true` applet (the guest's /bin/true is the same busybox), fileops works in
# a tmpfs (/dev/shm; the guest uses its tmpfs /tmp), blkio uses a scratch
# file on the disk holding build/ (the guest uses its /dev/vda).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMBENCH=${1:-$ROOT/build/bench/vmbench}
shift || true
[ -x "$VMBENCH" ] || { echo "run-native: no $VMBENCH (run: make bench-progs)" >&2; exit 2; }
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <("$VMBENCH" --list)

BUSYBOX=$(command -v busybox || true)
SCRATCH=$(mktemp -d "$ROOT/build/bench/native.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
SHM=/dev/shm
[ -d "$SHM" ] && [ -w "$SHM" ] || SHM=$SCRATCH

rc=0
for n in "${names[@]}"; do
    case $n in
        forkexec)
            if [ -z "$BUSYBOX" ]; then
                echo "run-native: skip forkexec: busybox missing (apt-get install busybox-static)" >&2
                continue
            fi
            args=(0 "$BUSYBOX" true) ;;
        fileops) args=(0 "$SHM") ;;
        blkio) args=(0 "$SCRATCH/blkio.img") ;;
        *) args=() ;;
    esac
    "$VMBENCH" "$n" "${args[@]}" || rc=1
done
exit $rc
