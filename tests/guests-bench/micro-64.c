/* Translator microbenchmarks in the guest: the kernels of micro-kernels.S
 * run at CPL3 (so that on kvm_pvm, which emulates CPL0, they still run as
 * user code), sized by sizing.h, with n and 2n operations between marker
 * lines the host harness timestamps. */
#include "benchrt.h"
#include "micro-kernels.h"
#include "sizing.h"

int micro_main64(uint32_t arg);

static uint64_t buf512[512] __attribute__((aligned(4096)));
static uint64_t adc_d[MICRO_ADC_LIMBS], adc_a[MICRO_ADC_LIMBS], adc_b[MICRO_ADC_LIMBS];

static uint64_t run_user(uint64_t k, uint64_t n, uint64_t bufs, uint64_t unused)
{
	(void)unused;
	return micro_run(k, n, (const struct micro_bufs *)(uintptr_t)bufs);
}

static uint64_t run_cpl3(uint64_t k, uint64_t n, void *m)
{
	return cpl3_call(run_user, k, n, (uint64_t)(uintptr_t)m, 0);
}

int micro_main64(uint32_t arg)
{
	uint32_t scale = SZ_SCALE(arg), mticks = SZ_MTICKS(arg);
	rt_idt_init();
	bench_setup();
	for (unsigned i = 0; i < MICRO_ADC_LIMBS; i++) {
		adc_a[i] = ~0ull - i;
		adc_b[i] = i * 0x9e3779b97f4a7c15ull;
	}
	/* Touch the TLB region once so no engine counts first-touch costs. */
	volatile char *tlb = (volatile char *)(uintptr_t)BENCH_TLB_VA;
	for (uint64_t i = 0; i < BENCH_TLB_PAGES; i++)
		tlb[i << 12] = (char)i;
	static struct micro_bufs m = { buf512, adc_d, adc_a, adc_b,
				       (const char *)(uintptr_t)BENCH_TLB_VA };
	rt_printf("MICRO start scale=%u mticks=%u cpl=3\n", scale, mticks);
	uint64_t sum = 0;
	for (uint64_t k = 0; k < MICRO_NKERNELS; k++) {
		/* Sized and warmed up (translation, shadow page tables, caches). */
		uint64_t n = sz_grow(run_cpl3, k, &m, micro_per_scale[k] * scale / 10,
				     (uint64_t)mticks * 1000000, &sum);
		if (k == 4)
			n = (n + MICRO_ADC_LIMBS - 1) / MICRO_ADC_LIMBS * MICRO_ADC_LIMBS;
		for (int i = 0; i < 2 * MICRO_REPS; i++) {
			int rep = 1 + (i & 1);
			bench_mark_go("MICRO", micro_names[k], n * rep);
			uint64_t t = rdtsc();
			sum += cpl3_call(run_user, k, n * rep, (uint64_t)(uintptr_t)&m, 0);
			t = rdtsc() - t;
			bench_mark_done("MICRO", micro_names[k], n * rep, t);
		}
	}
	rt_printf("MICRO end checksum=%lx\n", (unsigned long)sum);
	return RT_PASS;
}
