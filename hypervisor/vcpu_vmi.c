/* VMI calls reach the core as EXIT_HYPERCALL (KVM: the stub's OUT to port
 * 0xE4); the dispatcher is engine-independent and talks to the vCPU only
 * through the engine's struct vmi_ops. */
#include "vcpu_vmi.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "devices/lapic.h"
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

/* ---- time (SPEC 10): VMI time is clock_now_ns(), the clock every device
 * model runs on, so alarms and the LAPIC timer agree. ---- */

struct vmi_alarm {
	struct clock_timer timer;
	struct vcpu *v;
	uint64_t deadline, period;
	uint8_t vector;
};

/* Timer thread, dev_lock held. */
static void alarm_fire(void *opaque, uint64_t now)
{
	struct vmi_alarm *a = opaque;
	lapic_deliver(a->v->vm, (uint32_t)a->v->id, false, APIC_DM_FIXED, a->vector, false);
	if (a->period) {
		/* Next boundary strictly after now: late ticks coalesce. */
		uint64_t k = (now - a->deadline) / a->period + 1;
		a->deadline += k * a->period;
		clock_timer_arm(&a->timer, a->deadline);
	}
}

int vcpu_vmi_set_alarm(void *opaque, unsigned mode, uint64_t deadline_ns,
		       uint64_t period_ns, uint8_t vector)
{
	struct vcpu *v = opaque;
	struct vm *vm = v->vm;
	if (!lapic_get(vm, v->id))
		return -1;
	pthread_mutex_lock(&vm->dev_lock);
	struct vmi_alarm *a = v->vmi_alarm;
	if (!a && mode != VMI_ALARM_OFF) {
		a = calloc(1, sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&vm->dev_lock);
			return -1;
		}
		a->v = v;
		clock_timer_init(vm, &a->timer, alarm_fire, a);
		v->vmi_alarm = a;
	}
	if (a) {
		clock_timer_cancel(&a->timer);
		if (mode != VMI_ALARM_OFF) {
			a->deadline = deadline_ns;
			a->period = mode == VMI_ALARM_PERIODIC ? period_ns : 0;
			a->vector = vector;
			clock_timer_arm(&a->timer, deadline_ns);
		}
	}
	pthread_mutex_unlock(&vm->dev_lock);
	return 0;
}

void vcpu_vmi_destroy(struct vcpu *v)
{
	free(v->vmi_alarm);
	v->vmi_alarm = NULL;
}

void vcpu_vmi_pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
	/* ns = ((tsc << shift) * mul) >> 32 with mul < 2^32: scale the ratio
	 * 1e9 / tsc_hz into (0.5, 1] * 2^shift. */
	int sh = 0;
	uint64_t hz = tsc_hz;
	while (hz <= CLOCK_NS_PER_SEC) {        /* ratio >= 1: shift left */
		hz <<= 1;
		sh++;
	}
	while (hz > 2 * CLOCK_NS_PER_SEC) {     /* ratio < 0.5: shift right */
		hz >>= 1;
		sh--;
	}
	*mul = (uint32_t)clock_muldiv(CLOCK_NS_PER_SEC, 1ull << 32, hz);
	*shift = (int8_t)sh;
}

void vcpu_vmi_clock_fill(struct vcpu *v, uint64_t guest_tsc, uint64_t tsc_hz)
{
	struct vmi_pvclock pv;
	memset(&pv, 0, sizeof(pv));
	if (!tsc_hz)
		return;
	vcpu_vmi_pvclock_scale(tsc_hz, &pv.tsc_to_system_mul, &pv.tsc_shift);
	pv.tsc_timestamp = guest_tsc;
	pv.system_time = clock_now_ns();
	pv.flags = 1;                           /* PVCLOCK_TSC_STABLE_BIT */
	vmi_pvclock_update(&v->vmi, &pv);
}
