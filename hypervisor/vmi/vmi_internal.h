/* Shared between the dispatcher's files; engines use vmi_host.h only. */
#ifndef VMLITE_VMI_INTERNAL_H
#define VMLITE_VMI_INTERNAL_H

#include "vmi_host.h"

/* A handler returns the RAX value (a result or a VMI_E* code) and may set
 * *rdx for calls flagged VMI_DF_RDX_RESULT. a[] holds 6 arguments. */
typedef int64_t (*vmi_handler)(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx);

#define VMI_SPEC_DRAINS 0x80u   /* host drains the lazy queue before running it */

struct vmi_call_spec {
	const char *name;
	vmi_handler fn;
	uint8_t group;          /* VMI_F_* bit number */
	uint8_t flags;          /* VMI_DF_* | VMI_SPEC_DRAINS */
	uint8_t since_minor;    /* first minor of major 1 that has it */
	uint8_t kind_hw;        /* enum vmi_kind on a hardware backend */
	uint8_t kind_bt;        /* enum vmi_kind on a BT backend */
	uint16_t aux_bt;        /* per-vCPU page offset when kind_bt is SHARED */
};

/* Indexed by call number; entries with fn == NULL do not exist. */
extern const struct vmi_call_spec vmi_calls[VMI_NCALLS_MAX];
/* The kind the ABI page publishes for call nr (vmi_calls.c). */
unsigned vmi_call_kind(unsigned nr, enum vmi_backend backend, bool all_calls);
/* Number of calls the given offered minor has (calls are append-only). */
unsigned vmi_ncalls_for(uint32_t version);
const struct vmi_call_spec *vmi_spec(const struct vmi_ctx *ctx, uint64_t call);

/* Handlers, one file per group. */
int64_t vmi_h_version(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_irq_save_fl(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_irq_restore_fl(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_irq_disable(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_irq_enable(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_safe_halt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_halt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_read_cr0(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_read_cr2(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_read_cr3(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_read_cr4(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_cr0(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_cr2(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_cr3(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_cr4(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_rdmsr(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_wrmsr(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_gdt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_idt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_ldt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_tr(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_gdt_entry(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_ldt_entry(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_write_idt_entry(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_sp0(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_load_tls(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_nop(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_set_pxe(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_alloc_pt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_release_pt(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_flush_one(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_flush_user(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_flush_all(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_flush_others(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_batch_flush(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_alarm_set(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_wallclock(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_console_write(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_shutdown(struct vmi_ctx *, const uint64_t *, uint64_t *);
int64_t vmi_h_reboot(struct vmi_ctx *, const uint64_t *, uint64_t *);

/* Runs one call after the dispatcher's checks (also used by the queue). */
int64_t vmi_run_call(struct vmi_ctx *ctx, const struct vmi_call_spec *s,
		     uint64_t call, const uint64_t *a, uint64_t *rdx);
/* Executes the lazy queue; sets *done to the entries that succeeded. */
int64_t vmi_queue_drain(struct vmi_ctx *ctx, uint64_t *done);

/* Validation helpers (vmi_check.c). */
bool vmi_canonical(struct vmi_ctx *ctx, uint64_t va);
bool vmi_ram(struct vmi_ctx *ctx, uint64_t gpa, uint64_t len);
bool vmi_la57(struct vmi_ctx *ctx);

#endif
