/* The kernels of micro-kernels.S and how the guest and the host program
 * size and run them (one table, so both sides run identical work). */
#ifndef VMLITE_MICRO_KERNELS_H
#define VMLITE_MICRO_KERNELS_H

#include <stdint.h>

uint64_t k_intloop(uint64_t n);
uint64_t k_memrw(uint64_t n, uint64_t *buf512);
uint64_t k_callret(uint64_t n);
uint64_t k_indirect(uint64_t n);
uint64_t k_adc(uint64_t n, uint64_t *d, const uint64_t *a, const uint64_t *b);
uint64_t k_tlbwalk(uint64_t n, const char *base, uint64_t npages);

#define MICRO_TLB_PAGES 4096u   /* 16 MiB of 4 KiB pages */
#define MICRO_ADC_LIMBS 32u

/* Kernel index, name and starting operation count per 10 units of the
 * "scale" parameter (about 0.1 ms of native work each). sz_grow() (sizing.h)
 * then grows n until one run takes mticks million TSC ticks; the timed runs
 * are n and 2n operations, MICRO_REPS times each, and the harness takes the
 * median per size. */
#define MICRO_KERNELS(X)            \
	X(0, intloop, 65000)        \
	X(1, memrw, 80000)          \
	X(2, callret, 40000)        \
	X(3, indirect, 33000)       \
	X(4, adc, 204800)           \
	X(5, tlbwalk, 10000)
#define MICRO_REPS 3
#define MICRO_NKERNELS 6

static const char *const micro_names[MICRO_NKERNELS] = {
#define MICRO_NAME(i, n, s) [i] = #n,
	MICRO_KERNELS(MICRO_NAME)
#undef MICRO_NAME
};
static const uint64_t micro_per_scale[MICRO_NKERNELS] = {
#define MICRO_PER(i, n, s) [i] = s,
	MICRO_KERNELS(MICRO_PER)
#undef MICRO_PER
};

/* Buffers the kernels work on: 4 KiB for memrw, 3 x 32 limbs for adc, and
 * the 16 MiB region for tlbwalk (mapped with 4 KiB pages). */
struct micro_bufs {
	uint64_t *buf512;
	uint64_t *d, *a, *b;
	const char *tlb;
};

static inline uint64_t micro_run(uint64_t k, uint64_t n, const struct micro_bufs *m)
{
	switch (k) {
	case 0: return k_intloop(n);
	case 1: return k_memrw(n, m->buf512);
	case 2: return k_callret(n);
	case 3: return k_indirect(n);
	case 4: return k_adc(n, m->d, m->a, m->b);
	case 5: return k_tlbwalk(n, m->tlb, MICRO_TLB_PAGES);
	}
	return 0;
}

#endif
