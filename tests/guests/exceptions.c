/* Exceptions in 32-bit protected mode (this file) and then in long mode
 * (exceptions-64.c): vector, error code, CR2 and saved IP must all be right
 * for the guest to exit with success. */
#include "rt.h"

int exceptions_main64(uint32_t failures32);

/* 32-bit paging for the #PF tests: the first 4 MiB identity-mapped with
 * 4 KiB pages, except one page left not-present and one made read-only;
 * everything above 4 MiB is not present. */
#define PF_ABSENT   0x380000u
#define PF_RDONLY   0x381000u
#define PF_NOPDE    0x400000u

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_table[1024] __attribute__((aligned(4096)));

static void paging_on(void)
{
	for (uint32_t i = 0; i < 1024; i++)
		page_table[i] = (i << 12) | 0x3;        /* present, writable */
	page_table[PF_ABSENT >> 12] = 0;
	page_table[PF_RDONLY >> 12] = PF_RDONLY | 0x1;  /* present, read-only */
	page_dir[0] = (uint32_t)(uintptr_t)page_table | 0x3;
	__asm__ volatile("mov %0, %%cr3\n\t"
			 "mov %%cr0, %%eax\n\t"
			 "orl $0x80010000, %%eax\n\t"   /* PG and WP */
			 "mov %%eax, %%cr0"
			 : : "r"(page_dir) : "eax", "memory");
}

static void paging_off(void)
{
	__asm__ volatile("mov %%cr0, %%eax\n\t"
			 "andl $0x7fffffff, %%eax\n\t"
			 "mov %%eax, %%cr0" : : : "eax", "memory");
}

static void pf_write(uint32_t addr)
{
	__asm__ volatile(RT_TRY("movl $0x55aa55aa, (%0)") : : "r"(addr) : "memory");
}

static void pf_read(uint32_t addr)
{
	uint32_t v;
	__asm__ volatile(RT_TRY("movl (%1), %0") : "=r"(v) : "r"(addr) : "memory");
	(void)v;
}

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t n;

	n = rt_exc.count;
	__asm__ volatile("xorl %%edx, %%edx\n\tmovl $1, %%eax\n\txorl %%ecx, %%ecx\n\t"
			 RT_TRY("divl %%ecx") : : : "eax", "ecx", "edx", "memory");
	rt_exc_check("32-bit #DE div by zero", n, 0, 0, 0, 0, 0);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("int3") : : : "memory");
	rt_exc_check("32-bit #BP int3", n, 3, 0, 0, 0, 1);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("ud2") : : : "memory");
	rt_exc_check("32-bit #UD ud2", n, 6, 0, 0, 0, 0);

	/* Selector 0x1230: GDT index 0x246, far beyond our 4-entry GDT. */
	n = rt_exc.count;
	__asm__ volatile("movw $0x1230, %%ax\n\t" RT_TRY("movw %%ax, %%ds")
			 : : : "eax", "memory");
	rt_exc_check("32-bit #GP bad DS selector", n, 13, 0x1230, 0, 0, 0);

	paging_on();
	n = rt_exc.count;
	pf_write(PF_ABSENT + 0x10);
	rt_exc_check("32-bit #PF write to not-present page", n, 14, 0x2, 1, PF_ABSENT + 0x10, 0);
	n = rt_exc.count;
	pf_read(PF_ABSENT + 0x20);
	rt_exc_check("32-bit #PF read of not-present page", n, 14, 0x0, 1, PF_ABSENT + 0x20, 0);
	n = rt_exc.count;
	pf_write(PF_RDONLY + 0x8);
	rt_exc_check("32-bit #PF write to read-only page", n, 14, 0x3, 1, PF_RDONLY + 0x8, 0);
	n = rt_exc.count;
	pf_read(PF_NOPDE + 0x4);
	rt_exc_check("32-bit #PF read without page table", n, 14, 0x0, 1, PF_NOPDE + 0x4, 0);
	n = rt_exc.count;
	pf_read(PF_RDONLY + 0x8);
	rt_check(rt_exc.count == n, "32-bit read of read-only page does not fault");
	paging_off();

	rt_puts("switching to long mode\n");
	rt_enter_long_mode((uint32_t)(uintptr_t)exceptions_main64, (uint32_t)rt_failures);
}
