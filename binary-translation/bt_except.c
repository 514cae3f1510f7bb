/* Exception and interrupt delivery through the IDT (real mode IVT, 32-bit
 * protected mode, long mode with IST), IRET, far transfers and segment loads. */
#include <string.h>

#include "bt_cpu.h"
#include "vm.h"

#define RF_TF   (1ull << 8)
#define RF_IF   (1ull << 9)
#define RF_IOPL (3ull << 12)
#define RF_NT   (1ull << 14)
#define RF_RF   (1ull << 16)
#define RF_VM   (1ull << 17)
#define RF_AC   (1ull << 18)
#define RF_VIF  (1ull << 19)
#define RF_VIP  (1ull << 20)
#define RF_ID   (1ull << 21)

/* Fault raised while delivering: recorded instead of delivered. */
struct nested {
	bool hit;
	int vec;
	bool has_err;
	uint32_t err;
};
static __thread struct nested *nest;

static bool lm(const struct bt_cpu *c)
{
	return c->efer & X86_EFER_LMA;
}

void bt_desc_to_seg(uint64_t d, uint32_t hi3, uint16_t sel, struct x86_seg *s)
{
	bt_memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	if (s->g)
		s->limit = (s->limit << 12) | 0xfff;
	if (!s->s)
		s->base |= (uint64_t)hi3 << 32;
}

/* Reads the 8-byte descriptor for sel from the GDT or LDT; -1 after #GP(sel). */
int bt_read_desc(struct bt_cpu *c, uint16_t sel, uint64_t *desc)
{
	uint64_t base;
	uint32_t limit;
	if (sel & 4) {
		base = c->ldt.base;
		limit = c->ldt.limit;
		if (c->ldt.unusable || !c->ldt.present)
			limit = 0;
	} else {
		base = c->gdt.base;
		limit = c->gdt.limit;
	}
	uint32_t idx = sel & ~7u;
	if (idx + 7 > limit || (!(sel & 4) && idx == 0)) {
		bt_raise(c, 13, true, sel & 0xfffc);
		return -1;
	}
	return bt_vread(c, base + idx, desc, 8, true);
}

static void seg_null(struct x86_seg *s, uint16_t sel)
{
	bt_memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->unusable = 1;
}

int bt_load_seg(struct bt_cpu *c, int seg, uint16_t sel)
{
	struct x86_seg *s = &c->seg[seg];
	if (!(c->cr0 & X86_CR0_PE) || (c->rflags_sys & RF_VM)) {
		s->sel = sel;
		s->base = (uint64_t)sel << 4;
		s->unusable = 0;
		s->present = 1;
		bt_update_mode(c);
		return 0;
	}
	if ((sel & ~3u) == 0) {
		if (seg == SEG_SS && !(lm(c) && (c->mode & BT_MODE_64) && c->cpl < 3)) {
			bt_raise(c, 13, true, 0);
			return -1;
		}
		seg_null(s, sel);
		if (seg == SEG_SS)
			s->dpl = c->cpl;
		bt_update_mode(c);
		return 0;
	}
	uint64_t d;
	if (bt_read_desc(c, sel, &d) < 0)
		return -1;
	struct x86_seg n;
	bt_desc_to_seg(d, 0, sel, &n);
	int rpl = sel & 3;
	if (seg == SEG_SS) {
		if (!n.s || (n.type & 8) || !(n.type & 2) || rpl != c->cpl || n.dpl != c->cpl) {
			bt_raise(c, 13, true, sel & 0xfffc);
			return -1;
		}
		if (!n.present) {
			bt_raise(c, 12, true, sel & 0xfffc);
			return -1;
		}
	} else {
		bool code = n.type & 8;
		if (!n.s || (code && !(n.type & 2))) {
			bt_raise(c, 13, true, sel & 0xfffc);
			return -1;
		}
		bool conforming = code && (n.type & 4);
		if (!conforming && (n.dpl < c->cpl || n.dpl < rpl)) {
			bt_raise(c, 13, true, sel & 0xfffc);
			return -1;
		}
		if (!n.present) {
			bt_raise(c, 11, true, sel & 0xfffc);
			return -1;
		}
	}
	/* In 64-bit mode FS/GS bases from descriptors are 32-bit; the MSRs
	 * hold the full value and a selector load overwrites them. */
	*s = n;
	bt_update_mode(c);
	return 0;
}

