/* Pulses the reset line through the keyboard controller (0xFE to port 0x64),
 * as Linux's reboot=k does: vmlite ends with status 4, or restarts the VM
 * with --on-reboot restart. */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	rt_puts("resetting through the i8042\n");
	__asm__ volatile("outb %b0, $0x64" : : "a"(0xfe));
	rt_puts("FAIL: still running after the reset\n");
	return RT_FAIL;
}
