/* 32-bit exception entry stubs: give every vector the same frame (a dummy
 * error code where the CPU pushes none, then the vector) and call the C
 * dispatcher, which may rewrite the saved EIP to resume at a recovery point. */
	.code32
	.text

	.macro ISR n, has_err
isr32_\n:
	.if \has_err == 0
	pushl $0
	.endif
	pushl $\n
	jmp isr32_common
	.endm

	ISR 0, 0
	ISR 1, 0
	ISR 2, 0
	ISR 3, 0
	ISR 4, 0
	ISR 5, 0
	ISR 6, 0
	ISR 7, 0
	ISR 8, 1
	ISR 9, 0
	ISR 10, 1
	ISR 11, 1
	ISR 12, 1
	ISR 13, 1
	ISR 14, 1
	ISR 15, 0
	ISR 16, 0
	ISR 17, 1
	ISR 18, 0
	ISR 19, 0
	ISR 20, 0
	ISR 21, 1
	ISR 22, 0
	ISR 23, 0
	ISR 24, 0
	ISR 25, 0
	ISR 26, 0
	ISR 27, 0
	ISR 28, 0
	ISR 29, 1
	ISR 30, 1
	ISR 31, 0

isr32_common:
	pushal
	cld
	movl %esp, %eax
	pushl %eax
	call rt_isr_dispatch
	addl $4, %esp
	popal
	addl $8, %esp           /* vector and error code */
#ifdef RT_RESUME_IRET
	iretl
#else
	/* Same-privilege IRET done as POPF; RET. The exception tests check
	 * delivery, not IRET, and KVM's instruction emulator (which runs guest
	 * kernel mode on kvm_pvm hosts) cannot emulate a 32-bit protected-mode
	 * IRET (IRETQ in long mode works, so isr64.S uses it); the iret guest
	 * tests IRET itself. Build with -DRT_RESUME_IRET to use IRET here too.
	 * Stack: EIP, CS, EFLAGS. */
	pushl %eax
	movl 4(%esp), %eax      /* EIP */
	xchgl %eax, 12(%esp)    /* EFLAGS slot := EIP, EAX := EFLAGS */
	movl %eax, 8(%esp)      /* CS slot := EFLAGS */
	popl %eax
	addl $4, %esp
	popfl
	ret
#endif

	.section .rodata
	.align 4
	.globl rt_isr_table
rt_isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long isr32_\n
	.endr
