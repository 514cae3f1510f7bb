/* Nanobenchmark loops and their exception handlers. Each loop takes the
 * operation count in %rdi; exact instruction sequences matter here (the #DE
 * handler skips a 3-byte `div %rcx`), hence assembly. */
	.text
	.code64

/* CPL3: n null system calls (bench_syscall_entry SYSRETs at once). */
	.globl nano_syscall
nano_syscall:
	xorl %eax, %eax
1:	syscall
	decq %rdi
	jnz 1b
	ret

/* n inb from an unclaimed port: nothing decodes 0x2f0 (COM2 is 0x2f8). */
	.globl nano_in
nano_in:
	movl $0x2f0, %edx
1:	inb %dx, %al
	decq %rdi
	jnz 1b
	ret

/* n writes of CR8 (the task-priority register; 0 keeps it harmless). */
	.globl nano_cr8wr
nano_cr8wr:
	xorl %eax, %eax
1:	movq %rax, %cr8
	decq %rdi
	jnz 1b
	ret

/* n page faults: clear the PTE's present bit, INVLPG, write the page; the
 * #PF handler sets the bit again and the write is retried. (So one op also
 * holds one PTE write + INVLPG, the cost `ptemod` measures alone.) */
	.globl nano_pgfault
nano_pgfault:
	movq %rdx, nano_pf_pte(%rip)
1:	andq $~1, (%rdx)
	invlpg (%rsi)
	movq %rdi, (%rsi)
	decq %rdi
	jnz 1b
	ret

	.globl nano_pf_entry
nano_pf_entry:
	pushq %rax
	movq nano_pf_pte(%rip), %rax
	orq $1, (%rax)
	popq %rax
	addq $8, %rsp                   /* error code */
	iretq

/* n divide errors: the #DE handler skips the 3-byte div. */
	.globl nano_divzero
nano_divzero:
1:	xorl %edx, %edx
	movl $1, %eax
	xorl %ecx, %ecx
	divq %rcx                       /* 48 f7 f1 */
	decq %rdi
	jnz 1b
	ret

	.globl nano_de_entry
nano_de_entry:
	addq $3, (%rsp)
	iretq

/* n PTE rewrites (same value) + INVLPG. */
	.globl nano_ptemod
nano_ptemod:
	movq (%rdx), %rax
1:	movq %rax, (%rdx)
	invlpg (%rsi)
	decq %rdi
	jnz 1b
	ret

/* n reloads of CR3 with its own value (flushes the non-global TLB). */
	.globl nano_cr3wr
nano_cr3wr:
	movq %cr3, %rax
1:	movq %rax, %cr3
	decq %rdi
	jnz 1b
	ret

/* n interrupt-flag save/disable/restore pairs, as Linux's native
 * local_irq_save() + local_irq_restore(): the VMI IRQ calls replace these. */
	.globl nano_irqsave
nano_irqsave:
1:	pushfq
	popq %rax
	cli
	pushq %rax
	popfq
	decq %rdi
	jnz 1b
	ret

	.bss
	.balign 8
nano_pf_pte:
	.quad 0

	.section .note.GNU-stack, "", @progbits
