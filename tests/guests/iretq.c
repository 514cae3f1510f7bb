/* Entry half of the iretq guest: straight to long mode. */
#include "rt.h"

int iretq_main64(uint32_t failures32);

int guest_main(uint32_t mbi)
{
	(void)mbi;
	rt_puts("switching to long mode\n");
	rt_enter_long_mode((uint32_t)(uintptr_t)iretq_main64, 0);
}
