/* The hypervisor side of the VMI ABI (vmi-abi/SPEC.md), engine-independent.
 *
 * An engine embeds one struct vmi_host per VM and one struct vmi_ctx per
 * vCPU, and implements struct vmi_ops against its own vCPU. It then calls:
 *   vmi_cpuid()      for CPUID leaves 0x40000000.. (false: not ours),
 *   vmi_msr_read/_write() for RDMSR/WRMSR (VMI_MSR_UNHANDLED: not ours),
 *   vmi_dispatch()   when the guest traps through a call stub:
 *                    BT:  VMCALL (0f 01 c1) in translated code,
 *                    KVM: KVM_EXIT_IO, port VMI_PIO_PORT, 4-byte OUT,
 *                         data = call number; args from the GPRs.
 * Nothing here knows engine internals, so the same code serves both. */
#ifndef VMLITE_VMI_HOST_H
#define VMLITE_VMI_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmi.h"

#define VMI_NCALLS_MAX 64       /* room for later minors; table size bound */

enum vmi_dt { VMI_DT_GDT, VMI_DT_IDT };
enum vmi_sel { VMI_SEL_LDT, VMI_SEL_TR };
enum vmi_table { VMI_TABLE_GDT, VMI_TABLE_LDT, VMI_TABLE_IDT };
enum vmi_flush { VMI_FLUSH_ONE, VMI_FLUSH_USER, VMI_FLUSH_ALL };
enum vmi_power { VMI_POWER_OFF, VMI_POWER_REBOOT };

/* What the dispatcher needs from an engine. opaque is vmi_ctx.opaque.
 * Functions returning int return 0, or -1 to refuse (mapped to a VMI error,
 * never a VM stop). Entries marked optional may be NULL. */
struct vmi_ops {
	bool (*in_ram)(void *opaque, uint64_t gpa, uint64_t len);
	int (*read)(void *opaque, uint64_t gpa, void *buf, uint64_t len);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, uint64_t len);
	int (*get_cpl)(void *opaque);
	bool (*get_if)(void *opaque);           /* RFLAGS.IF */
	void (*set_if)(void *opaque, bool on);
	int (*get_cr)(void *opaque, int cr, uint64_t *val);
	int (*set_cr)(void *opaque, int cr, uint64_t val);
	int (*get_msr)(void *opaque, uint32_t msr, uint64_t *val);
	int (*set_msr)(void *opaque, uint32_t msr, uint64_t val);
	int (*load_dt)(void *opaque, enum vmi_dt dt, uint64_t base, uint16_t limit);
	int (*load_sel)(void *opaque, enum vmi_sel which, uint16_t sel);
	void (*set_sp0)(void *opaque, uint64_t sp0);
	void (*flush_tlb)(void *opaque, enum vmi_flush kind, uint64_t va);
	/* Blocks (or arranges to block) until an interrupt is deliverable. */
	void (*halt)(void *opaque);
	/* Interrupts became enabled: deliver anything pending. Optional. */
	void (*irq_window)(void *opaque);
	void (*power)(void *opaque, enum vmi_power how);
	/* Optional: a per-vCPU page was registered at gpa (0: unregistered); the
	 * engine fills the clock with vmi_pvclock_update() before the guest
	 * runs again (SPEC.md 4.3). */
	void (*vcpu_page_set)(void *opaque, uint64_t gpa);
	/* Optional: notifications for shadowing engines. */
	void (*desc_written)(void *opaque, enum vmi_table t, uint64_t gpa, unsigned len);
	void (*pt_written)(void *opaque, unsigned level, uint64_t gpa, uint64_t val);
	int (*pt_pin)(void *opaque, unsigned level, uint64_t gpa, bool pin);
	/* Optional services; NULL makes the call return VMI_EOPNOTSUPP. */
	int (*flush_tlb_others)(void *opaque, const uint64_t *mask, unsigned nwords,
				uint64_t start, uint64_t end);
	int (*set_alarm)(void *opaque, unsigned mode, uint64_t deadline_ns,
			 uint64_t period_ns, uint8_t vector);
	int (*wallclock)(void *opaque, uint64_t *ns);
	void (*console_write)(void *opaque, const uint8_t *buf, uint32_t len);
};

/* Parsed from --vmi-version MAJ.MIN / --vmi off. */
struct vmi_config {
	bool enabled;
	uint32_t version;               /* VMI_VERSION(maj, min) offered */
	enum vmi_backend backend;
	bool all_calls;                 /* --vmi-kinds calls (vmi_call_kind) */
	uint32_t cpuid_base;            /* 0x40000000 unless another vendor is first */
};

