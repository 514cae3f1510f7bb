/* Protected mode -> long mode through the runtime's switch routine; the
 * checks that need 64-bit code are in longmode-64.c. */
#include "rt.h"

int longmode_main64(uint32_t failures32);

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	rt_check((cr0 & 1) && !(cr0 & 0x80000000u), "32-bit: CR0.PE set, CR0.PG clear");
	rt_check(!(rt_rdmsr(RT_MSR_EFER) & (1u << 10)), "32-bit: EFER.LMA clear");
	rt_puts("switching to long mode\n");
	rt_enter_long_mode((uint32_t)(uintptr_t)longmode_main64, (uint32_t)rt_failures);
}
