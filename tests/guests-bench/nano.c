/* Nanobenchmarks, 32-bit entry: read scale=N and mticks=M, go to long mode. */
#include "rt.h"
#include "sizing.h"

uint32_t bench_cmdline_num(uint32_t mbi, const char *key, uint32_t dflt);
int nano_main64(uint32_t scale);

int guest_main(uint32_t mbi)
{
	rt_enter_long_mode((uint32_t)(uintptr_t)nano_main64, SZ_ARG(bench_cmdline_num(mbi, "scale", 10),
				   bench_cmdline_num(mbi, "mticks", 50)));
}
