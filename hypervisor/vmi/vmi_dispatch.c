/* The single entry point for calls trapped from call stubs. Order of checks
 * is normative (SPEC.md 6.4): page installed, CPL 0, call number, then the
 * call's own argument checks. Nothing here can stop the VM. */
#include "vmi_internal.h"

int64_t vmi_run_call(struct vmi_ctx *ctx, const struct vmi_call_spec *s,
		     uint64_t call, const uint64_t *a, uint64_t *rdx)
{
	int64_t r = s->fn(ctx, a, rdx);
	ctx->stats.calls[call]++;
	if (VMI_IS_ERROR(r))
		ctx->stats.errors[call]++;
	return r;
}

int vmi_dispatch(struct vmi_ctx *ctx, uint64_t call, const uint64_t args[6], uint64_t ret[2])
{
	/* Without an installed page there is no ABI: behave like VMCALL on a
	 * CPU with no hypervisor support. Same for user mode, as KVM does. */
	if (!ctx->host->cfg.enabled || !__atomic_load_n(&ctx->host->page_installed,
							 __ATOMIC_ACQUIRE) ||
	    ctx->ops->get_cpl(ctx->opaque) != 0) {
		ctx->stats.traps++;
		return VMI_TRAP_UD;
	}
	ret[1] = args[2];
	const struct vmi_call_spec *s = vmi_spec(ctx, call);
	if (!s) {
		ctx->stats.unknown++;
		ret[0] = (uint64_t)VMI_ENOSYS;
		return VMI_DONE;
	}
	if ((s->flags & VMI_SPEC_DRAINS) && ctx->vcpu_page_on) {
		uint64_t done;
		int64_t r = vmi_queue_drain(ctx, &done);
		if (VMI_IS_ERROR(r)) {
			/* The queued work failed; the caller must not run on top
			 * of a half-applied queue. Entry results say what failed. */
			ctx->stats.errors[call]++;
			ret[0] = (uint64_t)VMI_ECANCELED;
			return VMI_DONE;
		}
	}
	uint64_t a[6] = { args[0], args[1], args[2], args[3], args[4], args[5] };
	ret[0] = (uint64_t)vmi_run_call(ctx, s, call, a, &ret[1]);
	return VMI_DONE;
}
