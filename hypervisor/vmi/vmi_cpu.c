/* CPU-state calls: control registers, MSRs, descriptor tables, TSS.sp0, TLS.
 * Each check mirrors what the native instruction would #GP on, so a call
 * never puts the vCPU in a state native code could not reach. */
#include "vmi_internal.h"

#define CR0_PE (1ull << 0)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_VMXE (1ull << 13)
#define CR4_SMXE (1ull << 14)
/* Bits 0-14 and 16-24 are defined; 15 and 25+ are reserved. */
#define CR4_DEFINED 0x1ff7fffull
/* CR3: bit 63 (no-flush with PCIDE) and 51:0 may be set. */
#define CR3_RESERVED 0x7ff0000000000000ull
#define CR3_ADDR 0x000ffffffffff000ull

static int64_t read_cr(struct vmi_ctx *ctx, int cr)
{
	uint64_t v = 0;
	if (cr == 2 && ctx->host->cfg.backend == VMI_BACKEND_BT && ctx->vcpu_page_on) {
		/* The page is what SHARED sites read; keep the call coherent. */
		if (ctx->ops->read(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_CR2, &v, 8))
			return VMI_EFAULT;
		return (int64_t)v;
	}
	if (ctx->ops->get_cr(ctx->opaque, cr, &v))
		return VMI_EOPNOTSUPP;
	return (int64_t)v;
}

/* Note: CR values are results, not statuses; a CR2 in [-4095,-1] is
 * indistinguishable from an error, which the spec accepts (SPEC.md 6.2). */
int64_t vmi_h_read_cr0(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)a; (void)d; return read_cr(c, 0); }
int64_t vmi_h_read_cr2(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)a; (void)d; return read_cr(c, 2); }
int64_t vmi_h_read_cr3(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)a; (void)d; return read_cr(c, 3); }
int64_t vmi_h_read_cr4(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)a; (void)d; return read_cr(c, 4); }

static int64_t set_cr(struct vmi_ctx *ctx, int cr, uint64_t v)
{
	return ctx->ops->set_cr(ctx->opaque, cr, v) ? VMI_EINVAL : VMI_OK;
}

int64_t vmi_h_write_cr0(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	uint64_t v = a[0];
	/* Leaving paging or protected mode from long mode is not possible. */
	if ((v >> 32) || !(v & CR0_PE) || !(v & CR0_PG) || ((v & CR0_NW) && !(v & CR0_CD)))
		return VMI_EINVAL;
	return set_cr(ctx, 0, v);
}

int64_t vmi_h_write_cr2(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (ctx->vcpu_page_on &&
	    ctx->ops->write(ctx->opaque, ctx->vcpu_page + VMI_VCPU_OFF_CR2, &a[0], 8))
		return VMI_EFAULT;
	return set_cr(ctx, 2, a[0]);
}

int64_t vmi_h_write_cr3(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (a[0] & CR3_RESERVED)
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[0] & CR3_ADDR, 4096))
		return VMI_EFAULT;
	return set_cr(ctx, 3, a[0]);
}

int64_t vmi_h_write_cr4(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	uint64_t v = a[0], old = 0;
	if ((v & ~CR4_DEFINED) || !(v & CR4_PAE) || (v & (CR4_VMXE | CR4_SMXE)))
		return VMI_EINVAL;
	if (ctx->ops->get_cr(ctx->opaque, 4, &old) == 0 && ((old ^ v) & CR4_LA57))
		return VMI_EINVAL;      /* LA57 cannot change with paging on */
	return set_cr(ctx, 4, v);
}

int64_t vmi_h_rdmsr(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	uint64_t v = 0;
	if (a[0] >> 32)
		return VMI_EINVAL;
	int r = vmi_msr_read(ctx, (uint32_t)a[0], &v);
	if (r == VMI_MSR_UNHANDLED)
		r = ctx->ops->get_msr(ctx->opaque, (uint32_t)a[0], &v) ? VMI_TRAP_GP : 0;
	if (r != VMI_MSR_HANDLED)
		return VMI_EINVAL;
	*rdx = v;
	return VMI_OK;
}