static int push_frame(struct bt_cpu *c, uint64_t ss_base, uint64_t *sp, const uint64_t *vals,
		      int n, int width)
{
	uint8_t buf[64];
	uint64_t nsp = *sp - (uint64_t)n * width;
	if (width == 4)
		nsp &= 0xffffffffull;
	if (width == 2)
		nsp = (*sp & ~0xffffull) | ((*sp - (uint64_t)n * 2) & 0xffff);
	/* vals[0] is pushed first (highest address). */
	for (int i = 0; i < n; i++) {
		uint64_t v = vals[i];
		int at = (n - 1 - i) * width;
		bt_memcpy(buf + at, &v, width);
	}
	uint64_t lin = ss_base + (width == 2 ? (nsp & 0xffff) : nsp);
	if (bt_vwrite(c, lin, buf, n * width, true) < 0)
		return -1;
	*sp = nsp;
	return 0;
}

/* Loads a code segment descriptor for an interrupt/far transfer target. */
static int code_desc(struct bt_cpu *c, uint16_t sel, struct x86_seg *cs, uint32_t ext)
{
	if ((sel & ~3u) == 0) {
		bt_raise(c, 13, true, ext);
		return -1;
	}
	uint64_t d;
	if (bt_read_desc(c, sel, &d) < 0)
		return -1;
	bt_desc_to_seg(d, 0, sel, cs);
	if (!cs->s || !(cs->type & 8)) {
		bt_raise(c, 13, true, (sel & 0xfffc) | ext);
		return -1;
	}
	if (!cs->present) {
		bt_raise(c, 11, true, (sel & 0xfffc) | ext);
		return -1;
	}
	return 0;
}

static void flat_ss(struct x86_seg *s, uint16_t sel, int dpl)
{
	bt_memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->limit = 0xffffffff;
	s->type = 3;
	s->s = 1;
	s->dpl = dpl;
	s->present = 1;
	s->db = 1;
	s->g = 1;
}

