/* The core's half of the VMI ABI (vmi-abi/SPEC.md): running a trapped call
 * (EXIT_HYPERCALL) and the struct vmi_ops members that need no engine state,
 * so an engine's ops table only adds registers, CRs, MSRs and tables:
 *   static const struct vmi_ops my_ops = { .in_ram = vcpu_vmi_in_ram, ...,
 *       .get_cr = my_get_cr, ... };
 * opaque is always the struct vcpu. */
#ifndef VMLITE_VCPU_VMI_H
#define VMLITE_VCPU_VMI_H

#include "vm.h"

void vcpu_vmi_call(struct vcpu *v, struct vcpu_exit *e);

bool vcpu_vmi_in_ram(void *opaque, uint64_t gpa, uint64_t len);
int vcpu_vmi_read(void *opaque, uint64_t gpa, void *buf, uint64_t len);
int vcpu_vmi_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len);
/* HLT semantics of the core: IF=0 stops the VM (status 8), else sleeps. */
void vcpu_vmi_halt(void *opaque);
void vcpu_vmi_power(void *opaque, enum vmi_power how);
void vcpu_vmi_console_write(void *opaque, const uint8_t *buf, uint32_t len);
int vcpu_vmi_wallclock(void *opaque, uint64_t *ns);

#endif
