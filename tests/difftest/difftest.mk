# Differential tests of an engine against the host CPU (tests/difftest/).
# Included from the top-level Makefile: builds build/difftest and links the
# native runner into build/unit-tests for tests/unit/test_difftest.c.
DT_MAIN     := tests/difftest/main.c
DT_SRCS     := $(filter-out $(DT_MAIN),$(wildcard tests/difftest/*.c))
DT_OBJS     := $(DT_SRCS:%.c=$(BUILD)/obj/%.o) \
               $(patsubst %.S,$(BUILD)/obj/%.o,$(wildcard tests/difftest/*.S))
# Extra objects for a local link (e.g. stubs while a core piece is missing).
DT_EXTRA_OBJS ?=
N           ?= 200000
SEED        ?= 1
ENGINE      ?= bt

.PHONY: difftest difftest-quick difftest-kvm
$(BUILD)/difftest: $(BUILD)/obj/$(DT_MAIN:.c=.o) $(DT_OBJS) $(LIB_OBJS) $(DT_EXTRA_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(DT_OBJS) $(DT_EXTRA_OBJS)

# Long run: make difftest N=1000000 ENGINE=bt SEED=7
difftest: $(BUILD)/difftest
	$(BUILD)/difftest --engine $(ENGINE) --cases $(N) --seed $(SEED)

# Bounded sample for make test (well under a minute); an engine that cannot
# run here (exit status 12) is reported as skipped, not failed.
difftest-quick: $(BUILD)/difftest
	@$(BUILD)/difftest --engine $(ENGINE) --cases 20000 --seed $(SEED) --quiet; rc=$$?; \
	if [ $$rc -eq 12 ]; then echo "difftest: SKIP: engine $(ENGINE) is not available"; exit 0; fi; \
	exit $$rc

# The same harness against KVM: a second opinion on the harness itself.
difftest-kvm: $(BUILD)/difftest
	$(BUILD)/difftest --engine kvm --cases 5000 --seed $(SEED) --quiet
