/* CPUID: checks only what every x86-64 engine must report, so the output is
 * the same on KVM, the binary translator and any host CPU vendor. */
#include "rt.h"

static int printable(uint32_t w)
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(w >> (8 * i));
		if (c < 0x20 || c > 0x7e)
			return 0;
	}
	return 1;
}

struct feature {
	int bit;
	const char *name;
};

/* x86-64 baseline (psABI level 1) plus what long mode itself needs. */
static const struct feature leaf1_edx[] = {
	{ 0, "FPU" }, { 5, "MSR" }, { 6, "PAE" }, { 8, "CX8" }, { 15, "CMOV" },
	{ 23, "MMX" }, { 24, "FXSR" }, { 25, "SSE" }, { 26, "SSE2" },
};

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t r[4];
	char what[64];

	rt_cpuid(0, 0, r);
	rt_check(r[0] >= 1, "leaf 0: max basic leaf >= 1");
	rt_check(printable(r[1]) && printable(r[3]) && printable(r[2]),
		 "leaf 0: vendor string is 12 printable characters");

	rt_cpuid(1, 0, r);
	uint32_t family = (r[0] >> 8) & 0xf;
	rt_check(family != 0, "leaf 1: family is non-zero");
	for (unsigned i = 0; i < sizeof(leaf1_edx) / sizeof(leaf1_edx[0]); i++) {
		const char *pre = "leaf 1: EDX.";
		int n = 0;
		for (const char *p = pre; *p; p++)
			what[n++] = *p;
		for (const char *p = leaf1_edx[i].name; *p; p++)
			what[n++] = *p;
		what[n] = 0;
		rt_check((r[3] >> leaf1_edx[i].bit) & 1, what);
	}

	rt_cpuid(0x80000000, 0, r);
	uint32_t max_ext = r[0];
	rt_check(max_ext >= 0x80000001 && max_ext < 0x80001000,
		 "leaf 0x80000000: max extended leaf in [0x80000001, 0x80001000)");
	if (max_ext >= 0x80000001) {
		rt_cpuid(0x80000001, 0, r);
		rt_check((r[3] >> 29) & 1, "leaf 0x80000001: EDX.LM (long mode)");
	} else {
		rt_check(0, "leaf 0x80000001: EDX.LM (long mode)");
	}

	/* CPUID must not depend on garbage in ECX for leaves without sub-leaves. */
	uint32_t a[4], b[4];
	rt_cpuid(0, 0, a);
	rt_cpuid(0, 0x12345678, b);
	rt_check(a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3],
		 "leaf 0 ignores ECX");

	rt_printf("cpuid: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
