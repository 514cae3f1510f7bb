#!/bin/bash
# Builds and runs the platform smoke guest(s): PIC + PIT interrupts with HLT.
# Usage: tests/guests-platform/run.sh [engine]   (default kvm)
# Prints one line per guest and exits non-zero if any failed.
set -u
cd "$(dirname "$0")/../.."
engine=${1:-kvm}
out=build/guests-platform
mkdir -p "$out"
if [ "$engine" = kvm ] && [ ! -c /dev/kvm ]; then
	echo "SKIP platform-$engine: /dev/kvm is absent on this host"; exit 0
fi
probe=$(build/vmlite run --engine "$engine" --kernel build/guests/test/hello.elf --serial none </dev/null 2>&1)
if [ $? = 12 ] && grep -q "not implemented yet" <<<"$probe"; then
	echo "SKIP platform-$engine: $(head -1 <<<"$probe")"; exit 0
fi
fail=0
for src in tests/guests-platform/*.S; do
	name=$(basename "$src" .S)
	as --32 -o "$out/$name.o" "$src" &&
	ld -m elf_i386 --no-warn-rwx-segments -T tests/guests-platform/link.ld \
		-o "$out/$name.elf" "$out/$name.o" || { echo "FAIL platform-$name: build"; fail=1; continue; }
	want_status=$(cat "tests/guests-platform/$name.status")
	want_out=$(cat "tests/guests-platform/$name.expect")
	start=$(date +%s%N)
	got_out=$(timeout 20 build/vmlite run --engine "$engine" --kernel "$out/$name.elf" </dev/null 2>"$out/$name.err")
	status=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	min_ms=$(cat "tests/guests-platform/$name.min-ms" 2>/dev/null || echo 0)
	if [ "$status" != "$want_status" ]; then
		echo "FAIL platform-$engine-$name: status $status, want $want_status; stderr:"; sed 's/^/  /' "$out/$name.err"
		fail=1
	elif [ "$got_out" != "$want_out" ]; then
		echo "FAIL platform-$engine-$name: output '$got_out', want '$want_out'"
		fail=1
	elif [ "$ms" -lt "$min_ms" ]; then
		echo "FAIL platform-$engine-$name: finished in $ms ms, guest time cannot be shorter than $min_ms ms"
		fail=1
	else
		echo "PASS platform-$engine-$name (status $status, ${ms} ms)"
	fi
done
exit $fail
