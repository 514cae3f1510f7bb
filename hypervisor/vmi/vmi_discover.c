/* CPUID leaves and MSRs through which a guest finds and installs the ABI
 * (SPEC.md 3-4). Every refusal is a #GP, which a guest's wrmsr_safe turns
 * into a clean "run native". */
#include <string.h>

#include "vmi_internal.h"

bool vmi_cpuid(const struct vmi_host *h, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	(void)subleaf;
	uint32_t base = h->cfg.cpuid_base;
	if (!h->cfg.enabled || leaf < base || leaf >= base + VMI_CPUID_LEAVES)
		return false;
	uint64_t f = VMI_F_ALL_V1_0;
	switch (leaf - base) {
	case 0:
		out[0] = base + VMI_CPUID_LEAVES - 1;
		out[1] = VMI_CPUID_SIG_EBX;
		out[2] = VMI_CPUID_SIG_ECX;
		out[3] = VMI_CPUID_SIG_EDX;
		break;
	case 1:
		out[0] = h->cfg.version;
		out[1] = (uint32_t)f;
		out[2] = (uint32_t)(f >> 32);
		out[3] = h->cfg.backend;
		break;
	default:
		out[0] = 1;     /* ABI page size in 4 KiB pages */
		out[1] = VMI_MSR_VERSION;
		out[2] = VMI_MSR_PAGE;
		out[3] = VMI_MSR_VCPU_PAGE;
		break;
	}
	return true;
}

/* A page-address MSR value: bit 0 enables, bits 11:1 are reserved, the
 * rest is a page-aligned GPA that must lie wholly in RAM. */
static bool page_value_ok(struct vmi_ctx *ctx, uint64_t val)
{
	return !(val & 0xffeull) && vmi_ram(ctx, val & ~0xfffull, VMI_PAGE_SIZE);
}

int vmi_msr_read(struct vmi_ctx *ctx, uint32_t msr, uint64_t *val)
{
	struct vmi_host *h = ctx->host;
	if (!h->cfg.enabled)
		return VMI_MSR_UNHANDLED;
	switch (msr) {
	case VMI_MSR_VERSION:
		*val = h->cfg.version;
		return VMI_MSR_HANDLED;
	case VMI_MSR_PAGE:
		pthread_mutex_lock(&h->lock);
		*val = h->page_msr;
		pthread_mutex_unlock(&h->lock);
		return VMI_MSR_HANDLED;
	case VMI_MSR_VCPU_PAGE:
		*val = ctx->vcpu_page_msr;
		return VMI_MSR_HANDLED;
	}
	return VMI_MSR_UNHANDLED;
}

static int write_version(struct vmi_host *h, uint64_t val)
{
	uint32_t off = h->cfg.version;
	if ((val >> 32) || VMI_VERSION_MAJ(val) != VMI_VERSION_MAJ(off) ||
	    VMI_VERSION_MIN(val) > VMI_VERSION_MIN(off))
		return VMI_TRAP_GP;
	pthread_mutex_lock(&h->lock);
	h->accepted = (uint32_t)val;
	pthread_mutex_unlock(&h->lock);
	return VMI_MSR_HANDLED;
}

static int write_page(struct vmi_ctx *ctx, uint64_t val)
{
	struct vmi_host *h = ctx->host;
	uint8_t page[VMI_PAGE_SIZE];
	int r = VMI_MSR_HANDLED;

	pthread_mutex_lock(&h->lock);
	if (val == 0) {
		__atomic_store_n(&h->page_installed, false, __ATOMIC_RELEASE);
		h->page_msr = 0;
	} else if (!h->accepted || !(val & VMI_MSR_ENABLE) || !page_value_ok(ctx, val) ||
		   vmi_page_build(page, sizeof(page), h->cfg.version, h->cfg.backend,
				  h->cfg.backend == VMI_BACKEND_BT ? VMI_TRANSPORT_VMCALL
								   : VMI_TRANSPORT_PIO,
				  h->cfg.all_calls) < 0 ||
		   ctx->ops->write(ctx->opaque, val & ~0xfffull, page, sizeof(page))) {
		r = VMI_TRAP_GP;
	} else {
		h->page_msr = val;
		__atomic_store_n(&h->page_installed, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

static int write_vcpu_page(struct vmi_ctx *ctx, uint64_t val)
{
	if (val == 0) {
		ctx->vcpu_page_on = false;
		ctx->vcpu_page_msr = 0;
		if (ctx->ops->vcpu_page_set)
			ctx->ops->vcpu_page_set(ctx->opaque, 0);
		return VMI_MSR_HANDLED;
	}
	if (!__atomic_load_n(&ctx->host->page_installed, __ATOMIC_ACQUIRE) ||
	    !(val & VMI_MSR_ENABLE) || !page_value_ok(ctx, val))
		return VMI_TRAP_GP;
	/* Start from a defined state: everything zero, the virtual IF taken
	 * from the real one so registering never changes interruptibility. */
	struct vmi_vcpu_page p;
	memset(&p, 0, sizeof(p));
	p.irq_enabled = ctx->ops->get_if(ctx->opaque);
	uint64_t cr2 = 0;
	if (ctx->ops->get_cr(ctx->opaque, 2, &cr2) == 0)
		p.cr2 = cr2;
	if (ctx->ops->write(ctx->opaque, val & ~0xfffull, &p, sizeof(p)))
		return VMI_TRAP_GP;
	ctx->vcpu_page = val & ~0xfffull;
	ctx->vcpu_page_msr = val;
	ctx->vcpu_page_on = true;
	if (ctx->ops->vcpu_page_set)
		ctx->ops->vcpu_page_set(ctx->opaque, ctx->vcpu_page);
	return VMI_MSR_HANDLED;
}

int vmi_msr_write(struct vmi_ctx *ctx, uint32_t msr, uint64_t val)
{
	if (!ctx->host->cfg.enabled)
		return VMI_MSR_UNHANDLED;
	switch (msr) {
	case VMI_MSR_VERSION:
		return write_version(ctx->host, val);
	case VMI_MSR_PAGE:
		return write_page(ctx, val);
	case VMI_MSR_VCPU_PAGE:
		return write_vcpu_page(ctx, val);
	}
	return VMI_MSR_UNHANDLED;
}
