#!/usr/bin/env bash
# Builds build/guests/bzImage-vmi: Debian's linux-source-6.1 with the VMI
# guest series from guest-patches/linux-6.1/ and its config fragment.
#
# Incremental by stamps: the source is unpacked once; when the series changes
# the old series is reverted and the new one applied (so only the touched
# files recompile); the config is regenerated only when the fragment or the
# series changed. The object tree is separate (O=), so kbuild keeps its state.
#
# Environment: VMLITE_LINUX_JOBS (default 2), VMLITE_LINUX_NICE (default 10).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERIES_DIR=$ROOT/guest-patches/linux-6.1
FRAGMENT=$SERIES_DIR/vmlite.config
OUT=$ROOT/build/guests
SRC=$OUT/linux-src
OBJ=$OUT/linux-obj
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=${VMLITE_LINUX_JOBS:-2}
NICE=${VMLITE_LINUX_NICE:-10}
PKGS=(linux-source-6.1 bc bison flex libssl-dev libelf-dev build-essential xz-utils)

say() { printf '[guest-linux] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

ensure_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed; run apt-get update and retry"
}

series() { ls "$SERIES_DIR"/*.patch 2>/dev/null | sort; }

series_hash() {
    local f
    for f in $(series); do sha256sum "$f"; done | sha256sum | cut -d' ' -f1
}

tarball_id() { stat -c '%s %Y' "$TARBALL"; }

unpack() {
    say "unpacking $TARBALL (once; ~40 s)"
    rm -rf "$SRC" "$OUT/linux-src.tmp" "$OUT/applied"
    mkdir -p "$OUT/linux-src.tmp"
    tar -xJf "$TARBALL" -C "$OUT/linux-src.tmp" --strip-components=1
    mv "$OUT/linux-src.tmp" "$SRC"
    tarball_id >"$OUT/stamp.unpacked"
    mkdir -p "$OUT/applied"
    echo empty >"$OUT/stamp.series"
}

# Files a set of patches touches.
patched_files() { cat "$@" 2>/dev/null | sed -n 's|^+++ b/\([^	]*\).*|\1|p' | sort -u; }

# Reverting and re-applying rewrites every patched file; files whose content
# ends up unchanged get their old mtime back, so kbuild only recompiles what
# really changed (asm/paravirt.h alone would rebuild the whole kernel).
snapshot_mtimes() {
    local f
    : >"$OUT/mtimes"
    for f in $(patched_files "$OUT"/applied/*.patch $(series)); do
        # a file the old series created and reverting removed has no mtime
        if [ -f "$SRC/$f" ]; then
            printf '%s %s %s\n' "$(sha256sum <"$SRC/$f" | cut -d' ' -f1)" \
                "$(stat -c %Y "$SRC/$f")" "$f" >>"$OUT/mtimes"
        fi
    done
}

restore_mtimes() {
    local sum mtime f n=0
    [ -f "$OUT/mtimes" ] || return 0
    while read -r sum mtime f; do
        if [ -f "$SRC/$f" ] && [ "$(sha256sum <"$SRC/$f" | cut -d' ' -f1)" = "$sum" ]; then
            touch -d "@$mtime" "$SRC/$f"
            n=$((n + 1))
        fi
    done <"$OUT/mtimes"
    rm -f "$OUT/mtimes"
    say "$n unchanged patched files keep their timestamps"
}

revert_applied() {
    local f
    # Reverse order: later patches may touch what earlier ones added.
    for f in $(ls "$OUT/applied"/*.patch 2>/dev/null | sort -r); do
        say "reverting $(basename "$f")"
        patch -d "$SRC" -p1 -R -s --no-backup-if-mismatch <"$f" || return 1
    done
    rm -f "$OUT/applied"/*.patch
}

apply_series() {
    local f
    for f in $(series); do
        say "applying $(basename "$f")"
        patch -d "$SRC" -p1 -s --no-backup-if-mismatch <"$f" ||
            die "$(basename "$f") does not apply to $(head -c 200 "$SRC/Makefile" | grep -m1 SUBLEVEL || echo this tree); fix the patch context"
        cp "$f" "$OUT/applied/"
    done
}

prepare_source() {
    mkdir -p "$OUT"
    if [ ! -f "$SRC/Makefile" ] || [ "$(cat "$OUT/stamp.unpacked" 2>/dev/null)" != "$(tarball_id)" ]; then
        unpack
    fi
    local want have
    want=$(series_hash)
    have=$(cat "$OUT/stamp.series" 2>/dev/null || true)
    [ "$want" = "$have" ] && { say "series unchanged ($(series | wc -l) patches)"; return 0; }
    snapshot_mtimes
    if ! revert_applied; then
        say "old series does not revert cleanly; unpacking afresh"
        unpack
    fi
    apply_series
    restore_mtimes
    echo "$want" >"$OUT/stamp.series"
}

config_hash() { cat "$FRAGMENT" "$OUT/stamp.series" | sha256sum | cut -d' ' -f1; }

check_config() {
    local line sym bad=0
    while IFS= read -r line; do
        case "$line" in
        CONFIG_*=*)
            grep -qx -- "$line" "$OBJ/.config" || { say "fragment line not honoured: $line"; bad=1; } ;;
        "# CONFIG_"*" is not set")
            sym=${line#\# }; sym=${sym%% *}
            grep -q "^$sym=" "$OBJ/.config" && { say "fragment wants $sym unset"; bad=1; } ;;
        esac
    done <"$FRAGMENT"
    [ $bad -eq 0 ] || die "config fragment not fully applied (dependency missing?); see $OBJ/.config"
}

configure() {
    local want
    want=$(config_hash)
    if [ -f "$OBJ/.config" ] && [ "$(cat "$OUT/stamp.config" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    say "configuring: tinyconfig + $(basename "$FRAGMENT")"
    mkdir -p "$OBJ"
    make -s -C "$SRC" O="$OBJ" ARCH=x86_64 tinyconfig >/dev/null
    (cd "$SRC" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$OBJ" \
        "$OBJ/.config" "$FRAGMENT" >/dev/null)
    make -s -C "$SRC" O="$OBJ" ARCH=x86_64 olddefconfig >/dev/null
    check_config
    echo "$want" >"$OUT/stamp.config"
}

build() {
    local start end log=$OUT/linux-build.log n=0
    start=$(date +%s)
    say "building (nice -n $NICE make -j$JOBS; log: ${log#$ROOT/})"
    # kbuild prints one line per step; echo it with a running count.
    set +e
    nice -n "$NICE" make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS" bzImage 2>&1 |
        tee "$log" | while IFS= read -r line; do
            case "$line" in
            *"  CC "*|*"  AS "*|*"  LD "*|*"  AR "*|*"  GEN "*|*"  OBJCOPY "*) n=$((n + 1))
                printf '[guest-linux] %5d %s\n' "$n" "${line#"${line%%[! ]*}"}" >&2 ;;
            *error*|*warning:*|*Error*) printf '%s\n' "$line" >&2 ;;
            esac
        done
    local rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" -eq 0 ] || die "kernel build failed (exit $rc); see ${log#$ROOT/}"
    end=$(date +%s)
    cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage-vmi"
    say "built build/guests/bzImage-vmi ($(stat -c %s "$OUT/bzImage-vmi") bytes) in $((end - start)) s"
}

ensure_packages
[ -f "$TARBALL" ] || die "$TARBALL missing after installing linux-source-6.1"
[ -f "$FRAGMENT" ] || die "$FRAGMENT missing"
prepare_source
configure
build
