/* Multiboot entry: 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = multiboot info, but no usable stack or GDT. Load ours at once. */
	.code32
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	lgdt rt_gdt_ptr
	ljmp $0x08, $1f
1:	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movw %cx, %fs
	movw %cx, %gs
	movl %eax, rt_boot_info
	movl %ebx, rt_boot_info + 4
	movl $rt_stack_top, %esp
	xorl %ebp, %ebp
	pushl %ebx              /* multiboot info */
	pushl %eax              /* magic */
	call rt_start32
	/* rt_start32 never returns; stop hard if it does. */
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.align 8
	.globl rt_gdt
rt_gdt:
	.quad 0                         /* null */
	.quad 0x00CF9A000000FFFF        /* 0x08: flat 32-bit code */
	.quad 0x00CF92000000FFFF        /* 0x10: flat data */
	.quad 0x00AF9A000000FFFF        /* 0x18: 64-bit code (L=1) */
rt_gdt_end:
	.align 4
	.word 0
	.globl rt_gdt_ptr
rt_gdt_ptr:
	.word rt_gdt_end - rt_gdt - 1
	.long rt_gdt

	/* Initialised (so it lands in .data, keeping the flat binary's data part
	 * non-empty and its end equal to _edata): the entry registers. */
	.data
	.align 4
	.globl rt_boot_info
rt_boot_info:
	.long 0xffffffff, 0xffffffff    /* EAX, EBX at entry */

	.section .bss
	.align 16
rt_stack:
	.skip 16384
	.globl rt_stack_top
rt_stack_top:
