#!/usr/bin/env bash
# Installs the Debian packages vmlite needs, only when something is missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail
PKGS=(build-essential libzydis-dev libelf-dev libcunit1-dev libgmp-dev linux-libc-dev
      busybox-static cpio gzip xz-utils kmod binutils clang gnuplot-nox
      linux-source-6.1 bc bison flex libssl-dev qemu-system-x86)
[ -n "${VMLITE_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$VMLITE_EXTRA_PKGS" && PKGS+=("${extra[@]}")
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "vmlite: missing Debian packages: ${missing[*]}" >&2
    echo "vmlite: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "vmlite: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd -qq
