/* Fixed layout of the native runner's control page, shared by native.c and
 * native_entry.S (which loads the state with absolute addresses so that no
 * register is needed to find it). Below 2 GiB: reachable by a disp32. */
#ifndef VMLITE_DIFFTEST_NATIVE_LAYOUT_H
#define VMLITE_DIFFTEST_NATIVE_LAYOUT_H

#define NCTRL_VA         0x30000000
#define NCTRL_SIZE       0x2000
#define NCTRL_FX         (NCTRL_VA + 0x000)  /* fxsave image: x87, mxcsr, xmm (64-aligned) */
#define NCTRL_YMMH       (NCTRL_VA + 0x200)  /* 16 x 16 bytes */
#define NCTRL_GPR        (NCTRL_VA + 0x300)  /* 16 x 8, x86_gpr order */
#define NCTRL_RIP        (NCTRL_VA + 0x380)
#define NCTRL_RFLAGS     (NCTRL_VA + 0x388)
#define NCTRL_STACK_TOP  (NCTRL_VA + 0x800)  /* scratch stack for the popfq */
#define NCTRL_OUT        (NCTRL_VA + 0x800)  /* struct native_out, written by the handler */

#endif
