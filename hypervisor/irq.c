/* Interrupt routing core and the vCPU side of delivery (protocol in irq.h). */
#include "irq.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/uart16550.h"
#include "vm.h"

static __thread struct vcpu *current_vcpu;

void irq_set_current(struct vcpu *v)
{
	current_vcpu = v;
}

struct vcpu *irq_current(void)
{
	return current_vcpu;
}

unsigned irq_isa_to_gsi(unsigned irq)
{
	return irq == 0 ? 2 : irq;
}

void irq_line_set(struct vm *vm, unsigned irq, bool level)
{
	if (irq < IRQ_ISA_COUNT)
		pic_set_irq(vm, irq, level);
	if (irq < IRQ_GSI_COUNT)
		ioapic_set_irq(vm, irq_isa_to_gsi(irq), level);
}

void irq_isa_acked(struct vm *vm, unsigned irq)
{
	if (irq == 0)
		pit_irq0_acked(vm);
}

/* Exact pending state; dev_lock held. Without local APICs (unit tests of
 * the PIC alone) the PIC's output goes straight to vCPU 0. */
static bool vcpu_has_irq(struct vcpu *v)
{
	struct lapic *l = lapic_get(v->vm, v->id);
	if (!l)
		return v->id == 0 && pic_output(v->vm);
	if (lapic_nmi_pending(l) || lapic_has_irq(l))
		return true;
	return pic_output(v->vm) && lapic_accepts_pic(l);
}

static long futex(atomic_int *addr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, (int *)addr, op, val, ts, NULL, 0);
}

void vcpu_irq_update(struct vcpu *v)
{
	bool now = vcpu_has_irq(v);
	int was = atomic_exchange(&v->irq_pending, now);
	if (!now || was)
		return;
	futex(&v->irq_pending, FUTEX_WAKE_PRIVATE, 1, NULL);
	/* The vCPU's own thread checks the flag before re-entering the guest,
	 * and a halted one re-checks it after the wake-up: neither needs a kick
	 * (which would cost the next vcpu_run a spurious exit). */
	if (current_vcpu != v && !atomic_load(&v->halted) && v->vm->engine &&
	    v->vm->engine->kick)
		v->vm->engine->kick(v);
}

void irq_cpu_changed(struct vm *vm, int cpu)
{
	if (vm->vcpus && cpu >= 0 && cpu < vm->ncpus)
		vcpu_irq_update(&vm->vcpus[cpu]);
}

void irq_pic_changed(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_irq_update(&vm->vcpus[i]);
}

int vcpu_irq_ack(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	struct lapic *l = lapic_get(vm, v->id);
	int vector = l ? lapic_ack(l) : -1;
	if (vector >= 0 && ioapic_pin_vector(vm, irq_isa_to_gsi(0)) == vector)
		irq_isa_acked(vm, 0);
	if (vector < 0 && pic_output(vm)) {
		bool wired = l ? lapic_accepts_pic(l) : v->id == 0;
		if (wired)
			vector = pic_intack(vm);
		if (wired && l)
			lapic_take_extint(l);
	}
	atomic_store(&v->irq_pending, vcpu_has_irq(v));
	pthread_mutex_unlock(&vm->dev_lock);
	return vector;
}

bool vcpu_nmi_ack(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	struct lapic *l = lapic_get(vm, v->id);
	bool nmi = l && lapic_take_nmi(l);
	atomic_store(&v->irq_pending, vcpu_has_irq(v));
	pthread_mutex_unlock(&vm->dev_lock);
	return nmi;
}

void vcpu_irq_deliver(struct vcpu *v)
{
	const struct engine_ops *e = v->vm->engine;
	if (!e->want_irq_window)
		return;                 /* the engine delivers by itself */
	if (!atomic_load(&v->irq_pending)) {
		e->want_irq_window(v, false);
		return;
	}
	if (vcpu_nmi_ack(v)) {
		struct vcpu_event ev = { .kind = EVENT_NMI, .vector = 2 };
		e->inject(v, &ev);
	}
	if (!atomic_load(&v->irq_pending)) {
		e->want_irq_window(v, false);
		return;
	}
	if (!e->irq_window(v)) {
		e->want_irq_window(v, true);
		return;
	}
	int vector = vcpu_irq_ack(v);
	if (vector >= 0) {
		struct vcpu_event ev = { .kind = EVENT_EXTINT, .vector = (uint8_t)vector };
		if (e->inject(v, &ev) == 0)
			v->stats.irqs_injected++;
	}
	/* Another one behind it: exit as soon as the guest can take it. */
	e->want_irq_window(v, atomic_load(&v->irq_pending));
}

void vcpu_irq_wait(struct vcpu *v)
{
	/* The timeout only bounds how late a stop request (which signals the
	 * thread) can be noticed if it lands between the check and the wait. */
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	atomic_store(&v->halted, true);
	while (!vm_stopping(v->vm) && !atomic_load(&v->irq_pending))
		futex(&v->irq_pending, FUTEX_WAIT_PRIVATE, 0, &ts);
	atomic_store(&v->halted, false);
}

/* ---- wiring of the legacy devices that report a level through a callback ---- */

static void com1_irq(void *opaque, int level)
{
	irq_line_set(opaque, UART_COM1_IRQ, level != 0);
}

static void kbd_irq(void *opaque, int level)
{
	irq_line_set(opaque, I8042_KBD_IRQ, level != 0);
}

/* Runs after the i8042 (order 10) and the UART (order 20) exist. */
static int isa_irqs_init(struct vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
	struct uart *u = uart_com1(vm);
	if (u)
		uart_set_irq(u, com1_irq, vm);
	i8042_set_irq(vm, kbd_irq, vm);
	pthread_mutex_unlock(&vm->dev_lock);
	return 0;
}

static const struct device_ops isa_irqs_device = {
	.name = "isa-irq-wiring",
	.order = 30,
	.init = isa_irqs_init,
};
DEVICE_REGISTER(isa_irqs_device);
