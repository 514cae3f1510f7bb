/* Platform smoke guest for the x2APIC MSR path (multiboot v1, 32-bit):
 * switches the BSP's local APIC to x2APIC mode through MSR 0x1B, reads its
 * ID (MSR 0x802) and version (0x803), programs the timer through MSRs
 * (periodic, vector 0x40, 1 ms) and counts 20 ticks, each ended by an EOI
 * write to MSR 0x80B. Prints "x2apic=20" and exits with 0x2a (status 85);
 * an MSR that faults ends in "!" and a halt (status 8). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set TICKS, 20

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.macro WRMSR32 msr, val
	mov $\msr, %ecx
	mov $\val, %eax
	xor %edx, %edx
	wrmsr
	.endm

	.text
	.code32
	.globl _start
_start:
	cli
	mov $stack_top, %esp
	mov %cs, %bx
	mov $idt, %edi
	xor %ecx, %ecx
1:	mov $unexpected, %eax
	cmp $0x40, %ecx
	jne 2f
	mov $tick, %eax
2:	mov %ax, (%edi)
	mov %bx, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idt_desc

	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1

	mov $0x1b, %ecx
	rdmsr
	or $0xc00, %eax                 /* EN | EXTD */
	wrmsr
	mov $0x802, %ecx                /* x2APIC ID of the BSP is 0 */
	rdmsr
	test %eax, %eax
	jnz unexpected
	mov $0x803, %ecx
	rdmsr
	cmp $0x50014, %eax
	jne unexpected
	WRMSR32 0x80f, 0x1ff
	WRMSR32 0x835, 0x10700          /* LINT0 masked */
	WRMSR32 0x83e, 0x0b
	WRMSR32 0x832, 0x20040
	WRMSR32 0x838, 1000000

wait:
	cmpl $TICKS, ticks
	jae done
	sti
	hlt
	jmp wait
done:
	cli
	mov $msg, %esi
5:	lodsb
	test %al, %al
	jz 6f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 5b
6:	mov $0x2a, %al
	out %al, $0xf4
7:	hlt
	jmp 7b

/* No IRET (see pit-ticks.S): drop the frame, EOI, back to the wait loop. */
tick:
	add $12, %esp
	incl ticks
	WRMSR32 0x80b, 0
	jmp wait

unexpected:
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	cli
9:	hlt
	jmp 9b

	.data
msg:	.asciz "x2apic=20\n"
	.align 4
ticks:	.long 0
idt_desc:
	.word 256 * 8 - 1
	.long idt

	.bss
	.align 16
idt:	.space 256 * 8
	.space 4096
stack_top:
