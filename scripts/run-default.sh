#!/usr/bin/env bash
# README command 1: boot the built-in default guest — Debian's stock Linux
# kernel with our busybox initramfs — to an interactive shell on the serial
# console, on the binary translator (works without any hardware
# virtualization). Leave the shell (exit, or Ctrl-D) to power off; Ctrl-A x
# quits at any time. VMLITE_ENGINE and VMLITE_ARGS override the defaults.
cd "$(dirname "$0")/.." || exit 1
engine=${VMLITE_ENGINE:-auto}
# shellcheck disable=SC2086  # VMLITE_ARGS is a list of extra flags
exec build/vmlite run --engine "$engine" --verbose \
    --kernel build/guests/vmlinuz --initrd build/guests/initramfs.cpio.gz \
    --memory 512M --cmdline "console=ttyS0 quiet" ${VMLITE_ARGS:-}
