/* The difftest guest's stubs. The supervisor blob is copied into the system
 * area at SYS_CODE, the user blob to G_USER_VA. Nothing here changes a
 * general-purpose register, so the state the engine reports at the final
 * hlt is the test's state at its exception; RIP, RFLAGS and RSP come from the
 * exception frame, whose address the first stub instruction records. */
#include "guest_layout.h"

#define AT(off) (.Lbase - SYS_CODE + (off))(%rip)
#define UAT(off) (.Lubase + (off))(%rip)

	.section .rodata
	.balign 64
	.globl dt_guest_sys, dt_guest_sys_end
	.globl dt_guest_sys_setup, dt_guest_sys_vectors, dt_guest_sys_halt
dt_guest_sys:
.Lbase:
	/* Entry at CPL0 with RSP at the iretq frame: load the vector state and
	 * iretq into the test code (CPL3), the user load stub (CPL3 with AVX),
	 * or the test at CPL0 (ymm upper halves loaded here then). */
	cmpb $VEC_FX, AT(SYS_VEC_MODE)
	je 3f
	cmpb $VEC_MOVDQU, AT(SYS_VEC_MODE)
	jne 1f
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu AT(SYS_FX_IN + 160 + 16 * \n), %xmm\n
	.endr
	jmp 4f
3:	fxrstor64 AT(SYS_FX_IN)
4:	cmpb $0, AT(SYS_KLOAD_AVX)
	je 1f
	vinserti128 $1, AT(SYS_YMMH_IN + 0 * 16), %ymm0, %ymm0
	vinserti128 $1, AT(SYS_YMMH_IN + 1 * 16), %ymm1, %ymm1
	vinserti128 $1, AT(SYS_YMMH_IN + 2 * 16), %ymm2, %ymm2
	vinserti128 $1, AT(SYS_YMMH_IN + 3 * 16), %ymm3, %ymm3
	vinserti128 $1, AT(SYS_YMMH_IN + 4 * 16), %ymm4, %ymm4
	vinserti128 $1, AT(SYS_YMMH_IN + 5 * 16), %ymm5, %ymm5
	vinserti128 $1, AT(SYS_YMMH_IN + 6 * 16), %ymm6, %ymm6
	vinserti128 $1, AT(SYS_YMMH_IN + 7 * 16), %ymm7, %ymm7
	vinserti128 $1, AT(SYS_YMMH_IN + 8 * 16), %ymm8, %ymm8
	vinserti128 $1, AT(SYS_YMMH_IN + 9 * 16), %ymm9, %ymm9
	vinserti128 $1, AT(SYS_YMMH_IN + 10 * 16), %ymm10, %ymm10
	vinserti128 $1, AT(SYS_YMMH_IN + 11 * 16), %ymm11, %ymm11
	vinserti128 $1, AT(SYS_YMMH_IN + 12 * 16), %ymm12, %ymm12
	vinserti128 $1, AT(SYS_YMMH_IN + 13 * 16), %ymm13, %ymm13
	vinserti128 $1, AT(SYS_YMMH_IN + 14 * 16), %ymm14, %ymm14
	vinserti128 $1, AT(SYS_YMMH_IN + 15 * 16), %ymm15, %ymm15
1:	iretq

	/* One-time setup at CPL0 with rax=7 rcx=0 rdx=0: enable AVX state. */
dt_guest_sys_setup:
	xsetbv
	hlt

	/* Exception vectors 0-31, STUB_VEC_SIZE bytes each: the return address
	 * that call pushes tells the harness which vector fired. */
	.balign 8, 0xcc
dt_guest_sys_vectors:
	.rept 32
	.balign 8, 0xcc
	call 2f
	.endr
	.balign 8, 0xcc
2:	cmpb $0, AT(SYS_STAGE)
	jne dt_guest_sys_halt           /* the save stub's closing #GP */
	movq %rsp, AT(SYS_SAVED_RSP)
	cmpb $VEC_FX, AT(SYS_VEC_MODE)
	je 5f
	cmpb $VEC_MOVDQU, AT(SYS_VEC_MODE)
	jne dt_guest_sys_halt
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu %xmm\n, AT(SYS_FX_OUT + 160 + 16 * \n)
	.endr
	jmp 6f
