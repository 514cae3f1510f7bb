/* VM lifecycle: build memory, buses, devices and vCPUs, then run vCPU threads
 * until a stop is requested. The first stop request decides the exit status. */
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "error.h"
#include "loader.h"
#include "vcpu_vmi.h"

static void vm_panic_seen(void *opaque)
{
	vm_request_stop(opaque, STOP_PANIC, VMLITE_EXIT_PANIC);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct engine_ops *eng)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->engine = eng;
	vm->mem.fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	pthread_mutex_init(&vm->dev_lock, NULL);
	atomic_init(&vm->stop_reason, STOP_NONE);
	atomic_init(&vm->stop_claimed, 0);
	console_log_init(&vm->console, vm_panic_seen, vm);

	/* Before the engine: it publishes the VMI CPUID leaves per vCPU. */
	if (vmi_host_init(&vm->vmi, &cfg->vmi) < 0)
		goto fail;
	if (mem_init(&vm->mem, cfg->mem_size) < 0)
		goto fail;
	/* Devices and kernel come before the engine, so a bad disk or kernel is
	 * reported as such (status 2) even on a host where the engine cannot start. */
	if (devices_init(vm) < 0)
		goto fail;
	if (cfg->kernel && loader_load(&vm->mem, cfg->kernel, cfg->initrd, cfg->cmdline,
				       &vm->boot_state) < 0)
		goto fail_devices_usage;
	if (eng->vm_create(vm) < 0) {
		vm->exit_status = VMLITE_EXIT_NOENGINE;
		goto fail_devices;
	}
	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		err_set("out of memory allocating %d vCPUs", cfg->cpus);
		goto fail_engine;
	}
	for (int i = 0; i < cfg->cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		/* No ops until the engine supplies them: calls then raise #UD. */
		vmi_ctx_init(&v->vmi, &vm->vmi, NULL, v);
		if (eng->vcpu_create(v) < 0) {
			err_wrap("vCPU %d", i);
			goto fail_vcpus;
		}
		vm->ncpus++;
	}
	if (cfg->kernel && eng->set_state(&vm->vcpus[0], &vm->boot_state) < 0) {
		err_wrap("setting the boot state");
		vm->exit_status = VMLITE_EXIT_INTERNAL;
		goto fail_vcpus;
	}
	return 0;

fail_vcpus:
	for (int i = 0; i < vm->ncpus; i++)
		eng->vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
fail_engine:
	eng->vm_destroy(vm);
fail_devices:
	devices_destroy(vm);
	goto fail_mem;
fail_devices_usage:
	devices_destroy(vm);
fail:
	vm->exit_status = VMLITE_EXIT_USAGE;
fail_mem:
	mem_destroy(&vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	vmi_host_destroy(&vm->vmi);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	/* Devices first: their timer thread may still reach vCPUs. */
	devices_destroy(vm);
	for (int i = 0; i < vm->ncpus; i++) {
		vcpu_vmi_destroy(&vm->vcpus[i]);
		vm->engine->vcpu_destroy(&vm->vcpus[i]);
	}
	free(vm->vcpus);
	vm->engine->vm_destroy(vm);
	mem_destroy(&vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	vmi_host_destroy(&vm->vmi);
	pthread_mutex_destroy(&vm->dev_lock);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status)
{
	/* Claim first, publish the status, then the reason: whoever sees
	 * vm_stopping() also sees the status that goes with it. */
	int unclaimed = 0;
	if (!atomic_compare_exchange_strong(&vm->stop_claimed, &unclaimed, 1))
		return;
	vm->exit_status = status;
	atomic_store(&vm->stop_reason, (int)why);
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->engine->kick)
			vm->engine->kick(&vm->vcpus[i]);
}

bool vm_stopping(const struct vm *vm)
{
	return atomic_load(&((struct vm *)vm)->stop_reason) != STOP_NONE;
}

void vm_stats_total(const struct vm *vm, struct vm_stats *out)
{
	*out = vm->dev_stats;
	for (int i = 0; i < vm->ncpus; i++) {
		const struct vm_stats *s = &vm->vcpus[i].stats;
		for (int k = 0; k < EXIT_KIND_MAX; k++)
			out->exits[k] += s->exits[k];
		out->irqs_injected += s->irqs_injected;
	}
	out->pio_unhandled = vm->pio.unhandled;
	out->mmio_unhandled = vm->mmio.unhandled;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct vcpu_exit exit;
	while (!vm_stopping(vm)) {
		memset(&exit, 0, sizeof(exit));
		if (vm->engine->vcpu_run(v, &exit) < 0) {
			fprintf(stderr, "vmlite: vCPU %d: %s\n", v->id, err_msg());
			vm_request_stop(vm, STOP_INTERNAL, VMLITE_EXIT_INTERNAL);
			break;
		}
		vcpu_handle_exit(v, &exit);
	}
	return NULL;
}

/* Remembered across VMs: a signal that lands while a reset is already ending
 * the VM must still stop a --on-reboot restart loop. */
static atomic_int signal_seen;

bool vm_signalled(void)
{
	return atomic_load(&signal_seen) != 0;
}

/* SIGUSR1 only interrupts a blocking KVM_RUN or sleep; the handler does nothing. */
static void kick_handler(int sig)
{
	(void)sig;
}

int vm_run(struct vm *vm)
{
	sigset_t stopset, old;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGHUP);
	/* vCPU threads inherit this mask, so only this thread sees stop signals. */
	pthread_sigmask(SIG_BLOCK, &stopset, &old);
	struct sigaction sa = { .sa_handler = kick_handler };
	sigaction(SIGUSR1, &sa, NULL);

	/* Application processors wait for INIT/SIPI, which needs the local APIC;
	 * until it exists only the bootstrap processor runs. */
	int running = 1;
	if (pthread_create(&vm->vcpus[0].thread, NULL, vcpu_thread, &vm->vcpus[0]) != 0) {
		fprintf(stderr, "vmlite: cannot start the vCPU thread\n");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return VMLITE_EXIT_INTERNAL;
	}
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	while (!vm_stopping(vm)) {
		siginfo_t si;
		if (sigtimedwait(&stopset, &si, &tick) > 0) {
			fprintf(stderr, "vmlite: stopped by signal %d\n", si.si_signo);
			atomic_store(&signal_seen, 1);
			vm_request_stop(vm, STOP_SIGNAL, VMLITE_EXIT_SIGNAL);
		}
	}
	for (int i = 0; i < running; i++) {
		if (vm->engine->kick)
			vm->engine->kick(&vm->vcpus[i]);
		pthread_join(vm->vcpus[i].thread, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return vm->exit_status;
}
