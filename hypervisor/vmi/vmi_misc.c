/* Time, console and power calls. */
#include "vmi_internal.h"

/* a: mode, deadline (pvclock ns), period (ns), vector. */
int64_t vmi_h_alarm_set(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (a[0] > VMI_ALARM_PERIODIC)
		return VMI_EINVAL;
	if (a[0] != VMI_ALARM_OFF && (a[3] < 32 || a[3] > 255))
		return VMI_EINVAL;
	/* A tiny period would let the guest flood the host with interrupts. */
	if (a[0] == VMI_ALARM_PERIODIC && a[2] < VMI_ALARM_MIN_PERIOD_NS)
		return VMI_EINVAL;
	if (!ctx->ops->set_alarm)
		return VMI_EOPNOTSUPP;
	return ctx->ops->set_alarm(ctx->opaque, (unsigned)a[0], a[1], a[2], (uint8_t)a[3])
		? VMI_EINVAL : VMI_OK;
}

int64_t vmi_h_wallclock(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a;
	if (!ctx->ops->wallclock)
		return VMI_EOPNOTSUPP;
	return ctx->ops->wallclock(ctx->opaque, rdx) ? VMI_EOPNOTSUPP : VMI_OK;
}

/* a: buffer GPA, length. Returns the bytes written (all of them). */
int64_t vmi_h_console_write(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	uint8_t buf[VMI_CONSOLE_MAX];
	if (a[1] > VMI_CONSOLE_MAX)
		return VMI_E2BIG;
	if (a[1] == 0)
		return 0;
	if (!vmi_ram(ctx, a[0], a[1]) || ctx->ops->read(ctx->opaque, a[0], buf, a[1]))
		return VMI_EFAULT;
	if (!ctx->ops->console_write)
		return VMI_EOPNOTSUPP;
	ctx->ops->console_write(ctx->opaque, buf, (uint32_t)a[1]);
	return (int64_t)a[1];
}

int64_t vmi_h_shutdown(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	ctx->ops->power(ctx->opaque, VMI_POWER_OFF);
	return VMI_OK;
}

int64_t vmi_h_reboot(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a; (void)rdx;
	ctx->ops->power(ctx->opaque, VMI_POWER_REBOOT);
	return VMI_OK;
}
