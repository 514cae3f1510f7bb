/* Built by `make vmi-kbuild-check` against installed Linux headers:
 * the public headers must compile inside the kernel (__KERNEL__). */
#include <linux/module.h>
#include "vmi.h"
#include "vmi_guest.h"
static int __init vmitest_init(void)
{
	static struct vmi_vcpu_page pg;
	pr_info("vmi %u.%u sz %zu crc %x chk %d\n", VMI_VERSION_MAJOR, VMI_VERSION_MINOR,
		sizeof(pg), vmi_crc32((const uint8_t *)"123456789", 9),
		vmi_negotiate(VMI_VERSION(1, 0), VMI_VERSION(1, 0)));
	return 0;
}
module_init(vmitest_init);
MODULE_LICENSE("Dual MIT/GPL");
