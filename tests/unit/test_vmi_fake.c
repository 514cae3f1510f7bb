/* The fake engine behind test_vmi.c and tests/fuzz/fuzz_vmi.c. */
#include <stdlib.h>
#include <string.h>

#include "test_vmi_fake.h"

static bool f_in_ram(void *o, uint64_t gpa, uint64_t len)
{
	(void)o;
	return len <= FAKE_RAM_SIZE && gpa <= FAKE_RAM_SIZE - len;
}

static int f_read(void *o, uint64_t gpa, void *buf, uint64_t len)
{
	struct fake_vcpu *f = o;
	if (!f_in_ram(o, gpa, len))
		return -1;
	memcpy(buf, f->ram + gpa, len);
	return 0;
}

static int f_write(void *o, uint64_t gpa, const void *buf, uint64_t len)
{
	struct fake_vcpu *f = o;
	if (!f_in_ram(o, gpa, len))
		return -1;
	memcpy(f->ram + gpa, buf, len);
	return 0;
}

static int f_get_cpl(void *o) { return ((struct fake_vcpu *)o)->cpl; }
static bool f_get_if(void *o) { return ((struct fake_vcpu *)o)->rflags_if; }
static void f_set_if(void *o, bool on) { ((struct fake_vcpu *)o)->rflags_if = on; }

static int f_get_cr(void *o, int cr, uint64_t *v)
{
	struct fake_vcpu *f = o;
	if (cr < 0 || cr > 4 || cr == 1)
		return -1;
	*v = f->cr[cr];
	return 0;
}

static int f_set_cr(void *o, int cr, uint64_t v)
{
	struct fake_vcpu *f = o;
	if (cr < 0 || cr > 4 || cr == 1)
		return -1;
	f->cr[cr] = v;
	return 0;
}

static int f_get_msr(void *o, uint32_t msr, uint64_t *v)
{
	if (msr != 0xc0000080)
		return -1;
	*v = ((struct fake_vcpu *)o)->msr_efer;
	return 0;
}

static int f_set_msr(void *o, uint32_t msr, uint64_t v)
{
	if (msr != 0xc0000080 || (v & ~0xd01ull))
		return -1;
	((struct fake_vcpu *)o)->msr_efer = v;
	return 0;
}

static int f_load_dt(void *o, enum vmi_dt dt, uint64_t base, uint16_t limit)
{
	struct fake_vcpu *f = o;
	f->dt_base[dt] = base;
	f->dt_limit[dt] = limit;
	return 0;
}

/* Pretends the GDT has 16 entries: selectors beyond it are refused. */
static int f_load_sel(void *o, enum vmi_sel which, uint16_t sel)
{
	struct fake_vcpu *f = o;
	if ((sel >> 3) >= 16)
		return -1;
	f->sel[which] = sel;
	return 0;
}

static void f_set_sp0(void *o, uint64_t sp0) { ((struct fake_vcpu *)o)->sp0 = sp0; }

static void f_flush(void *o, enum vmi_flush k, uint64_t va)
{
	struct fake_vcpu *f = o;
	f->flushes[k]++;
	f->last_flush_va = va;
}

static void f_halt(void *o) { ((struct fake_vcpu *)o)->halts++; }
static void f_window(void *o) { ((struct fake_vcpu *)o)->windows++; }
static void f_power(void *o, enum vmi_power p) { ((struct fake_vcpu *)o)->power = p; }

static void f_desc(void *o, enum vmi_table t, uint64_t gpa, unsigned len)
{
	(void)t; (void)gpa; (void)len;
	((struct fake_vcpu *)o)->desc_writes++;
}

static void f_pt(void *o, unsigned level, uint64_t gpa, uint64_t val)
{
	(void)level; (void)gpa; (void)val;
	((struct fake_vcpu *)o)->pt_writes++;
}

static int f_pin(void *o, unsigned level, uint64_t gpa, bool pin)
{
	struct fake_vcpu *f = o;
	(void)level; (void)gpa;
	if (pin)
		f->pins++;
	else if (f->unpins >= f->pins)
		return -1;      /* releasing more than was pinned */
	else
		f->unpins++;
	return 0;
}

