/* Guest-memory ops over the core's struct guest_memory, so engines can plug
 * them straight into struct vmi_ops. "RAM" is strict: ROM, MMIO, reserved
 * ranges and ranges straddling two regions are all refused (SPEC.md 6.4). */
#include <string.h>

#include "vmi_mem.h"

bool vmi_mem_in_ram(const struct guest_memory *m, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = mem_find(m, gpa);
	return r && r->kind == MEM_RAM && r->host && len && len <= r->size - (gpa - r->gpa);
}

int vmi_mem_read(const struct guest_memory *m, uint64_t gpa, void *buf, uint64_t len)
{
	if (!vmi_mem_in_ram(m, gpa, len))
		return -1;
	memcpy(buf, mem_gpa_to_hva(m, gpa, len), len);
	return 0;
}

int vmi_mem_write(const struct guest_memory *m, uint64_t gpa, const void *buf, uint64_t len)
{
	if (!vmi_mem_in_ram(m, gpa, len))
		return -1;
	memcpy(mem_gpa_to_hva(m, gpa, len), buf, len);
	return 0;
}
