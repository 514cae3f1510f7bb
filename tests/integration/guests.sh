#!/usr/bin/env bash
# Runs every test guest on the given engine and checks its serial output and
# exit status against tests/guests/<name>.expect and <name>.status.
# guests.list lines: name|kernel override (empty: build/guests/test/<name>.elf)|extra args|host limit
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
engine=${1:?engine}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$engine" = kvm ] && [ ! -c /dev/kvm ]; then
    skip "guests-kvm" "/dev/kvm is absent on this host: KVM-engine guest tests not run"
    exit 0
fi
probe=$("$VMLITE" run --engine "$engine" --kernel build/guests/test/hello.elf \
        --serial none </dev/null 2>&1)
if [ $? = 12 ] && grep -q "not implemented yet" <<<"$probe"; then
    skip "guests-$engine" "$(head -1 <<<"$probe")"
    exit 0
fi

while IFS='|' read -r name kernel args limit; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ "$engine" = kvm ] && [ -n "$limit" ] && [ -d "/sys/module/${limit%%:*}" ]; then
        skip "guest-$engine-$name" "${limit#*:}"
        continue
    fi
    kernel=${kernel:-build/guests/test/$name.elf}
    want_status=$(cat "tests/guests/$name.status")
    out=$tmp/$name.out
    # shellcheck disable=SC2086 # args are word-split on purpose (quoted parts via eval)
    eval "timeout 60 \"$VMLITE\" run --engine $engine --kernel \"$kernel\" --serial file:$out $args" \
        </dev/null >/dev/null 2>"$tmp/$name.err"
    status=$?
    if [ "$status" != "$want_status" ]; then
        fail "guest-$engine-$name" "exit status $status, wanted $want_status: $(head -c 400 "$tmp/$name.err" | tr '\n' ' ')"
    elif ! cmp -s "$out" "tests/guests/$name.expect"; then
        fail "guest-$engine-$name" "serial output differs: $(diff <(cat "tests/guests/$name.expect") "$out" | head -5 | tr '\n' ' ')"
    else
        pass "guest-$engine-$name"
    fi
done < tests/guests/guests.list
