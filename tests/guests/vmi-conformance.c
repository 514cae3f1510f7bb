/* Entry half of the VMI conformance guest: the ABI is long-mode only, so
 * switch at once and hand the multiboot info to vmi-conformance-64.c. */
#include "rt.h"

int vmi_main64(uint32_t mbi);

int guest_main(uint32_t mbi)
{
	rt_enter_long_mode((uint32_t)(uintptr_t)vmi_main64, mbi);
}
