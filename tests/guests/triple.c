/* Triple fault: with an empty IDT (limit 0) int3 cannot be delivered (#GP),
 * neither can the #GP (#DF), nor the #DF: the CPU shuts down and the VMM
 * must report status 6. */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	rt_puts("loading an empty IDT and executing int3\n");
	__asm__ volatile("lidt %0\n\tint3" : : "m"(empty) : "memory");
	rt_puts("FAIL: still running after the triple fault\n");
	return RT_FAIL;
}
