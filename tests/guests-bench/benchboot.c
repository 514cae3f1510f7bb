/* 32-bit side shared by the benchmark guests: reads "scale=N" from the
 * multiboot command line (the harness sizes the runs per engine with it). */
#include "rt.h"
#include "multiboot.h"

uint32_t bench_cmdline_scale(uint32_t mbi, uint32_t dflt);

uint32_t bench_cmdline_scale(uint32_t mbi, uint32_t dflt)
{
	const struct mb_info *mb = (const struct mb_info *)(uintptr_t)mbi;
	if (!(mb->flags & (1u << 2)) || !mb->cmdline)
		return dflt;
	const char *s = (const char *)(uintptr_t)mb->cmdline;
	for (; *s; s++) {
		if ((s == (const char *)(uintptr_t)mb->cmdline || s[-1] == ' ') &&
		    s[0] == 's' && s[1] == 'c' && s[2] == 'a' && s[3] == 'l' && s[4] == 'e' &&
		    s[5] == '=') {
			uint32_t v = 0;
			for (s += 6; *s >= '0' && *s <= '9'; s++)
				v = v * 10 + (uint32_t)(*s - '0');
			return v ? v : dflt;
		}
	}
	return dflt;
}
