/* Interrupt-flag calls. On a BT backend with a registered per-vCPU page the
 * page's irq_enabled byte is the virtual IF (so inline SHARED sites and
 * these calls agree); otherwise the calls act on RFLAGS.IF. */
#include "vmi_internal.h"

#define RFLAGS_IF 0x200ull

static bool use_page(struct vmi_ctx *ctx)
{
	return ctx->host->cfg.backend == VMI_BACKEND_BT && ctx->vcpu_page_on &&
	       vmi_calls[VMI_CALL_IRQ_DISABLE].kind_bt == VMI_KIND_SHARED;
}

bool vmi_irq_enabled(struct vmi_ctx *ctx)
{
	if (use_page(ctx)) {
		uint8_t b = 0;
		if (ctx->ops->read(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_IRQ_ENABLED, &b, 1))
			return false;
		return b != 0;
	}
	return ctx->ops->get_if(ctx->opaque);
}

static void irq_set(struct vmi_ctx *ctx, bool on)
{
	if (use_page(ctx)) {
		uint8_t b = on;
		ctx->ops->write(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_IRQ_ENABLED, &b, 1);
	} else {
		ctx->ops->set_if(ctx->opaque, on);
	}
}

static void irq_window(struct vmi_ctx *ctx)
{
	if (ctx->ops->irq_window)
		ctx->ops->irq_window(ctx->opaque);
}

int vmi_set_irq_pending(struct vmi_ctx *ctx, bool pending)
{
	if (!ctx->vcpu_page_on)
		return -1;
	uint8_t b = pending;
	return ctx->ops->write(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_IRQ_PENDING, &b, 1);
}

int64_t vmi_h_irq_save_fl(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	return vmi_irq_enabled(ctx) ? (int64_t)RFLAGS_IF : 0;
}

int64_t vmi_h_irq_restore_fl(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	bool was = vmi_irq_enabled(ctx), on = (a[0] & RFLAGS_IF) != 0;
	irq_set(ctx, on);
	if (on && !was)
		irq_window(ctx);
	return VMI_OK;
}

int64_t vmi_h_irq_disable(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	irq_set(ctx, false);
	return VMI_OK;
}

int64_t vmi_h_irq_enable(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	irq_set(ctx, true);
	/* Always, even if IF was already 1: a SHARED guest stores
	 * irq_enabled=1 inline and calls us only because irq_pending was set. */
	irq_window(ctx);
	return VMI_OK;
}

int64_t vmi_h_safe_halt(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	irq_set(ctx, true);
	ctx->ops->halt(ctx->opaque);
	return VMI_OK;
}

int64_t vmi_h_halt(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	ctx->ops->halt(ctx->opaque);
	return VMI_OK;
}
