/* #PF with 32-bit paging, both the classic 2-level format (4 KiB pages)
 * and PAE (2 MiB pages): error code (P, W bits), CR2 and saved EIP.
 * Long-mode #PF is in the exceptions guest. kvm_pvm hosts reject 32-bit
 * paging altogether (#GP on setting CR0.PG without EFER.LME), so this guest
 * fails there while it passes on hardware KVM, QEMU and the translator. */
#include "rt.h"

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

/* PAE: 4-entry PDPT, the first 1 GiB mapped with 2 MiB pages except the
 * one at PAE_ABSENT. */
#define PAE_ABSENT  0x00800000u

static uint64_t pae_pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd[512] __attribute__((aligned(4096)));

static void pae_paging_on(void)
{
	for (uint32_t i = 0; i < 512; i++)
		pae_pd[i] = ((uint64_t)i << 21) | 0x83;         /* P, W, PS */
	pae_pd[PAE_ABSENT >> 21] = 0;
	pae_pdpt[0] = (uint32_t)(uintptr_t)pae_pd | 0x1;
	__asm__ volatile("mov %%cr4, %%eax\n\t"
			 "orl $0x20, %%eax\n\t"       /* PAE */
			 "mov %%eax, %%cr4\n\t"
			 "mov %0, %%cr3\n\t"
			 "mov %%cr0, %%eax\n\t"
			 "orl $0x80010000, %%eax\n\t"
			 "mov %%eax, %%cr0"
			 : : "r"(pae_pdpt) : "eax", "memory");
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

	pae_paging_on();
	n = rt_exc.count;
	pf_write(PAE_ABSENT + 0x123);
	rt_exc_check("32-bit PAE #PF write to not-present page", n, 14, 0x2, 1, PAE_ABSENT + 0x123, 0);
	n = rt_exc.count;
	pf_read(PAE_ABSENT - 4);
	rt_check(rt_exc.count == n, "32-bit PAE read of a mapped 2 MiB page does not fault");
	paging_off();

	rt_printf("paging32: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
