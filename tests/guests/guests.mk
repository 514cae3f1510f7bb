# Freestanding test guests: multiboot v1 ELF32 kernels built with the system
# gcc/ld/objcopy only (no multilib needed). See tests/guests/README.md.
#
# Everything is linked as ONE x86-64 ELF (so 32-bit and 64-bit code share a
# symbol table and relocations are exact) and then converted to an ELF32
# container with objcopy, because multiboot v1 loaders take ELF32 only.
# 32-bit C is compiled with -m32 -S and assembled by the 64-bit assembler after
# a ".code32" line, which avoids needing 32-bit libraries or linker emulation.

GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy
GUEST_SRC     := tests/guests
GUEST_OBJ     := $(BUILD)/guests/obj
GUEST_OUT     := $(BUILD)/guests/test

# Quiet by default (one short line per step); make V=1 shows full commands.
ifeq ($(V),1)
GQ :=
else
GQ := @
endif

GUESTS := hello exitcode cpuid longmode exceptions paging32 breakpoint iret iretq portio memtest mbinfo triple panic reset vmi-conformance realmode

GUEST_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-builtin \
	-fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fno-tree-loop-distribute-patterns -mgeneral-regs-only \
	-mno-mmx -mno-sse -mno-80387 -ffunction-sections -fdata-sections \
	-I$(GUEST_SRC)/rt -Ivmi-abi -MMD -MP $(GUEST_EXTRA_CFLAGS)
GUEST_CFLAGS32 := $(GUEST_CFLAGS) -m32 -march=i686
GUEST_CFLAGS64 := $(GUEST_CFLAGS) -m64 -mcmodel=small -mno-red-zone
GUEST_LDFLAGS  := -m elf_x86_64 -nostdlib -static -T $(GUEST_SRC)/guest.ld \
	--gc-sections -z max-page-size=0x1000 -z noexecstack

GUEST_RT32 := $(addprefix $(GUEST_OBJ)/rt/,start.32.o serial.32.o printf.32.o idt.32.o \
	entry32.o isr32.o longmode.o)
GUEST_RT64 := $(addprefix $(GUEST_OBJ)/rt/,serial.64.o printf.64.o idt.64.o isr64.o)
GUEST_RT   := $(GUEST_RT32) $(GUEST_RT64)

.PHONY: test-guests
.PRECIOUS: $(GUEST_OBJ)/%.32.s $(GUEST_OBJ)/%.elf64
test-guests: $(GUESTS:%=$(GUEST_OUT)/%.elf) $(GUEST_OUT)/hello-aout.bin

# 32-bit C: compile to assembly, then assemble as .code32 into an x86-64 object.
$(GUEST_OBJ)/%.32.s: $(GUEST_SRC)/%.c
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST CC32  $<')
	$(GQ)$(GUEST_CC) $(GUEST_CFLAGS32) -MT $(@:.s=.o) -MF $(@:.s=.d) -S -o $@ $<

$(GUEST_OBJ)/%.32.o: $(GUEST_OBJ)/%.32.s
	$(GQ){ printf '\t.code32\n'; cat $<; } | $(GUEST_CC) -m64 -c -x assembler -o $@ -

$(GUEST_OBJ)/%.64.o: $(GUEST_SRC)/%.c
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST CC64  $<')
	$(GQ)$(GUEST_CC) $(GUEST_CFLAGS64) -c -o $@ $<

# Assembly files say .code32/.code64 themselves.
$(GUEST_OBJ)/rt/%.o: $(GUEST_SRC)/rt/%.S
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST AS    $<')
	$(GQ)$(GUEST_CC) -m64 -MMD -MP $(GUEST_EXTRA_ASFLAGS) -c -o $@ $<

$(GUEST_OBJ)/rt/mbheader-aout.o: $(GUEST_SRC)/rt/mbheader.S
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST AS    $< (a.out kludge)')
	$(GQ)$(GUEST_CC) -m64 -DMB_AOUT -MMD -MP -c -o $@ $<

# A guest is <name>.c (32-bit) plus, if present, <name>-64.c (64-bit);
# $(2) is its multiboot header object.
define GUEST_template
$(GUEST_OBJ)/$(1).elf64: $(2) $(GUEST_OBJ)/$(1).32.o \
		$(patsubst $(GUEST_SRC)/%.c,$(GUEST_OBJ)/%.64.o,$(wildcard $(GUEST_SRC)/$(1)-64.c)) \
		$(GUEST_RT) $(GUEST_SRC)/guest.ld
	@$(if $(GQ),echo '  GUEST LD    $$@')
	$(GQ)$(GUEST_LD) $(GUEST_LDFLAGS) -o $$@ $$(filter %.o,$$^)
endef
$(foreach g,$(GUESTS),$(eval $(call GUEST_template,$(g),$(GUEST_OBJ)/rt/mbheader.o)))
# hello-aout uses the a.out-kludge header and is shipped as a flat binary.
$(eval $(call GUEST_template,hello-aout,$(GUEST_OBJ)/rt/mbheader-aout.o))

$(GUEST_OUT)/%.elf: $(GUEST_OBJ)/%.elf64
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST ELF32 $@')
	$(GQ)$(GUEST_OBJCOPY) -O elf32-i386 $< $@

# Flat binary: file offset 0 is __image_start (the multiboot header), and the
# file must end exactly at _edata, which the header gives as load_end_addr.
$(GUEST_OUT)/%.bin: $(GUEST_OBJ)/%.elf64
	@mkdir -p $(dir $@)
	@$(if $(GQ),echo '  GUEST BIN   $@')
	$(GQ)$(GUEST_OBJCOPY) -O binary $< $@
	@want=$$(( 0x$$(nm $< | sed -n 's/ [A-Za-z] _edata$$//p') - \
		0x$$(nm $< | sed -n 's/ [A-Za-z] __image_start$$//p') )); \
	got=$$(stat -c %s $@); \
	if [ "$$want" != "$$got" ]; then \
		echo "$@: size $$got but _edata - __image_start = $$want" >&2; rm -f $@; exit 1; fi

-include $(shell find $(GUEST_OBJ) -name '*.d' 2>/dev/null)
