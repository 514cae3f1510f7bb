/* The KVM engine: guest RAM becomes memory slots, each vCPU a KVM vCPU whose
 * exits are translated into struct vcpu_exit for the core. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/lapic.h"
#include "engine.h"
#include "engine_kvm.h"
#include "error.h"
#include "vm.h"

static int kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return err_set("/dev/kvm does not exist: load kvm_intel or kvm_amd, or use --engine bt");
	if (errno == EACCES || errno == EPERM)
		return err_set("permission denied opening /dev/kvm: add your user to the kvm group "
			       "(or setfacl -m u:$USER:rw /dev/kvm), or use --engine bt");
	return err_set("cannot open /dev/kvm: %s; use --engine bt", strerror(errno));
}

static int kvm_probe(void)
{
	int fd = kvm_open();
	if (fd < 0)
		return -1;
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (api != KVM_API_VERSION)
		return err_set("/dev/kvm speaks API %d, vmlite needs %d; use --engine bt",
			       api, KVM_API_VERSION);
	return 0;
}

static struct kvm_cpuid2 *kvm_supported_cpuid(int sys_fd)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static struct kvm_cpuid_entry2 *cpuid_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; c && i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

/* The local APIC lives in user space (lapic.c), so RDMSR/WRMSR of the APIC
 * base (0x1B) and the x2APIC range must reach it: x2APIC accesses fail
 * inside KVM without an in-kernel APIC (exit reason INVAL) and 0x1B is
 * filtered out. If the kernel cannot do that, x2APIC is hidden instead. The
 * TSC-deadline timer is always hidden: KVM's guest TSC is the hardware TSC,
 * not the virtual TSC (clock.c) the LAPIC converts deadlines from. */
static void kvm_route_apic_msrs(struct kvm_vm *k)
{
	struct kvm_cpuid_entry2 *leaf1 = cpuid_leaf(k->cpuid, 1);
	if (leaf1)
		leaf1->ecx &= ~(1u << 24);
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args = { KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER },
	};
	static uint8_t deny;            /* bitmap bit 0 clear: MSR 0x1B exits */
	static uint8_t deny_vmi;        /* bits 0-2 clear: the VMI MSRs exit */
	struct kvm_msr_filter f = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = { { .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			      .nmsrs = 1, .base = MSR_APIC_BASE, .bitmap = &deny },
			    { .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			      .nmsrs = 3, .base = VMI_MSR_VERSION, .bitmap = &deny_vmi } },
	};
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ||
	    ioctl(k->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0) {
		if (leaf1)
			leaf1->ecx &= ~(1u << 21);
	}
}

static int kvm_vm_create(struct vm *vm)
{
	struct kvm_vm *k = calloc(1, sizeof(*k));
	if (!k)
		return err_set("out of memory");
	k->vm_fd = -1;
	k->sys_fd = kvm_open();
	if (k->sys_fd < 0)
		goto fail;
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		err_set("KVM_CREATE_VM failed: %s; is another hypervisor holding VT-x? "
			"use --engine bt", strerror(errno));
		goto fail;
	}
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* Real-mode support on VMX needs a TSS page below 4 GiB; other modules
	 * (SVM, PVM) do not implement the ioctl, which is harmless. */
	ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	int slot = 0;
	for (int i = 0; i < vm->mem.nregions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		if (!r->host)
			continue;
		struct kvm_userspace_memory_region mr = {
			.slot = slot++,
			.flags = r->kind == MEM_ROM ? KVM_MEM_READONLY : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			err_set("KVM_SET_USER_MEMORY_REGION for %s failed: %s", r->name, strerror(errno));
			goto fail;
		}
	}
	k->cpuid = kvm_supported_cpuid(k->sys_fd);
	kvm_route_apic_msrs(k);
	vm->vmi.cfg.backend = VMI_BACKEND_HW;
	if (kvm_vmi_cpuid(vm, &k->cpuid) < 0)
		goto fail;
	int sync = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	const char *no_sync = getenv("VMLITE_KVM_NO_SYNC_REGS");
	k->sync_regs = sync > 0 && (sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) ==
		(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) && !(no_sync && *no_sync == '1');
	vm->engine_priv = k;
	return 0;
