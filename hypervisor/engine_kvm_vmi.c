/* The KVM engine's side of the VMI ABI: CPUID leaves in the vCPU's table,
 * the three MSRs through user-space MSR exits, the PIO stub trap (port 0xE4)
 * and struct vmi_ops over KVM's register ioctls.
 *
 * Registers of a trapped call: with KVM_CAP_SYNC_REGS, every KVM_RUN
 * returns RAX..R15, RIP, RFLAGS and the segment/control registers in
 * kvm_run (kvm_valid_regs is set once per vCPU), and the result travels back
 * with kvm_dirty_regs on the next KVM_RUN, which applies them before it
 * completes the OUT: a call costs exactly one exit, like any port write.
 * KVM reports the exit before the OUT is complete (kvm_pvm even emulates it
 * and finishes on the next KVM_RUN), so anything else (an ioctl that changes
 * state, the #UD rewind) first completes it by re-entering with
 * immediate_exit=1, which returns at once. Without sync regs the trap does
 * that completion, then KVM_GET_REGS, and KVM_SET_REGS afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/lapic.h"
#include "engine_kvm.h"
#include "error.h"
#include "vcpu_vmi.h"
#include "vm.h"

#define RFLAGS_IF 0x200ull

/* Without sync regs: complete the OUT, registers come from KVM_GET_REGS. */
static int complete_out_ioctl(struct kvm_vcpu *c)
{
	struct kvm_run *run = c->run;
	c->out_pending = false;
	run->immediate_exit = 1;
	int r = ioctl(c->fd, KVM_RUN, 0);
	int err = errno;
	run->immediate_exit = 0;
	if (r == 0 || err != EINTR)
		return err_set("completing the VMI call's OUT failed: %s",
			       r == 0 ? "KVM ran the guest" : strerror(err));
	return 0;
}

/* Completes the trapped OUT (see the top) before anything but the sync
 * regs area may touch the vCPU. Keeps a pending RFLAGS change. */
static int complete_out(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_run *run = c->run;
	if (!c->out_pending)
		return 0;
	c->out_pending = false;
	uint64_t rflags = run->s.regs.regs.rflags;
	if (c->regs_dirty) {
		run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		c->regs_dirty = false;
	}
	run->immediate_exit = 1;
	int r = ioctl(c->fd, KVM_RUN, 0);
	int err = errno;
	run->immediate_exit = 0;
	run->kvm_dirty_regs = 0;
	if (r == 0 || err != EINTR)
		return err_set("completing the VMI call's OUT failed: %s",
			       r == 0 ? "KVM ran the guest" : strerror(err));
	c->sregs = run->s.regs.sregs;
	c->sregs_valid = true;
	if (run->s.regs.regs.rflags != rflags) {
		run->s.regs.regs.rflags = rflags;
		c->regs_dirty = true;
	}
	return 0;
}

static struct kvm_regs *regs_get(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_vm *k = v->vm->engine_priv;
	if (!c->regs && k->sync_regs) {
		c->regs = &c->run->s.regs.regs;
	} else if (!c->regs) {
		if (ioctl(c->fd, KVM_GET_REGS, &c->regs_copy) < 0)
			return NULL;
		c->regs = &c->regs_copy;
	}
	return c->regs;
}

static struct kvm_sregs *sregs_get(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_vm *k = v->vm->engine_priv;
	if (!c->sregs_valid && k->sync_regs) {
		c->sregs = c->run->s.regs.sregs;
		c->sregs_valid = true;
	} else if (!c->sregs_valid) {
		if (ioctl(c->fd, KVM_GET_SREGS, &c->sregs) < 0)
			return NULL;
		c->sregs_valid = true;
	}
	return &c->sregs;
}

/* Applies a modified copy; KVM validates it (CR bits, segments). */
static int sregs_set(struct vcpu *v, const struct kvm_sregs *s)
{
	struct kvm_vcpu *c = v->priv;
	if (complete_out(v) < 0 || ioctl(c->fd, KVM_SET_SREGS, s) < 0) {
		c->sregs_valid = false;
		return -1;
	}
	c->sregs = *s;
	c->sregs_valid = true;
	return 0;
}

/* ---- CPUID ---- */

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

