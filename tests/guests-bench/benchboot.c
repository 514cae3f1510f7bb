/* 32-bit side shared by the benchmark guests: reads "key=N" from the
 * multiboot command line (the harness sizes the runs with scale= and
 * mticks=). */
#include "rt.h"
#include "multiboot.h"

uint32_t bench_cmdline_num(uint32_t mbi, const char *key, uint32_t dflt);

static int has_prefix(const char *s, const char *key)
{
	for (; *key; s++, key++)
		if (*s != *key)
			return 0;
	return *s == '=';
}

uint32_t bench_cmdline_num(uint32_t mbi, const char *key, uint32_t dflt)
{
	const struct mb_info *mb = (const struct mb_info *)(uintptr_t)mbi;
	if (!(mb->flags & (1u << 2)) || !mb->cmdline)
		return dflt;
	const char *s = (const char *)(uintptr_t)mb->cmdline;
	for (; *s; s++) {
		if ((s == (const char *)(uintptr_t)mb->cmdline || s[-1] == ' ') &&
		    has_prefix(s, key)) {
			uint32_t v = 0;
			while (*s != '=')
				s++;
			for (s++; *s >= '0' && *s <= '9'; s++)
				v = v * 10 + (uint32_t)(*s - '0');
			return v ? v : dflt;
		}
	}
	return dflt;
}
