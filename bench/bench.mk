# Benchmarks and guest images (included by the top-level Makefile).
#
#   make bench-progs   the static benchmark programs -> build/bench/vmbench
#                      (all in one) and build/bench/<name>
#   make guests        build/guests/{vmlinuz,initramfs.cpio.gz} from Debian
#                      packages plus our /init and the benchmark programs
#   make bench-native  run every benchmark on the host (BENCH lines)
#
# The benchmark programs are static so that the very same binary runs on the
# host and inside the guest's initramfs. They get their own flags: the
# hypervisor's include paths and -g are of no use to them.
BENCH_CC      ?= $(CC)
BENCH_CFLAGS  := -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -MMD -MP
BENCH_LDFLAGS := -static
BENCH_SRCS    := $(filter-out bench/guest/vmbench.c,$(wildcard bench/guest/*.c))
BENCH_NAMES   := $(BENCH_SRCS:bench/guest/%.c=%)
BENCH_PROGS   := $(BENCH_NAMES:%=$(BUILD)/bench/%)
BENCH_LIBS    := -lgmp
VMBENCH       := $(BUILD)/bench/vmbench
VMBENCH_OBJS  := $(BENCH_NAMES:%=$(BUILD)/bench/obj/%.o)

.PHONY: bench-progs bench-native guests
# vmbench is what the guest and the native runs use; the separate programs
# are the same code, handy for perf/strace.
bench-progs: $(VMBENCH) $(BENCH_PROGS)

$(BUILD)/bench/%: bench/guest/%.c
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_LDFLAGS) -MF $@.d -o $@ $< $(BENCH_LIBS)

$(BUILD)/bench/obj/%.o: bench/guest/%.c
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) -Dmain=vmbench_main_$* -c -o $@ $<

# The program list is baked into vmbench: rebuild it when the list changes.
$(BUILD)/bench/vmbench.list: FORCE_BENCH_LIST
	@mkdir -p $(dir $@)
	@echo '$(BENCH_NAMES)' | cmp -s - $@ || echo '$(BENCH_NAMES)' >$@
.PHONY: FORCE_BENCH_LIST

$(VMBENCH): bench/guest/vmbench.c $(VMBENCH_OBJS) $(BUILD)/bench/vmbench.list
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_LDFLAGS) -MF $@.d \
	    -DVMBENCH_LIST='$(foreach n,$(BENCH_NAMES),X($(n)))' \
	    -o $@ bench/guest/vmbench.c $(VMBENCH_OBJS) $(BENCH_LIBS)

-include $(wildcard $(BUILD)/bench/*.d $(BUILD)/bench/obj/*.d)

# The script decides itself what is out of date (downloads, extraction,
# initramfs), so it runs every time; it is quick when nothing changed.
guests: $(VMBENCH)
	@bash scripts/make-guests.sh $(BUILD)/guests $(VMBENCH)

bench-native: $(VMBENCH)
	@bash bench/native/run-native.sh $(VMBENCH)

# ---- the benchmark matrix (bench/vmlite-bench, see bench/README.md) --------
#   make bench         full matrix: N=5 runs per cell, self-calibrated counts
#   make bench-quick   small N and counts, a few minutes; fails when a cell has
#                      neither a number nor an explicit n/a reason
# BENCH_ARGS passes extra options (e.g. BENCH_ARGS='--configs native,qemu').
-include tests/guests-bench/guests-bench.mk

.PHONY: bench bench-quick bench-deps
bench-deps: $(BUILD)/vmlite $(VMBENCH) guests guest-linux $(BENCH_GUEST_TARGETS)

bench: bench-deps
	@python3 bench/vmlite-bench $(BENCH_ARGS)

bench-quick: bench-deps
	@python3 bench/vmlite-bench --self-test
	@python3 bench/vmlite-bench --quick $(BENCH_ARGS)
