/* See benchrt.h. */
#include "benchrt.h"

#define PTE_P  0x001ull
#define PTE_W  0x002ull
#define PTE_U  0x004ull
#define PTE_PS 0x080ull

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd_low[512] __attribute__((aligned(4096)));
static uint64_t pd_tlb[512] __attribute__((aligned(4096)));
static uint64_t pt_tlb[BENCH_TLB_PAGES] __attribute__((aligned(4096)));

static uint64_t gdt[10] __attribute__((aligned(16)));
static struct {
	uint32_t rsv0;
	uint64_t rsp[3];
	uint64_t rsv1;
	uint64_t ist[7];
	uint64_t rsv2;
	uint16_t rsv3;
	uint16_t iomap;
} __attribute__((packed)) tss;
static uint8_t tss_stack[8192] __attribute__((aligned(16)));

void bench_syscall_entry(void);  /* benchrt.S */
void bench_ud_entry(void);
__attribute__((noreturn)) void bench_unexpected_ud(uint64_t rip);

void bench_unexpected_ud(uint64_t rip)
{
	rt_printf("unexpected #UD at 0x%lx\n", (unsigned long)rip);
	rt_exit(RT_FAIL_EXCEPTION);
}

static void setup_paging(void)
{
	for (uint64_t i = 0; i < 512; i++)
		pd_low[i] = (i << 21) | PTE_P | PTE_W | PTE_U | PTE_PS;
	for (uint64_t i = 0; i < BENCH_TLB_PAGES; i++)
		pt_tlb[i] = (BENCH_TLB_PA + (i << 12)) | PTE_P | PTE_W | PTE_U;
	for (uint64_t i = 0; i < BENCH_TLB_PAGES / 512; i++)
		pd_tlb[i] = (uint64_t)(uintptr_t)&pt_tlb[i * 512] | PTE_P | PTE_W | PTE_U;
	pdpt[0] = (uint64_t)(uintptr_t)pd_low | PTE_P | PTE_W | PTE_U;
	pdpt[BENCH_TLB_VA >> 30] = (uint64_t)(uintptr_t)pd_tlb | PTE_P | PTE_W | PTE_U;
	pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W | PTE_U;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");
}

volatile uint64_t *bench_pte(uint64_t va)
{
	return &pt_tlb[((va - BENCH_TLB_VA) >> 12) & (BENCH_TLB_PAGES - 1)];
}

static void setup_gdt(void)
{
	gdt[1] = 0x00cf9a000000ffffull;  /* 0x08 code32 */
	gdt[2] = 0x00cf92000000ffffull;  /* 0x10 data */
	gdt[3] = 0x00af9a000000ffffull;  /* 0x18 code64 */
	gdt[4] = 0x00cf92000000ffffull;  /* 0x20 kernel data (SYSCALL SS) */
	gdt[5] = 0x00cffa000000ffffull;  /* 0x28 user code32 */
	gdt[6] = 0x00cff2000000ffffull;  /* 0x30 user data */
	gdt[7] = 0x00affa000000ffffull;  /* 0x38 user code64 */
	uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
	tss.rsp[0] = (uint64_t)(uintptr_t)(tss_stack + sizeof(tss_stack));
	tss.iomap = sizeof(tss);
	gdt[8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[9] = base >> 32;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = {
		sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "mov $0x10, %%ax\n\tmov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%ss\n\t"
			 "mov $0x40, %%ax\n\tltr %%ax" : : "m"(p) : "rax", "memory");
}

void bench_setup(void)
{
	setup_paging();
	setup_gdt();
	bench_set_gate(6, bench_ud_entry);
	rt_wrmsr(RT_MSR_EFER, rt_rdmsr(RT_MSR_EFER) | 1);          /* SCE */
	rt_wrmsr(0xC0000081u, (0x28ull << 48) | (0x18ull << 32));   /* STAR */
	rt_wrmsr(0xC0000082u, (uint64_t)(uintptr_t)bench_syscall_entry); /* LSTAR */
	rt_wrmsr(0xC0000084u, 0x700);                                /* FMASK: TF IF DF */
}

void bench_set_gate(unsigned v, void (*handler)(void))
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p;
	__asm__ volatile("sidt %0" : "=m"(p));
	uint64_t h = (uint64_t)(uintptr_t)handler;
	volatile uint64_t *g = (volatile uint64_t *)(uintptr_t)(p.base + 16 * v);
	g[0] = (h & 0xffff) | ((uint64_t)RT_SEL_CODE64 << 16) | (0x8eull << 40) |
	       (((h >> 16) & 0xffff) << 48);
	g[1] = h >> 32;
}

void bench_mark_go(const char *tag, const char *name, uint64_t n)
{
	rt_printf("%s k=%s n=%lu go\n", tag, name, (unsigned long)n);
}

void bench_mark_done(const char *tag, const char *name, uint64_t n, uint64_t tsc)
{
	rt_printf("%s k=%s n=%lu done tsc=%lu\n", tag, name, (unsigned long)n,
		  (unsigned long)tsc);
}

void bench_mark_na(const char *tag, const char *name, const char *fmt, ...)
{
	va_list ap;
	rt_printf("%s k=%s n/a ", tag, name);
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_putc('\n');
}
