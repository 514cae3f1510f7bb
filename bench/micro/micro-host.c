/* Host side of the translator microbenchmarks: the same object code as the
 * guest (tests/guests-bench/micro-kernels.S), the same sizing and the same
 * marker lines on stdout, so the harness times native and guest runs
 * identically.
 *   micro-host [scale [mticks]]     (defaults 10 and 50, as the guest)
 * The 16 MiB TLB region is mapped with 4 KiB pages (MADV_NOHUGEPAGE) and
 * touched first, as in the guest. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "micro-kernels.h"
#include "sizing.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t buf512[512] __attribute__((aligned(4096)));
static uint64_t adc_d[MICRO_ADC_LIMBS], adc_a[MICRO_ADC_LIMBS], adc_b[MICRO_ADC_LIMBS];

static uint64_t run_native(uint64_t k, uint64_t n, void *m)
{
	return micro_run(k, n, m);
}

int main(int argc, char **argv)
{
	uint64_t scale = argc > 1 ? strtoull(argv[1], NULL, 10) : 10;
	uint64_t mticks = argc > 2 ? strtoull(argv[2], NULL, 10) : 50;
	if (!scale)
		scale = 10;
	if (!mticks)
		mticks = 50;
	size_t len = (size_t)MICRO_TLB_PAGES << 12;
	char *tlb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tlb == MAP_FAILED) {
		perror("micro-host: mmap");
		return 1;
	}
	madvise(tlb, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < MICRO_TLB_PAGES; i++)
		tlb[i << 12] = (char)i;
	for (unsigned i = 0; i < MICRO_ADC_LIMBS; i++) {
		adc_a[i] = ~0ull - i;
		adc_b[i] = i * 0x9e3779b97f4a7c15ull;
	}
	struct micro_bufs m = { buf512, adc_d, adc_a, adc_b, tlb };
	printf("MICRO start scale=%llu mticks=%llu cpl=3\n", (unsigned long long)scale,
	       (unsigned long long)mticks);
	uint64_t sum = 0;
	for (int k = 0; k < MICRO_NKERNELS; k++) {
		uint64_t n = sz_grow(run_native, (uint64_t)k, &m, micro_per_scale[k] * scale / 10,
				     mticks * 1000000, &sum);
		if (k == 4)
			n = (n + MICRO_ADC_LIMBS - 1) / MICRO_ADC_LIMBS * MICRO_ADC_LIMBS;
		for (int i = 0; i < 2 * MICRO_REPS; i++) {
			int rep = 1 + (i & 1);
			printf("MICRO k=%s n=%llu go\n", micro_names[k], (unsigned long long)(n * rep));
			fflush(stdout);
			uint64_t t = now_ns();
			sum += micro_run((uint64_t)k, n * rep, &m);
			t = now_ns() - t;
			/* tsc= carries the in-process clock here (ns), for cross-checks. */
			printf("MICRO k=%s n=%llu done tsc=%llu\n", micro_names[k],
			       (unsigned long long)(n * rep), (unsigned long long)t);
			fflush(stdout);
		}
	}
	printf("MICRO end checksum=%llx\n", (unsigned long long)sum);
	return 0;
}
