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
/* ALARM_SET on the VM's clock, delivered as a fixed LAPIC interrupt. */
int vcpu_vmi_set_alarm(void *opaque, unsigned mode, uint64_t deadline_ns,
		       uint64_t period_ns, uint8_t vector);
/* Fills the per-vCPU page's pvclock: the guest's TSC read now is guest_tsc,
 * ticking at tsc_hz; VMI time is clock_now_ns(). */
void vcpu_vmi_clock_fill(struct vcpu *v, uint64_t guest_tsc, uint64_t tsc_hz);
/* The pvclock's tsc_to_system_mul and tsc_shift for a TSC of tsc_hz (> 0). */
void vcpu_vmi_pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);
/* After the devices (the clock thread) are gone: frees the alarm. */
void vcpu_vmi_destroy(struct vcpu *v);

#endif
