/* Platform smoke guest (multiboot v1, 32-bit protected mode): programs the
 * 8259 PIC pair and the 8254 PIT at 1000 Hz, enables interrupts, counts 50
 * IRQ0 ticks with HLT between them, prints "ticks=50" on COM1 and exits via
 * the debug-exit port 0xf4 with value 0x2a (process status 0x55 = 85).
 * If the debug-exit device is absent it halts with IF=0 (status 8). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set TICKS, 50

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	mov $stack_top, %esp

	/* IDT: every vector -> unexpected, 0x20 -> timer, 0x27 -> spurious. */
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
	movw $0x8e00, 4(%edi)           /* present, DPL0, 32-bit interrupt gate */
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idt_desc

	/* 8259s: ICW1-4 as Linux does, vectors 0x20/0x28, only IRQ0 unmasked. */
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

	/* PIT channel 0, mode 2, lobyte/hibyte, 1193 -> 1000.15 Hz. */
	mov $0x34, %al
	out %al, $0x43
	mov $0xa9, %al
	out %al, $0x40
	mov $0x04, %al
	out %al, $0x40

	/* The handler does not IRET (KVM's instruction emulator, which runs
	 * guest kernel code on kvm_pvm, cannot emulate a protected-mode IRET):
	 * it drops the frame and comes back here with IF=0, so STI;HLT is
	 * always the next thing and no tick can slip in between the check and
	 * the HLT (STI's interrupt shadow covers the HLT). */
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

timer:
	add $12, %esp                   /* EIP, CS, EFLAGS: never returned to */
	incl ticks
	mov $0x20, %al
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
8:	hlt
	jmp 8b

	.data
msg:	.asciz "ticks=50\n"
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