static int f_others(void *o, const uint64_t *mask, unsigned n, uint64_t s, uint64_t e)
{
	(void)mask; (void)n; (void)s; (void)e;
	((struct fake_vcpu *)o)->others++;
	return 0;
}

static int f_alarm(void *o, unsigned mode, uint64_t dl, uint64_t per, uint8_t vec)
{
	struct fake_vcpu *f = o;
	f->alarm_mode = mode;
	f->alarm_deadline = dl;
	f->alarm_period = per;
	f->alarm_vector = vec;
	return 0;
}

static int f_wall(void *o, uint64_t *ns)
{
	*ns = ((struct fake_vcpu *)o)->wall_ns;
	return 0;
}

static void f_console(void *o, const uint8_t *buf, uint32_t len)
{
	struct fake_vcpu *f = o;
	uint32_t room = sizeof(f->console) - f->console_len;
	if (len > room)
		len = room;
	memcpy(f->console + f->console_len, buf, len);
	f->console_len += len;
}

/* Fills the clock the way an engine would on registration. */
static void f_vcpu_page(void *o, uint64_t gpa)
{
	struct fake_vcpu *f = o;
	f->vcpu_page_gpa = gpa;
	f->vcpu_page_sets++;
}

#define CORE_OPS \
	.in_ram = f_in_ram, .read = f_read, .write = f_write, .get_cpl = f_get_cpl, \
	.get_if = f_get_if, .set_if = f_set_if, .get_cr = f_get_cr, .set_cr = f_set_cr, \
	.get_msr = f_get_msr, .set_msr = f_set_msr, .load_dt = f_load_dt, \
	.load_sel = f_load_sel, .set_sp0 = f_set_sp0, .flush_tlb = f_flush, \
	.halt = f_halt, .power = f_power

const struct vmi_ops fake_ops = {
	CORE_OPS,
	.irq_window = f_window, .desc_written = f_desc, .pt_written = f_pt,
	.pt_pin = f_pin, .flush_tlb_others = f_others, .set_alarm = f_alarm,
	.wallclock = f_wall, .console_write = f_console, .vcpu_page_set = f_vcpu_page,
};

const struct vmi_ops fake_ops_min = { CORE_OPS };

int fake_setup(struct fake_vcpu *f, struct vmi_host *h, struct vmi_ctx *c,
	       enum vmi_backend backend, bool install)
{
	uint8_t *ram = f->ram;
	memset(f, 0, sizeof(*f));
	f->ram = ram ? ram : calloc(1, FAKE_RAM_SIZE);
	if (!f->ram)
		return -1;
	memset(f->ram, 0, FAKE_RAM_SIZE);
	f->power = -1;
	f->cr[0] = 0x80050033;          /* PG WP NE ET MP PE */
	f->cr[3] = 0x10000;
	f->cr[4] = 0x6b0;               /* PAE PGE OSFXSR OSXMMEXCPT ... */
	f->msr_efer = 0xd01;
	struct vmi_config cfg;
	vmi_config_default(&cfg);
	cfg.backend = backend;
	if (vmi_host_init(h, &cfg))
		return -1;
	vmi_ctx_init(c, h, &fake_ops, f);
	if (!install)
		return 0;
	if (vmi_msr_write(c, VMI_MSR_VERSION, VMI_VERSION(1, 0)) != VMI_MSR_HANDLED ||
	    vmi_msr_write(c, VMI_MSR_PAGE, FAKE_ABI_PAGE | 1) != VMI_MSR_HANDLED ||
	    vmi_msr_write(c, VMI_MSR_VCPU_PAGE, FAKE_VCPU_PAGE | 1) != VMI_MSR_HANDLED)
		return -1;
	return 0;
}

void fake_teardown(struct fake_vcpu *f, struct vmi_host *h)
{
	vmi_host_destroy(h);
	free(f->ram);
	f->ram = NULL;
}
