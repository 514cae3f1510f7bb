/* Protected mode -> real mode -> protected mode. A 16-bit blob is copied to
 * RM_BASE; the guest enters it through a 16-bit protected-mode code segment,
 * clears CR0.PE and far-jumps to real mode, where it computes known values
 * (ALU, flags, 32-bit operands, MUL/DIV, LOOP), does a far call, an INT
 * through an IVT entry it installed, REP MOVSB and OUT to the UART, then
 * sets PE again and far-jumps back. Results land in RM_RES; the checks run
 * in 32-bit C afterwards. */
#include "rt.h"

#define RM_BASE   0x7000u       /* blob: real-mode segment 0x0700, offset 0 */
#define RM_RES    0x7e00u       /* results: offset 0x0e00 in that segment */
#define RM_SEG    0x0700u
#define SEL_CODE16 0x20
#define SEL_DATA16 0x28

struct rm_results {
	uint16_t marker;        /* 0x00 */
	uint16_t add16;         /* 0x02 1234 + 5678 */
	uint16_t imul_lo;       /* 0x04 -7 * 300 */
	uint16_t imul_hi;       /* 0x06 */
	uint16_t div_q;         /* 0x08 50000 / 7 */
	uint16_t div_r;         /* 0x0a */
	uint16_t sub_flags;     /* 0x0c flags after 5 - 6 (byte) */
	uint16_t rol;           /* 0x0e 0x8001 rol 4 */
	uint32_t add32;         /* 0x10 0x12345678 + 0x11111111 */
	uint16_t loop_sum;      /* 0x14 10+9+...+1 */
	uint16_t farcall;       /* 0x16 set by the far-called routine */
	uint16_t intn;          /* 0x18 set by the INT 0x42 handler */
	uint16_t int_if;        /* 0x1a flags seen inside the handler */
	uint32_t cr0;           /* 0x1c CR0 read in real mode */
	uint16_t cs;            /* 0x20 CS in real mode */
	uint16_t gdt_limit;     /* 0x22 pseudo-descriptor for LGDT (written by C) */
	uint32_t gdt_base;      /* 0x24 */
	char copy[32];          /* 0x28 REP MOVSB destination */
} __attribute__((packed));

/* The 16-bit code. Offsets are relative to rm_blob because it runs at
 * RM_SEG:0 after the copy. */
__asm__(
	".pushsection .text\n"
	".globl rm_blob, rm_blob_end, rm_pm_back, rm_saved_esp\n"
	"rm_blob:\n"
	".code16\n"
	/* 16-bit protected mode: data segments with 64 KiB limits first. */
	"	movw $0x28, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	movl %cr0, %eax\n"
	"	andl $0xfffffffe, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmp $0x0700, $(rm_real - rm_blob)\n"
	"rm_real:\n"
	"	movw $0x0700, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movw $0x0e00, %sp\n"
	"	lidt (rm_ivt_ptr - rm_blob)\n"
	"	movw $0x5a5a, 0x0e00\n"
	"	movw %cs, %ax\n"
	"	movw %ax, 0x0e20\n"
	"	movl %cr0, %eax\n"
	"	movl %eax, 0x0e1c\n"
	/* arithmetic */
	"	movw $1234, %ax\n"
	"	movw $5678, %bx\n"
	"	addw %bx, %ax\n"
	"	movw %ax, 0x0e02\n"
	"	movw $-7, %ax\n"
	"	movw $300, %cx\n"
	"	imulw %cx\n"
	"	movw %ax, 0x0e04\n"
	"	movw %dx, 0x0e06\n"
	"	xorw %dx, %dx\n"
	"	movw $50000, %ax\n"
	"	movw $7, %cx\n"
	"	divw %cx\n"
	"	movw %ax, 0x0e08\n"
	"	movw %dx, 0x0e0a\n"
	"	movb $5, %al\n"
	"	subb $6, %al\n"
	"	pushfw\n"
	"	popw %ax\n"
	"	andw $0x8d5, %ax\n"
	"	movw %ax, 0x0e0c\n"
	"	movw $0x8001, %ax\n"
	"	movb $4, %cl\n"
	"	rolw %cl, %ax\n"
	"	movw %ax, 0x0e0e\n"
	"	movl $0x12345678, %eax\n"
	"	addl $0x11111111, %eax\n"
	"	movl %eax, 0x0e10\n"
	"	xorw %ax, %ax\n"
	"	movw $10, %cx\n"
	"1:	addw %cx, %ax\n"
	"	loop 1b\n"
	"	movw %ax, 0x0e14\n"
	/* far call */
	"	lcall $0x0700, $(rm_far - rm_blob)\n"
	"	movw %si, 0x0e16\n"
	/* INT 0x42 through an IVT entry installed here */
	"	pushw %ds\n"
	"	xorw %ax, %ax\n"
	"	movw %ax, %ds\n"
	"	movw $(rm_isr - rm_blob), 0x108\n"
	"	movw $0x0700, 0x10a\n"
	"	popw %ds\n"
	"	sti\n"
	"	int $0x42\n"
	"	cli\n"
	"	movw %di, 0x0e18\n"
	"	movw %bx, 0x0e1a\n"
	/* REP MOVSB */
	"	cld\n"
	"	movw $(rm_msg - rm_blob), %si\n"
	"	movw $0x0e28, %di\n"
	"	movw $(rm_msg_end - rm_msg), %cx\n"
	"	rep movsb\n"
	/* print the copy through the UART */
	"	movw $0x0e28, %si\n"
	"	movw $0x3f8, %dx\n"
	"2:	lodsb\n"
	"	testb %al, %al\n"
	"	jz 3f\n"
	"	outb %al, %dx\n"
	"	jmp 2b\n"
	/* back to protected mode */
	"3:	lgdtl 0x0e22\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $rm_pm_back\n"
	"rm_far:\n"
	"	movw $0xbeef, %si\n"
	"	lret\n"
	"rm_isr:\n"
	"	pushfw\n"
	"	popw %bx\n"
	"	movw $0xcafe, %di\n"
	"	iret\n"
	"	.p2align 2\n"
	"rm_ivt_ptr:\n"
	"	.word 0x3ff\n"
	"	.long 0\n"
	"rm_msg:\n"
	"	.ascii \"real mode: hello from 16-bit code\\n\"\n"
	"	.byte 0\n"
	"rm_msg_end:\n"
	"rm_blob_end:\n"
	".code32\n"
	"rm_pm_back:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	movl rm_saved_esp, %esp\n"
	"	popal\n"
	"	ret\n"
	/* void rm_run(void): saves all registers, enters the blob. */
	".globl rm_run\n"
	"rm_run:\n"
	"	pushal\n"
	"	movl %esp, rm_saved_esp\n"
	"	ljmp $0x20, $0\n"
	".popsection\n"
	".pushsection .data\n"
	"	.p2align 2\n"
	"rm_saved_esp: .long 0\n"
	".popsection\n");

extern const char rm_blob[], rm_blob_end[];
void rm_run(void);

static uint64_t gdt[6] __attribute__((aligned(8)));

struct __attribute__((packed)) dtr {
	uint16_t limit;
	uint32_t base;
};

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t len = (uint32_t)(rm_blob_end - rm_blob);
	rt_printf("real-mode blob: %u bytes\n", len);
	if (!rt_check(len < RM_RES - RM_BASE - 0x100, "blob fits below its stack"))
		return RT_FAIL;
	volatile uint8_t *dst = (volatile uint8_t *)RM_BASE;
	for (uint32_t i = 0; i < len; i++)
		dst[i] = (uint8_t)rm_blob[i];
	volatile struct rm_results *r = (volatile struct rm_results *)RM_RES;
	for (uint32_t i = 0; i < sizeof(*r); i++)
		((volatile uint8_t *)r)[i] = 0;

	gdt[0] = 0;
	gdt[1] = 0x00CF9A000000FFFFull;         /* 0x08 flat 32-bit code */
	gdt[2] = 0x00CF92000000FFFFull;         /* 0x10 flat data */
	gdt[3] = 0x00AF9A000000FFFFull;         /* 0x18 (unused here) */
	gdt[4] = 0x00009A000000FFFFull | ((uint64_t)RM_BASE << 16); /* 0x20 16-bit code */
	gdt[5] = 0x000092000000FFFFull;         /* 0x28 16-bit data, base 0 */
	struct dtr g = { sizeof(gdt) - 1, (uint32_t)gdt }, idt_saved;
	__asm__ volatile("sidt %0" : "=m"(idt_saved));
	__asm__ volatile("lgdt %0" : : "m"(g));
	r->gdt_limit = g.limit;
	r->gdt_base = g.base;

	rt_printf("entering real mode\n");
	rm_run();
	__asm__ volatile("lidt %0" : : "m"(idt_saved));
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	rt_printf("back in protected mode (CR0.PE=%u)\n", cr0 & 1);

	rt_check(r->marker == 0x5a5a, "real-mode code ran");
	rt_printf("real mode CS=0x%04x CR0.PE=%u\n", r->cs, r->cr0 & 1);
	rt_check(r->cs == RM_SEG && !(r->cr0 & 1) && (cr0 & 1),
		 "CS is the real-mode segment, PE clear there and set again after");
	rt_printf("add 0x%04x imul dx:ax 0x%04x:%04x div q %u r %u\n",
		  r->add16, r->imul_hi, r->imul_lo, r->div_q, r->div_r);
	rt_check(r->add16 == 6912, "16-bit ADD");
	rt_check(r->imul_lo == 0xf7cc && r->imul_hi == 0xffff, "16-bit IMUL into DX:AX");
	rt_check(r->div_q == 7142 && r->div_r == 6, "16-bit DIV");
	rt_printf("flags after 5-6: 0x%03x rol: 0x%04x add32: 0x%08x loop: %u\n",
		  r->sub_flags, r->rol, r->add32, r->loop_sum);
	rt_check(r->sub_flags == 0x095, "SUB flags CF PF AF SF set, ZF OF clear");
	rt_check(r->rol == 0x0018, "ROL by CL");
	rt_check(r->add32 == 0x23456789, "32-bit operand (66 prefix) ADD");
	rt_check(r->loop_sum == 55, "LOOP");
	rt_check(r->farcall == 0xbeef, "far CALL / RETF");
	rt_check(r->intn == 0xcafe, "INT 0x42 through the IVT and IRET");
	rt_check((r->int_if & 0x200) == 0, "INT clears IF in the handler");
	int same = 1;
	const char want[] = "real mode: hello from 16-bit code\n";
	for (uint32_t i = 0; i < sizeof(want); i++)
		same &= r->copy[i] == want[i];
	rt_check(same, "REP MOVSB copied the message");

	rt_printf("realmode: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
