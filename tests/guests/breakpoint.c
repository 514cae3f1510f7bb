/* #BP, a trap: the saved IP is the instruction after INT3 (1 byte, CC) or
 * INT $3 (2 bytes, CD 03), and execution continues there. 32-bit here,
 * 64-bit in breakpoint-64.c. */
#include "rt.h"

int breakpoint_main64(uint32_t failures32);

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t n = rt_exc.count;
	__asm__ volatile(RT_TRY("int3") : : : "memory");
	rt_exc_check("32-bit #BP int3", n, 3, 0, 0, 0, 1);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("int $3") : : : "memory");
	rt_exc_check("32-bit #BP int $3", n, 3, 0, 0, 0, 1);

	rt_puts("switching to long mode\n");
	rt_enter_long_mode((uint32_t)(uintptr_t)breakpoint_main64, (uint32_t)rt_failures);
}
