/* Runs in 64-bit mode after rt_enter_long_mode(). */
#include "rt.h"

int longmode_main64(uint32_t failures32);

static volatile uint64_t big = 0x123456789ull;

int longmode_main64(uint32_t failures32)
{
	rt_idt_init();
	rt_puts("hello from 64-bit code\n");

	uint64_t efer = rt_rdmsr(RT_MSR_EFER);
	rt_check((efer & (1u << 8)) && (efer & (1u << 10)), "64-bit: EFER.LME and EFER.LMA set");

	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	rt_check(cs == RT_SEL_CODE64, "64-bit: CS is the 64-bit code selector");

	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0; mov %%cr4, %1" : "=r"(cr0), "=r"(cr4));
	rt_check((cr0 >> 31) & 1 && (cr4 >> 5) & 1, "64-bit: CR0.PG and CR4.PAE set");

	/* Full-width arithmetic and the extended registers. */
	uint64_t v = big * 0x10 + 0xf;
	rt_printf("64-bit value: 0x%lx\n", v);
	rt_check(v == 0x123456789full && (v >> 32) == 0x12, "64-bit: value above 2^32 survives");

	uint64_t r;
	__asm__ volatile("movabs $0xfedcba9876543210, %%r8\n\t"
			 "movq %%r8, %%r15\n\t"
			 "rorq $32, %%r15\n\t"
			 "movq %%r15, %0" : "=r"(r) : : "r8", "r15");
	rt_printf("r15 after rotate: 0x%lx\n", r);
	rt_check(r == 0x76543210fedcba98ull, "64-bit: R8/R15 and 64-bit rotate");

	/* RIP-relative and absolute addressing must agree on where data lives. */
	uint64_t rel, abs;
	__asm__ volatile("leaq big(%%rip), %0\n\tmovabs $big, %1" : "=r"(rel), "=r"(abs));
	rt_check(rel == abs, "64-bit: RIP-relative address == absolute address");

	int failures = (int)failures32 + rt_failures;
	rt_printf("longmode: %d failure(s)\n", failures);
	return failures ? RT_FAIL : RT_PASS;
}
