/* Platform smoke guest for the APIC path (multiboot v1, 32-bit protected
 * mode): masks the 8259s, counts 20 local-APIC periodic timer interrupts
 * (1 ms at the documented 1 GHz APIC bus clock, divide by 1), then routes
 * IRQ0 through IOAPIC pin 2 (the interrupt source override) and counts 20
 * PIT ticks delivered by the IOAPIC. Every tick is waited for with STI;HLT
 * and acknowledged with a LAPIC EOI. Prints "apic=20 ioapic=20" on COM1 and
 * exits through port 0xf4 with 0x2a (status 85). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set TICKS, 20
	.set LAPIC, 0xfee00000
	.set IOAPIC, 0xfec00000

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
	cmp $0x40, %ecx
	jne 2f
	mov $apic_tick, %eax
2:	cmp $0x30, %ecx
	jne 3f
	mov $ioapic_tick, %eax
3:	cmp $0xff, %ecx
	jne 4f
	mov $spurious, %eax
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

	/* Both 8259s fully masked: only the APICs deliver. */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1

	movl $0x1ff, LAPIC + 0xf0       /* SVR: software enable, spurious 0xff */
	movl $0x10700, LAPIC + 0x350    /* LINT0 masked */
	movl $0x0b, LAPIC + 0x3e0       /* divide by 1 */
	movl $0x20040, LAPIC + 0x320    /* periodic, vector 0x40 */
	movl $1000000, LAPIC + 0x380    /* 1 ms */

	movl $apic_count, counter
	call wait_ticks
	movl $0x10040, LAPIC + 0x320    /* mask the APIC timer */

	/* IOAPIC pin 2 -> vector 0x30, edge, physical, to APIC ID 0. */
	movl $0x15, IOAPIC
	movl $0, IOAPIC + 0x10
	movl $0x14, IOAPIC
	movl $0x30, IOAPIC + 0x10
	mov $0x34, %al                  /* PIT ch0 mode 2, 1193 -> ~1000 Hz */
	out %al, $0x43
	mov $0xa9, %al
	out %al, $0x40
	mov $0x04, %al
	out %al, $0x40
	movl $ioapic_count, counter
	call wait_ticks

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

/* Waits until *counter reaches TICKS. Handlers never IRET (KVM's emulator
 * cannot emulate a protected-mode IRET): they drop the frame and jump back
 * to wait_loop with IF=0, so STI;HLT is always next. */
wait_ticks:
	pop return_to
wait_loop:
	mov counter, %eax
	cmpl $TICKS, (%eax)
	jae 8f
	sti
	hlt
	jmp wait_loop
8:	cli
	jmp *return_to

apic_tick:
	add $12, %esp
	incl apic_count
	movl $0, LAPIC + 0xb0
	jmp wait_loop

ioapic_tick:
	add $12, %esp
	incl ioapic_count
	movl $0, LAPIC + 0xb0
	jmp wait_loop

spurious:
	add $12, %esp
	jmp wait_loop

unexpected:
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	cli
9:	hlt
	jmp 9b

	.data
msg:	.asciz "apic=20 ioapic=20\n"
	.align 4
apic_count:	.long 0
ioapic_count:	.long 0
counter:	.long 0
return_to:	.long 0
idt_desc:
	.word 256 * 8 - 1
	.long idt

	.bss
	.align 16
idt:	.space 256 * 8
	.space 4096
stack_top:
