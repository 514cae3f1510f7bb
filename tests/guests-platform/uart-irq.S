/* Platform smoke guest for a device interrupt (multiboot v1, 32-bit): the
 * COM1 16550A raises IRQ 4 whenever its transmit holding register empties
 * (IER.THRI); the guest sends its message one byte per interrupt, waiting
 * with STI;HLT, then exits with 0x2a (status 85). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set COM1, 0x3f8

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

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
	cmp $0x24, %ecx
	jne 2f
	mov $com1_irq, %eax
2:	cmp $0x27, %ecx
	jne 3f
	mov $spurious, %eax
3:	mov %ax, (%edi)
	mov %bx, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idt_desc

	mov $0x11, %al
	out %al, $0x20
	mov $0x20, %al
	out %al, $0x21
	mov $0x04, %al
	out %al, $0x21
	mov $0x01, %al
	out %al, $0x21
	mov $0xef, %al                  /* only IRQ4 */
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1

	mov $msg, %esi
	mov $COM1 + 4, %dx              /* MCR: DTR, RTS, OUT2 (the PC's IRQ enable) */
	mov $0x0b, %al
	out %al, %dx
	mov $COM1 + 1, %dx              /* IER: THR empty; it is empty now, so IRQ4 fires */
	mov $0x02, %al
	out %al, %dx
wait:
	cmpb $0, (%esi)
	je done
	sti
	hlt
	jmp wait
done:
	cli
	mov $0x2a, %al
	out %al, $0xf4
4:	hlt
	jmp 4b

/* No IRET (see pit-ticks.S). Reading IIR and writing THR re-arms THRI. */
com1_irq:
	add $12, %esp
	mov $COM1 + 2, %dx
	in %dx, %al
	lodsb
	mov $COM1, %dx
	out %al, %dx
	mov $0x20, %al
	out %al, $0x20
	jmp wait

spurious:
	add $12, %esp
	jmp wait

unexpected:
	mov $COM1, %dx
	mov $'!', %al
	out %al, %dx
	cli
9:	hlt
	jmp 9b

	.data
msg:	.asciz "uart-irq=ok\n"
	.align 4
idt_desc:
	.word 256 * 8 - 1
	.long idt

	.bss
	.align 16
idt:	.space 256 * 8
	.space 4096
stack_top:
