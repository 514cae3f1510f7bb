# vmlite top-level build. Sources are found by wildcard so that adding a device
# or a translator file never needs a Makefile edit.
CC      ?= gcc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP \
           -Ihypervisor -Ivmi-abi -Ibinary-translation
LDLIBS  += -lelf -lZydis -lpthread -lm
BUILD   := build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  += -DVMLITE_VERSION=\"$(VERSION)\"

HV_SRCS  := $(wildcard hypervisor/*.c hypervisor/*/*.c)
BT_SRCS  := $(wildcard binary-translation/*.c)
MAIN_SRC := hypervisor/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(HV_SRCS)) $(BT_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
BT_ASM   := $(wildcard binary-translation/*.S)
LIB_OBJS += $(BT_ASM:%.S=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps test run clean guests test-guests
all: $(BUILD)/vmlite

deps:
	@bash scripts/deps.sh

$(BUILD)/vmlite: $(BUILD)/obj/$(MAIN_SRC:.c=.o) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Optional per-directory rules (test guests, translator specifics, bench).
-include tests/guests/guests.mk
-include binary-translation/bt.mk
-include bench/bench.mk
-include tests/difftest/difftest.mk
-include vmi-abi/vmi.mk
-include guest-patches/linux.mk

# README command 1: run the built-in default guest.
run: deps all guests guest-linux
	@bash scripts/run-default.sh

# README command 2: every test; ends with "N passed, N failed".
# guest-linux: the patched kernel for tests/integration/linux-vmi.suite
# (about 4-10 minutes on two cores the first time, incremental after).
test: deps all $(BUILD)/unit-tests $(BUILD)/difftest test-guests guests guest-linux
	@bash tests/run-all.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
