# The translator's C code runs between translated blocks while the guest's
# FP/SIMD state is live in host registers: it must never touch x87/SSE, and
# GCC must not turn loops into libc memcpy/memset calls (which use SIMD).
$(BUILD)/obj/binary-translation/%.o: CFLAGS += -mgeneral-regs-only -fno-tree-loop-distribute-patterns