int kvm_vmi_cpuid(struct vm *vm, struct kvm_cpuid2 **cpuid)
{
	struct vmi_host *h = &vm->vmi;
	struct kvm_cpuid2 *c = *cpuid;
	uint32_t base = h->cfg.cpuid_base;
	if (!h->cfg.enabled || !c)
		return 0;
	/* KVM's own leaves (kvmclock etc.) sit at 0x40000000; the guest finds
	 * them by the same signature search one step (0x100) above ours. */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function >= base && e->function < base + VMI_CPUID_BASE_STEP) {
			e->function += VMI_CPUID_BASE_STEP;
			if (e->function == base + VMI_CPUID_BASE_STEP)
				e->eax += VMI_CPUID_BASE_STEP;
		}
	}
	struct kvm_cpuid2 *n = realloc(c, sizeof(*c) + (c->nent + VMI_CPUID_LEAVES) *
				       sizeof(c->entries[0]));
	if (!n)
		return err_set("out of memory for the VMI CPUID leaves");
	for (uint32_t l = base; l < base + VMI_CPUID_LEAVES; l++) {
		uint32_t r[4];
		vmi_cpuid(h, l, 0, r);
		n->entries[n->nent++] = (struct kvm_cpuid_entry2){
			.function = l, .eax = r[0], .ebx = r[1], .ecx = r[2], .edx = r[3] };
	}
	struct kvm_cpuid_entry2 *leaf1 = find_leaf(n, 1);
	if (leaf1)
		leaf1->ecx |= 1u << 31;         /* hypervisor present: SPEC 3.1 */
	*cpuid = n;
	return 0;
}

/* ---- MSRs ---- */

int kvm_vmi_msr(struct vcpu *v, bool write, uint32_t msr, uint64_t *val)
{
	int r = write ? vmi_msr_write(&v->vmi, msr, *val) : vmi_msr_read(&v->vmi, msr, val);
	if (r == VMI_MSR_UNHANDLED)
		return 1;
	return r == VMI_MSR_HANDLED ? 0 : -1;
}

/* ---- the stub trap ---- */

int kvm_vmi_trap(struct vcpu *v, struct vcpu_exit *e)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_vm *k = v->vm->engine_priv;
	c->out_pending = true;
	if (!k->sync_regs && complete_out_ioctl(c) < 0)
		return -1;
	struct kvm_regs *g = regs_get(v);
	if (!g)
		return err_set("reading the VMI call's registers failed: %s", strerror(errno));
	e->kind = EXIT_HYPERCALL;
	e->hcall.nr = g->rax;
	e->hcall.args[0] = g->rdi;
	e->hcall.args[1] = g->rsi;
	e->hcall.args[2] = g->rdx;
	e->hcall.args[3] = g->r10;
	e->hcall.args[4] = g->r8;
	e->hcall.args[5] = g->r9;
	e->hcall.ret = c->hcall_ret;
	e->hcall.outcome = &c->hcall_outcome;
	c->hcall_outcome = VMI_TRAP_UD;
	c->hcall_pending = true;
	return 0;
}

int kvm_vmi_finish(struct vcpu *v)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_run *run = c->run;
	int r = 0;
	if (c->hcall_pending) {
		c->hcall_pending = false;
		struct kvm_regs *g = regs_get(v);
		if (!g)
			return err_set("reading registers for the VMI result failed: %s",
				       strerror(errno));
		if (c->hcall_outcome == VMI_DONE) {
			g->rax = c->hcall_ret[0];
			g->rdx = c->hcall_ret[1];
			c->regs_dirty = true;
		} else {
			/* #UD at the OUT, no register changed (SPEC 6.5). The
			 * regs go in first: setting them drops pending events. */
			if (complete_out(v) < 0)
				return -1;
			g->rip -= 2;
			struct vcpu_event ud = { .kind = EVENT_EXCEPTION, .vector = 6 };
			if (ioctl(c->fd, KVM_SET_REGS, g) < 0 ||
			    v->vm->engine->inject(v, &ud) < 0)
				r = err_set("raising #UD for a VMI call failed: %s", strerror(errno));
			c->regs_dirty = false;
		}
	}
	if (c->regs_dirty) {
		if (c->regs == &run->s.regs.regs)
			run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		else if (ioctl(c->fd, KVM_SET_REGS, c->regs) < 0)
			r = err_set("writing the VMI result failed: %s", strerror(errno));
	}
	c->regs = NULL;
	c->regs_dirty = false;
	c->sregs_valid = false;
	c->out_pending = false;
	return r;
}

