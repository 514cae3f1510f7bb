#!/usr/bin/env bash
# Cost of VMI calls against the native instructions they replace, measured
# inside the guest with RDTSC (tests/guests/vmi-conformance-64.c, mode=bench:
# 500 iterations per class, cycles per iteration). Each engine runs RUNS
# times and the minimum per line is kept, because exits on a shared host
# are noisy.
#   bash bench/vmi-cost.sh [engine...]        (default: kvm bt; RUNS=5)
# Classes: cli+sti (IRQ_ENABLE + IRQ_DISABLE calls), cr3 write (WRITE_CR3),
# pte write+invlpg (SET_PXE + FLUSH_TLB_ONE), hlt wakeup on a 1 us LAPIC
# timer (SAFE_HALT), and the exit baseline: a plain OUT to port 0x80 vs a
# VERSION call through its stub vs the bare trap (mov; out %eax,$0xe4).
# VMLITE_KVM_NO_SYNC_REGS=1 makes the KVM engine use GET/SET_REGS instead
# of KVM_CAP_SYNC_REGS, to compare the two register paths.
cd "$(dirname "$0")/.." || exit 1
RUNS=${RUNS:-5}
engines=("$@")
[ ${#engines[@]} -eq 0 ] && engines=(kvm bt)
make -s build/vmlite test-guests >/dev/null || exit 1
kernel=build/guests/test/vmi-conformance.elf
mhz=$(awk -F: '/^cpu MHz/ {printf "%d", $2; exit}' /proc/cpuinfo)
echo "# VMI call cost, cycles per operation (min of $RUNS runs; host TSC ~${mhz:-?} MHz)"
for eng in "${engines[@]}"; do
    out=$(mktemp)
    for _ in $(seq "$RUNS"); do
        timeout 300 build/vmlite run --engine "$eng" --kernel "$kernel" --serial stdio \
            --cmdline "mode=bench" </dev/null 2>/dev/null | grep '^bench ' >>"$out"
    done
    if [ ! -s "$out" ]; then
        echo "$eng: no results (engine unavailable?)"
        rm -f "$out"
        continue
    fi
    echo "## engine $eng"
    printf '%-26s %12s %12s %8s\n' operation native vmi ratio
    # "bench NAME: native N cycles, vmi M cycles"
    sed 's/^bench //' "$out" | awk -F': ' '
        { split($2, f, " "); n = f[2]; v = f[5]; k = $1
          if (!(k in nat) || n < nat[k]) nat[k] = n
          if (!(k in vmi) || v < vmi[k]) vmi[k] = v
          if (!(k in seen)) { seen[k] = 1; order[++cnt] = k } }
        END { for (i = 1; i <= cnt; i++) { k = order[i]
                r = nat[k] > 0 ? sprintf("%.1fx", vmi[k] / nat[k]) : "-"
                printf "%-26s %12d %12d %8s\n", k, nat[k], vmi[k], r } }'
    rm -f "$out"
done