static int deliver_once(struct bt_cpu *c, int vec, bool has_err, uint32_t err, bool soft,
			uint64_t ret_rip, bool ext)
{
	uint64_t rflags = bt_get_rflags(c);
	uint32_t ecode = vec * 8 + 2 + (ext ? 1 : 0);

	if (!(c->cr0 & X86_CR0_PE)) {
		uint32_t ivt[1];
		if (vec * 4 + 3 > c->idt.limit) {
			bt_raise(c, 13, true, ecode);
			return -1;
		}
		if (bt_vread(c, c->idt.base + vec * 4, ivt, 4, true) < 0)
			return -1;
		uint64_t sp = c->gpr[GPR_RSP];
		uint64_t vals[3] = { rflags & 0xffff, c->seg[SEG_CS].sel, ret_rip & 0xffff };
		if (push_frame(c, c->seg[SEG_SS].base, &sp, vals, 3, 2) < 0)
			return -1;
		c->gpr[GPR_RSP] = sp;
		c->seg[SEG_CS].sel = ivt[0] >> 16;
		c->seg[SEG_CS].base = (uint64_t)(ivt[0] >> 16) << 4;
		c->rip = ivt[0] & 0xffff;
		bt_set_rflags(c, rflags & ~(RF_IF | RF_TF | RF_AC));
		bt_update_mode(c);
		return 0;
	}

	int gsize = lm(c) ? 16 : 8;
	if ((uint32_t)vec * gsize + gsize - 1 > c->idt.limit) {
		bt_raise(c, 13, true, ecode);
		return -1;
	}
	uint64_t g[2] = { 0, 0 };
	if (bt_vread(c, c->idt.base + (uint64_t)vec * gsize, g, gsize, true) < 0)
		return -1;
	int type = (g[0] >> 40) & 0xf;
	int gdpl = (g[0] >> 45) & 3;
	bool present = (g[0] >> 47) & 1;
	if (lm(c) ? (type != 0xe && type != 0xf) :
		    (type != 0xe && type != 0xf && type != 6 && type != 7)) {
		if (type == 5)
			bt_fail(c, "task-gate delivery (vector %d) is not supported", vec);
		bt_raise(c, 13, true, ecode);
		return -1;
	}
	if (soft && gdpl < c->cpl) {
		bt_raise(c, 13, true, ecode);
		return -1;
	}
	if (!present) {
		bt_raise(c, 11, true, ecode);
		return -1;
	}
	uint16_t sel = (g[0] >> 16) & 0xffff;
	uint64_t off = (g[0] & 0xffff) | (((g[0] >> 48) & 0xffff) << 16);
	if (lm(c))
		off |= (g[1] & 0xffffffffull) << 32;
	int ist = lm(c) ? (int)((g[0] >> 32) & 7) : 0;
	bool trap = type == 0xf || type == 7;

	struct x86_seg cs;
	if (code_desc(c, sel, &cs, ext ? 1 : 0) < 0)
		return -1;
	int new_cpl = (cs.type & 4) ? c->cpl : cs.dpl;
	if (new_cpl > c->cpl) {
		bt_raise(c, 13, true, (sel & 0xfffc) | (ext ? 1 : 0));
		return -1;
	}
	if (lm(c) && !cs.l) {
		bt_raise(c, 13, true, (sel & 0xfffc) | (ext ? 1 : 0));
		return -1;
	}
	cs.sel = (sel & ~3) | new_cpl;

	uint64_t old_ss = c->seg[SEG_SS].sel;
	uint64_t old_rsp = c->gpr[GPR_RSP];
	uint64_t old_cs = c->seg[SEG_CS].sel;

	if (lm(c)) {
		uint64_t sp = old_rsp;
		if (ist || new_cpl < c->cpl) {
			uint64_t at = ist ? 0x24 + (uint64_t)(ist - 1) * 8 : 4 + (uint64_t)new_cpl * 8;
			if (at + 7 > c->tr.limit) {
				bt_raise(c, 10, true, c->tr.sel & 0xfffc);
				return -1;
			}
			if (bt_vread(c, c->tr.base + at, &sp, 8, true) < 0)
				return -1;
		}
		sp &= ~15ull;
		uint64_t vals[6] = { old_ss, old_rsp, rflags, old_cs, ret_rip, err };
		if (push_frame(c, 0, &sp, vals, has_err ? 6 : 5, 8) < 0)
			return -1;
		if (new_cpl < c->cpl) {
			struct x86_seg ss;
			bt_memset(&ss, 0, sizeof(ss));
			ss.sel = new_cpl;
			ss.unusable = 1;
			ss.dpl = new_cpl;
			c->seg[SEG_SS] = ss;
		}
		c->gpr[GPR_RSP] = sp;
	} else {
		uint64_t sp = old_rsp & 0xffffffffull;
		uint64_t ss_base = c->seg[SEG_SS].base;
		struct x86_seg nss = c->seg[SEG_SS];
		bool stack_switch = new_cpl < c->cpl;
		if (stack_switch) {
			uint32_t esp0;
			uint16_t ss0;
			uint64_t at = 4 + (uint64_t)new_cpl * 8;
			if (bt_vread(c, c->tr.base + at, &esp0, 4, true) < 0 ||
			    bt_vread(c, c->tr.base + at + 4, &ss0, 2, true) < 0)
				return -1;
			uint64_t d;
			if (bt_read_desc(c, ss0, &d) < 0)
				return -1;
			bt_desc_to_seg(d, 0, ss0, &nss);
			sp = esp0;
			ss_base = nss.base;
		}
		int w = (type == 6 || type == 7) ? 2 : 4;
		uint64_t vals[6];
		int n = 0;
		if (stack_switch) {
			vals[n++] = old_ss;
			vals[n++] = old_rsp & 0xffffffffull;
		}
		vals[n++] = rflags & 0xffffffffull;
		vals[n++] = old_cs;
		vals[n++] = ret_rip & 0xffffffffull;
		if (has_err)
			vals[n++] = err;
		if (push_frame(c, ss_base, &sp, vals, n, w) < 0)
			return -1;
		c->seg[SEG_SS] = nss;
		c->gpr[GPR_RSP] = (old_rsp & ~0xffffffffull) | sp;
		if (nss.db)
			c->gpr[GPR_RSP] = sp;
	}
	c->seg[SEG_CS] = cs;
	c->cpl = new_cpl;
	c->rip = off;
	rflags &= ~(RF_TF | RF_NT | RF_RF | RF_VM);
	if (!trap)
		rflags &= ~RF_IF;
	bt_set_rflags(c, rflags);
	bt_update_mode(c);
	return 0;
}