fail:
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k);
	return -1;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = vm->engine_priv;
	if (!k)
		return;
	close(k->vm_fd);
	close(k->sys_fd);
	free(k->cpuid);
	free(k);
	vm->engine_priv = NULL;
}

static int kvm_vcpu_create(struct vcpu *v)
{
	struct kvm_vm *k = v->vm->engine_priv;
	struct kvm_vcpu *c = calloc(1, sizeof(*c));
	if (!c)
		return err_set("out of memory");
	c->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, v->id);
	if (c->fd < 0) {
		free(c);
		return err_set("KVM_CREATE_VCPU failed: %s", strerror(errno));
	}
	c->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		close(c->fd);
		free(c);
		return err_set("mapping the KVM run area failed: %s", strerror(errno));
	}
	/* Without a CPUID table KVM hides long mode from the guest. */
	if (k->cpuid && ioctl(c->fd, KVM_SET_CPUID2, k->cpuid) < 0) {
		munmap(c->run, k->run_size);
		close(c->fd);
		free(c);
		return err_set("KVM_SET_CPUID2 failed: %s", strerror(errno));
	}
	v->priv = c;
	v->vmi.ops = &kvm_vmi_ops;
	/* Registers come back with every exit: a VMI call needs no ioctl. */
	if (k->sync_regs)
		c->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	return 0;
}

static void kvm_vcpu_destroy(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	if (!c)
		return;
	struct kvm_vm *k = v->vm->engine_priv;
	munmap(c->run, k->run_size);
	close(c->fd);
	free(c);
	v->priv = NULL;
}

static void seg_to_kvm(const struct x86_seg *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->sel, .type = s->type,
		.present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l,
		.g = s->g, .avl = s->avl, .unusable = s->unusable,
	};
}

static void seg_from_kvm(const struct kvm_segment *k, struct x86_seg *s)
{
	*s = (struct x86_seg){
		.base = k->base, .limit = k->limit, .sel = k->selector, .type = k->type,
		.present = k->present, .dpl = k->dpl, .db = k->db, .s = k->s, .l = k->l,
		.g = k->g, .avl = k->avl, .unusable = k->unusable,
	};
}

static const uint32_t msr_index[] = {
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
	0x174, 0x175, 0x176,
};
#define NMSRS (sizeof(msr_index) / sizeof(msr_index[0]))

static uint64_t *msr_slot(struct vcpu_state *st, int i)
{
	uint64_t *slots[NMSRS] = { &st->star, &st->lstar, &st->cstar, &st->sfmask,
				   &st->kernel_gs_base, &st->sysenter_cs,
				   &st->sysenter_esp, &st->sysenter_eip };
	return slots[i];
}

static int kvm_get_state(struct vcpu *v, struct vcpu_state *st)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 || ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
		return err_set("reading vCPU registers failed: %s", strerror(errno));
	memset(st, 0, sizeof(*st));
	uint64_t g[GPR_COUNT] = { r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
				  r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
	memcpy(st->gpr, g, sizeof(g));
	st->rip = r.rip;
	st->rflags = r.rflags;
	seg_from_kvm(&s.cs, &st->cs);
	seg_from_kvm(&s.ds, &st->ds);
	seg_from_kvm(&s.es, &st->es);
	seg_from_kvm(&s.fs, &st->fs);
	seg_from_kvm(&s.gs, &st->gs);
	seg_from_kvm(&s.ss, &st->ss);
	seg_from_kvm(&s.tr, &st->tr);
	seg_from_kvm(&s.ldt, &st->ldt);
	st->gdt = (struct x86_dtable){ s.gdt.base, s.gdt.limit };
	st->idt = (struct x86_dtable){ s.idt.base, s.idt.limit };
	st->cr0 = s.cr0;
	st->cr2 = s.cr2;
	st->cr3 = s.cr3;
	st->cr4 = s.cr4;
	st->cr8 = s.cr8;
	st->efer = s.efer;
	st->apic_base = s.apic_base;
	struct { struct kvm_msrs h; struct kvm_msr_entry e[NMSRS]; } m = { .h.nmsrs = NMSRS };
	for (unsigned i = 0; i < NMSRS; i++)
		m.e[i].index = msr_index[i];
	int got = ioctl(c->fd, KVM_GET_MSRS, &m);
	for (int i = 0; i < got; i++)
		*msr_slot(st, i) = m.e[i].data;
	return 0;
}

