/* 32-bit C entry: checks the multiboot contract, sets up the runtime and
 * hands over to the guest. */
#include "rt.h"

void rt_start32(uint32_t magic, uint32_t mbi);

void rt_start32(uint32_t magic, uint32_t mbi)
{
	rt_serial_init();
	if (magic != MULTIBOOT_BOOT_MAGIC) {
		rt_printf("bad multiboot magic 0x%x\n", magic);
		rt_exit(RT_FAIL_MAGIC);
	}
	rt_idt_init();
	rt_exit((uint32_t)guest_main(mbi));
}
