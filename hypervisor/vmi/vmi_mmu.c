/* Page-table and TLB calls. Page-table entries are written by the host into
 * guest memory (so a shadowing engine sees every update) and then reported
 * through pt_written; frames they point at are not checked, exactly as a
 * native store would not be. */
#include "vmi_internal.h"

static bool level_ok(struct vmi_ctx *ctx, uint64_t level)
{
	if (level >= VMI_PT_LEVEL_PTE && level <= VMI_PT_LEVEL_P4D)
		return true;
	return level == VMI_PT_LEVEL_PGD && vmi_la57(ctx);
}

/* a: level, entry GPA, value. */
int64_t vmi_h_set_pxe(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (!level_ok(ctx, a[0]) || (a[1] & 7))
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[1], 8) || ctx->ops->write(ctx->opaque, a[1], &a[2], 8))
		return VMI_EFAULT;
	if (ctx->ops->pt_written)
		ctx->ops->pt_written(ctx->opaque, (unsigned)a[0], a[1], a[2]);
	return VMI_OK;
}

static int64_t pin(struct vmi_ctx *ctx, const uint64_t *a, bool on)
{
	if (!level_ok(ctx, a[0]) || (a[1] & 0xfff))
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[1], 4096))
		return VMI_EFAULT;
	if (ctx->ops->pt_pin && ctx->ops->pt_pin(ctx->opaque, (unsigned)a[0], a[1], on))
		return VMI_EINVAL;
	return VMI_OK;
}

int64_t vmi_h_alloc_pt(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return pin(c, a, true); }
int64_t vmi_h_release_pt(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return pin(c, a, false); }

int64_t vmi_h_flush_one(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (!vmi_canonical(ctx, a[0]))
		return VMI_EINVAL;
	ctx->ops->flush_tlb(ctx->opaque, VMI_FLUSH_ONE, a[0]);
	return VMI_OK;
}

int64_t vmi_h_flush_user(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	ctx->ops->flush_tlb(ctx->opaque, VMI_FLUSH_USER, 0);
	return VMI_OK;
}

int64_t vmi_h_flush_all(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	ctx->ops->flush_tlb(ctx->opaque, VMI_FLUSH_ALL, 0);
	return VMI_OK;
}

/* a: cpumask GPA, mask words (u64), start VA, end VA (exclusive). */
int64_t vmi_h_flush_others(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	uint64_t mask[VMI_CPUMASK_MAX_WORDS];
	if (a[1] < 1 || a[1] > VMI_CPUMASK_MAX_WORDS || (a[0] & 7) || a[2] > a[3])
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[0], a[1] * 8) || ctx->ops->read(ctx->opaque, a[0], mask, a[1] * 8))
		return VMI_EFAULT;
	if (!ctx->ops->flush_tlb_others)
		return VMI_EOPNOTSUPP;
	return ctx->ops->flush_tlb_others(ctx->opaque, mask, (unsigned)a[1], a[2], a[3])
		? VMI_EINVAL : VMI_OK;
}
