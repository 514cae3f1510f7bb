# Freestanding benchmark guests (included by bench/bench.mk, after
# tests/guests/guests.mk, whose runtime objects and flags they reuse without
# touching tests/guests/):
#   build/guests-bench/micro.elf   translator microbenchmarks (micro-64.c)
#   build/guests-bench/nano.elf    Adams & Agesen nanobenchmarks (nano-64.c)
#   build/bench/micro-host         the microbenchmark kernels on the host
# Each guest: <name>.c (32-bit entry) + <name>-64.c + the shared benchrt and
# kernels, linked like the test guests (one x86-64 ELF -> objcopy elf32-i386).
GB_SRC := tests/guests-bench
GB_OBJ := $(BUILD)/guests-bench/obj
GB_OUT := $(BUILD)/guests-bench
GB_GUESTS := micro nano
GB_COMMON := $(GB_OBJ)/benchboot.32.o $(GB_OBJ)/benchrt-64.64.o $(GB_OBJ)/benchrt.o \
	$(GB_OBJ)/micro-kernels.o
MICRO_HOST := $(BUILD)/bench/micro-host
BENCH_GUEST_TARGETS := $(GB_GUESTS:%=$(GB_OUT)/%.elf) $(MICRO_HOST)

.PHONY: bench-guests bench-micro
.PRECIOUS: $(GB_OBJ)/%.32.s $(GB_OBJ)/%.elf64 $(GB_OBJ)/%.o
bench-guests: $(GB_GUESTS:%=$(GB_OUT)/%.elf)
bench-micro: $(MICRO_HOST)

$(GB_OBJ)/%.32.s: $(GB_SRC)/%.c
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST CC32  $<')
	$(GQ)$(GUEST_CC) $(GUEST_CFLAGS32) -MT $(@:.s=.o) -MF $(@:.s=.d) -S -o $@ $<

$(GB_OBJ)/%.32.o: $(GB_OBJ)/%.32.s
	$(GQ){ printf '\t.code32\n'; cat $<; } | $(GUEST_CC) -m64 -c -x assembler -o $@ -

$(GB_OBJ)/%.64.o: $(GB_SRC)/%.c
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST CC64  $<')
	$(GQ)$(GUEST_CC) $(GUEST_CFLAGS64) -I$(GB_SRC) -c -o $@ $<

$(GB_OBJ)/%.o: $(GB_SRC)/%.S
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST AS    $<')
	$(GQ)$(GUEST_CC) -m64 -MMD -MP -c -o $@ $<

$(GB_OBJ)/%.elf64: $(GUEST_OBJ)/rt/mbheader.o $(GB_OBJ)/%.32.o $(GB_OBJ)/%-64.64.o \
		$(GB_COMMON) $(GUEST_RT) $(GUEST_SRC)/guest.ld
	@$(if $(GQ),echo '  GUEST LD    $@')
	$(GQ)$(GUEST_LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(GB_OBJ)/nano.elf64: $(GB_OBJ)/nano-isr.o $(GB_OBJ)/nano-vmi.64.o

$(GB_OUT)/%.elf: $(GB_OBJ)/%.elf64
	@$(if $(GQ),echo '  GUEST ELF32 $@')
	$(GQ)$(GUEST_OBJCOPY) -O elf32-i386 $< $@

# The host program links the very same kernel object as the guests.
$(MICRO_HOST): bench/micro/micro-host.c $(GB_OBJ)/micro-kernels.o $(GB_SRC)/micro-kernels.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) -std=c11 -O2 -Wall -Wextra -Werror -static -no-pie -I$(GB_SRC) \
	    -o $@ bench/micro/micro-host.c $(GB_OBJ)/micro-kernels.o

-include $(shell find $(GB_OBJ) -name '*.d' 2>/dev/null)
