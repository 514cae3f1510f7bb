/* The lazy-mode queue in the per-vCPU page (SPEC.md 8). The guest owns the
 * page and may change it concurrently from another vCPU, so the count is
 * read once and the entries are copied before anything runs. */
#include <string.h>

#include "vmi_internal.h"

static void put_u32(struct vmi_ctx *ctx, uint64_t off, uint32_t v)
{
	ctx->ops->write(ctx->opaque, ctx->vcpu_page + off, &v, 4);
}

int64_t vmi_queue_drain(struct vmi_ctx *ctx, uint64_t *done)
{
	struct vmi_queue_entry q[VMI_QUEUE_MAX];
	uint64_t base = ctx->vcpu_page;
	uint32_t n = 0, i;
	int64_t err = VMI_OK;

	*done = 0;
	if (ctx->ops->read(ctx->opaque, base + VMI_VCPU_OFF_QUEUE_COUNT, &n, 4))
		return VMI_EFAULT;
	if (n == 0)
		return VMI_OK;
	if (n > VMI_QUEUE_MAX) {
		/* Nothing runs; the queue is discarded so the guest is not stuck. */
		put_u32(ctx, VMI_VCPU_OFF_QUEUE_COUNT, 0);
		put_u32(ctx, VMI_VCPU_OFF_QUEUE_DONE, 0);
		return VMI_E2BIG;
	}
	if (ctx->ops->read(ctx->opaque, base + VMI_VCPU_OFF_QUEUE, q, (uint64_t)n * sizeof(q[0])))
		return VMI_EFAULT;
	for (i = 0; i < n; i++) {
		const struct vmi_call_spec *s = vmi_spec(ctx, q[i].call);
		uint64_t a[6] = { q[i].args[0], q[i].args[1], q[i].args[2], q[i].args[3], 0, 0 };
		uint64_t rdx = a[2];
		if (!s || !(s->flags & VMI_DF_BATCHABLE))
			q[i].result = VMI_EINVAL;
		else
			q[i].result = vmi_run_call(ctx, s, q[i].call, a, &rdx);
		if (VMI_IS_ERROR(q[i].result)) {
			err = q[i].result;
			break;
		}
		ctx->stats.batched++;
	}
	*done = i;
	for (uint32_t j = i + (err != VMI_OK); j < n; j++)
		q[j].result = VMI_ECANCELED;
	for (uint32_t j = 0; j < n; j++)
		ctx->ops->write(ctx->opaque, base + VMI_VCPU_OFF_QUEUE +
				(uint64_t)j * sizeof(q[0]) + offsetof(struct vmi_queue_entry, result),
				&q[j].result, 8);
	put_u32(ctx, VMI_VCPU_OFF_QUEUE_DONE, i);
	put_u32(ctx, VMI_VCPU_OFF_QUEUE_COUNT, 0);
	return err;
}

int64_t vmi_h_batch_flush(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a;
	if (!ctx->vcpu_page_on)
		return VMI_ENODEV;
	return vmi_queue_drain(ctx, rdx);
}