/* ---- struct vmi_ops ---- */

static int kvm_get_cpl(void *o)
{
	struct kvm_sregs *s = sregs_get(o);
	return s ? s->cs.dpl : -1;
}

static bool kvm_get_if(void *o)
{
	struct kvm_regs *g = regs_get(o);
	return g && (g->rflags & RFLAGS_IF);
}

static void kvm_set_if(void *o, bool on)
{
	struct vcpu *v = o;
	struct kvm_vcpu *c = v->priv;
	struct kvm_regs *g = regs_get(v);
	if (!g)
		return;
	g->rflags = on ? g->rflags | RFLAGS_IF : g->rflags & ~RFLAGS_IF;
	c->regs_dirty = true;
}

static __u64 *cr_slot(struct kvm_sregs *s, int cr)
{
	switch (cr) {
	case 0: return &s->cr0;
	case 2: return &s->cr2;
	case 3: return &s->cr3;
	case 4: return &s->cr4;
	case 8: return &s->cr8;
	}
	return NULL;
}

static int kvm_get_cr(void *o, int cr, uint64_t *val)
{
	struct kvm_sregs *s = sregs_get(o);
	__u64 *p = s ? cr_slot(s, cr) : NULL;
	if (!p)
		return -1;
	*val = *p;
	return 0;
}

static int kvm_set_cr(void *o, int cr, uint64_t val)
{
	struct kvm_sregs *s = sregs_get(o);
	if (!s)
		return -1;
	struct kvm_sregs n = *s;
	__u64 *p = cr_slot(&n, cr);
	if (!p)
		return -1;
	*p = val;
	return sregs_set(o, &n);
}

static int kvm_get_msr(void *o, uint32_t msr, uint64_t *val)
{
	struct vcpu *v = o;
	struct kvm_vcpu *c = v->priv;
	if (complete_out(v) < 0)
		return -1;
	if (lapic_msr_is_ours(msr))
		return lapic_msr_read(v, msr, val);
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = {
		.h.nmsrs = 1, .e.index = msr };
	if (ioctl(c->fd, KVM_GET_MSRS, &m) != 1)
		return -1;
	*val = m.e.data;
	return 0;
}

