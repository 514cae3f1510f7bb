/* rt_enter_long_mode(entry64, arg): 32-bit protected mode -> 64-bit long mode.
 * Identity-maps the first 1 GiB with 2 MiB pages (PML4[0] -> PDPT[0] -> PD),
 * then CR4.PAE, EFER.LME, CR0.PG and a far jump to the 64-bit code segment,
 * which is exactly the sequence the SDM (vol. 3, 10.8.5) prescribes. */
#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_PS  0x080

	.code32
	.text
	.globl rt_enter_long_mode
rt_enter_long_mode:
	/* Without CPUID.80000001h:EDX.LM the switch would end in a triple
	 * fault; say why instead. */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_long_mode

	movl 4(%esp), %esi              /* entry64 */
	movl 8(%esp), %edi              /* arg */

	movl $rt_pml4, %eax
	movl $(rt_pdpt + PTE_P + PTE_W), (%eax)
	movl $0, 4(%eax)
	movl $rt_pdpt, %eax
	movl $(rt_pd + PTE_P + PTE_W), (%eax)
	movl $0, 4(%eax)
	movl $rt_pd, %ebx
	xorl %ecx, %ecx                 /* PD index */
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P + PTE_W + PTE_PS), %eax
	movl %eax, (%ebx,%ecx,8)
	movl $0, 4(%ebx,%ecx,8)
	incl %ecx
	cmpl $512, %ecx
	jb 1b

	movl $rt_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax                 /* CR4.PAE */
	movl %eax, %cr4
	movl $0xC0000080, %ecx          /* EFER */
	rdmsr
	orl $0x100, %eax                /* EFER.LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax           /* CR0.PG: activates long mode */
	movl %eax, %cr0
	ljmp $0x18, $lm_entry64

	.code64
lm_entry64:
	movl $0x10, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	/* Upper halves of registers are undefined after the mode switch. */
	movl %esp, %esp
	andq $-16, %rsp
	movl %esi, %esi
	movl %edi, %edi
	call *%rsi
	movl %eax, %edi
	call rt64_exit

	.code32
no_long_mode:
	pushl $msg_no_lm
	call rt_puts
	pushl $0x7f                     /* RT_FAIL */
	call rt_exit

	.section .rodata
msg_no_lm:
	.asciz "FAIL: CPUID says long mode is not supported\n"

	.section .bss
	.align 4096
	.globl rt_pml4, rt_pdpt, rt_pd
rt_pml4:
	.skip 4096
rt_pdpt:
	.skip 4096
rt_pd:
	.skip 4096
