/* Same as hello, but built as a flat binary whose multiboot header uses the
 * a.out kludge (flags bit 16), so the loader's non-ELF path is exercised.
 * It also checks that the loader zeroed the bss the header describes. */
#include "rt.h"

static volatile uint32_t bss_words[64];

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t or = 0;
	for (int i = 0; i < 64; i++)
		or |= bss_words[i];
	rt_puts("Hello from vmlite a.out-kludge test guest\n");
	if (or != 0) {
		rt_puts("FAIL: bss not zeroed\n");
		return RT_FAIL;
	}
	rt_puts("ok: bss zeroed\n");
	return RT_PASS;
}