5:	fxsave64 AT(SYS_FX_OUT)
6:	cmpb $0, AT(SYS_USE_AVX)
	je dt_guest_sys_halt
	/* Save the ymm upper halves at CPL3, on a fresh exception stack so the
	 * test's frame survives the save stub's closing #GP. */
	movb $1, AT(SYS_STAGE)
	pushq AT(SYS_IST_ALT)
	popq AT(SYS_TSS_IST1)
	pushq $G_SEL_UDATA
	pushq $(G_USER_VA + UDATA_STACK_TOP)
	pushq $2
	pushq $G_SEL_UCODE
	pushq $(G_USER_VA + USER_SAVE)
	iretq
dt_guest_sys_halt:
	hlt
	jmp dt_guest_sys_halt
dt_guest_sys_end:

	/* User-mode blob at G_USER_VA: ymm upper halves in and out. */
	.balign 64
	.globl dt_guest_user, dt_guest_user_end, dt_guest_user_save_hlt
dt_guest_user:
.Lubase:
	vinserti128 $1, UAT(UDATA_YMMH_IN + 0 * 16), %ymm0, %ymm0
	vinserti128 $1, UAT(UDATA_YMMH_IN + 1 * 16), %ymm1, %ymm1
	vinserti128 $1, UAT(UDATA_YMMH_IN + 2 * 16), %ymm2, %ymm2
	vinserti128 $1, UAT(UDATA_YMMH_IN + 3 * 16), %ymm3, %ymm3
	vinserti128 $1, UAT(UDATA_YMMH_IN + 4 * 16), %ymm4, %ymm4
	vinserti128 $1, UAT(UDATA_YMMH_IN + 5 * 16), %ymm5, %ymm5
	vinserti128 $1, UAT(UDATA_YMMH_IN + 6 * 16), %ymm6, %ymm6
	vinserti128 $1, UAT(UDATA_YMMH_IN + 7 * 16), %ymm7, %ymm7
	vinserti128 $1, UAT(UDATA_YMMH_IN + 8 * 16), %ymm8, %ymm8
	vinserti128 $1, UAT(UDATA_YMMH_IN + 9 * 16), %ymm9, %ymm9
	vinserti128 $1, UAT(UDATA_YMMH_IN + 10 * 16), %ymm10, %ymm10
	vinserti128 $1, UAT(UDATA_YMMH_IN + 11 * 16), %ymm11, %ymm11
	vinserti128 $1, UAT(UDATA_YMMH_IN + 12 * 16), %ymm12, %ymm12
	vinserti128 $1, UAT(UDATA_YMMH_IN + 13 * 16), %ymm13, %ymm13
	vinserti128 $1, UAT(UDATA_YMMH_IN + 14 * 16), %ymm14, %ymm14
	vinserti128 $1, UAT(UDATA_YMMH_IN + 15 * 16), %ymm15, %ymm15
	jmp *UAT(UDATA_TARGET)

	.org .Lubase + USER_SAVE, 0xcc
	vextracti128 $1, %ymm0, UAT(UDATA_YMMH_OUT + 0 * 16)
	vextracti128 $1, %ymm1, UAT(UDATA_YMMH_OUT + 1 * 16)
	vextracti128 $1, %ymm2, UAT(UDATA_YMMH_OUT + 2 * 16)
	vextracti128 $1, %ymm3, UAT(UDATA_YMMH_OUT + 3 * 16)
	vextracti128 $1, %ymm4, UAT(UDATA_YMMH_OUT + 4 * 16)
	vextracti128 $1, %ymm5, UAT(UDATA_YMMH_OUT + 5 * 16)
	vextracti128 $1, %ymm6, UAT(UDATA_YMMH_OUT + 6 * 16)
	vextracti128 $1, %ymm7, UAT(UDATA_YMMH_OUT + 7 * 16)
	vextracti128 $1, %ymm8, UAT(UDATA_YMMH_OUT + 8 * 16)
	vextracti128 $1, %ymm9, UAT(UDATA_YMMH_OUT + 9 * 16)
	vextracti128 $1, %ymm10, UAT(UDATA_YMMH_OUT + 10 * 16)
	vextracti128 $1, %ymm11, UAT(UDATA_YMMH_OUT + 11 * 16)
	vextracti128 $1, %ymm12, UAT(UDATA_YMMH_OUT + 12 * 16)
	vextracti128 $1, %ymm13, UAT(UDATA_YMMH_OUT + 13 * 16)
	vextracti128 $1, %ymm14, UAT(UDATA_YMMH_OUT + 14 * 16)
	vextracti128 $1, %ymm15, UAT(UDATA_YMMH_OUT + 15 * 16)
dt_guest_user_save_hlt:
	hlt                             /* #GP at CPL3: back to the supervisor stub */
dt_guest_user_end:

	.section .note.GNU-stack, "", @progbits
