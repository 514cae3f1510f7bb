# The translator's C code runs between translated blocks while the guest's
# FP/SIMD state is live in host registers: it must never touch x87/SSE, and
# GCC must not turn loops into libc memcpy/memset calls (which use SIMD).
$(BUILD)/obj/binary-translation/%.o: CFLAGS += -mgeneral-regs-only -fno-tree-loop-distribute-patterns
# The VMI dispatcher and the memory map it consults run inside translated
# blocks too (bt_vmi_direct calls them without saving the guest's FP state),
# so they obey the same rule; bt_vmi.c gives them SIMD-free guest copies.
$(BUILD)/obj/hypervisor/vmi/%.o $(BUILD)/obj/hypervisor/memory.o: CFLAGS += -mgeneral-regs-only -fno-tree-loop-distribute-patterns
