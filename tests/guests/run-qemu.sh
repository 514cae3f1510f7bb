#!/usr/bin/env bash
# Runs the test guests under QEMU (TCG) as a reference, independent of vmlite:
#   bash tests/guests/run-qemu.sh [name...]
# Reads tests/guests/guests.list like tests/integration/guests.sh does and
# compares serial output and exit status with <name>.expect / <name>.status.
# QEMU differences handled here: SeaBIOS prints a banner on the same serial
# port before the kernel runs (cut at "Booting from ROM.."), and a triple
# fault resets the machine, so with -no-reboot QEMU exits 0 instead of 6.
cd "$(dirname "$0")/../.." || exit 1
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "SKIP qemu: $qemu not installed (apt-get install qemu-system-x86)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
only=("$@")

while IFS='|' read -r name kernel args; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
    kernel=${kernel:-build/guests/test/$name.elf}
    # Translate the vmlite options the list uses into QEMU's.
    eval "set -- $args"
    qargs=(-m 64M)
    while [ $# -gt 0 ]; do
        case "$1" in
        --memory) qargs=(-m "$2"); shift 2 ;;
        --cmdline) qargs+=(-append "$2"); shift 2 ;;
        --initrd) qargs+=(-initrd "$2"); shift 2 ;;
        *) echo "run-qemu: unknown option $1 for $name" >&2; shift ;;
        esac
    done
    want_status=$(cat "tests/guests/$name.status")
    [ "$name" = triple ] && want_status=0
    timeout 60 "$qemu" -M pc -accel tcg -nographic -monitor none -display none \
        -net none -no-reboot -serial "file:$tmp/raw" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$kernel" "${qargs[@]}" </dev/null >"$tmp/err" 2>&1
    status=$?
    # Drop everything up to and including SeaBIOS's "Booting from ROM..".
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); m=b"Booting from ROM.."; i=d.find(m); sys.stdout.buffer.write(d[i+len(m):] if i>=0 else d)' \
        "$tmp/raw" > "$tmp/out"
    if [ "$status" != "$want_status" ]; then
        echo "FAIL qemu-$name: exit status $status, wanted $want_status $(head -c 300 "$tmp/err")"
        fails=$((fails + 1))
    elif ! cmp -s "$tmp/out" "tests/guests/$name.expect"; then
        echo "FAIL qemu-$name: serial output differs:"
        diff "tests/guests/$name.expect" "$tmp/out" | head -20
        fails=$((fails + 1))
    else
        echo "PASS qemu-$name"
    fi
    [ -n "$KEEP_OUT" ] && cp "$tmp/out" "$KEEP_OUT/$name.out"
done < tests/guests/guests.list
[ "$fails" -eq 0 ]
