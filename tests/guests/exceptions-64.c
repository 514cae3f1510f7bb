/* The long-mode half of the exceptions guest. */
#include "rt.h"

int exceptions_main64(uint32_t failures32);

extern uint64_t rt_pd[512];     /* the runtime's 2 MiB-page directory */

#define PF_ABSENT   0x40000010ull       /* beyond the 1 GiB identity map */
#define PF_RDONLY   0x0c800000ull       /* 200 MiB: made read-only below */

static void pf_write(uint64_t addr)
{
	__asm__ volatile(RT_TRY("movl $0x55aa55aa, (%0)") : : "r"(addr) : "memory");
}

static void pf_read(uint64_t addr)
{
	uint32_t v;
	__asm__ volatile(RT_TRY("movl (%1), %0") : "=r"(v) : "r"(addr) : "memory");
	(void)v;
}

int exceptions_main64(uint32_t failures32)
{
	uint32_t n;

	rt_idt_init();

	n = rt_exc.count;
	__asm__ volatile("xorl %%edx, %%edx\n\tmovl $1, %%eax\n\txorl %%ecx, %%ecx\n\t"
			 RT_TRY("divq %%rcx") : : : "rax", "rcx", "rdx", "memory");
	rt_exc_check("64-bit #DE div by zero", n, 0, 0, 0, 0, 0);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("ud2") : : : "memory");
	rt_exc_check("64-bit #UD ud2", n, 6, 0, 0, 0, 0);

	n = rt_exc.count;
	__asm__ volatile("movw $0x1230, %%ax\n\t" RT_TRY("movw %%ax, %%ds")
			 : : : "rax", "memory");
	rt_exc_check("64-bit #GP bad DS selector", n, 13, 0x1230, 0, 0, 0);

	n = rt_exc.count;
	__asm__ volatile("movabs $0x8000000000000000, %%rax\n\t" RT_TRY("movq (%%rax), %%rax")
			 : : : "rax", "memory");
	rt_exc_check("64-bit #GP non-canonical address", n, 13, 0, 0, 0, 0);

	n = rt_exc.count;
	pf_write(PF_ABSENT);
	rt_exc_check("64-bit #PF write to not-present page", n, 14, 0x2, 1, PF_ABSENT, 0);
	n = rt_exc.count;
	pf_read(PF_ABSENT + 0x1000);
	rt_exc_check("64-bit #PF read of not-present page", n, 14, 0x0, 1, PF_ABSENT + 0x1000, 0);

	rt_pd[PF_RDONLY >> 21] &= ~2ull;        /* clear R/W */
	__asm__ volatile("invlpg (%0)\n\t"
			 "mov %%cr0, %%rax\n\t"
			 "orl $0x10000, %%eax\n\t"      /* CR0.WP: supervisor honours R/W */
			 "mov %%rax, %%cr0" : : "r"(PF_RDONLY) : "rax", "memory");
	n = rt_exc.count;
	pf_write(PF_RDONLY + 0x40);
	rt_exc_check("64-bit #PF write to read-only page", n, 14, 0x3, 1, PF_RDONLY + 0x40, 0);
	n = rt_exc.count;
	pf_read(PF_RDONLY + 0x40);
	rt_check(rt_exc.count == n, "64-bit read of read-only page does not fault");

	int failures = (int)failures32 + rt_failures;
	rt_printf("exceptions: %d failure(s)\n", failures);
	return failures ? RT_FAIL : RT_PASS;
}
