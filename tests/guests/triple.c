/* Triple fault: with an empty IDT (limit 0) the #GP from loading a bad
 * selector cannot be delivered (another #GP, then #DF), nor can the #DF:
 * the CPU shuts down and the VMM must report status 6.
 * (A #GP rather than int3: KVM's instruction emulator, which runs guest
 * kernel mode on kvm_pvm hosts, cannot emulate INT n in protected mode.) */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	rt_puts("loading an empty IDT and loading a bad selector into DS\n");
	__asm__ volatile("lidt %0\n\t"
			 "movw $0x1230, %%ax\n\t"
			 "movw %%ax, %%ds" : : "m"(empty) : "eax", "memory");
	rt_puts("FAIL: still running after the triple fault\n");
	return RT_FAIL;
}
