/* Nanobenchmarks after Adams & Agesen, "A Comparison of Software and
 * Hardware Techniques for x86 Virtualization" (ASPLOS 2006): the cost of
 * single privileged operations, each run n and 2n times between marker lines
 * that the host harness timestamps, plus one kernel per VMI call class
 * (nano-vmi.c). Everything runs at CPL0 except the system call round trip,
 * which starts at CPL3. */
#include "benchrt.h"
#include "micro-kernels.h"
#include "nano-vmi.h"
#include "sizing.h"

int nano_main64(uint32_t arg);
uint64_t nano_syscall(uint64_t n);
uint64_t nano_in(uint64_t n);
uint64_t nano_cr8wr(uint64_t n);
uint64_t nano_pgfault(uint64_t n, uint64_t va, volatile uint64_t *pte);
uint64_t nano_divzero(uint64_t n);
uint64_t nano_ptemod(uint64_t n, uint64_t va, volatile uint64_t *pte);
uint64_t nano_cr3wr(uint64_t n);
uint64_t nano_irqsave(uint64_t n);
void nano_pf_entry(void);
void nano_de_entry(void);

/* One page of the 4 KiB-mapped region for the paging benchmarks. */
#define NANO_VA (BENCH_TLB_VA + 0x123000)

static uint64_t user_syscall(uint64_t n, uint64_t a, uint64_t b, uint64_t c)
{
	(void)a; (void)b; (void)c;
	return nano_syscall(n);
}

/* Kernel numbers: the native ones, the VMI call classes (nano-vmi.c),
 * then syscall. */
enum { K_CR3WR = 6, K_IRQSAVE, K_VMI, K_SYSCALL = K_VMI + NANO_VMI_COUNT };

static uint64_t run(uint64_t k, uint64_t n, void *unused)
{
	(void)unused;
	if (k >= K_VMI && k < K_SYSCALL)
		return nano_vmi_run((unsigned)(k - K_VMI), n);
	switch (k) {
	case 0: return nano_in(n);
	case 1: return nano_cr8wr(n);
	case 2: return k_callret(n);
	case 3: return nano_pgfault(n, NANO_VA, bench_pte(NANO_VA));
	case 4: return nano_divzero(n);
	case 5: return nano_ptemod(n, NANO_VA, bench_pte(NANO_VA));
	case K_CR3WR: return nano_cr3wr(n);
	case K_IRQSAVE: return nano_irqsave(n);
	case K_SYSCALL: return cpl3_call(user_syscall, n, 0, 0, 0);
	}
	return 0;
}

/* syscall goes last: an engine that cannot do SYSCALL/SYSRET (kvm_pvm with
 * a guest that is not PVM-aware raises #GP on SYSRETQ) ends the run there,
 * after everything else has reported. */
static const char *const names[] = { "in", "cr8wr", "callret", "pgfault", "divzero",
				     "ptemod", "cr3wr", "irqsave", NANO_VMI_NAMES, "syscall" };
/* Starting operation counts per 10 units of scale (sz_grow takes it from
 * there): call/ret is ~100x cheaper than the rest. */
static const uint64_t per_scale[] = { 200, 200, 20000, 100, 100, 200, 200, 200,
				      NANO_VMI_PER_SCALE, 200 };
_Static_assert(sizeof(names) / sizeof(names[0]) == K_SYSCALL + 1, "one name per kernel");
_Static_assert(sizeof(per_scale) / sizeof(per_scale[0]) == K_SYSCALL + 1,
	       "one starting count per kernel");

int nano_main64(uint32_t arg)
{
	uint32_t scale = SZ_SCALE(arg), mticks = SZ_MTICKS(arg);
	rt_idt_init();
	bench_setup();
	bench_set_gate(0, nano_de_entry);
	bench_set_gate(14, nano_pf_entry);
	rt_printf("NANO start scale=%u mticks=%u\n", scale, mticks);
	uint64_t sum = 0;
	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (k >= K_VMI && k < K_SYSCALL && !nano_vmi_ready(k - K_VMI, names[k], NANO_VA))
			continue;
		/* Sized and warmed up by one untimed run of at least mticks. */
		uint64_t n = sz_grow(run, k, 0, per_scale[k] * scale / 10,
				     (uint64_t)mticks * 1000000, &sum);
		for (int i = 0; i < 2 * MICRO_REPS; i++) {
			int rep = 1 + (i & 1);
			bench_mark_go("NANO", names[k], n * rep);
			uint64_t t = rdtsc();
			run(k, n * rep, 0);
			t = rdtsc() - t;
			bench_mark_done("NANO", names[k], n * rep, t);
		}
	}
	rt_printf("NANO end\n");
	return RT_PASS;
}
