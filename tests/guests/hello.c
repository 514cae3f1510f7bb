/* The smallest guest: one line on COM1, then debug-exit 0 (status 1). */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	rt_puts("Hello from vmlite test guest\n");
	return RT_PASS;
}
