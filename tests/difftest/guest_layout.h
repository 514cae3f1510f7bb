/* Layout of the difftest guest: physical placement in a small RAM, and the
 * supervisor-only "system area" (GDT, TSS, IDT, entry and exception stubs,
 * vector-register save areas, stacks) mapped at a kernel-half address that
 * generated pointers never reach. Shared by guest.c and guest_sys.S. */
#ifndef VMLITE_DIFFTEST_GUEST_LAYOUT_H
#define VMLITE_DIFFTEST_GUEST_LAYOUT_H

#define G_RAM_SIZE      0x400000
#define G_PML4          0x1000
#define G_PDPT_LOW      0x2000
#define G_PD_LOW        0x3000
#define G_PT_CODE       0x4000
#define G_PT_DATA       0x5000
#define G_PDPT_SYS      0x6000
#define G_PD_SYS        0x7000
#define G_PT_SYS        0x8000
#define G_PD_LOW2       0x9000
#define G_PT_USER       0xa000
#define G_SYS_PA        0x10000
#define G_SYS_SIZE      0x10000
#define G_CODE_PA       0x100000
#define G_DATA_PA       0x200000
#define G_USER_PA       0x300000

/* User-mode helper page (code) and its data page: ymm upper halves can only
 * be moved by VEX instructions, which KVM's emulator of guest kernel code
 * cannot run; at CPL3 they run natively. Far from the code page (beyond a
 * rel8/small rel32 jump) and never produced by the generator. */
#define G_USER_VA       0x7f000000
#define USER_SAVE       0x0100  /* save stub, offset in the user code page */
#define UDATA           0x1000  /* user data page */
#define UDATA_YMMH_IN   (UDATA + 0x000)
#define UDATA_YMMH_OUT  (UDATA + 0x100)
#define UDATA_TARGET    (UDATA + 0x200)
#define UDATA_STACK_TOP (UDATA + 0x1000)

#define G_SYS_VA        0xffffc90000000000

/* Offsets inside the system area. */
#define SYS_GDT         0x0000
#define SYS_TSS         0x0100
#define SYS_IDT         0x1000
#define SYS_CODE        0x2000
#define SYS_FX_IN       0x3000  /* fxsave image loaded before entering the test */
#define SYS_YMMH_IN     0x3200
#define SYS_USE_AVX     0x3300  /* byte: 1 when ymm upper halves are saved (user stub) */
#define SYS_KLOAD_AVX   0x3301  /* byte: 1 when the entry stub loads them itself (CPL0 tests) */
#define SYS_VEC_MODE    0x3303  /* byte: how xmm/MXCSR are moved: VEC_* */
#define VEC_NONE        0       /* values of enum dt_vec_mode */
#define VEC_FX          1       /* fxrstor64/fxsave64 */
#define VEC_MOVDQU      2       /* movdqu x16, MXCSR left at its default (no FXSAVE/LDMXCSR) */
#define SYS_STAGE       0x3302  /* byte: 0 test running, 1 in the user save stub */
#define SYS_SAVED_RSP   0x3308  /* RSP at the first exception: its frame */
#define SYS_IST_ALT     0x3310  /* value for TSS.IST1 during the user save stub */
#define SYS_IRET        0x3400  /* iretq frame: rip, cs, rflags, rsp, ss */
#define SYS_FX_OUT      0x4000  /* written by the exception path */
#define SYS_STACK0_TOP  0x8000  /* TSS.RSP0 */
#define SYS_IST_TOP     0xa000  /* TSS.IST1: every exception frame lands here */
#define SYS_IST_ALT_TOP 0xc000  /* ... except the save stub's own final #GP */
#define SYS_TSS_IST1    (SYS_TSS + 0x24)

/* Offsets of entry points inside the stub blob (checked by guest.c). */
#define STUB_VEC_SIZE   8

#define G_SEL_KCODE     0x10
#define G_SEL_KDATA     0x18
#define G_SEL_UCODE32   0x23
#define G_SEL_UDATA     0x2b
#define G_SEL_UCODE     0x33
#define G_SEL_TSS       0x40

#endif
