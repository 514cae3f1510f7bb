#!/usr/bin/env bash
# README command 1: boot the built-in default guest. Today that is the "hello"
# test guest; the Linux guest replaces it once it boots on the translator.
cd "$(dirname "$0")/.." || exit 1
engine=${VMLITE_ENGINE:-auto}
kernel=build/guests/test/hello.elf
args=(run --kernel "$kernel" --serial stdio --stats --verbose)
# auto refuses when only an emulating /dev/kvm exists and the translator is
# not built yet; the tiny test guest is fine on any KVM, so fall back plainly.
build/vmlite run --engine "$engine" --kernel "$kernel" --serial none </dev/null >/dev/null 2>&1
if [ $? -eq 12 ] && [ -c /dev/kvm ]; then
    echo "vmlite: --engine $engine is not available here; running the tiny default guest with --engine kvm" >&2
    engine=kvm
fi
build/vmlite "${args[@]}" --engine "$engine"
status=$?
echo "vmlite: guest exited with status $status (the hello guest exits with 1 = debug-exit value 0)" >&2
[ "$status" -eq 1 ]
