/* Platform smoke guest for the RTC and the cascaded PIC (multiboot v1,
 * 32-bit): checks that the RTC time registers hold valid BCD, enables the
 * 1024 Hz periodic interrupt (register B PIE) on IRQ 8, and counts 64 of them
 * through the slave 8259 (reading register C re-arms the RTC, both PICs get
 * an EOI). Prints "rtc=64" and exits with 0x2a (status 85); a bad BCD digit
 * prints "!" and halts (status 8). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set TICKS, 64

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
	cmp $0x28, %ecx
	jne 2f
	mov $rtc_irq, %eax
2:	cmp $0x27, %ecx
	je 3f
	cmp $0x2f, %ecx
	jne 4f
3:	mov $spurious, %eax
4:	mov %ax, (%edi)
	mov %bx, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idt_desc

	/* Seconds, minutes, hours, day, month, year: each byte valid BCD. */
	mov $bcd_regs, %esi
5:	lodsb
	cmp $0xff, %al
	je 6f
	out %al, $0x70
	in $0x71, %al
	mov %al, %ah
	and $0x0f, %ah
	cmp $9, %ah
	ja unexpected
	shr $4, %al
	cmp $9, %al
	ja unexpected
	jmp 5b
6:
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
	mov $0xfb, %al                  /* master: cascade only */
	out %al, $0x21
	mov $0xfe, %al                  /* slave: IRQ 8 */
	out %al, $0xa1

	mov $0x0b, %al                  /* register B: PIE, 24h, BCD */
	out %al, $0x70
	mov $0x42, %al
	out %al, $0x71

wait:
	cmpl $TICKS, ticks
	jae done
	sti
	hlt
	jmp wait
done:
	cli
	mov $0x0b, %al
	out %al, $0x70
	mov $0x02, %al
	out %al, $0x71
	mov $msg, %esi
7:	lodsb
	test %al, %al
	jz 8f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 7b
8:	mov $0x2a, %al
	out %al, $0xf4
9:	hlt
	jmp 9b

/* No IRET (see pit-ticks.S). */
rtc_irq:
	add $12, %esp
	mov $0x0c, %al
	out %al, $0x70
	in $0x71, %al                   /* register C: clears the flags, re-arms */
	test $0x40, %al                 /* PF must be set */
	jz unexpected
	incl ticks
	mov $0x20, %al
	out %al, $0xa0
	out %al, $0x20
	jmp wait

spurious:
	add $12, %esp
	jmp wait

unexpected:
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	cli
10:	hlt
	jmp 10b

	.data
bcd_regs: .byte 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0xff
msg:	.asciz "rtc=64\n"
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