static int kvm_set_state(struct vcpu *v, const struct vcpu_state *st)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_sregs s;
	if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
		return err_set("reading vCPU system registers failed: %s", strerror(errno));
	seg_to_kvm(&st->cs, &s.cs);
	seg_to_kvm(&st->ds, &s.ds);
	seg_to_kvm(&st->es, &s.es);
	seg_to_kvm(&st->fs, &s.fs);
	seg_to_kvm(&st->gs, &s.gs);
	seg_to_kvm(&st->ss, &s.ss);
	seg_to_kvm(&st->tr, &s.tr);
	seg_to_kvm(&st->ldt, &s.ldt);
	s.gdt.base = st->gdt.base;
	s.gdt.limit = st->gdt.limit;
	s.idt.base = st->idt.base;
	s.idt.limit = st->idt.limit;
	s.cr0 = st->cr0;
	s.cr2 = st->cr2;
	s.cr3 = st->cr3;
	s.cr4 = st->cr4;
	s.cr8 = st->cr8;
	s.efer = st->efer;
	if (st->apic_base)
		s.apic_base = st->apic_base;
	if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
		return err_set("KVM_SET_SREGS refused the state: %s", strerror(errno));
	const uint64_t *g = st->gpr;
	struct kvm_regs r = {
		.rax = g[GPR_RAX], .rcx = g[GPR_RCX], .rdx = g[GPR_RDX], .rbx = g[GPR_RBX],
		.rsp = g[GPR_RSP], .rbp = g[GPR_RBP], .rsi = g[GPR_RSI], .rdi = g[GPR_RDI],
		.r8 = g[GPR_R8], .r9 = g[GPR_R9], .r10 = g[GPR_R10], .r11 = g[GPR_R11],
		.r12 = g[GPR_R12], .r13 = g[GPR_R13], .r14 = g[GPR_R14], .r15 = g[GPR_R15],
		.rip = st->rip, .rflags = st->rflags,
	};
	if (ioctl(c->fd, KVM_SET_REGS, &r) < 0)
		return err_set("KVM_SET_REGS failed: %s", strerror(errno));
	struct { struct kvm_msrs h; struct kvm_msr_entry e[NMSRS]; } m = { .h.nmsrs = NMSRS };
	struct vcpu_state tmp = *st;
	for (unsigned i = 0; i < NMSRS; i++) {
		m.e[i].index = msr_index[i];
		m.e[i].data = *msr_slot(&tmp, i);
	}
	ioctl(c->fd, KVM_SET_MSRS, &m);
	return 0;
}

