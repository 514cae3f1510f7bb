#!/usr/bin/env bash
# Runs every test suite and prints one closing line "N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== unit tests (CUnit)"
build/unit-tests > "$log.unit" 2>&1
unit_rc=$?
grep -E '^\s+Test: .*(passed|FAILED)|^\s+[0-9]+\. ' "$log.unit" | sed 's/^ *//' | sed 's/^/  /'
read -r up uf us < <(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log.unit")
if [ -z "$up" ]; then
    echo "  unit-test runner crashed (status $unit_rc):"; tail -5 "$log.unit"
    up=0; uf=1; us=0
fi
grep -E 'SKIP: ' "$log.unit" | sed 's/^ */  /' 
rm -f "$log.unit"

suites=(tests/integration/cli.sh "tests/integration/guests.sh kvm" "tests/integration/guests.sh bt"
        "tests/guests-platform/run.sh kvm" "tests/guests-platform/run.sh bt"
        tests/difftest/difftest.suite)
for extra in tests/integration/*.suite; do
    [ -f "$extra" ] && suites+=("$extra")
done
for s in "${suites[@]}"; do
    echo "== $s"
    # shellcheck disable=SC2086
    bash $s 2>&1 | tee -a "$log" | sed 's/^/  /'
done

ip=$(grep -c '^PASS ' "$log"); if_=$(grep -c '^FAIL ' "$log"); is=$(grep -c '^SKIP ' "$log")
if [ "$if_" -gt 0 ]; then
    echo "== failures"; grep '^FAIL ' "$log" | sed 's/^/  /'
fi
passed=$((up + ip)); failed=$((uf + if_)); is=$((is + us))
echo "$passed passed, $failed failed, $is skipped"
[ "$failed" -eq 0 ]