static bool contributory(int v)
{
	return v == 0 || (v >= 10 && v <= 13);
}

void bt_deliver(struct bt_cpu *c, int vec, bool has_err, uint32_t err, bool soft,
		uint64_t ret_rip)
{
	if (nest) {
		/* A fault while delivering: record it for the outer loop. */
		if (!nest->hit) {
			nest->hit = true;
			nest->vec = vec;
			nest->has_err = has_err;
			nest->err = err;
		}
		return;
	}
	struct nested n;
	bool ext = false;
	for (int depth = 0; depth < 4; depth++) {
		bt_memset(&n, 0, sizeof(n));
		nest = &n;
		int r = deliver_once(c, vec, has_err, err, soft, ret_rip, ext);
		nest = NULL;
		if (r == 0 && !n.hit)
			return;
		if (!n.hit || vec == 8 || c->failed) {
			c->triple = true;
			return;
		}
		bool df = (contributory(vec) && contributory(n.vec)) ||
			  (vec == 14 && (contributory(n.vec) || n.vec == 14));
		if (df) {
			vec = 8;
			has_err = true;
			err = 0;
		} else {
			vec = n.vec;
			has_err = n.has_err;
			err = n.err;
		}
		soft = false;
		ext = true;
		ret_rip = c->rip;
	}
	c->triple = true;
}

/* SPEC 9: with a per-vCPU page registered the guest's READ_CR2 may be a
 * plain load from the page (kind SHARED), so the page's cr2 must hold the
 * faulting address before the handler runs; else a handler reading a
 * stale CR2 "fixes" the wrong address and the access faults forever. A
 * direct store, not vmi_set_cr2(): this runs inside translated-code
 * helpers where libc's SIMD memcpy would clobber the guest's FPU state. */
static void vmi_page_cr2(struct bt_cpu *c)
{
	const struct vmi_ctx *v = &c->vcpu->vmi;
	if (!v->vcpu_page_on)
		return;
	uint8_t *h = bt_gpa_host(c, v->vcpu_page + VMI_VCPU_OFF_CR2);
	if (h)
		*(volatile uint64_t *)h = c->cr2;
}

void bt_raise(struct bt_cpu *c, int vec, bool has_err, uint32_t err)
{
	if (vec == 14)
		vmi_page_cr2(c);
	bt_deliver(c, vec, has_err, err, false, c->rip);
}

