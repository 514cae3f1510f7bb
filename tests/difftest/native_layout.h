/* Layout of the native runner's entry block (dt_native_ctl in native.c),
 * shared with native_entry.S, which loads the state RIP-relative so no
 * register is needed to find it. The block lives in the runner's own image
 * (a PIE address no generated pointer or displacement reaches). */
#ifndef VMLITE_DIFFTEST_NATIVE_LAYOUT_H
#define VMLITE_DIFFTEST_NATIVE_LAYOUT_H

#define NCTL_FX         0x000   /* fxsave image: x87, mxcsr, xmm (64-aligned) */
#define NCTL_YMMH       0x200   /* 16 x 16 bytes */
#define NCTL_GPR        0x300   /* 16 x 8, x86_gpr order */
#define NCTL_RIP        0x380
#define NCTL_RFLAGS     0x388
#define NCTL_STACK_TOP  0x800   /* scratch stack for the popfq */
#define NCTL_SIZE       0x800

#endif
