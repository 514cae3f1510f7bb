/* Host-side writers of the per-vCPU page for engines: clock and CR2. */
#include <string.h>

#include "vmi_internal.h"

int vmi_pvclock_update(struct vmi_ctx *ctx, const struct vmi_pvclock *src)
{
	if (!ctx->vcpu_page_on)
		return -1;
	uint64_t at = ctx->vcpu_page + VMI_VCPU_OFF_CLOCK;
	uint32_t ver = 0;
	struct vmi_pvclock c = *src;
	/* pvclock seqlock: odd while writing, then a new even value. The guest
	 * may have scribbled on version; force the parity we need. */
	if (ctx->ops->read(ctx->opaque, at, &ver, 4))
		return -1;
	ver |= 1;
	if (ctx->ops->write(ctx->opaque, at, &ver, 4))
		return -1;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	c.version = ver;
	if (ctx->ops->write(ctx->opaque, at + 4, (uint8_t *)&c + 4, sizeof(c) - 4))
		return -1;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ver++;
	return ctx->ops->write(ctx->opaque, at, &ver, 4);
}

int vmi_set_cr2(struct vmi_ctx *ctx, uint64_t cr2)
{
	if (!ctx->vcpu_page_on)
		return -1;
	return ctx->ops->write(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_CR2, &cr2, 8);
}