/* VM-wide state: the offered version and the ABI page. */
struct vmi_host {
	struct vmi_config cfg;
	unsigned ncalls;                /* calls in the offered version */
	pthread_mutex_t lock;           /* MSR_VERSION / MSR_PAGE writes */
	uint32_t accepted;              /* version the guest asked for; 0 = none */
	uint64_t page_msr;              /* last value written to MSR_PAGE */
	bool page_installed;
};

struct vmi_stats {
	uint64_t calls[VMI_NCALLS_MAX];
	uint64_t errors[VMI_NCALLS_MAX];
	uint64_t unknown;               /* call numbers beyond the offered table */
	uint64_t traps;                 /* #UD raised (no page, CPL>0) */
	uint64_t batched;               /* queue entries executed */
};

/* Per-vCPU state. Used only from that vCPU's thread. */
struct vmi_ctx {
	struct vmi_host *host;
	const struct vmi_ops *ops;
	void *opaque;                   /* the engine's vCPU */
	uint64_t vcpu_page_msr;         /* last value written to MSR_VCPU_PAGE */
	uint64_t vcpu_page;             /* its GPA, valid if vcpu_page_on */
	bool vcpu_page_on;
	struct vmi_stats stats;
};

/* Outcomes of vmi_dispatch(). */
#define VMI_DONE        0   /* write ret[0] to RAX and ret[1] to RDX, resume after the stub's trap */
#define VMI_TRAP_UD     6   /* inject #UD at the trapping instruction, change no register */
/* Outcomes of vmi_msr_read/_write(). */
#define VMI_MSR_HANDLED   0
#define VMI_MSR_UNHANDLED 1 /* not a VMI MSR or VMI off: the engine's usual path */
#define VMI_TRAP_GP       13

/* ---- setup ---- */
void vmi_config_default(struct vmi_config *c);
/* "MAJ.MIN" (host must support it) or "off". -1 + err_set on bad input. */
int vmi_config_parse_version(struct vmi_config *c, const char *s);
int vmi_host_init(struct vmi_host *h, const struct vmi_config *c);
void vmi_host_destroy(struct vmi_host *h);
void vmi_ctx_init(struct vmi_ctx *ctx, struct vmi_host *h, const struct vmi_ops *ops,
		  void *opaque);
/* True if this host can offer version v (major 1, minor <= VMI_VERSION_MINOR). */
bool vmi_version_supported(uint32_t v);

/* ---- discovery ---- */
bool vmi_cpuid(const struct vmi_host *h, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
int vmi_msr_read(struct vmi_ctx *ctx, uint32_t msr, uint64_t *val);
int vmi_msr_write(struct vmi_ctx *ctx, uint32_t msr, uint64_t val);

/* ---- the ABI page ---- */
/* Writes the page for the offered version into buf (len >= VMI_PAGE_SIZE).
 * Returns the page size in bytes or -1 + err_set. */
int vmi_page_build(uint8_t *buf, size_t len, uint32_t version,
		   enum vmi_backend backend, enum vmi_transport transport, bool all_calls);

/* ---- calls ---- */
/* args: RDI, RSI, RDX, R10, R8, R9. ret[0] -> RAX, ret[1] -> RDX
 * (ret[1] is args[2] unless the call returns a second result). */
int vmi_dispatch(struct vmi_ctx *ctx, uint64_t call, const uint64_t args[6], uint64_t ret[2]);
const char *vmi_call_name(uint64_t call);

/* ---- helpers for engines ---- */
/* Virtual IF as the ABI defines it for this vCPU (page byte on BT with a
 * registered per-vCPU page, else RFLAGS.IF). */
bool vmi_irq_enabled(struct vmi_ctx *ctx);
/* Host side of irq_pending; -1 if there is no per-vCPU page. */
int vmi_set_irq_pending(struct vmi_ctx *ctx, bool pending);
/* Seqlocked update of the pvclock in the per-vCPU page. */
int vmi_pvclock_update(struct vmi_ctx *ctx, const struct vmi_pvclock *src);
/* Stores CR2 into the per-vCPU page before a #PF is delivered. */
int vmi_set_cr2(struct vmi_ctx *ctx, uint64_t cr2);

void vmi_stats_add(struct vmi_stats *total, const struct vmi_stats *s);
void vmi_stats_print(const struct vmi_stats *s, FILE *out);

#endif
