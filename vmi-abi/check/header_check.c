/* Compiled by `make vmi-header-check` as freestanding C89/C99/C11 and C++11:
 * the public headers must need nothing but <stdint.h>, and the layout
 * constants must agree with the structures. */
#include <stddef.h>

#include "vmi.h"
#include "vmi_guest.h"

#define VMI_OFF(t, f) offsetof(t, f)
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, irq_pending) == VMI_VCPU_OFF_IRQ_PENDING, "irq_pending");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, cr2) == VMI_VCPU_OFF_CR2, "cr2");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, clock) == VMI_VCPU_OFF_CLOCK, "clock");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, queue_count) == VMI_VCPU_OFF_QUEUE_COUNT, "count");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, queue_done) == VMI_VCPU_OFF_QUEUE_DONE, "done");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_vcpu_page, queue) == VMI_VCPU_OFF_QUEUE, "queue");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_page_header, features) == 48, "features");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_page_header, checksum) == 60, "checksum");
VMI_STATIC_ASSERT(VMI_OFF(struct vmi_queue_entry, result) == 40, "result");

int vmi_header_check(const void *page)
{
	return (int)vmi_page_check(page, 4096, VMI_VERSION(VMI_VERSION_MAJOR, 0)) +
	       (int)vmi_negotiate(VMI_VERSION(1, 0), VMI_VERSION(1, 0)) + VMI_NCALLS_V1_0;
}
