#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks the Linux guest's VMI page check against vmlite's page builder: the
# guest code is extracted verbatim from the patched kernel tree that
# `make guest-linux` leaves in build/guests/linux-src.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
K=$ROOT/build/guests/linux-src
D=$(cd "$(dirname "$0")" && pwd)
T=$ROOT/build/guests/interop
[ -f "$K/arch/x86/kernel/cpu/vmi.c" ] || { echo "run make guest-linux first" >&2; exit 1; }
mkdir -p "$T"
{
    printf '#include <stdint.h>\n#include <string.h>\n#include <stdbool.h>\n'
    printf 'typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32;\n'
    printf 'typedef uint64_t u64; typedef int64_t s64;\n'
    printf '#define __init\n#define PAGE_SIZE 4096u\n#define BIT_ULL(n) (1ull << (n))\n'
    sed -n '/^#define VMI_SIGNATURE/,/^#ifndef __ASSEMBLY__/p' "$K/arch/x86/include/asm/vmi.h" | grep -v __ASSEMBLY__
    sed -n '/^\/\* CPUID base+1 EBX/,/^struct vmi_vcpu_page {/p' "$K/arch/x86/include/asm/vmi.h" | sed '$d'
    printf 'u8 vmi_kinds[VMI_NCALLS]; u8 vmi_flags[VMI_NCALLS]; static u32 vmi_aux[VMI_NCALLS];\n'
    # vmi_page_crc, vmi_page_check and vmi_read_descriptors, in file order.
    sed -n '/^static u32 __init vmi_page_crc/,/^static void __init vmi_read_descriptors/p' "$K/arch/x86/kernel/cpu/vmi.c" | sed '$d'
    sed -n '/^static void __init vmi_read_descriptors/,/^}/p' "$K/arch/x86/kernel/cpu/vmi.c"
} >"$T/guest_part.h"
gcc -std=gnu11 -Wall -Werror -I"$T" -c "$D/guest_shim.c" -o "$T/guest_shim.o"
gcc -std=gnu11 -w -D_GNU_SOURCE -I"$ROOT/hypervisor" -I"$ROOT/hypervisor/vmi" -I"$ROOT/vmi-abi" \
    -o "$T/host_page_test" "$D/host_page_test.c" "$T/guest_shim.o" \
    "$ROOT"/hypervisor/vmi/*.c "$ROOT/hypervisor/error.c" "$ROOT/hypervisor/memory.c" -lpthread
"$T/host_page_test"