/* IRET in all protected-mode flavours (no virtual-8086 or task return). */
int bt_iret(struct bt_cpu *c, int opsize)
{
	uint64_t sp = c->gpr[GPR_RSP];
	uint64_t rflags_old = bt_get_rflags(c);
	if (!(c->cr0 & X86_CR0_PE)) {
		uint16_t f[3];
		uint64_t lin = c->seg[SEG_SS].base + (sp & 0xffff);
		if (bt_vread(c, lin, f, 6, false) < 0)
			return -1;
		c->rip = f[0];
		c->seg[SEG_CS].sel = f[1];
		c->seg[SEG_CS].base = (uint64_t)f[1] << 4;
		bt_set_rflags(c, (rflags_old & ~0xffffull) | f[2]);
		c->gpr[GPR_RSP] = (sp & ~0xffffull) | ((sp + 6) & 0xffff);
		bt_update_mode(c);
		return 0;
	}
	if (c->rflags_sys & RF_NT && !lm(c)) {
		bt_fail(c, "IRET with NT=1 (task return) is not supported");
		return -1;
	}
	bool m64 = c->mode & BT_MODE_64;
	uint64_t base = m64 ? 0 : c->seg[SEG_SS].base;
	uint64_t v[5] = { 0 };
	int cnt = m64 ? 5 : 3;
	uint8_t buf[40];
	uint64_t lsp = c->seg[SEG_SS].db || m64 ? sp : (sp & 0xffff);
	if (bt_vread(c, base + lsp, buf, cnt * opsize, false) < 0)
		return -1;
	for (int i = 0; i < cnt; i++) {
		v[i] = 0;
		bt_memcpy(&v[i], buf + i * opsize, opsize);
	}
	uint16_t sel = v[1] & 0xffff;
	int rpl = sel & 3;
	if (rpl < c->cpl) {
		bt_raise(c, 13, true, sel & 0xfffc);
		return -1;
	}
	if (!m64 && (v[2] & RF_VM) && c->cpl == 0) {
		bt_fail(c, "IRET to virtual-8086 mode is not supported");
		return -1;
	}
	struct x86_seg cs;
	if (code_desc(c, sel, &cs, 0) < 0)
		return -1;
	cs.sel = sel;
	bool outer = rpl > c->cpl;
	if (!m64 && outer) {
		uint8_t b2[16];
		if (bt_vread(c, base + lsp + 3 * opsize, b2, 2 * opsize, false) < 0)
			return -1;
		v[3] = 0;
		v[4] = 0;
		bt_memcpy(&v[3], b2, opsize);
		bt_memcpy(&v[4], b2 + opsize, opsize);
	}
	/* Flags the IRET may change at this privilege. */
	uint64_t mask = 0x3f7fd5ull & ~(RF_VM | RF_VIF | RF_VIP);
	if (opsize == 2)
		mask &= 0xffff;
	int iopl = (rflags_old >> 12) & 3;
	if (c->cpl > 0)
		mask &= ~RF_IOPL;
	if (c->cpl > iopl)
		mask &= ~RF_IF;
	uint64_t nf = (rflags_old & ~mask) | (v[2] & mask);
	int old_cpl = c->cpl;
	c->seg[SEG_CS] = cs;
	c->cpl = rpl;
	c->rip = opsize == 4 && !cs.l ? (v[0] & 0xffffffffull) : v[0];
	bt_set_rflags(c, nf);
	if (m64 || outer) {
		uint16_t ssel = v[4] & 0xffff;
		if (m64 && (ssel & ~3u) == 0 && cs.l) {
			struct x86_seg ss;
			bt_memset(&ss, 0, sizeof(ss));
			ss.sel = ssel;
			ss.unusable = 1;
			ss.dpl = rpl;
			c->seg[SEG_SS] = ss;
		} else if (bt_load_seg(c, SEG_SS, ssel) < 0) {
			c->cpl = old_cpl;
			return -1;
		}
		c->gpr[GPR_RSP] = v[3];
	} else {
		uint64_t nsp = sp + 3 * opsize;
		c->gpr[GPR_RSP] = c->seg[SEG_SS].db ? (nsp & 0xffffffffull) :
			(sp & ~0xffffull) | (nsp & 0xffff);
	}
	if (outer) {
		/* Data segments the new privilege may not use become null. */
		static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
		for (int i = 0; i < 4; i++) {
			struct x86_seg *s = &c->seg[segs[i]];
			bool conforming_code = (s->type & 0xc) == 0xc;
			if (!s->unusable && s->dpl < rpl && !conforming_code) {
				uint64_t b = s->base;
				seg_null(s, 0);
				if (m64)
					s->base = b;
			}
		}
	}
	bt_update_mode(c);
	return 0;
}

