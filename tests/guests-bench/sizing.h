/* Run sizing shared by the benchmark guests and bench/micro/micro-host.c.
 * A kernel starts at n0 operations and doubles (x8 while far off) until one
 * run takes at least `target` TSC ticks; that run doubles as the warm-up.
 * The TSC only sizes the runs (a virtual TSC that is off by 2x just makes
 * them longer or shorter): the measurement itself is the host harness's
 * clock on the marker lines. Capped at n0 << 14 for a TSC that stands still. */
#ifndef VMLITE_BENCH_SIZING_H
#define VMLITE_BENCH_SIZING_H

#include <stdint.h>

static inline uint64_t sz_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

typedef uint64_t (*sz_fn)(uint64_t k, uint64_t n, void *ctx);

static inline uint64_t sz_grow(sz_fn run, uint64_t k, void *ctx, uint64_t n0,
			       uint64_t target, uint64_t *sum)
{
	uint64_t n = n0 ? n0 : 1;
	for (;;) {
		uint64_t t = sz_rdtsc();
		*sum += run(k, n, ctx);
		t = sz_rdtsc() - t;
		if (t >= target || n >= (n0 << 14))
			return n;
		n *= t < target / 16 ? 8 : 2;
	}
}

/* "scale" (low 16 bits) and target megaticks (high 16 bits) travel from
 * the 32-bit entry to the 64-bit main as one argument. */
#define SZ_ARG(scale, mticks) (((uint32_t)(mticks) << 16) | ((uint32_t)(scale) & 0xffff))
#define SZ_SCALE(arg)  ((arg) & 0xffff)
#define SZ_MTICKS(arg) ((arg) >> 16)

#endif
