/* Trampolines between C and translated code. While translated code runs, the
 * guest's GPRs are the host's (except RSP/R10/R11, which live in the block),
 * the guest's arithmetic flags are the host's, and RSP is the vCPU block
 * (generated code addresses it as [rsp+off]). Here, where RSP moves, gs:
 * reaches the same block. */
#include "bt_cpu.h"

	.intel_syntax noprefix
	.text

.macro SAVE_GUEST
	mov gs:[BT_OFF_GPR + 0*8], rax
	mov gs:[BT_OFF_GPR + 1*8], rcx
	mov gs:[BT_OFF_GPR + 2*8], rdx
	mov gs:[BT_OFF_GPR + 3*8], rbx
	mov gs:[BT_OFF_GPR + 5*8], rbp
	mov gs:[BT_OFF_GPR + 6*8], rsi
	mov gs:[BT_OFF_GPR + 7*8], rdi
	mov gs:[BT_OFF_GPR + 8*8], r8
	mov gs:[BT_OFF_GPR + 9*8], r9
	mov gs:[BT_OFF_GPR + 12*8], r12
	mov gs:[BT_OFF_GPR + 13*8], r13
	mov gs:[BT_OFF_GPR + 14*8], r14
	mov gs:[BT_OFF_GPR + 15*8], r15
.endm

.macro LOAD_GUEST
	mov rax, gs:[BT_OFF_GPR + 0*8]
	mov rcx, gs:[BT_OFF_GPR + 1*8]
	mov rdx, gs:[BT_OFF_GPR + 2*8]
	mov rbx, gs:[BT_OFF_GPR + 3*8]
	mov rbp, gs:[BT_OFF_GPR + 5*8]
	mov rsi, gs:[BT_OFF_GPR + 6*8]
	mov rdi, gs:[BT_OFF_GPR + 7*8]
	mov r8,  gs:[BT_OFF_GPR + 8*8]
	mov r9,  gs:[BT_OFF_GPR + 9*8]
	mov r12, gs:[BT_OFF_GPR + 12*8]
	mov r13, gs:[BT_OFF_GPR + 13*8]
	mov r14, gs:[BT_OFF_GPR + 14*8]
	mov r15, gs:[BT_OFF_GPR + 15*8]
.endm

/* void bt_enter(struct bt_cpu *c, const void *code) */
	.globl bt_enter
	.type bt_enter, @function
bt_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	mov gs:[BT_OFF_HOSTRSP], rsp
	mov rsp, gs:[BT_OFF_SELF]       /* rsp = the block: page-aligned, so helper calls see an ABI-aligned stack */
	mov r11, rsi
	push qword ptr gs:[BT_OFF_FLAGS]
	popfq
	LOAD_GUEST
	jmp r11
	.size bt_enter, .-bt_enter

/* Reached by jmp gs:[BT_OFF_A_EXIT] with RIP/REASON already stored. */
	.globl bt_asm_exit
	.type bt_asm_exit, @function
bt_asm_exit:
	pushfq
	pop qword ptr gs:[BT_OFF_FLAGS]
	SAVE_GUEST
	.globl bt_asm_exit_saved
bt_asm_exit_saved:
	cld
	mov rsp, gs:[BT_OFF_HOSTRSP]
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
	.size bt_asm_exit, .-bt_asm_exit

/* The host target of an empty jump-cache slot (tag ~0): an indirect branch
 * to guest RIP 0xffffffffffffffff "hits" it and leaves as a lookup miss. */
	.globl bt_asm_jc_empty
	.type bt_asm_jc_empty, @function
bt_asm_jc_empty:
	mov gs:[BT_OFF_RIP], r11
	mov qword ptr gs:[BT_OFF_REASON], BT_EXIT_LOOKUP
	jmp bt_asm_exit
	.size bt_asm_jc_empty, .-bt_asm_jc_empty

/* Soft-TLB miss. Called from a site stub with r11 = guest linear address,
 * SLOWINFO/RETRY/AFTER/RIP/NEXT set; maybe the guest flags pushed below the
 * return address (BT_SI_FLAGSPUSHED). */
	.globl bt_asm_slow
	.type bt_asm_slow, @function
bt_asm_slow:
	pop qword ptr gs:[BT_OFF_TMP0]
	pushfq
	pop qword ptr gs:[BT_OFF_FLAGS]
	test dword ptr gs:[BT_OFF_SLOWINFO], BT_SI_FLAGSPUSHED
	jz 1f
	pop qword ptr gs:[BT_OFF_FLAGS]
1:	SAVE_GUEST
	mov gs:[BT_OFF_TMP1], r11
	cld
	mov rdi, gs:[BT_OFF_SELF]
	mov rsi, r11
	call bt_slow_access
	cmp rax, 1
	je 2f
	ja bt_asm_exit_saved
	LOAD_GUEST
	mov r11, gs:[BT_OFF_TMP1]
	push qword ptr gs:[BT_OFF_FLAGS]
	popfq
	jmp qword ptr gs:[BT_OFF_RETRY]
2:	LOAD_GUEST
	mov r11, gs:[BT_OFF_SLOWHOST]
	push qword ptr gs:[BT_OFF_FLAGS]
	popfq
	jmp qword ptr gs:[BT_OFF_TMP0]
	.size bt_asm_slow, .-bt_asm_slow

/* After the out-of-line copy of the instruction ran against the bounce
 * buffer (or a direct host address): write back, then continue at AFTER or
 * leave (self-modifying code). r11 is preserved for the site's tail. */
	.globl bt_asm_commit
	.type bt_asm_commit, @function
bt_asm_commit:
	pop qword ptr gs:[BT_OFF_TMP0]
	pushfq
	pop qword ptr gs:[BT_OFF_FLAGS]
	SAVE_GUEST
	mov gs:[BT_OFF_TMP1], r11
	cld
	mov rdi, gs:[BT_OFF_SELF]
	call bt_slow_commit
	test rax, rax
	jnz bt_asm_exit_saved
	LOAD_GUEST
	mov r11, gs:[BT_OFF_TMP1]
	push qword ptr gs:[BT_OFF_FLAGS]
	popfq
	jmp qword ptr gs:[BT_OFF_AFTER]
	.size bt_asm_commit, .-bt_asm_commit

/* Frame of a C helper called from translated code: the guest state is saved
 * in the block, fn(vcpu) runs, and either translated code continues after
 * the call (0) or the vCPU leaves for the dispatcher (nonzero). */
.macro HELPER_CALL name, fn
	.globl \name
	.type \name, @function
\name:
	pop qword ptr gs:[BT_OFF_TMP0]
	pushfq
	pop qword ptr gs:[BT_OFF_FLAGS]
	SAVE_GUEST
	cld
	mov rdi, gs:[BT_OFF_SELF]
	call \fn
	test rax, rax
	jnz bt_asm_exit_saved
	LOAD_GUEST
	push qword ptr gs:[BT_OFF_FLAGS]
	popfq
	jmp qword ptr gs:[BT_OFF_TMP0]
	.size \name, .-\name
.endm

/* REP MOVS/STOS */
	HELPER_CALL bt_asm_helper, bt_helper_string
/* VMCALL into the VMI page, translated as a call (SPEC 6.5) */
	HELPER_CALL bt_asm_vmi, bt_vmi_direct
/* INVLPG and MOV to CR at CPL 0 */
	HELPER_CALL bt_asm_sys, bt_helper_sys

	.section .note.GNU-stack,"",@progbits
