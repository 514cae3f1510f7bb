/* Prints what a Linux kernel prints when it panics, then spins with
 * interrupts off the way Linux's panic loop does: vmlite must recognise the
 * panic on the console, end the VM with status 14 and show the last lines. */
#include "rt.h"

int guest_main(uint32_t mbi)
{
	(void)mbi;
	rt_puts("booting the panic guest\n");
	rt_puts("Kernel panic - not syncing: VFS: Unable to mount root fs (test)\n");
	rt_puts("CPU: 0 PID: 1 Comm: swapper/0 Not tainted (test)\n");
	rt_puts("---[ end Kernel panic - not syncing: VFS: Unable to mount root fs (test) ]---\n");
	for (;;)
		__asm__ volatile("pause");
	return RT_FAIL;
}
