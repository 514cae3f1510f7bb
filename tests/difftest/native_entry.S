/* Enters test code with every register taken from dt_native_ctl. Never
 * returns: the test ends in an exception (at least the int3 trailer) that
 * the runner's signal handler turns into a result and a siglongjmp. */
#include "native_layout.h"

#define CTL(off) (dt_native_ctl + (off))(%rip)
#define GPR(n) CTL(NCTL_GPR + 8 * (n))
#define YMMH(n) CTL(NCTL_YMMH + 16 * (n))

	.text
	.globl dt_native_enter_avx
	.type dt_native_enter_avx, @function
dt_native_enter_avx:
	/* fxrstor leaves the upper halves alone: it goes first, the inserts after. */
	fxrstor64 CTL(NCTL_FX)
	vinserti128 $1, YMMH(0), %ymm0, %ymm0
	vinserti128 $1, YMMH(1), %ymm1, %ymm1
	vinserti128 $1, YMMH(2), %ymm2, %ymm2
	vinserti128 $1, YMMH(3), %ymm3, %ymm3
	vinserti128 $1, YMMH(4), %ymm4, %ymm4
	vinserti128 $1, YMMH(5), %ymm5, %ymm5
	vinserti128 $1, YMMH(6), %ymm6, %ymm6
	vinserti128 $1, YMMH(7), %ymm7, %ymm7
	vinserti128 $1, YMMH(8), %ymm8, %ymm8
	vinserti128 $1, YMMH(9), %ymm9, %ymm9
	vinserti128 $1, YMMH(10), %ymm10, %ymm10
	vinserti128 $1, YMMH(11), %ymm11, %ymm11
	vinserti128 $1, YMMH(12), %ymm12, %ymm12
	vinserti128 $1, YMMH(13), %ymm13, %ymm13
	vinserti128 $1, YMMH(14), %ymm14, %ymm14
	vinserti128 $1, YMMH(15), %ymm15, %ymm15
	jmp 1f

	.globl dt_native_enter_sse
	.type dt_native_enter_sse, @function
dt_native_enter_sse:
	fxrstor64 CTL(NCTL_FX)
1:
	leaq CTL(NCTL_STACK_TOP), %rsp
	pushq CTL(NCTL_RFLAGS)
	popfq
	movq GPR(0), %rax
	movq GPR(1), %rcx
	movq GPR(2), %rdx
	movq GPR(3), %rbx
	movq GPR(5), %rbp
	movq GPR(6), %rsi
	movq GPR(7), %rdi
	movq GPR(8), %r8
	movq GPR(9), %r9
	movq GPR(10), %r10
	movq GPR(11), %r11
	movq GPR(12), %r12
	movq GPR(13), %r13
	movq GPR(14), %r14
	movq GPR(15), %r15
	movq GPR(4), %rsp
	jmp *CTL(NCTL_RIP)

	.section .note.GNU-stack, "", @progbits
