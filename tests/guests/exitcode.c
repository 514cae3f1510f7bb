/* Exits through the debug-exit port with a distinctive value, so a harness
 * that ignores the value (or always reports success) is caught. */
#include "rt.h"

#define EXIT_VALUE 0x2a         /* process status (0x2a << 1) | 1 = 85 */

int guest_main(uint32_t mbi)
{
	(void)mbi;
	rt_printf("exiting with 0x%x (status %u)\n", EXIT_VALUE, (EXIT_VALUE << 1) | 1);
	/* A 1-byte write here; rt_exit() uses the 4-byte form everywhere else. */
	outb(RT_DEBUG_EXIT, EXIT_VALUE);
	for (;;)
		__asm__ volatile("cli; hlt");
}
