/* Faults in 32-bit protected mode (this file) and then in long mode
 * (exceptions-64.c, including #PF): vector, error code, CR2 and saved IP
 * must all be right for the guest to exit with success.
 * Split out so this guest stays meaningful on kvm_pvm hosts, whose KVM runs
 * guest kernel mode through its instruction emulator: the #BP trap is in
 * the breakpoint guest (INT3 cannot be emulated there) and 32-bit paging
 * faults are in the paging32 guest (only long-mode paging is supported). */
#include "rt.h"

int exceptions_main64(uint32_t failures32);

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t n;

	n = rt_exc.count;
	__asm__ volatile("xorl %%edx, %%edx\n\tmovl $1, %%eax\n\txorl %%ecx, %%ecx\n\t"
			 RT_TRY("divl %%ecx") : : : "eax", "ecx", "edx", "memory");
	rt_exc_check("32-bit #DE div by zero", n, 0, 0, 0, 0, 0);

	n = rt_exc.count;
	__asm__ volatile(RT_TRY("ud2") : : : "memory");
	rt_exc_check("32-bit #UD ud2", n, 6, 0, 0, 0, 0);

	/* Selector 0x1230: GDT index 0x246, far beyond our 4-entry GDT. */
	n = rt_exc.count;
	__asm__ volatile("movw $0x1230, %%ax\n\t" RT_TRY("movw %%ax, %%ds")
			 : : : "eax", "memory");
	rt_exc_check("32-bit #GP bad DS selector", n, 13, 0x1230, 0, 0, 0);

	rt_puts("switching to long mode\n");
	rt_enter_long_mode((uint32_t)(uintptr_t)exceptions_main64, (uint32_t)rt_failures);
}
