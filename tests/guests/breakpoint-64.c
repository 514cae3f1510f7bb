/* The long-mode half of the breakpoint guest. */
#include "rt.h"

int breakpoint_main64(uint32_t failures32);

int breakpoint_main64(uint32_t failures32)
{
	rt_idt_init();
	uint32_t n = rt_exc.count;
	__asm__ volatile(RT_TRY("int3") : : : "memory");
	rt_exc_check("64-bit #BP int3", n, 3, 0, 0, 0, 1);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("int $3") : : : "memory");
	rt_exc_check("64-bit #BP int $3", n, 3, 0, 0, 0, 1);

	int failures = (int)failures32 + rt_failures;
	rt_printf("breakpoint: %d failure(s)\n", failures);
	return failures ? RT_FAIL : RT_PASS;
}