static int kvm_set_msr(void *o, uint32_t msr, uint64_t val)
{
	struct vcpu *v = o;
	struct kvm_vcpu *c = v->priv;
	if (complete_out(v) < 0)
		return -1;
	if (lapic_msr_is_ours(msr))
		return lapic_msr_write(v, msr, val);
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = {
		.h.nmsrs = 1, .e.index = msr, .e.data = val };
	return ioctl(c->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static int kvm_load_dt(void *o, enum vmi_dt dt, uint64_t base, uint16_t limit)
{
	struct kvm_sregs *s = sregs_get(o);
	if (!s)
		return -1;
	struct kvm_sregs n = *s;
	struct kvm_dtable *t = dt == VMI_DT_GDT ? &n.gdt : &n.idt;
	t->base = base;
	t->limit = limit;
	return sregs_set(o, &n);
}

static int linear_to_gpa(struct vcpu *v, uint64_t la, uint64_t *gpa)
{
	struct kvm_vcpu *c = v->priv;
	struct kvm_translation t = { .linear_address = la };
	if (complete_out(v) < 0 || ioctl(c->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -1;
	*gpa = t.physical_address;
	return 0;
}

/* Reads or writes bytes at a linear address, page by page. */
static int linear_access(struct vcpu *v, uint64_t la, void *buf, unsigned len, bool write)
{
	uint8_t *p = buf;
	while (len) {
		uint64_t gpa;
		unsigned n = 4096 - (unsigned)(la & 4095);
		if (n > len)
			n = len;
		if (linear_to_gpa(v, la, &gpa) < 0 ||
		    (write ? vcpu_vmi_write(v, gpa, p, n) : vcpu_vmi_read(v, gpa, p, n)))
			return -1;
		la += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* LLDT / LTR: the 16-byte system descriptor from the GDT, checked as the
 * instructions check it; LTR marks the TSS busy in the GDT. */
static int kvm_load_sel(void *o, enum vmi_sel which, uint16_t sel)
{
	struct vcpu *v = o;
	struct kvm_sregs *s = sregs_get(v);
	if (!s)
		return -1;
	struct kvm_sregs n = *s;
	struct kvm_segment *seg = which == VMI_SEL_LDT ? &n.ldt : &n.tr;
	if (which == VMI_SEL_LDT && (sel & ~3u) == 0) {
		*seg = (struct kvm_segment){ .selector = sel, .unusable = 1 };
		return sregs_set(v, &n);
	}
	uint64_t off = sel & ~7u, d[2];
	if (off + 15 > n.gdt.limit || linear_access(v, n.gdt.base + off, d, 16, false))
		return -1;
	unsigned type = (d[0] >> 40) & 0xf, s_bit = (d[0] >> 44) & 1;
	unsigned present = (d[0] >> 47) & 1, g = (d[0] >> 55) & 1;
	unsigned want = which == VMI_SEL_LDT ? 2 : 9;
	if (s_bit || type != want || !present)
		return -1;
	uint32_t limit = (uint32_t)((d[0] & 0xffff) | ((d[0] >> 32) & 0xf0000));
	if (g)
		limit = (limit << 12) | 0xfff;
	*seg = (struct kvm_segment){
		.base = ((d[0] >> 16) & 0xffffff) | (((d[0] >> 56) & 0xff) << 24) |
			((d[1] & 0xffffffffull) << 32),
		.limit = limit, .selector = sel, .type = (uint8_t)type, .present = 1,
		.dpl = (d[0] >> 45) & 3, .g = (uint8_t)g,
	};
	if (which == VMI_SEL_TR) {
		seg->type = 0xb;
		d[0] |= 1ull << 41;
		if (linear_access(v, n.gdt.base + off, d, 8, true))
			return -1;
	}
	return sregs_set(v, &n);
}

static void kvm_set_sp0(void *o, uint64_t sp0)
{
	struct kvm_sregs *s = sregs_get(o);
	if (s && !s->tr.unusable && s->tr.limit >= 11)
		linear_access(o, s->tr.base + 4, &sp0, 8, true);
}

/* KVM has no INVLPG ioctl; KVM_SET_SREGS resets the vCPU's MMU context,
 * which flushes at least as much as each kind asks for. */
static void kvm_flush_tlb(void *o, enum vmi_flush kind, uint64_t va)
{
	(void)kind;
	(void)va;
	struct kvm_sregs *s = sregs_get(o);
	if (s) {
		struct kvm_sregs n = *s;
		sregs_set(o, &n);
	}
}

/* The guest's TSC is KVM's (offset from the host's at vCPU creation). */
static void kvm_vcpu_page_set(void *o, uint64_t gpa)
{
	struct vcpu *v = o;
	struct kvm_vcpu *c = v->priv;
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = {
		.h.nmsrs = 1, .e.index = 0x10 };
	int khz = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);
	if (!gpa || khz <= 0 || ioctl(c->fd, KVM_GET_MSRS, &m) != 1)
		return;
	vcpu_vmi_clock_fill(v, m.e.data, (uint64_t)khz * 1000);
}

const struct vmi_ops kvm_vmi_ops = {
	.in_ram = vcpu_vmi_in_ram,
	.read = vcpu_vmi_read,
	.write = vcpu_vmi_write,
	.get_cpl = kvm_get_cpl,
	.get_if = kvm_get_if,
	.set_if = kvm_set_if,
	.get_cr = kvm_get_cr,
	.set_cr = kvm_set_cr,
	.get_msr = kvm_get_msr,
	.set_msr = kvm_set_msr,
	.load_dt = kvm_load_dt,
	.load_sel = kvm_load_sel,
	.set_sp0 = kvm_set_sp0,
	.flush_tlb = kvm_flush_tlb,
	.halt = vcpu_vmi_halt,
	.power = vcpu_vmi_power,
	.console_write = vcpu_vmi_console_write,
	.wallclock = vcpu_vmi_wallclock,
	.set_alarm = vcpu_vmi_set_alarm,
	.vcpu_page_set = kvm_vcpu_page_set,
};
