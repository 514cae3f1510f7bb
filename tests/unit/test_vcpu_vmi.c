/* The core's VMI helpers: pvclock scaling. */
#include "unit.h"
#include "vcpu_vmi.h"

/* The guest's formula (SPEC 10), with a 128-bit product. */
static uint64_t pv_ns(uint64_t delta, uint32_t mul, int8_t shift)
{
	delta = shift >= 0 ? delta << shift : delta >> -shift;
	return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static void test_pvclock_scale(void)
{
	static const uint64_t hz[] = { 1000000ull, 999999999ull, 1000000000ull, 1000000001ull,
				       2000000000ull, 2596000000ull, 3700000000ull, 5000000000ull };
	for (unsigned i = 0; i < sizeof(hz) / sizeof(hz[0]); i++) {
		uint32_t mul;
		int8_t shift;
		vcpu_vmi_pvclock_scale(hz[i], &mul, &shift);
		CU_ASSERT(mul >= 0x80000000u);          /* full precision */
		/* One second of ticks is one second, to within 1 ppm. */
		uint64_t ns = pv_ns(hz[i], mul, shift);
		CU_ASSERT(ns > 999999000ull && ns <= 1000001000ull);
		if (ns <= 999999000ull || ns > 1000001000ull)
			fprintf(stderr, "\n  %llu Hz: mul %u shift %d gives %llu ns\n",
				(unsigned long long)hz[i], mul, shift, (unsigned long long)ns);
		/* And a millisecond is a millisecond. */
		uint64_t ms = pv_ns(hz[i] / 1000, mul, shift);
		CU_ASSERT(ms > 998000ull && ms <= 1001000ull);
	}
}

UNIT_SUITE(vcpu_vmi,
	UNIT_CASE(test_pvclock_scale))
