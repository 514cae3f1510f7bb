# VMI extras: the libFuzzer harness for the dispatcher.
# Included from the top-level Makefile with:  -include vmi-abi/vmi.mk
#   make fuzz-vmi                    bounded run (FUZZ_TIME seconds, default 30)
#   make fuzz-vmi FUZZ_TIME=3600     long run; the corpus in build/fuzz/corpus-vmi persists
FUZZ_CC   ?= clang
FUZZ_TIME ?= 30
FUZZ_VMI_SRCS := tests/fuzz/fuzz_vmi.c tests/unit/test_vmi_fake.c hypervisor/error.c \
                 $(wildcard hypervisor/vmi/*.c)

.PHONY: fuzz-vmi
$(BUILD)/fuzz/fuzz_vmi: $(FUZZ_VMI_SRCS) $(wildcard hypervisor/vmi/*.h vmi-abi/*.h tests/unit/test_vmi_fake.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Ihypervisor -Ivmi-abi -Itests/unit -o $@ $(FUZZ_VMI_SRCS) -lpthread

fuzz-vmi: $(BUILD)/fuzz/fuzz_vmi
	@mkdir -p $(BUILD)/fuzz/corpus-vmi
	$(BUILD)/fuzz/fuzz_vmi -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(BUILD)/fuzz/corpus-vmi
