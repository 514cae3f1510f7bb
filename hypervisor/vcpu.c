/* The core's half of the exit loop: every exit is counted, then dispatched to
 * the bus (port I/O, MMIO) or turned into a VM stop with a diagnosis. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "irq.h"
#include "vcpu_vmi.h"
#include "vm.h"

static void handle_pio(struct vcpu *v, struct vcpu_exit *e)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	for (uint32_t i = 0; i < e->io.count; i++)
		bus_access(&vm->pio, e->io.port, e->io.size, e->io.is_write,
			   e->io.data + (size_t)i * e->io.size);
	pthread_mutex_unlock(&vm->dev_lock);
}

static void handle_mmio(struct vcpu *v, struct vcpu_exit *e)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	bus_access(&vm->mmio, e->mmio.gpa, e->mmio.len, e->mmio.is_write, e->mmio.data);
	pthread_mutex_unlock(&vm->dev_lock);
}

/* HLT with IF=0 can never be woken (no NMI sources exist), so the VM ends
 * with a distinct status instead of hanging; with IF=1 the vCPU sleeps until
 * an interrupt is pending or the VM stops. */
static void handle_hlt(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct vcpu_state st;
	if (vm->engine->get_state(v, &st) == 0 && !(st.rflags & X86_RFLAGS_IF)) {
		if (vm->cfg->verbose)
			fprintf(stderr, "vmlite: guest halted with interrupts disabled at rip=0x%llx\n",
				(unsigned long long)st.rip);
		vm_request_stop(vm, STOP_HALTED, VMLITE_EXIT_HALTED);
		return;
	}
	vcpu_irq_wait(v);
}

void vcpu_dump_state(struct vcpu *v, FILE *out)
{
	static const char *const names[GPR_COUNT] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	struct vcpu_state st;
	if (v->vm->engine->get_state(v, &st) < 0) {
		fprintf(out, "  (registers unavailable: %s)\n", err_msg());
		return;
	}
	for (int i = 0; i < GPR_COUNT; i++)
		fprintf(out, "  %-3s=%016llx%s", names[i], (unsigned long long)st.gpr[i],
			(i % 4 == 3) ? "\n" : "");
	fprintf(out, "  rip=%016llx rflags=%08llx cs=%04x ss=%04x\n",
		(unsigned long long)st.rip, (unsigned long long)st.rflags, st.cs.sel, st.ss.sel);
	fprintf(out, "  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n",
		(unsigned long long)st.cr0, (unsigned long long)st.cr2,
		(unsigned long long)st.cr3, (unsigned long long)st.cr4,
		(unsigned long long)st.efer);
	fprintf(out, "  gdt=%llx/%x idt=%llx/%x\n", (unsigned long long)st.gdt.base,
		st.gdt.limit, (unsigned long long)st.idt.base, st.idt.limit);
}

void vcpu_handle_exit(struct vcpu *v, struct vcpu_exit *e)
{
	struct vm *vm = v->vm;
	/* Devices reached from here (the LAPIC page) need to know the vCPU. */
	irq_set_current(v);
	if ((unsigned)e->kind < EXIT_KIND_MAX)
		v->stats.exits[e->kind]++;
	switch (e->kind) {
	case EXIT_PIO:
		handle_pio(v, e);
		break;
	case EXIT_MMIO:
		handle_mmio(v, e);
		break;
	case EXIT_HLT:
		handle_hlt(v);
		break;
	case EXIT_SHUTDOWN:
		fprintf(stderr, "vmlite: guest triple fault (shutdown) on vCPU %d; registers:\n", v->id);
		vcpu_dump_state(v, stderr);
		vm_request_stop(vm, STOP_TRIPLE, VMLITE_EXIT_TRIPLE);
		break;
	case EXIT_INTERNAL:
	case EXIT_FAIL_ENTRY:
	case EXIT_OTHER:
		fprintf(stderr, "vmlite: %s on vCPU %d: %s (code 0x%llx); registers:\n",
			exit_kind_name(e->kind), v->id, e->fail.why,
			(unsigned long long)e->fail.code);
		vcpu_dump_state(v, stderr);
		vm_request_stop(vm, STOP_INTERNAL, VMLITE_EXIT_INTERNAL);
		break;
	case EXIT_HYPERCALL:
		vcpu_vmi_call(v, e);
		break;
	case EXIT_INTR:
	case EXIT_IRQ_WINDOW:
	case EXIT_MSR:
	case EXIT_KIND_MAX:
		break;
	}
	/* Runs after every exit, i.e. before every re-entry into the guest. */
	if (!vm_stopping(vm))
		vcpu_irq_deliver(v);
}
