/* Platform smoke guest for interrupt windows (multiboot v1, 32-bit): no
 * HLT. The PIT ticks at 1000 Hz while the guest alternates a CLI section and
 * an STI section of busy looping, so most ticks arrive with IF=0 and must
 * wait for the engine's interrupt-window exit. Counts 20 ticks, prints
 * "window=20" and exits with 0x2a (status 85). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set TICKS, 20

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
	cmp $0x20, %ecx
	jne 2f
	mov $timer, %eax
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
	mov $0x11, %al
	out %al, $0xa0
	mov $0x28, %al
	out %al, $0xa1
	mov $0x02, %al
	out %al, $0xa1
	mov $0x01, %al
	out %al, $0xa1
	mov $0xfe, %al
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1

	mov $0x34, %al
	out %al, $0x43
	mov $0xa9, %al
	out %al, $0x40
	mov $0x04, %al
	out %al, $0x40

/* The handler drops its frame and comes back here (no IRET, see pit-ticks.S). */
spin:
	cmpl $TICKS, ticks
	jae done
	cli
	mov $300, %ecx
4:	loop 4b
	sti
	mov $30, %ecx
5:	loop 5b
	jmp spin
done:
	cli
	mov $msg, %esi
6:	lodsb
	test %al, %al
	jz 7f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 6b
7:	mov $0x2a, %al
	out %al, $0xf4
8:	hlt
	jmp 8b

timer:
	add $12, %esp
	incl ticks
	mov $0x20, %al
	out %al, $0x20
	jmp spin

spurious:
	add $12, %esp
	jmp spin

unexpected:
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	cli
9:	hlt
	jmp 9b

	.data
msg:	.asciz "window=20\n"
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