/* Far JMP/CALL to a code segment (no call gates or task switches). */
int bt_far_transfer(struct bt_cpu *c, uint16_t sel, uint64_t off, bool call, int opsize,
		    uint64_t ret_rip)
{
	if (!(c->cr0 & X86_CR0_PE)) {
		if (call) {
			uint64_t sp = c->gpr[GPR_RSP];
			uint64_t vals[2] = { c->seg[SEG_CS].sel, ret_rip };
			if (push_frame(c, c->seg[SEG_SS].base, &sp, vals, 2, opsize) < 0)
				return -1;
			c->gpr[GPR_RSP] = sp;
		}
		c->seg[SEG_CS].sel = sel;
		c->seg[SEG_CS].base = (uint64_t)sel << 4;
		c->rip = off;
		bt_update_mode(c);
		return 0;
	}
	struct x86_seg cs;
	if (code_desc(c, sel, &cs, 0) < 0)
		return -1;
	bool conforming = cs.type & 4;
	if ((!conforming && (cs.dpl != c->cpl || (sel & 3) > c->cpl)) ||
	    (conforming && cs.dpl > c->cpl)) {
		bt_raise(c, 13, true, sel & 0xfffc);
		return -1;
	}
	if (call) {
		uint64_t sp = c->gpr[GPR_RSP];
		bool m64 = c->mode & BT_MODE_64;
		uint64_t vals[2] = { c->seg[SEG_CS].sel, ret_rip };
		if (push_frame(c, m64 ? 0 : c->seg[SEG_SS].base, &sp, vals, 2, opsize) < 0)
			return -1;
		c->gpr[GPR_RSP] = sp;
	}
	cs.sel = (sel & ~3) | c->cpl;
	c->seg[SEG_CS] = cs;
	c->rip = (cs.l && lm(c)) ? off : (off & 0xffffffffull);
	bt_update_mode(c);
	(void)flat_ss;
	return 0;
}

/* SYSCALL/SYSRET load fixed flat segments (built here rather than with the
 * core's x86_seg_* helpers, which may use SIMD via libc). */
static void flat_code(struct x86_seg *s, uint16_t sel, int dpl, bool l)
{
	bt_memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->limit = 0xffffffff;
	s->type = 0xb;
	s->s = 1;
	s->dpl = dpl;
	s->present = 1;
	s->g = 1;
	s->l = l;
	s->db = !l;
}

void bt_syscall_segs(struct bt_cpu *c, bool to_user, bool user64)
{
	uint16_t base = to_user ? (uint16_t)(c->star >> 48) : (uint16_t)(c->star >> 32);
	if (!to_user) {
		flat_code(&c->seg[SEG_CS], base & 0xfffc, 0, lm(c));
		flat_ss(&c->seg[SEG_SS], (base + 8) & 0xfffc, 0);
		c->cpl = 0;
	} else {
		if (user64)
			flat_code(&c->seg[SEG_CS], (base + 16) | 3, 3, true);
		else
			flat_code(&c->seg[SEG_CS], base | 3, 3, false);
		flat_ss(&c->seg[SEG_SS], (base + 8) | 3, 3);
		c->cpl = 3;
	}
	bt_update_mode(c);
}
