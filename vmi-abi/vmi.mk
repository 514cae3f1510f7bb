# VMI extras: the libFuzzer harness for the dispatcher.
# Included from the top-level Makefile with:  -include vmi-abi/vmi.mk
#   make fuzz-vmi                    bounded run (FUZZ_TIME seconds, default 30)
#   make fuzz-vmi FUZZ_TIME=3600     long run; the corpus in build/fuzz/corpus-vmi persists
FUZZ_CC   ?= clang
FUZZ_TIME ?= 30
FUZZ_VMI_SRCS := tests/fuzz/fuzz_vmi.c tests/unit/test_vmi_fake.c hypervisor/error.c \
                 $(filter-out hypervisor/vmi/vmi_mem.c,$(wildcard hypervisor/vmi/*.c))

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

# The public headers compile freestanding (C89/C99/C11, C++11) and inside a
# Linux kbuild (__KERNEL__) when kernel headers are installed.
.PHONY: vmi-header-check vmi-kbuild-check
vmi-header-check:
	@mkdir -p $(BUILD)/vmi-check
	@for std in c89 c99 c11; do \
	  $(CC) -std=$$std -ffreestanding -nostdlib -pedantic -Wall -Wextra -Werror -Ivmi-abi \
	    -c vmi-abi/check/header_check.c -o $(BUILD)/vmi-check/h_$$std.o || exit 1; \
	  echo "vmi.h: $$std freestanding ok"; done
	@g++ -std=c++11 -x c++ -ffreestanding -Wall -Wextra -Werror -Ivmi-abi \
	    -c vmi-abi/check/header_check.c -o $(BUILD)/vmi-check/h_cxx.o && echo "vmi.h: c++11 ok"

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build /usr/src/linux-headers-*-amd64))
vmi-kbuild-check:
	@test -n "$(KDIR)" || { echo "no kernel headers: apt-get install linux-headers-amd64"; exit 1; }
	@rm -rf $(BUILD)/vmi-check/kbuild && mkdir -p $(BUILD)/vmi-check/kbuild
	@cp vmi-abi/check/kbuild/* $(BUILD)/vmi-check/kbuild/
	@sed -i 's|$$(src)/../..|$(CURDIR)/vmi-abi|' $(BUILD)/vmi-check/kbuild/Kbuild
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(BUILD)/vmi-check/kbuild modules
