#!/usr/bin/env bash
# The command line as a user meets it: every malformed input gives a one-line
# error naming the fix and exit status 2; help documents every flag.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hello=build/guests/test/hello.elf
[ -f "$hello" ] || hello=$tmp/placeholder && touch "$tmp/placeholder"

expect_run cli-no-command 2 "no command given" -- "$VMLITE"
expect_run cli-unknown-command 2 "unknown command 'boot'" -- "$VMLITE" boot
expect_run cli-unknown-flag 2 "unknown option --frob" -- "$VMLITE" run --kernel "$hello" --frob
expect_run cli-missing-kernel 2 "pass --kernel FILE" -- "$VMLITE" run
expect_run cli-kernel-not-found 2 "No such file" -- "$VMLITE" run --kernel "$tmp/nope"
expect_run cli-bad-memory 2 "such as 256M" -- "$VMLITE" run --kernel "$hello" --memory lots
expect_run cli-memory-range 2 "from 2M to 64G" -- "$VMLITE" run --kernel "$hello" --memory 128G
expect_run cli-bad-cpus 2 "from 1 to" -- "$VMLITE" run --kernel "$hello" --cpus 0
expect_run cli-bad-engine 2 "bt, kvm or auto" -- "$VMLITE" run --kernel "$hello" --engine tcg
expect_run cli-bad-serial 2 "stdio, none or file:PATH" -- "$VMLITE" run --kernel "$hello" --serial pty

# Files that are not kernels: rejected by the loader before any engine starts.
printf 'just some text, not a kernel\n' > "$tmp/text"
expect_run cli-not-a-kernel 2 "not a multiboot, bzImage or ELF64 kernel" -- \
    "$VMLITE" run --engine kvm --kernel "$tmp/text"
: > "$tmp/empty"
expect_run cli-empty-kernel 2 "empty" -- "$VMLITE" run --engine kvm --kernel "$tmp/empty"
if [ -f build/guests/test/hello.elf ]; then
    head -c 600 build/guests/test/hello.elf > "$tmp/trunc.elf"
    expect_run cli-truncated-kernel 2 "truncated" -- "$VMLITE" run --engine kvm --kernel "$tmp/trunc.elf"
    head -c $((3 << 20)) /dev/zero > "$tmp/big.img"
    expect_run cli-initrd-too-big 2 "raise --memory" -- \
        "$VMLITE" run --engine kvm --kernel build/guests/test/hello.elf --initrd "$tmp/big.img" --memory 2M
    expect_run cli-serial-file-unwritable 2 "serial" -- \
        "$VMLITE" run --engine kvm --kernel build/guests/test/hello.elf --serial file:/nonexistent-dir/out
else
    skip cli-truncated-kernel "test guests not built"
fi

# Help documents every flag the parser accepts.
help=$("$VMLITE" run --help)
missing=""
for f in --engine --kernel --initrd --cmdline --memory --cpus --serial --stats --verbose --help; do
    grep -q -- "$f" <<<"$help" || missing="$missing $f"
done
[ -z "$missing" ] && pass cli-help-documents-flags || fail cli-help-documents-flags "missing:$missing"
ver=$("$VMLITE" --version)
[ "$ver" = "vmlite $(cat VERSION)" ] && pass cli-version || fail cli-version "got '$ver'"

# Lifecycle: a panicking guest is reported with its last console lines; a
# reset restarts the VM with --on-reboot restart (stopped here by a signal).
if [ -f build/guests/test/panic.elf ] && [ -c /dev/kvm ]; then
    expect_run lifecycle-panic-lines 14 "| Kernel panic - not syncing: VFS" -- \
        timeout 20 "$VMLITE" run --engine kvm --kernel build/guests/test/panic.elf --serial none
    err=$(timeout --preserve-status -s INT 3 "$VMLITE" run --engine kvm --kernel build/guests/test/reset.elf \
          --serial none --on-reboot restart -v </dev/null 2>&1)
    st=$?
    if [ "$st" = 130 ] && grep -q "restarting (boot 3)" <<<"$err"; then
        pass lifecycle-reboot-restart
    else
        fail lifecycle-reboot-restart "status $st: $(tail -3 <<<"$err" | tr '\n' ' ')"
    fi
    expect_run cli-bad-on-reboot 2 "expected exit or restart" -- \
        "$VMLITE" run --kernel build/guests/test/reset.elf --on-reboot later
else
    skip lifecycle "needs /dev/kvm and the test guests"
fi
