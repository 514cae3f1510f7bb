/* CPL3 calls and the SYSCALL entry (see benchrt.h). */
	.text
	.code64

/* uint64_t cpl3_call(fn, a0, a1, a2, a3): IRETQ to a CPL3 trampoline that
 * calls fn(a0..a3) and leaves CPL3 with a UD2 at cpl3_exit, result in %rdi;
 * the #UD handler (bench_ud_entry) then resumes here on the saved kernel
 * stack. UD2 rather than SYSCALL: kvm_pvm mishandles SYSCALL from a guest
 * that is not PVM-aware (the kernel resumes with CPL 3), while exceptions
 * from user mode are delivered faithfully by every engine. */
	.globl cpl3_call
	.type cpl3_call, @function
cpl3_call:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, cpl3_saved_rsp(%rip)
	movq %rdi, %rax
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq %rcx, %rdx
	movq %r8, %rcx
	leaq cpl3_stack_top(%rip), %r9
	pushq $0x33                     /* SS: user data | RPL 3 */
	pushq %r9                       /* RSP */
	pushq $0x2                      /* RFLAGS: IF clear */
	pushq $0x3b                     /* CS: user code64 | RPL 3 */
	leaq cpl3_tramp(%rip), %r9
	pushq %r9
	iretq
cpl3_tramp:
	call *%rax
	movq %rax, %rdi
	.globl cpl3_exit
cpl3_exit:
	ud2
	.size cpl3_call, .-cpl3_call

/* #UD: the exit from cpl3_call, or a real invalid opcode (fatal). */
	.globl bench_ud_entry
	.type bench_ud_entry, @function
bench_ud_entry:
	leaq cpl3_exit(%rip), %rax
	cmpq %rax, (%rsp)
	jne 2f
cpl3_resume:
	movq cpl3_saved_rsp(%rip), %rsp
	movq %rdi, %rax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret
2:	movq (%rsp), %rdi
	call bench_unexpected_ud
	.size bench_ud_entry, .-bench_ud_entry

/* SYSCALL lands here at CPL0 with the user stack. Any %rax but the exit
 * value is the nanobenchmark's null system call: SYSRET at once. */
	.globl bench_syscall_entry
	.type bench_syscall_entry, @function
bench_syscall_entry:
	cmpq $0x7e57, %rax
	je cpl3_resume
	sysretq
	.size bench_syscall_entry, .-bench_syscall_entry

	.bss
	.balign 16
cpl3_saved_rsp:
	.quad 0
	.balign 16
cpl3_stack:
	.space 16384
cpl3_stack_top:

	.section .note.GNU-stack, "", @progbits
