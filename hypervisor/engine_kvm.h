/* Private to the KVM engine (engine_kvm.c, engine_kvm_vmi.c). */
#ifndef VMLITE_ENGINE_KVM_H
#define VMLITE_ENGINE_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "engine.h"
#include "vmi/vmi_host.h"

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	int run_size;
	struct kvm_cpuid2 *cpuid;
	bool sync_regs;                 /* KVM_CAP_SYNC_REGS has REGS and SREGS */
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_known;
	/* Register view for VMI calls, valid from the exit to the next KVM_RUN
	 * (engine_kvm_vmi.c): regs is run->s.regs.regs with sync regs, else
	 * regs_copy; NULL when not fetched yet. */
	struct kvm_regs *regs;
	struct kvm_regs regs_copy;
	bool regs_dirty;
	struct kvm_sregs sregs;
	bool sregs_valid;
	bool out_pending;               /* the trapping OUT is not complete yet */
	bool hcall_pending;             /* apply hcall_ret/outcome before running */
	uint64_t hcall_ret[2];
	int hcall_outcome;
};

extern const struct vmi_ops kvm_vmi_ops;

/* CPUID: the VMI leaves at the configured base; KVM's own leaves move up. */
int kvm_vmi_cpuid(struct vm *vm, struct kvm_cpuid2 **cpuid);
/* KVM_EXIT_IO on VMI_PIO_PORT: completes the OUT and fills an EXIT_HYPERCALL. */
int kvm_vmi_trap(struct vcpu *v, struct vcpu_exit *e);
/* Before KVM_RUN: writes back the call's result and any register change. */
int kvm_vmi_finish(struct vcpu *v);
/* RDMSR/WRMSR exits: VMI MSRs; 0 handled, -1 #GP, 1 not a VMI MSR. */
int kvm_vmi_msr(struct vcpu *v, bool write, uint32_t msr, uint64_t *val);

#endif