int64_t vmi_h_wrmsr(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (a[0] >> 32)
		return VMI_EINVAL;
	int r = vmi_msr_write(ctx, (uint32_t)a[0], a[1]);
	if (r == VMI_MSR_UNHANDLED)
		r = ctx->ops->set_msr(ctx->opaque, (uint32_t)a[0], a[1]) ? VMI_TRAP_GP : 0;
	return r == VMI_MSR_HANDLED ? VMI_OK : VMI_EINVAL;
}

static int64_t load_dt(struct vmi_ctx *ctx, enum vmi_dt dt, const uint64_t *a)
{
	if (!vmi_canonical(ctx, a[0]) || a[1] > 0xffff)
		return VMI_EINVAL;
	return ctx->ops->load_dt(ctx->opaque, dt, a[0], (uint16_t)a[1]) ? VMI_EINVAL : VMI_OK;
}

int64_t vmi_h_load_gdt(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return load_dt(c, VMI_DT_GDT, a); }
int64_t vmi_h_load_idt(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return load_dt(c, VMI_DT_IDT, a); }

/* Selectors must be GDT selectors (TI=0); a null LDT selector is allowed
 * (it disables the LDT), a null TR is not. */
static int64_t load_sel(struct vmi_ctx *ctx, enum vmi_sel which, uint64_t sel)
{
	if (sel > 0xffff || (sel & 4) || (which == VMI_SEL_TR && (sel & ~7ull) == 0))
		return VMI_EINVAL;
	return ctx->ops->load_sel(ctx->opaque, which, (uint16_t)sel) ? VMI_EINVAL : VMI_OK;
}

int64_t vmi_h_load_ldt(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return load_sel(c, VMI_SEL_LDT, a[0]); }
int64_t vmi_h_load_tr(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return load_sel(c, VMI_SEL_TR, a[0]); }

/* a: entry GPA, low 8 bytes, high 8 bytes, size (8 or 16). */
static int64_t write_entry(struct vmi_ctx *ctx, enum vmi_table t, const uint64_t *a)
{
	uint64_t d[2] = { a[1], a[2] };
	uint64_t size = a[3];
	if ((size != 8 && size != 16) || (t == VMI_TABLE_IDT && size != 16) || (a[0] & 7))
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[0], size) || ctx->ops->write(ctx->opaque, a[0], d, size))
		return VMI_EFAULT;
	if (ctx->ops->desc_written)
		ctx->ops->desc_written(ctx->opaque, t, a[0], (unsigned)size);
	return VMI_OK;
}

int64_t vmi_h_write_gdt_entry(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return write_entry(c, VMI_TABLE_GDT, a); }
int64_t vmi_h_write_ldt_entry(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return write_entry(c, VMI_TABLE_LDT, a); }
int64_t vmi_h_write_idt_entry(struct vmi_ctx *c, const uint64_t *a, uint64_t *d) { (void)d; return write_entry(c, VMI_TABLE_IDT, a); }

int64_t vmi_h_load_sp0(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	if (!vmi_canonical(ctx, a[0]))
		return VMI_EINVAL;
	ctx->ops->set_sp0(ctx->opaque, a[0]);
	return VMI_OK;
}

/* a: destination GDT entry GPA, source GPA, count (1..3). */
int64_t vmi_h_load_tls(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)rdx;
	uint64_t d[3];
	uint64_t n = a[2];
	if (n < 1 || n > 3 || (a[0] & 7) || (a[1] & 7))
		return VMI_EINVAL;
	if (!vmi_ram(ctx, a[0], n * 8) || !vmi_ram(ctx, a[1], n * 8) ||
	    ctx->ops->read(ctx->opaque, a[1], d, n * 8) ||
	    ctx->ops->write(ctx->opaque, a[0], d, n * 8))
		return VMI_EFAULT;
	if (ctx->ops->desc_written)
		ctx->ops->desc_written(ctx->opaque, VMI_TABLE_GDT, a[0], (unsigned)(n * 8));
	return VMI_OK;
}

int64_t vmi_h_nop(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)ctx; (void)a; (void)rdx;
	return VMI_OK;
}

int64_t vmi_h_version(struct vmi_ctx *ctx, const uint64_t *a, uint64_t *rdx)
{
	(void)a;
	*rdx = VMI_F_ALL_V1_0;
	return ctx->host->cfg.version;
}
