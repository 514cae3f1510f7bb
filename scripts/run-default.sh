#!/usr/bin/env bash
# README command 1: boot the built-in default guest to an interactive shell on
# the serial console, on the binary translator (works without any hardware
# virtualization). The default guest is our patched Linux 6.1
# (build/guests/bzImage-vmi, paravirtualized through the VMI page) with the
# busybox initramfs; VMLITE_GUEST=stock boots Debian's stock kernel instead.
# Leave the shell (exit, or Ctrl-D) to power off; Ctrl-A x quits at any time.
# VMLITE_ENGINE and VMLITE_ARGS override the defaults.
cd "$(dirname "$0")/.." || exit 1
engine=${VMLITE_ENGINE:-auto}
case ${VMLITE_GUEST:-vmi} in
vmi)   kernel=build/guests/bzImage-vmi ;;
stock) kernel=build/guests/vmlinuz ;;
*)     echo "run-default: VMLITE_GUEST must be vmi or stock, not '$VMLITE_GUEST'" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086  # VMLITE_ARGS is a list of extra flags
exec build/vmlite run --engine "$engine" --verbose \
    --kernel "$kernel" --initrd build/guests/initramfs.cpio.gz \
    --memory 512M --cmdline "console=ttyS0 quiet" ${VMLITE_ARGS:-}
