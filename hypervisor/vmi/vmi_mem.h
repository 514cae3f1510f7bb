/* struct vmi_ops memory callbacks for engines that use struct guest_memory:
 *   static bool my_in_ram(void *o, uint64_t g, uint64_t l)
 *   { return vmi_mem_in_ram(&((struct vcpu *)o)->vm->mem, g, l); } */
#ifndef VMLITE_VMI_MEM_H
#define VMLITE_VMI_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

bool vmi_mem_in_ram(const struct guest_memory *m, uint64_t gpa, uint64_t len);
int vmi_mem_read(const struct guest_memory *m, uint64_t gpa, void *buf, uint64_t len);
int vmi_mem_write(const struct guest_memory *m, uint64_t gpa, const void *buf, uint64_t len);

#endif
