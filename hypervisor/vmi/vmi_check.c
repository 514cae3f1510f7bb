/* Argument validation shared by the handlers. */
#include "vmi_internal.h"

#define CR4_LA57 (1ull << 12)

bool vmi_la57(struct vmi_ctx *ctx)
{
	uint64_t cr4 = 0;
	return ctx->ops->get_cr(ctx->opaque, 4, &cr4) == 0 && (cr4 & CR4_LA57);
}

bool vmi_canonical(struct vmi_ctx *ctx, uint64_t va)
{
	unsigned bits = vmi_la57(ctx) ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
}

bool vmi_ram(struct vmi_ctx *ctx, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return false;
	return ctx->ops->in_ram(ctx->opaque, gpa, len);
}
