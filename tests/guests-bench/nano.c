/* Nanobenchmarks, 32-bit entry: read scale=N, go to long mode. */
#include "rt.h"

uint32_t bench_cmdline_scale(uint32_t mbi, uint32_t dflt);
int nano_main64(uint32_t scale);

int guest_main(uint32_t mbi)
{
	rt_enter_long_mode((uint32_t)(uintptr_t)nano_main64, bench_cmdline_scale(mbi, 100));
}