static int kvm_vcpu_run(struct vcpu *v, struct vcpu_exit *e)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_run *run = c->run;
	if (!c->thread_known) {
		c->thread = pthread_self();
		c->thread_known = true;
		/* The kick signal must reach this thread even though stop signals are blocked. */
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	}
	if (kvm_vmi_finish(v) < 0)
		return -1;
	if (vm_stopping(v->vm)) {
		e->kind = EXIT_INTR;
		return 0;
	}
	if (ioctl(c->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			run->immediate_exit = 0;
			e->kind = EXIT_INTR;
			return 0;
		}
		return err_set("KVM_RUN failed: %s", strerror(errno));
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.port == VMI_PIO_PORT && run->io.size == 4 && run->io.count == 1 &&
		    run->io.direction == KVM_EXIT_IO_OUT)
			return kvm_vmi_trap(v, e);
		e->kind = EXIT_PIO;
		e->io.port = run->io.port;
		e->io.size = run->io.size;
		e->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
		e->io.count = run->io.count;
		e->io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		e->kind = EXIT_MMIO;
		e->mmio.gpa = run->mmio.phys_addr;
		e->mmio.len = run->mmio.len;
		e->mmio.is_write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		e->kind = EXIT_INTR;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		e->kind = EXIT_IRQ_WINDOW;
		break;
	case KVM_EXIT_X86_RDMSR: {
		/* Completed by the next KVM_RUN; error = 1 makes it a #GP. */
		uint64_t val = 0;
		int r = kvm_vmi_msr(v, false, run->msr.index, &val);
		if (r > 0)
			r = lapic_msr_is_ours(run->msr.index) ?
				lapic_msr_read(v, run->msr.index, &val) : -1;
		run->msr.error = r != 0;
		run->msr.data = val;
		e->kind = EXIT_MSR;
		break;
	}
	case KVM_EXIT_X86_WRMSR: {
		uint64_t val = run->msr.data;
		int r = kvm_vmi_msr(v, true, run->msr.index, &val);
		if (r > 0)
			r = lapic_msr_is_ours(run->msr.index) ?
				lapic_msr_write(v, run->msr.index, val) : -1;
		run->msr.error = r != 0;
		e->kind = EXIT_MSR;
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = EXIT_FAIL_ENTRY;
		e->fail.code = run->fail_entry.hardware_entry_failure_reason;
		snprintf(e->fail.why, sizeof(e->fail.why),
			 "hardware refused VM entry (invalid guest state)");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = EXIT_INTERNAL;
		e->fail.code = run->internal.suberror;
		snprintf(e->fail.why, sizeof(e->fail.why), "KVM internal error%s",
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			 " (instruction emulation failed)" : "");
		break;
	default:
		e->kind = EXIT_OTHER;
		e->fail.code = run->exit_reason;
		snprintf(e->fail.why, sizeof(e->fail.why), "unexpected KVM exit reason %u",
			 run->exit_reason);
		break;
	}
	return 0;
}

static int kvm_inject(struct vcpu *v, const struct vcpu_event *ev)
{
	struct kvm_vcpu *c = v->priv;
	if (ev->kind == EVENT_EXTINT) {
		struct kvm_interrupt irq = { .irq = ev->vector };
		if (ioctl(c->fd, KVM_INTERRUPT, &irq) < 0)
			return err_set("KVM_INTERRUPT failed: %s", strerror(errno));
		return 0;
	}
	struct kvm_vcpu_events evs;
	if (ioctl(c->fd, KVM_GET_VCPU_EVENTS, &evs) < 0)
		return err_set("KVM_GET_VCPU_EVENTS failed: %s", strerror(errno));
	if (ev->kind == EVENT_NMI) {
		evs.nmi.pending = 1;
		evs.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	} else {
		evs.exception.injected = 1;
		evs.exception.nr = ev->vector;
		evs.exception.has_error_code = ev->has_error;
		evs.exception.error_code = ev->error;
		evs.flags = 0;
	}
	if (ioctl(c->fd, KVM_SET_VCPU_EVENTS, &evs) < 0)
		return err_set("KVM_SET_VCPU_EVENTS failed: %s", strerror(errno));
	return 0;
}

static bool kvm_irq_window(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	return c->run->ready_for_interrupt_injection && (c->run->if_flag);
}

static void kvm_want_irq_window(struct vcpu *v, bool on)
{
	struct kvm_vcpu *c = v->priv;
	c->run->request_interrupt_window = on;
}

static void kvm_kick(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	if (!c)
		return;
	c->run->immediate_exit = 1;
	if (c->thread_known)
		pthread_kill(c->thread, SIGUSR1);
}

const struct engine_ops engine_kvm = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.get_state = kvm_get_state,
	.set_state = kvm_set_state,
	.inject = kvm_inject,
	.irq_window = kvm_irq_window,
	.want_irq_window = kvm_want_irq_window,
	.kick = kvm_kick,
};
