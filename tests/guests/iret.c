/* 32-bit IRET to the same privilege level with a hand-built frame: target
 * and flags must come from the frame. The 32-bit exception handlers avoid
 * IRET (see rt/isr32.S), so this is the guest that needs it; kvm_pvm hosts
 * cannot emulate it (KVM internal error, status 10). IRETQ is in iretq. */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	uint32_t flags, esp_before, esp_after, reached = 0;

	/* EFLAGS image: bit 1 (fixed), CF, ZF, and DF; IF stays clear. */
	__asm__ volatile("movl %%esp, %1\n\t"
			 "pushl $0x00000443\n\t"
			 "pushl $0x08\n\t"
			 "pushl $1f\n\t"
			 "iretl\n\t"
			 "movl $0, %3\n"                /* skipped if IRET works */
			 "1:\tpushfl\n\t"
			 "popl %0\n\t"
			 "cld\n\t"
			 "movl %%esp, %2\n\t"
			 "movl $1, %3"
			 : "=r"(flags), "=&r"(esp_before), "=r"(esp_after), "+m"(reached)
			 : : "memory", "cc");
	rt_printf("32-bit iret: flags 0x%x\n", flags & 0xcd5);
	rt_check(reached, "32-bit iret: reached the target");
	rt_check((flags & 0xcd5) == 0x441, "32-bit iret: CF, ZF and DF loaded from the frame");
	rt_check(esp_after == esp_before, "32-bit iret: popped exactly 3 dwords");

	rt_printf("iret: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
