/* VMI calls reach the core as EXIT_HYPERCALL (KVM: the stub's OUT to port
 * 0xE4); the dispatcher is engine-independent and talks to the vCPU only
 * through the engine's struct vmi_ops. */
#include "vcpu_vmi.h"

#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "devices/uart16550.h"
#include "irq.h"
#include "vmi/vmi_mem.h"

void vcpu_vmi_call(struct vcpu *v, struct vcpu_exit *e)
{
	uint64_t ret[2] = { 0, e->hcall.args[2] };
	int outcome = VMI_TRAP_UD;
	/* An engine without ops cannot run calls: as if the ABI were absent. */
	if (v->vmi.ops)
		outcome = vmi_dispatch(&v->vmi, e->hcall.nr, e->hcall.args, ret);
	else
		v->vmi.stats.traps++;
	e->hcall.ret[0] = ret[0];
	e->hcall.ret[1] = ret[1];
	*e->hcall.outcome = outcome;
}

bool vcpu_vmi_in_ram(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vcpu *v = opaque;
	return vmi_mem_in_ram(&v->vm->mem, gpa, len);
}

int vcpu_vmi_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
	struct vcpu *v = opaque;
	return vmi_mem_read(&v->vm->mem, gpa, buf, len);
}

int vcpu_vmi_write(void *opaque, uint64_t gpa, const void *buf, uint64_t len)
{
	struct vcpu *v = opaque;
	if (vmi_mem_write(&v->vm->mem, gpa, buf, len))
		return -1;
	/* The ABI page holds code; a translating engine must drop stale blocks. */
	if (v->vm->engine->mem_written)
		v->vm->engine->mem_written(v->vm, gpa, len);
	return 0;
}

void vcpu_vmi_halt(void *opaque)
{
	struct vcpu *v = opaque;
	if (!v->vmi.ops->get_if(opaque)) {
		vm_request_stop(v->vm, STOP_HALTED, VMLITE_EXIT_HALTED);
		return;
	}
	vcpu_irq_wait(v);
}

void vcpu_vmi_power(void *opaque, enum vmi_power how)
{
	struct vcpu *v = opaque;
	if (how == VMI_POWER_REBOOT)
		vm_request_stop(v->vm, STOP_RESET, VMLITE_EXIT_RESET);
	else
		vm_request_stop(v->vm, STOP_POWEROFF, VMLITE_EXIT_POWEROFF);
}

/* Same sink and console log as COM1's transmitter, without the UART's
 * per-byte register protocol. */
void vcpu_vmi_console_write(void *opaque, const uint8_t *buf, uint32_t len)
{
	struct vcpu *v = opaque;
	struct uart *u = uart_com1(v->vm);
	if (!u)
		return;
	pthread_mutex_lock(&v->vm->dev_lock);
	for (uint32_t off = 0; u->tx_fd >= 0 && off < len;) {
		ssize_t r = write(u->tx_fd, buf + off, len - off);
		if (r <= 0)
			break;
		off += (uint32_t)r;
	}
	u->tx_bytes += len;
	if (u->tap)
		for (uint32_t i = 0; i < len; i++)
			u->tap(u->tap_opaque, buf[i]);
	pthread_mutex_unlock(&v->vm->dev_lock);
}

int vcpu_vmi_wallclock(void *opaque, uint64_t *ns)
{
	(void)opaque;
	*ns = clock_realtime_ns();
	return 0;
}
