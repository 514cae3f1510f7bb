/* The C emulator for everything the translator never runs natively:
 * privileged and system instructions, I/O, interrupts, far transfers,
 * string instructions. One instruction at c->rip per call. */
#include <Zydis/Zydis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_cpu.h"
#include "bt_decode.h"
#include "bt_maskmov.h"
#include "devices/lapic.h"
#include "vm.h"

struct emu {
	struct bt_cpu *c;
	const ZydisDecodedInstruction *ip;
	const ZydisDecodedOperand *op;
	uint64_t next;
	uint8_t bytes[16];
	int asz;                /* address size in bytes */
	int osz;                /* operand size in bytes */
};

#define F_CF 0x1ull
#define F_ZF 0x40ull
#define F_DF 0x400ull
#define F_OF 0x800ull
#define RF_IF (1ull << 9)
#define RF_AC (1ull << 18)

static int gpr_of(ZydisRegister r, int *width, bool *high)
{
	*high = r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH;
	if (*high) {
		*width = 1;
		return r - ZYDIS_REGISTER_AH;
	}
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (big < ZYDIS_REGISTER_RAX || big > ZYDIS_REGISTER_R15)
		return -1;
	*width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r) / 8;
	return big - ZYDIS_REGISTER_RAX;
}

static uint64_t mask_of(int bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1;
}

static uint64_t reg_get(struct bt_cpu *c, ZydisRegister r)
{
	int w;
	bool high;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP)
		return c->rip;
	int i = gpr_of(r, &w, &high);
	if (i < 0)
		return 0;
	if (high)
		return (c->gpr[i] >> 8) & 0xff;
	return c->gpr[i] & mask_of(w);
}

static void reg_set(struct bt_cpu *c, ZydisRegister r, uint64_t v)
{
	int w;
	bool high;
	int i = gpr_of(r, &w, &high);
	if (i < 0)
		return;
	if (high)
		c->gpr[i] = (c->gpr[i] & ~0xff00ull) | ((v & 0xff) << 8);
	else if (w == 4)
		c->gpr[i] = v & 0xffffffffull;
	else if (w == 8)
		c->gpr[i] = v;
	else
		c->gpr[i] = (c->gpr[i] & ~mask_of(w)) | (v & mask_of(w));
}

static uint64_t seg_base(struct bt_cpu *c, int s)
{
	if ((c->mode & BT_MODE_64) && s != SEG_FS && s != SEG_GS)
		return 0;
	return c->seg[s].base;
}

static uint64_t trunc_addr(struct emu *e, uint64_t a)
{
	return a & mask_of(e->asz);
}

static uint64_t lin_of(struct emu *e, int s, uint64_t off)
{
	uint64_t l = seg_base(e->c, s) + trunc_addr(e, off);
	if (!(e->c->mode & BT_MODE_64))
		l &= 0xffffffffull;
	return l;
}

static uint64_t op_ea(struct emu *e, const ZydisDecodedOperand *o)
{
	uint64_t a = (uint64_t)o->mem.disp.value;
	if (o->mem.base == ZYDIS_REGISTER_RIP || o->mem.base == ZYDIS_REGISTER_EIP)
		a += e->next;
	else if (o->mem.base != ZYDIS_REGISTER_NONE)
		a += reg_get(e->c, o->mem.base);
	if (o->mem.index != ZYDIS_REGISTER_NONE)
		a += reg_get(e->c, o->mem.index) * (o->mem.scale ? o->mem.scale : 1);
	return trunc_addr(e, a);
}

static uint64_t op_lin(struct emu *e, const ZydisDecodedOperand *o)
{
	return lin_of(e, bt_seg_of(o->mem.segment), op_ea(e, o));
}

/* Guest access through a decoded memory operand: an SS-relative operand
 * (RSP/RBP base or SS: prefix) raises #SS instead of #GP. */
static int op_vread(struct emu *e, const ZydisDecodedOperand *o, void *buf, unsigned len)
{
	e->c->ss_access = o->mem.segment == ZYDIS_REGISTER_SS;
	int r = bt_vread(e->c, op_lin(e, o), buf, len, false);
	e->c->ss_access = false;
	return r;
}

static int op_vwrite(struct emu *e, const ZydisDecodedOperand *o, const void *buf, unsigned len)
{
	e->c->ss_access = o->mem.segment == ZYDIS_REGISTER_SS;
	int r = bt_vwrite(e->c, op_lin(e, o), buf, len, false);
	e->c->ss_access = false;
	return r;
}

static int op_read(struct emu *e, int i, uint64_t *v)
{
	const ZydisDecodedOperand *o = &e->op[i];
	int bytes = o->size / 8;
	switch (o->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		*v = reg_get(e->c, o->reg.value);
		return 0;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*v = o->imm.value.u & mask_of(bytes ? bytes : 8);
		return 0;
	case ZYDIS_OPERAND_TYPE_MEMORY: {
		*v = 0;
		e->c->ss_access = o->mem.segment == ZYDIS_REGISTER_SS;
		int r = bt_vread(e->c, op_lin(e, o), v, bytes > 8 ? 8 : bytes, false);
		e->c->ss_access = false;
		return r;
	}
	default:
		*v = 0;
		return 0;
	}
}

static int op_write(struct emu *e, int i, uint64_t v)
{
	const ZydisDecodedOperand *o = &e->op[i];
	int bytes = o->size / 8;
	if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		reg_set(e->c, o->reg.value, v);
		return 0;
	}
	if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
		e->c->ss_access = o->mem.segment == ZYDIS_REGISTER_SS;
		int r = bt_vwrite(e->c, op_lin(e, o), &v, bytes > 8 ? 8 : bytes, false);
		e->c->ss_access = false;
		return r;
	}
	return 0;
}

static uint64_t stack_mask(struct bt_cpu *c)
{
	if (c->mode & BT_MODE_64)
		return ~0ull;
	return c->seg[SEG_SS].db ? 0xffffffffull : 0xffffull;
}

/* Linear address of SS:off. */
static uint64_t stack_lin(struct bt_cpu *c, uint64_t off)
{
	uint64_t lin = seg_base(c, SEG_SS) + off;
	return (c->mode & BT_MODE_64) ? lin : (lin & 0xffffffffull);
}

/* ENTER's pushes: write below *sp without touching the guest's RSP. */
static int enter_push(struct bt_cpu *c, uint64_t *sp, uint64_t v, unsigned size)
{
	uint64_t nsp = (*sp - size) & stack_mask(c);
	c->ss_access = true;
	int r = bt_vwrite(c, stack_lin(c, nsp), &v, size, false);
	c->ss_access = false;
	if (r < 0)
		return -1;
	*sp = nsp;
	return 0;
}

static int push(struct bt_cpu *c, uint64_t v, int size)
{
	uint64_t m = stack_mask(c);
	uint64_t sp = (c->gpr[GPR_RSP] - size) & m;
	uint64_t lin = seg_base(c, SEG_SS) + sp;
	if (!(c->mode & BT_MODE_64))
		lin &= 0xffffffffull;
	c->ss_access = true;
	int r = bt_vwrite(c, lin, &v, size, false);
	c->ss_access = false;
	if (r < 0)
		return -1;
	c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~m) | sp;
	return 0;
}

static int pop(struct bt_cpu *c, uint64_t *v, int size)
{
	uint64_t m = stack_mask(c);
	uint64_t sp = c->gpr[GPR_RSP] & m;
	uint64_t lin = seg_base(c, SEG_SS) + sp;
	if (!(c->mode & BT_MODE_64))
		lin &= 0xffffffffull;
	*v = 0;
	c->ss_access = true;
	int r = bt_vread(c, lin, v, size, false);
	c->ss_access = false;
	if (r < 0)
		return -1;
	c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~m) | ((sp + size) & m);
	return 0;
}

static void emu_fail(struct emu *e, const char *what)
{
	char hex[64];
	int n = 0;
	for (int i = 0; i < e->ip->length && n < 60; i++)
		n += snprintf(hex + n, sizeof(hex) - n, "%02x ", e->bytes[i]);
	if (n)
		hex[n - 1] = 0;
	else
		hex[0] = 0;
	bt_fail(e->c, "%s %s at rip=0x%llx (bytes %s)", what,
		ZydisMnemonicGetString(e->ip->mnemonic), (unsigned long long)e->c->rip, hex);
}

static void gp0(struct bt_cpu *c)
{
	bt_raise(c, 13, true, 0);
}

static bool need_cpl0(struct emu *e)
{
	if (e->c->cpl != 0) {
		gp0(e->c);
		return false;
	}
	return true;
}

/* ---- CPUID: the host's, minus what the translator does not virtualise. ---- */
static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static void emu_cpuid(struct bt_cpu *c)
{
	uint32_t leaf = (uint32_t)c->gpr[GPR_RAX], sub = (uint32_t)c->gpr[GPR_RCX];
	uint32_t r[4] = { 0, 0, 0, 0 };
	uint32_t maxb[4], maxe[4];
	host_cpuid(0, 0, maxb);
	host_cpuid(0x80000000, 0, maxe);
	/* The VMI leaves take 0x40000000 when offered; ours move one step up. */
	uint32_t own = c->vm->vmi.cfg.enabled ? 0x40000100 : 0x40000000;
	if (vmi_cpuid(&c->vm->vmi, leaf, sub, r)) {
		/* r is the answer */
	} else if (leaf == own) {
		r[0] = own;
		r[1] = 0x696c6d76;      /* "vmlitevmlite" */
		r[2] = 0x6d766574;
		r[3] = 0x6574696c;
	} else if (leaf < 0x80000000 && leaf <= (maxb[0] < 0xd ? maxb[0] : 0xd)) {
		host_cpuid(leaf, sub, r);
		switch (leaf) {
		case 0:
			r[0] = maxb[0] < 0xd ? maxb[0] : 0xd;
			break;
		case 1:
			/* ecx: SSE3 PCLMUL SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES + hypervisor */
			r[2] &= (1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) |
				(1u << 20) | (1u << 22) | (1u << 23) | (1u << 25);
			r[2] |= 1u << 31;
			/* edx: FPU DE PSE TSC MSR PAE CX8 SEP PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 */
			r[3] &= (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) |
				(1u << 6) | (1u << 8) | (1u << 11) | (1u << 13) | (1u << 15) |
				(1u << 16) | (1u << 17) | (1u << 19) | (1u << 23) | (1u << 24) |
				(1u << 25) | (1u << 26);
			r[1] = (r[1] & 0xff00) | (1u << 16) | ((uint32_t)c->vcpu->id << 24);
			if (lapic_get(c->vm, c->vcpu->id)) {
				r[3] |= 1u << 9;        /* APIC */
				r[2] |= 1u << 21;       /* x2APIC: EOI/ICR are MSR writes */
				/* TSC-deadline timer: Linux then skips its ~100 ms
				 * LAPIC timer calibration loop at boot. Deadlines are
				 * in host TSC units, as the guest's RDTSC. */
				r[2] |= 1u << 24;
			}
			break;
		case 7:
			if (sub == 0) {
				/* BMI1 BMI2 ERMS ADX CLFLUSHOPT CLWB SHA */
				r[1] &= (1u << 3) | (1u << 8) | (1u << 9) | (1u << 19) |
					(1u << 23) | (1u << 24) | (1u << 29);
				r[0] = 0;
				r[2] = 0;
				/* SERIALIZE, which the translator implements itself (see
				 * classify()): Linux's sync_core() otherwise does an IRET
				 * to itself, and text_poke_early() calls it ~100,000
				 * times while applying alternatives at boot. */
				r[3] = 1u << 14;
			} else {
				r[0] = r[1] = r[2] = r[3] = 0;
			}
			break;
		case 4: case 0xb:
			break;
		default:
			r[0] = r[1] = r[2] = r[3] = 0;
			break;
		}
	} else if (leaf == 0x80000021) {
		/* SRSO_NO: a guest RET never runs as a host RET (it becomes a
		 * jump-cache lookup and an indirect jump), so the return-predictor
		 * attack the kernel's "safe RET" thunk guards against does not
		 * apply to translated code, and that thunk on every kernel return
		 * cost ~14% of a syscall-heavy workload here. */
		r[0] = 1u << 29;
	} else if (leaf >= 0x80000000 && leaf <= (maxe[0] < 0x80000008 ? maxe[0] : 0x80000008)) {
		host_cpuid(leaf, sub, r);
		switch (leaf) {
		case 0x80000000:
			/* Up to 0x80000021 (SRSO_NO); 0x80000009-20 read as zero. */
			r[0] = 0x80000021;
			break;
		case 0x80000001:
			r[2] &= (1u << 0) | (1u << 5) | (1u << 8);      /* LAHF ABM PREFETCHW */
			/* edx: SYSCALL NX 1G RDTSCP LM (plus the leaf-1 copies AMD repeats) */
			r[3] &= (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29) |
				(1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
				(1u << 8) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |
				(1u << 23) | (1u << 24);
			break;
		case 0x80000002: case 0x80000003: case 0x80000004:
		case 0x80000006: case 0x80000008:
			if (leaf == 0x80000008) {
				r[1] = 0;
				r[2] = 0;
			}
			break;
		default:
			r[0] = r[1] = r[2] = r[3] = 0;
		}
	}
	c->gpr[GPR_RAX] = r[0];
	c->gpr[GPR_RBX] = r[1];
	c->gpr[GPR_RCX] = r[2];
	c->gpr[GPR_RDX] = r[3];
}

static uint64_t rdtsc_host(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* ---- MSRs ---- */
static bool lapic_msr(uint32_t msr)
{
	return msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff);
}

static int msr_read(struct bt_cpu *c, uint32_t msr, uint64_t *v)
{
	int vr = bt_vmi_msr(c, false, msr, v);
	if (vr <= 0)
		return vr;
	if (lapic_msr(msr) && lapic_get(c->vm, c->vcpu->id)) {
		bt_fpu_park(c);
		int r = lapic_msr_read(c->vcpu, msr, v);
		if (msr == 0x1b && r == 0)
			c->apic_base = *v;
		return r;
	}
	switch (msr) {
	case 0xc0000080: *v = c->efer; return 0;
	case 0xc0000081: *v = c->star; return 0;
	case 0xc0000082: *v = c->lstar; return 0;
	case 0xc0000083: *v = c->cstar; return 0;
	case 0xc0000084: *v = c->sfmask; return 0;
	case 0xc0000100: *v = c->seg[SEG_FS].base; return 0;
	case 0xc0000101: *v = c->seg[SEG_GS].base; return 0;
	case 0xc0000102: *v = c->kernel_gs_base; return 0;
	case 0xc0000103: *v = c->tsc_aux; return 0;
	case 0x10: *v = rdtsc_host(); return 0;
	case 0x1b: *v = c->apic_base; return 0;
	case 0x174: *v = c->sysenter_cs; return 0;
	case 0x175: *v = c->sysenter_esp; return 0;
	case 0x176: *v = c->sysenter_eip; return 0;
	case 0x277: *v = c->pat; return 0;
	case 0x1a0: *v = c->misc_enable; return 0;
	case 0xc001001f: *v = c->nb_cfg; return 0;
	case 0x8b: case 0x3a: case 0xfe: case 0x2ff: case 0x179: case 0x17a:
	case 0xc0010015:
		*v = 0;
		return 0;
	default:
		return -1;
	}
}

static int msr_write(struct bt_cpu *c, uint32_t msr, uint64_t v)
{
	int vr = bt_vmi_msr(c, true, msr, &v);
	if (vr <= 0)
		return vr;
	if (lapic_msr(msr) && lapic_get(c->vm, c->vcpu->id)) {
		bt_fpu_park(c);
		int r = lapic_msr_write(c->vcpu, msr, v);
		if (msr == 0x1b && r == 0)
			c->apic_base = v;
		return r;
	}
	switch (msr) {
	case 0xc0000080: {
		uint64_t keep = c->efer & X86_EFER_LMA;
		if (v & ~(X86_EFER_SCE | X86_EFER_LME | X86_EFER_NXE | X86_EFER_LMA))
			return -1;
		c->efer = (v & (X86_EFER_SCE | X86_EFER_LME | X86_EFER_NXE)) | keep;
		bt_tlb_flush(c);
		bt_update_mode(c);
		return 0;
	}
	case 0xc0000081: c->star = v; return 0;
	case 0xc0000082: c->lstar = v; return 0;
	case 0xc0000083: c->cstar = v; return 0;
	case 0xc0000084: c->sfmask = v & 0xffffffffull; return 0;
	case 0xc0000100: c->seg[SEG_FS].base = v; bt_update_mode(c); return 0;
	case 0xc0000101: c->seg[SEG_GS].base = v; bt_update_mode(c); return 0;
	case 0xc0000102: c->kernel_gs_base = v; return 0;
	case 0xc0000103: c->tsc_aux = v & 0xffffffffull; return 0;
	case 0x1b: c->apic_base = v; return 0;
	case 0x174: c->sysenter_cs = v; return 0;
	case 0x175: c->sysenter_esp = v; return 0;
	case 0x176: c->sysenter_eip = v; return 0;
	case 0x277: c->pat = v; return 0;
	case 0x1a0: c->misc_enable = v; return 0;
	/* NB_CFG: Linux's AMD PCI code enables extended config-space access
	 * here on every AMD family >= 0x10; without it each boot logs two
	 * "unchecked MSR access" stack traces (and pays ~25 ms of kallsyms
	 * lookups printing them). We have no northbridge, so it just stores. */
	case 0xc001001f: c->nb_cfg = v; return 0;
	case 0x8b: case 0x10: case 0x2ff: case 0x179: case 0x17a:
		return 0;
	default:
		return -1;
	}
}

/* ---- control registers ---- */
static int cr_write(struct bt_cpu *c, int n, uint64_t v)
{
	switch (n) {
	case 0: {
		v |= X86_CR0_ET;
		if ((v & X86_CR0_PG) && !(v & X86_CR0_PE))
			return -1;
		if ((v >> 32) && (c->mode & BT_MODE_64))
			return -1;
		v &= 0xffffffffull;
		bool pg_on = (v & X86_CR0_PG) && !(c->cr0 & X86_CR0_PG);
		if (pg_on && (c->efer & X86_EFER_LME)) {
			if (!(c->cr4 & X86_CR4_PAE))
				return -1;
			c->efer |= X86_EFER_LMA;
		}
		if (!(v & X86_CR0_PG))
			c->efer &= ~X86_EFER_LMA;
		c->cr0 = v;
		bt_tlb_flush(c);
		bt_update_mode(c);
		return 0;
	}
	case 2: c->cr2 = v; return 0;
	case 3: c->cr3 = v; bt_tlb_flush_cr3(c); return 0;
	case 4:
		if ((c->efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
			return -1;
		if ((c->cr4 ^ v) & (1ull << 2))
			bt_flush_all(c);        /* TSD decides whether RDTSC runs natively */
		c->cr4 = v;
		bt_tlb_flush(c);
		bt_update_mode(c);
		return 0;
	case 8: {
		c->cr8 = v & 15;
		struct lapic *l = lapic_get(c->vm, c->vcpu->id);
		if (l) {
			bt_fpu_park(c);
			pthread_mutex_lock(&c->vm->dev_lock);
			lapic_reg_write(l, 0x80, (uint32_t)(c->cr8 << 4));
			pthread_mutex_unlock(&c->vm->dev_lock);
		}
		return 0;
	}
	default: return -1;
	}
}

static uint64_t cr_read(struct bt_cpu *c, int n)
{
	switch (n) {
	case 0: return c->cr0;
	case 2: return c->cr2;
	case 3: return c->cr3;
	case 4: return c->cr4;
	case 8: {
		struct lapic *l = lapic_get(c->vm, c->vcpu->id);
		if (l) {
			bt_fpu_park(c);
			pthread_mutex_lock(&c->vm->dev_lock);
			c->cr8 = (lapic_reg_read(l, 0x80) >> 4) & 15;
			pthread_mutex_unlock(&c->vm->dev_lock);
		}
		return c->cr8;
	}
	default: return 0;
	}
}

static uint64_t dr_regs[8] = { 0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400 };

/* ---- port I/O ---- */
static int emu_out(struct emu *e, struct vcpu_exit *x, uint16_t port, int size, uint64_t v)
{
	struct bt_cpu *c = e->c;
	bt_memcpy(c->io_buf, &v, size);
	x->kind = EXIT_PIO;
	x->io.port = port;
	x->io.size = (uint8_t)size;
	x->io.is_write = true;
	x->io.count = 1;
	x->io.data = c->io_buf;
	c->rip = e->next;
	return 1;
}

static bool io_allowed(struct bt_cpu *c)
{
	/* No I/O bitmap: CPL > IOPL is simply refused. */
	int iopl = (c->rflags_sys >> 12) & 3;
	return (c->cr0 & X86_CR0_PE) == 0 || c->cpl <= iopl;
}

static uint64_t count_reg(struct emu *e)
{
	return e->c->gpr[GPR_RCX] & mask_of(e->asz);
}

static void set_count(struct emu *e, uint64_t v)
{
	struct bt_cpu *c = e->c;
	uint64_t m = mask_of(e->asz);
	if (e->asz == 4)
		c->gpr[GPR_RCX] = v & m;
	else
		c->gpr[GPR_RCX] = (c->gpr[GPR_RCX] & ~m) | (v & m);
}

static void adv_reg(struct emu *e, int r, int64_t delta)
{
	struct bt_cpu *c = e->c;
	uint64_t m = mask_of(e->asz);
	uint64_t v = (c->gpr[r] + (uint64_t)delta) & m;
	if (e->asz == 4)
		c->gpr[r] = v;
	else
		c->gpr[r] = (c->gpr[r] & ~m) | v;
}

static int str_seg(struct emu *e)
{
	int s = SEG_DS;
	for (int i = 0; i < e->ip->operand_count; i++)
		if (e->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    e->op[i].mem.base != ZYDIS_REGISTER_RDI &&
		    e->op[i].mem.base != ZYDIS_REGISTER_EDI &&
		    e->op[i].mem.base != ZYDIS_REGISTER_DI)
			s = bt_seg_of(e->op[i].mem.segment);
	return s;
}

static int emu_outs(struct emu *e, struct vcpu_exit *x, int size)
{
	struct bt_cpu *c = e->c;
	bool rep = e->ip->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
				       ZYDIS_ATTRIB_HAS_REPNE);
	uint64_t n = rep ? count_reg(e) : 1;
	if (n == 0) {
		c->rip = e->next;
		return 0;
	}
	int64_t step = (c->flags & F_DF) ? -size : size;
	uint64_t max = sizeof(c->io_buf) / size;
	if (n > max)
		n = max;
	uint64_t done = 0;
	int seg = str_seg(e);
	while (done < n) {
		uint64_t lin = lin_of(e, seg, c->gpr[GPR_RSI]);
		if (bt_vread(c, lin, c->io_buf + done * size, size, false) < 0) {
			if (done == 0)
				return 0;
			break;
		}
		adv_reg(e, GPR_RSI, step);
		done++;
		/* Keep one exit within one page of source for simplicity. */
		if (((lin + step) ^ lin) & ~0xfffull)
			break;
	}
	if (rep)
		set_count(e, count_reg(e) - done);
	if (!rep || count_reg(e) == 0)
		c->rip = e->next;
	x->kind = EXIT_PIO;
	x->io.port = (uint16_t)c->gpr[GPR_RDX];
	x->io.size = (uint8_t)size;
	x->io.is_write = true;
	x->io.count = (uint32_t)done;
	x->io.data = c->io_buf;
	return 1;
}

static int emu_ins(struct emu *e, struct vcpu_exit *x, int size)
{
	struct bt_cpu *c = e->c;
	bool rep = e->ip->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
				       ZYDIS_ATTRIB_HAS_REPNE);
	uint64_t n = rep ? count_reg(e) : 1;
	if (n == 0) {
		c->rip = e->next;
		return 0;
	}
	/* One element per exit: the destination is checked before the device
	 * is read, so a fault never loses data. */
	uint64_t lin = lin_of(e, SEG_ES, c->gpr[GPR_RDI]);
	uint64_t gpa;
	if (bt_translate_lin(c, lin, BT_ACC_W, c->cpl == 3, &gpa) < 0)
		return 0;
	c->io_pending = 2;
	c->io_size = (uint8_t)size;
	c->io_count = 1;
	c->io_next_rip = e->next;
	c->io_rep = rep;
	c->io_asz = (uint8_t)e->asz;
	x->kind = EXIT_PIO;
	x->io.port = (uint16_t)c->gpr[GPR_RDX];
	x->io.size = (uint8_t)size;
	x->io.is_write = false;
	x->io.count = 1;
	x->io.data = c->io_buf;
	return 1;
}

int bt_io_complete(struct bt_cpu *c)
{
	int kind = c->io_pending;
	c->io_pending = 0;
	if (kind == 1) {
		uint64_t v = 0;
		bt_memcpy(&v, c->io_buf, c->io_size);
		if (c->io_size == 4)
			c->gpr[GPR_RAX] = v;
		else
			c->gpr[GPR_RAX] = (c->gpr[GPR_RAX] & ~mask_of(c->io_size)) | v;
		c->rip = c->io_next_rip;
		return 0;
	}
	if (kind == 2) {
		struct emu e;
		e.c = c;
		e.asz = c->io_asz;
		uint64_t lin = lin_of(&e, SEG_ES, c->gpr[GPR_RDI]);
		if (bt_vwrite(c, lin, c->io_buf, c->io_size, false) < 0)
			return 0;
		adv_reg(&e, GPR_RDI, (c->flags & F_DF) ? -(int)c->io_size : c->io_size);
		if (c->io_rep) {
			set_count(&e, count_reg(&e) - 1);
			if (count_reg(&e) == 0)
				c->rip = c->io_next_rip;
		} else {
			c->rip = c->io_next_rip;
		}
	}
	return 0;
}

/* ---- string instructions (per element, with a per-page fast path) ---- */
static uint64_t cmp_flags(uint64_t a, uint64_t b, int size)
{
	uint64_t f;
	switch (size) {
	case 1: __asm__("cmpb %b2, %b1\n\tpushfq\n\tpopq %0" : "=r"(f) : "q"(a), "q"(b) : "cc"); break;
	case 2: __asm__("cmpw %w2, %w1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a), "r"(b) : "cc"); break;
	case 4: __asm__("cmpl %k2, %k1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a), "r"(b) : "cc"); break;
	default: __asm__("cmpq %2, %1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a), "r"(b) : "cc"); break;
	}
	return f & 0x8d5;
}

static int emu_string(struct emu *e)
{
	struct bt_cpu *c = e->c;
	ZydisMnemonic m = e->ip->mnemonic;
	int size = e->osz;
	bool rep = e->ip->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
				       ZYDIS_ATTRIB_HAS_REPNE);
	bool repe = e->ip->attributes & ZYDIS_ATTRIB_HAS_REPE;
	bool repne = e->ip->attributes & ZYDIS_ATTRIB_HAS_REPNE;
	bool is_cmp = m == ZYDIS_MNEMONIC_CMPSB || m == ZYDIS_MNEMONIC_CMPSW ||
		      m == ZYDIS_MNEMONIC_CMPSD || m == ZYDIS_MNEMONIC_CMPSQ ||
		      m == ZYDIS_MNEMONIC_SCASB || m == ZYDIS_MNEMONIC_SCASW ||
		      m == ZYDIS_MNEMONIC_SCASD || m == ZYDIS_MNEMONIC_SCASQ;
	bool src = !(m == ZYDIS_MNEMONIC_STOSB || m == ZYDIS_MNEMONIC_STOSW ||
		     m == ZYDIS_MNEMONIC_STOSD || m == ZYDIS_MNEMONIC_STOSQ ||
		     m == ZYDIS_MNEMONIC_SCASB || m == ZYDIS_MNEMONIC_SCASW ||
		     m == ZYDIS_MNEMONIC_SCASD || m == ZYDIS_MNEMONIC_SCASQ);
	bool dst = !(m == ZYDIS_MNEMONIC_LODSB || m == ZYDIS_MNEMONIC_LODSW ||
		     m == ZYDIS_MNEMONIC_LODSD || m == ZYDIS_MNEMONIC_LODSQ);
	bool dst_write = dst && !is_cmp;
	int seg = str_seg(e);
	int64_t step = (c->flags & F_DF) ? -size : size;
	uint64_t budget = 1u << 16;     /* bytes per call; then the dispatcher polls */

	while (budget) {
		if (rep && count_reg(e) == 0)
			break;
		uint64_t slin = src ? lin_of(e, seg, c->gpr[GPR_RSI]) : 0;
		uint64_t dlin = dst ? lin_of(e, SEG_ES, c->gpr[GPR_RDI]) : 0;
		/* Fast path: forward MOVS/STOS within single pages of RAM. */
		if (rep && !is_cmp && step > 0 && dst_write) {
			uint64_t n = count_reg(e);
			uint64_t room = (4096 - (dlin & 0xfff)) / size;
			if (src) {
				uint64_t sroom = (4096 - (slin & 0xfff)) / size;
				if (sroom < room)
					room = sroom;
			}
			if (room > n)
				room = n;
			if (room > 1) {
				uint64_t sg = 0, dg;
				if (src && bt_translate_lin(c, slin, BT_ACC_R, c->cpl == 3, &sg) < 0)
					return 0;
				if (bt_translate_lin(c, dlin, BT_ACC_W, c->cpl == 3, &dg) < 0)
					return 0;
				uint8_t *sh = src ? bt_gpa_host(c, sg) : NULL;
				uint8_t *dh = bt_gpa_host(c, dg);
				if (dh && (sh || !src)) {
					uint64_t bytes = room * size;
					int64_t pg = (dh - c->vm->mem.ram) >> 12;
					if (dh >= c->vm->mem.ram && (uint64_t)pg < c->bt->npages &&
					    c->bt->page_code[pg])
						bt_smc_write(c, dg, (unsigned)bytes);
					if (src) {
						bt_memcpy(dh, sh, bytes);
					} else {
						/* One host REP STOS for the whole run. */
						uint64_t v = c->gpr[GPR_RAX];
						void *d = dh;
						uint64_t cnt = room;
						switch (size) {
						case 1: __asm__ volatile("rep stosb" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
						case 2: __asm__ volatile("rep stosw" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
						case 4: __asm__ volatile("rep stosl" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
						default: __asm__ volatile("rep stosq" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
						}
					}
					if (src)
						adv_reg(e, GPR_RSI, (int64_t)bytes);
					adv_reg(e, GPR_RDI, (int64_t)bytes);
					set_count(e, count_reg(e) - room);
					budget = budget > bytes ? budget - bytes : 0;
					continue;
				}
			}
		}
		uint64_t a = 0, b = 0;
		/* CMPS: the host reads ES:[rDI] before DS:[rSI], except REPE
		 * CMPSB (measured with tests/difftest on the AMD host), and the
		 * first fault (#GP or #PF) wins; match it. */
		bool dfirst = is_cmp && src && !(size == 1 && rep && repe);
		if (dfirst && bt_vread(c, dlin, &b, size, false) < 0)
			return 0;
		if (src && bt_vread(c, slin, &a, size, false) < 0)
			return 0;
		if (m == ZYDIS_MNEMONIC_STOSB || m == ZYDIS_MNEMONIC_STOSW ||
		    m == ZYDIS_MNEMONIC_STOSD || m == ZYDIS_MNEMONIC_STOSQ ||
		    m == ZYDIS_MNEMONIC_SCASB || m == ZYDIS_MNEMONIC_SCASW ||
		    m == ZYDIS_MNEMONIC_SCASD || m == ZYDIS_MNEMONIC_SCASQ)
			a = c->gpr[GPR_RAX] & mask_of(size);
		if (is_cmp) {
			if (!dfirst && bt_vread(c, dlin, &b, size, false) < 0)
				return 0;
		} else if (dst) {
			if (bt_vwrite(c, dlin, &a, size, false) < 0)
				return 0;
		} else {
			uint64_t m2 = mask_of(size);
			c->gpr[GPR_RAX] = size == 4 ? a : ((c->gpr[GPR_RAX] & ~m2) | a);
		}
		if (src && !(m >= ZYDIS_MNEMONIC_SCASB && 0))
			adv_reg(e, GPR_RSI, step);
		if (dst)
			adv_reg(e, GPR_RDI, step);
		if (is_cmp) {
			/* CMPS compares [rsi] - [rdi]; SCAS compares rAX - [rdi]. */
			c->flags = (c->flags & ~0x8d5ull) | cmp_flags(a, b, size);
		}
		budget = budget > (uint64_t)size ? budget - size : 0;
		if (!rep)
			break;
		set_count(e, count_reg(e) - 1);
		if (is_cmp && ((repe && !(c->flags & F_ZF)) || (repne && (c->flags & F_ZF))))
			break;
	}
	if (!rep || count_reg(e) == 0 ||
	    (is_cmp && ((repe && !(c->flags & F_ZF)) || (repne && (c->flags & F_ZF)))))
		c->rip = e->next;
	return 0;
}

/* REP MOVS/STOS for translated code: no decode, no block exit. The site
 * stored the operation in SLOWINFO, its RIP in RIP and the next RIP in NEXT.
 * Faults leave RSI/RDI/RCX at the element that faulted (REP semantics). */
uint64_t bt_helper_string(struct bt_cpu *c)
{
	uint64_t info = c->slow_info;
	int kind = info & 3, size = (info >> 4) & 15;
	bool rep = info & BT_STR_REP;
	struct emu e;
	e.c = c;
	e.asz = (info & BT_STR_A32) ? 4 : 8;
	uint64_t site_rip = c->rip;
	c->bounce_smc_exit = false;
	c->reason = BT_EXIT_HANDLED;
	int64_t step = (c->flags & F_DF) ? -size : size;
	uint64_t budget = 1u << 20;
	while (!rep || count_reg(&e)) {
		uint64_t dlin = lin_of(&e, SEG_ES, c->gpr[GPR_RDI]);
		uint64_t slin = kind == BT_STR_MOVS ? lin_of(&e, SEG_DS, c->gpr[GPR_RSI]) : 0;
		if (rep && step > 0) {
			uint64_t n = count_reg(&e);
			uint64_t room = (4096 - (dlin & 0xfff)) / size;
			if (kind == BT_STR_MOVS) {
				uint64_t sroom = (4096 - (slin & 0xfff)) / size;
				if (sroom < room)
					room = sroom;
			}
			if (room > n)
				room = n;
			uint64_t sg = 0, dg;
			uint8_t *sh = NULL, *dh = NULL;
			if (room > 1) {
				if (kind == BT_STR_MOVS &&
				    bt_translate_lin(c, slin, BT_ACC_R, c->cpl == 3, &sg) < 0)
					return 1;
				if (bt_translate_lin(c, dlin, BT_ACC_W, c->cpl == 3, &dg) < 0)
					return 1;
				sh = kind == BT_STR_MOVS ? bt_gpa_host(c, sg) : NULL;
				dh = bt_gpa_host(c, dg);
			}
			if (room > 1 && dh && (sh || kind == BT_STR_STOS)) {
				uint64_t bytes = room * size;
				const struct guest_memory *m = &c->vm->mem;
				if (dh >= m->ram && dh < m->ram + m->ram_size &&
				    c->bt->page_code[(dh - m->ram) >> 12])
					bt_smc_write(c, dg, (unsigned)bytes);
				if (kind == BT_STR_MOVS) {
					/* Element by element, as the guest's own size: an
					 * overlapping copy (dst a few bytes above src)
					 * replicates whole elements, not bytes. */
					void *d = dh;
					const void *sp = sh;
					uint64_t cnt = room;
					switch (size) {
					case 1: __asm__ volatile("rep movsb" : "+D"(d), "+S"(sp), "+c"(cnt) : : "memory"); break;
					case 2: __asm__ volatile("rep movsw" : "+D"(d), "+S"(sp), "+c"(cnt) : : "memory"); break;
					case 4: __asm__ volatile("rep movsl" : "+D"(d), "+S"(sp), "+c"(cnt) : : "memory"); break;
					default: __asm__ volatile("rep movsq" : "+D"(d), "+S"(sp), "+c"(cnt) : : "memory"); break;
					}
				} else {
					uint64_t v = c->gpr[GPR_RAX];
					void *d = dh;
					uint64_t cnt = room;
					switch (size) {
					case 1: __asm__ volatile("rep stosb" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
					case 2: __asm__ volatile("rep stosw" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
					case 4: __asm__ volatile("rep stosl" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
					default: __asm__ volatile("rep stosq" : "+D"(d), "+c"(cnt) : "a"(v) : "memory"); break;
					}
				}
				if (kind == BT_STR_MOVS)
					adv_reg(&e, GPR_RSI, (int64_t)bytes);
				adv_reg(&e, GPR_RDI, (int64_t)bytes);
				set_count(&e, count_reg(&e) - room);
				budget = budget > bytes ? budget - bytes : 0;
				if (!budget && count_reg(&e))
					break;
				continue;
			}
		}
		uint64_t v = c->gpr[GPR_RAX];
		if (kind == BT_STR_MOVS && bt_vread(c, slin, &v, size, false) < 0)
			return 1;
		if (bt_vwrite(c, dlin, &v, size, false) < 0)
			return 1;
		if (kind == BT_STR_MOVS)
			adv_reg(&e, GPR_RSI, step);
		adv_reg(&e, GPR_RDI, step);
		if (!rep)
			break;
		set_count(&e, count_reg(&e) - 1);
		budget = budget > (uint64_t)size ? budget - size : 0;
		if (!budget && count_reg(&e))
			break;
	}
	if (rep && count_reg(&e)) {
		/* Out of budget: restart the instruction from the dispatcher,
		 * which polls for interrupts first. */
		c->rip = site_rip;
		return 1;
	}
	if (c->bounce_smc_exit) {
		c->bounce_smc_exit = false;
		c->rip = c->slow_next;
		return 1;
	}
	return 0;
}

/* INVLPG and MOV to CR0/2/3/4 from translated code at CPL 0 (bt_asm_sys).
 * Linux does ~70,000 INVLPGs and ~17,000 CR3 writes per boot; as emulated
 * instructions each cost a block exit, a decode and a lookup, and the block
 * after them could not be chained. The translation already knows the
 * operands, so this only does the work. It leaves translated code when the
 * rest of the block may be stale (mode change, dropped translations) or on
 * #GP (RIP is then the handler's). */
uint64_t bt_helper_sys(struct bt_cpu *c)
{
	uint64_t info = c->slow_info;
	uint32_t gen = c->bt->gen, mode = c->mode;
	uint64_t killed = c->n.killed;
	c->reason = BT_EXIT_HANDLED;
	c->n.sys_direct++;
	if ((info & 0xff) == BT_SYS_INVLPG) {
		bt_tlb_invlpg(c, c->tmp3);
	} else if (cr_write(c, (int)((info >> 8) & 0xff), c->gpr[(info >> 16) & 15]) < 0) {
		gp0(c);
		return 1;
	}
	c->rip = c->slow_next;
	return c->bt->gen != gen || c->mode != mode || c->n.killed != killed || c->failed ||
	       c->triple;
}

/* BMI1/BMI2 on operand values with the host's own instructions. Returns -1
 * when an operand access faulted (the exception is delivered). */
#define BMI_OP(insn, w, out, a, b) \
	do { \
		if ((w) == 8) \
			__asm__ volatile(insn " %2, %1, %0\n\tpushfq\n\tpopq %3" \
					 : "=&r"(out), "+r"(a), "+r"(b), "=r"(fl) : : "cc"); \
		else { \
			uint32_t o32, a32 = (uint32_t)(a), b32 = (uint32_t)(b); \
			__asm__ volatile(insn " %2, %1, %0\n\tpushfq\n\tpopq %3" \
					 : "=&r"(o32), "+r"(a32), "+r"(b32), "=r"(fl) : : "cc"); \
			out = o32; \
		} \
	} while (0)

static int emu_bmi(struct emu *e)
{
	struct bt_cpu *c = e->c;
	const ZydisDecodedInstruction *in = e->ip;
	int w = in->operand_width / 8;
	uint64_t a = 0, b = 0, r = 0, hi = 0, fl = c->flags;
	bool flags = false;
	if (op_read(e, 1, &a) < 0)
		return -1;
	if (in->operand_count_visible > 2 && op_read(e, 2, &b) < 0)
		return -1;
	/* AT&T operand order: source2, source1, destination. */
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_BZHI:   BMI_OP("bzhi", w, r, a, b); flags = true; break;
	case ZYDIS_MNEMONIC_BEXTR:  BMI_OP("bextr", w, r, a, b); flags = true; break;
	case ZYDIS_MNEMONIC_SHRX:   BMI_OP("shrx", w, r, a, b); break;
	case ZYDIS_MNEMONIC_SARX:   BMI_OP("sarx", w, r, a, b); break;
	case ZYDIS_MNEMONIC_SHLX:   BMI_OP("shlx", w, r, a, b); break;
	case ZYDIS_MNEMONIC_PDEP:   BMI_OP("pdep", w, r, a, b); break;
	case ZYDIS_MNEMONIC_PEXT:   BMI_OP("pext", w, r, a, b); break;
	case ZYDIS_MNEMONIC_ANDN:   BMI_OP("andn", w, r, a, b); flags = true; break;
	case ZYDIS_MNEMONIC_RORX: {
		unsigned n = (unsigned)b & (w == 8 ? 63 : 31);
		if (w == 8)
			r = n ? (a >> n) | (a << (64 - n)) : a;
		else {
			uint32_t x = (uint32_t)a;
			r = n ? (uint32_t)((x >> n) | (x << (32 - n))) : x;
		}
		break;
	}
	case ZYDIS_MNEMONIC_BLSR: case ZYDIS_MNEMONIC_BLSI: case ZYDIS_MNEMONIC_BLSMSK: {
		uint64_t x = w == 8 ? a : (uint32_t)a;
		/* The 64-bit form on a zero-extended 32-bit value gives the same
		 * result bits; CF/ZF/SF need the real width, so run that width. */
		if (w == 8) {
			if (in->mnemonic == ZYDIS_MNEMONIC_BLSR)
				__asm__ volatile("blsr %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(r), "=r"(fl) : "r"(x) : "cc");
			else if (in->mnemonic == ZYDIS_MNEMONIC_BLSI)
				__asm__ volatile("blsi %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(r), "=r"(fl) : "r"(x) : "cc");
			else
				__asm__ volatile("blsmsk %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(r), "=r"(fl) : "r"(x) : "cc");
		} else {
			uint32_t o, x32 = (uint32_t)x;
			if (in->mnemonic == ZYDIS_MNEMONIC_BLSR)
				__asm__ volatile("blsr %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(o), "=r"(fl) : "r"(x32) : "cc");
			else if (in->mnemonic == ZYDIS_MNEMONIC_BLSI)
				__asm__ volatile("blsi %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(o), "=r"(fl) : "r"(x32) : "cc");
			else
				__asm__ volatile("blsmsk %2, %0\n\tpushfq\n\tpopq %1" : "=&r"(o), "=r"(fl) : "r"(x32) : "cc");
			r = o;
		}
		flags = true;
		break;
	}
	case ZYDIS_MNEMONIC_MULX: {
		/* hi:lo = rDX * source */
		uint64_t d = c->gpr[GPR_RDX];
		if (w == 8) {
			unsigned __int128 p = (unsigned __int128)d * b;
			r = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
		} else {
			uint64_t p = (uint64_t)(uint32_t)d * (uint32_t)b;
			r = (uint32_t)p;
			hi = p >> 32;
		}
		/* The low half first: with equal destinations the high half wins. */
		if (op_write(e, 1, r) < 0 || op_write(e, 0, hi) < 0)
			return -1;
		return 0;
	}
	default:
		emu_fail(e, "unexpected BMI instruction");
		return -1;
	}
	if (flags)
		c->flags = (c->flags & ~0x8d5ull) | (fl & 0x8d5ull);
	return op_write(e, 0, r);
}

/* LSL/LAR: the descriptor named by a selector, if the CPU would let this
 * code see it (ZF=1), else ZF=0 and the destination unchanged. vDSO getcpu
 * reads the CPU number with LSL on its per-CPU GDT entry. */
static int emu_lsl_lar(struct emu *e, bool lar)
{
	struct bt_cpu *c = e->c;
	uint64_t selv;
	if (op_read(e, 1, &selv) < 0)
		return -1;
	uint16_t sel = (uint16_t)selv;
	uint64_t base = (sel & 4) ? c->ldt.base : c->gdt.base;
	uint32_t limit = (sel & 4) ? ((c->ldt.unusable || !c->ldt.present) ? 0 : c->ldt.limit)
				   : c->gdt.limit;
	uint32_t idx = sel & ~7u;
	uint32_t d[2];
	bool ok = (sel & ~3u) != 0 && idx + 7 <= limit;
	if (ok && bt_vread(c, base + idx, d, 8, true) < 0)
		return -1;
	if (ok) {
		unsigned type = (d[1] >> 8) & 15, dpl = (d[1] >> 13) & 3;
		bool sys = !(d[1] & (1u << 12));
		bool lm = (c->mode & BT_MODE_64) != 0;
		if (sys) {
			/* LDT, TSS (available/busy); LAR also call gates outside
			 * long mode. */
			ok = type == 2 || type == 9 || type == 11 ||
			     (!lm && (type == 1 || type == 3 || (lar && (type == 4 || type == 12 || type == 5))));
		}
		bool conforming_code = !sys && (type & 12) == 12;
		unsigned rpl = sel & 3, cpl = c->cpl;
		if (ok && !conforming_code && (dpl < cpl || dpl < rpl))
			ok = false;
	}
	if (!ok) {
		c->flags &= ~F_ZF;
		return 0;
	}
	uint64_t v;
	if (lar) {
		v = d[1] & 0x00f0ff00u;
	} else {
		v = (d[0] & 0xffffu) | (d[1] & 0x000f0000u);
		if (d[1] & (1u << 23))
			v = (v << 12) | 0xfff;
	}
	c->flags |= F_ZF;
	return op_write(e, 0, e->osz == 2 ? (v & 0xffff) : (v & 0xffffffffull)) < 0 ? -1 : 0;
}

static int fetch(struct bt_cpu *c, uint8_t *buf, int *len)
{
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	if (c->mode & BT_MODE_64)
		lin = c->rip;
	else
		lin &= 0xffffffffull;
	int n0 = 4096 - (int)(lin & 0xfff);
	if (n0 > 15)
		n0 = 15;
	int k = c->cpl == 3;
	uint64_t page = lin & ~0xfffull;
	if (n0 == 15 && c->fetch_host[k] && c->fetch_page[k] == page &&
	    c->fetch_gen[k] == c->tlb_gen && c->fetch_mode[k] == c->mode) {
		bt_memcpy(buf, c->fetch_host[k] + (lin & 0xfff), 15);
		*len = 15;
		return 0;
	}
	uint64_t gpa;
	if (bt_translate_lin(c, lin, BT_ACC_X, c->cpl == 3, &gpa) < 0)
		return -1;
	bt_pread(c, gpa, buf, n0);
	uint8_t *h = bt_gpa_host(c, gpa & ~0xfffull);
	c->fetch_host[k] = h;
	c->fetch_page[k] = page;
	c->fetch_gen[k] = c->tlb_gen;
	c->fetch_mode[k] = c->mode;
	*len = n0;
	if (n0 < 15) {
		uint64_t g2;
		if (bt_fetch_probe(c, lin + n0, &g2) == 0) {
			bt_pread(c, g2, buf + n0, 15 - n0);
			*len = 15;
		}
	}
	return 0;
}

/* Decoded-instruction cache: the emulator sees the same few system
 * instructions over and over (syscall entry/exit, interrupt flag changes).
 * A hit needs neither Zydis nor parking the guest's FP state (Zydis and the
 * libc it calls use SIMD registers). Entries are validated by their bytes. */
#define DCACHE_SIZE 1024
struct dentry {
	uint64_t rip;
	uint32_t mode;
	uint8_t len;
	uint8_t bytes[15];
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
};
static struct dentry *dcache;
uint64_t bt_emul_hist[ZYDIS_MNEMONIC_MAX_VALUE + 1];

void bt_emul_hist_print(void)
{
	for (int k = 0; k < 12; k++) {
		int best = -1;
		for (int i = 0; i <= ZYDIS_MNEMONIC_MAX_VALUE; i++)
			if (bt_emul_hist[i] && (best < 0 || bt_emul_hist[i] > bt_emul_hist[best]))
				best = i;
		if (best < 0)
			break;
		fprintf(stderr, "  emulated %-10s %llu\n", ZydisMnemonicGetString((ZydisMnemonic)best),
			(unsigned long long)bt_emul_hist[best]);
		bt_emul_hist[best] = 0;
	}
}

int bt_emulate(struct bt_cpu *c, struct vcpu_exit *x)
{
	struct emu e;
	struct emu *ep = &e;
	int len = 0;
	bt_memset(e.bytes, 0, sizeof(e.bytes));
	if (fetch(c, e.bytes, &len) < 0)
		return 0;
	e.c = c;
	if (!dcache) {
		bt_fpu_park(c);
		dcache = calloc(DCACHE_SIZE, sizeof(*dcache));
		if (!dcache) {
			bt_fail(c, "out of memory for the emulator's decode cache");
			return 0;
		}
	}
	struct dentry *d = &dcache[(c->rip ^ (c->rip >> 10)) & (DCACHE_SIZE - 1)];
	bool hit = d->rip == c->rip && d->mode == c->mode && d->len && d->len <= len;
	for (int i = 0; hit && i < d->len; i++)
		if (d->bytes[i] != e.bytes[i])
			hit = false;
	if (!hit) {
		bt_fpu_park(c);
		ZydisDecoder dec;
		if (c->mode & BT_MODE_64)
			ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
		else if (c->mode & BT_MODE_32)
			ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
		else
			ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
		d->len = 0;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, e.bytes, len, &d->in, d->op))) {
			if (len < 15) {
				/* The instruction runs into an unmapped page. */
				uint64_t g2;
				uint64_t lin = (c->mode & BT_MODE_64) ? c->rip :
					((c->seg[SEG_CS].base + c->rip) & 0xffffffffull);
				bt_translate_lin(c, lin + len, BT_ACC_X, c->cpl == 3, &g2);
				return 0;
			}
			bt_raise(c, 6, false, 0);
			return 0;
		}
		bt_decode_fixup(&d->in, d->op);
		d->rip = c->rip;
		d->mode = c->mode;
		d->len = d->in.length;
		bt_memcpy(d->bytes, e.bytes, d->len);
	}
	e.ip = &d->in;
	e.op = d->op;
	if (d->in.mnemonic < ZYDIS_MNEMONIC_MAX_VALUE + 1)
		bt_emul_hist[d->in.mnemonic]++;
	{
		static int traced;
		static const char *tm;
		static bool tm_read;
		if (!tm_read) {
			tm = getenv("VMLITE_BT_TRACE");
			tm_read = true;
		}
		/* Every 64th occurrence, so a histogram of the printed RIPs is a profile. */
		if (tm && (bt_emul_hist[d->in.mnemonic] & 63) == 0 && traced < 4000 &&
		    !strcmp(tm, ZydisMnemonicGetString(d->in.mnemonic))) {
			traced++;
			fprintf(stderr, "bt trace: rip=%llx bytes", (unsigned long long)c->rip);
			for (int i = 0; i < d->len; i++)
				fprintf(stderr, " %02x", d->bytes[i]);
			fprintf(stderr, "\n");
		}
	}
	c->insns_emulated++;
	e.next = c->rip + e.ip->length;
	if (!(c->mode & BT_MODE_64))
		e.next &= 0xffffffffull;
	e.asz = e.ip->address_width / 8;
	e.osz = e.ip->operand_width / 8;
	ZydisMnemonic mn = e.ip->mnemonic;
	uint64_t v, v2;

	switch (mn) {
	case ZYDIS_MNEMONIC_NOP:
	case ZYDIS_MNEMONIC_PAUSE:
	case ZYDIS_MNEMONIC_LFENCE: case ZYDIS_MNEMONIC_MFENCE: case ZYDIS_MNEMONIC_SFENCE:
	case ZYDIS_MNEMONIC_SERIALIZE:
	case ZYDIS_MNEMONIC_PREFETCH: case ZYDIS_MNEMONIC_PREFETCHW:
	case ZYDIS_MNEMONIC_PREFETCHT0: case ZYDIS_MNEMONIC_PREFETCHT1:
	case ZYDIS_MNEMONIC_PREFETCHT2: case ZYDIS_MNEMONIC_PREFETCHNTA:
	case ZYDIS_MNEMONIC_CLFLUSH: case ZYDIS_MNEMONIC_CLFLUSHOPT: case ZYDIS_MNEMONIC_CLWB:
	case ZYDIS_MNEMONIC_ENDBR32: case ZYDIS_MNEMONIC_ENDBR64:
		break;
	case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
		bt_raise(c, 6, false, 0);
		return 0;
	case ZYDIS_MNEMONIC_CPUID:
		emu_cpuid(c);
		break;
	case ZYDIS_MNEMONIC_RDTSC:
		if ((c->cr4 & (1ull << 2)) && c->cpl > 0) {
			gp0(c);
			return 0;
		}
		v = rdtsc_host();
		c->gpr[GPR_RAX] = v & 0xffffffffull;
		c->gpr[GPR_RDX] = v >> 32;
		break;
	case ZYDIS_MNEMONIC_RDTSCP:
		v = rdtsc_host();
		c->gpr[GPR_RAX] = v & 0xffffffffull;
		c->gpr[GPR_RDX] = v >> 32;
		c->gpr[GPR_RCX] = c->tsc_aux;
		break;
	case ZYDIS_MNEMONIC_RDMSR:
		if (!need_cpl0(ep))
			return 0;
		if (msr_read(c, (uint32_t)c->gpr[GPR_RCX], &v) < 0) {
			gp0(c);
			return 0;
		}
		c->gpr[GPR_RAX] = v & 0xffffffffull;
		c->gpr[GPR_RDX] = v >> 32;
		break;
	case ZYDIS_MNEMONIC_WRMSR:
		if (!need_cpl0(ep))
			return 0;
		v = (c->gpr[GPR_RAX] & 0xffffffffull) | (c->gpr[GPR_RDX] << 32);
		if (msr_write(c, (uint32_t)c->gpr[GPR_RCX], v) < 0) {
			gp0(c);
			return 0;
		}
		break;
	case ZYDIS_MNEMONIC_MOV: {
		/* Only the forms the translator refuses: CRn, DRn, Sreg. */
		const ZydisDecodedOperand *d = &e.op[0], *s = &e.op[1];
		if (d->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(d->reg.value) == ZYDIS_REGCLASS_CONTROL) {
			if (!need_cpl0(ep))
				return 0;
			int n = d->reg.value - ZYDIS_REGISTER_CR0;
			if (cr_write(c, n, reg_get(c, s->reg.value)) < 0) {
				gp0(c);
				return 0;
			}
		} else if (s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ZydisRegisterGetClass(s->reg.value) == ZYDIS_REGCLASS_CONTROL) {
			if (!need_cpl0(ep))
				return 0;
			reg_set(c, d->reg.value, cr_read(c, s->reg.value - ZYDIS_REGISTER_CR0));
		} else if (d->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ZydisRegisterGetClass(d->reg.value) == ZYDIS_REGCLASS_DEBUG) {
			if (!need_cpl0(ep))
				return 0;
			dr_regs[d->reg.value - ZYDIS_REGISTER_DR0] = reg_get(c, s->reg.value);
		} else if (s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ZydisRegisterGetClass(s->reg.value) == ZYDIS_REGCLASS_DEBUG) {
			if (!need_cpl0(ep))
				return 0;
			reg_set(c, d->reg.value, dr_regs[s->reg.value - ZYDIS_REGISTER_DR0]);
		} else if (d->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ZydisRegisterGetClass(d->reg.value) == ZYDIS_REGCLASS_SEGMENT) {
			int sg = bt_seg_of(d->reg.value);
			if (sg == SEG_CS) {
				bt_raise(c, 6, false, 0);
				return 0;
			}
			if (op_read(ep, 1, &v) < 0)
				return 0;
			if (bt_load_seg(c, sg, (uint16_t)v) < 0)
				return 0;
			if (sg == SEG_SS)
				c->shadow = true;
		} else if (s->type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ZydisRegisterGetClass(s->reg.value) == ZYDIS_REGCLASS_SEGMENT) {
			v = c->seg[bt_seg_of(s->reg.value)].sel;
			if (d->type == ZYDIS_OPERAND_TYPE_MEMORY) {
				if (op_vwrite(ep, d, &v, 2) < 0)
					return 0;
			} else {
				reg_set(c, d->reg.value, v);
			}
		} else {
			/* A plain move the translator could not re-encode. */
			if (op_read(ep, 1, &v) < 0 || op_write(ep, 0, v) < 0)
				return 0;
		}
		break;
	}
	case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD: {
		/* Only forms the translator could not re-encode (a high-byte
		 * source with a displaced destination). */
		if (op_read(ep, 1, &v) < 0)
			return 0;
		int sb = e.op[1].size;
		if (mn != ZYDIS_MNEMONIC_MOVZX && sb < 64)
			v = (uint64_t)(((int64_t)(v << (64 - sb))) >> (64 - sb));
		if (op_write(ep, 0, v) < 0)
			return 0;
		break;
	}
	case ZYDIS_MNEMONIC_CLTS:
		if (!need_cpl0(ep))
			return 0;
		c->cr0 &= ~X86_CR0_TS;
		break;
	case ZYDIS_MNEMONIC_LMSW:
		if (!need_cpl0(ep))
			return 0;
		if (op_read(ep, 0, &v) < 0)
			return 0;
		cr_write(c, 0, (c->cr0 & ~0xeull) | (v & 0xf) | (c->cr0 & 1));
		break;
	case ZYDIS_MNEMONIC_SMSW:
		if (op_write(ep, 0, c->cr0 & 0xffff) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: {
		if (!need_cpl0(ep))
			return 0;
		uint8_t buf[10] = { 0 };
		int blen = (c->mode & BT_MODE_64) ? 10 : 6;
		if (op_vread(ep, &e.op[0], buf, blen) < 0)
			return 0;
		struct x86_dtable t = { 0, 0 };
		bt_memcpy(&t.limit, buf, 2);
		bt_memcpy(&t.base, buf + 2, blen - 2);
		if (!(c->mode & BT_MODE_64) && e.osz == 2)
			t.base &= 0xffffff;
		if (mn == ZYDIS_MNEMONIC_LGDT)
			c->gdt = t;
		else
			c->idt = t;
		break;
	}
	case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT: {
		struct x86_dtable t = mn == ZYDIS_MNEMONIC_SGDT ? c->gdt : c->idt;
		uint8_t buf[10];
		int blen = (c->mode & BT_MODE_64) ? 10 : 6;
		bt_memcpy(buf, &t.limit, 2);
		bt_memcpy(buf + 2, &t.base, 8);
		if (op_vwrite(ep, &e.op[0], buf, blen) < 0)
			return 0;
		break;
	}
	case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_LLDT: {
		if (!need_cpl0(ep))
			return 0;
		if (op_read(ep, 0, &v) < 0)
			return 0;
		uint16_t sel = (uint16_t)v;
		struct x86_seg *t = mn == ZYDIS_MNEMONIC_LTR ? &c->tr : &c->ldt;
		if ((sel & ~3u) == 0 && mn == ZYDIS_MNEMONIC_LLDT) {
			bt_memset(t, 0, sizeof(*t));
			t->unusable = 1;
			break;
		}
		uint64_t d[2] = { 0, 0 };
		if (sel & 4) {
			bt_raise(c, 13, true, sel & 0xfffc);
			return 0;
		}
		if (bt_read_desc(c, sel, &d[0]) < 0)
			return 0;
		if ((c->efer & X86_EFER_LMA) &&
		    bt_vread(c, c->gdt.base + (sel & ~7u) + 8, &d[1], 8, true) < 0)
			return 0;
		struct x86_seg n;
		bt_desc_to_seg(d[0], (uint32_t)d[1], sel, &n);
		int want = mn == ZYDIS_MNEMONIC_LTR ? 9 : 2;
		if (n.s || (n.type != want && !(want == 9 && n.type == 1))) {
			bt_raise(c, 13, true, sel & 0xfffc);
			return 0;
		}
		if (!n.present) {
			bt_raise(c, 11, true, sel & 0xfffc);
			return 0;
		}
		if (mn == ZYDIS_MNEMONIC_LTR) {
			uint8_t tb = (uint8_t)((d[0] >> 40) | 2);
			bt_vwrite(c, c->gdt.base + (sel & ~7u) + 5, &tb, 1, true);
			n.type |= 2;
		}
		*t = n;
		break;
	}
	case ZYDIS_MNEMONIC_STR:
		if (op_write(ep, 0, c->tr.sel) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_SLDT:
		if (op_write(ep, 0, c->ldt.sel) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_INVLPG:
		if (!need_cpl0(ep))
			return 0;
		bt_tlb_invlpg(c, op_lin(ep, &e.op[0]));
		break;
	case ZYDIS_MNEMONIC_INVPCID:
		if (!need_cpl0(ep))
			return 0;
		bt_tlb_flush(c);
		break;
	case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD:
		if (!need_cpl0(ep))
			return 0;
		break;
	case ZYDIS_MNEMONIC_CLI:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		c->rflags_sys &= ~RF_IF;
		break;
	case ZYDIS_MNEMONIC_STI:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		if (!(c->rflags_sys & RF_IF))
			c->shadow = true;
		c->rflags_sys |= RF_IF;
		break;
	case ZYDIS_MNEMONIC_CLAC: case ZYDIS_MNEMONIC_STAC:
		if (!need_cpl0(ep))
			return 0;
		if (mn == ZYDIS_MNEMONIC_STAC)
			c->rflags_sys |= RF_AC;
		else
			c->rflags_sys &= ~RF_AC;
		break;
	case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHFQ:
		v = bt_get_rflags(c) & ~((1ull << 16) | (1ull << 17));
		if (push(c, v, e.osz) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ: {
		if (pop(c, &v, e.osz) < 0)
			return 0;
		uint64_t old = bt_get_rflags(c);
		uint64_t mask = 0x3f7fd5ull & ~((1ull << 16) | (1ull << 17) | (1ull << 19) | (1ull << 20));
		int iopl = (old >> 12) & 3;
		if (c->cpl > 0)
			mask &= ~(3ull << 12);
		if (c->cpl > iopl)
			mask &= ~RF_IF;
		if (e.osz == 2)
			mask &= 0xffff;
		bt_set_rflags(c, (old & ~mask) | (v & mask));
		break;
	}
	case ZYDIS_MNEMONIC_HLT:
		if (!need_cpl0(ep))
			return 0;
		c->rip = e.next;
		x->kind = EXIT_HLT;
		return 1;
	case ZYDIS_MNEMONIC_IN:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		if (op_read(ep, 1, &v) < 0)
			return 0;
		c->io_pending = 1;
		c->io_size = (uint8_t)(e.op[0].size / 8);
		c->io_next_rip = e.next;
		x->kind = EXIT_PIO;
		x->io.port = (uint16_t)v;
		x->io.size = c->io_size;
		x->io.is_write = false;
		x->io.count = 1;
		x->io.data = c->io_buf;
		return 1;
	case ZYDIS_MNEMONIC_OUT:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		if (op_read(ep, 0, &v) < 0 || op_read(ep, 1, &v2) < 0)
			return 0;
		return emu_out(ep, x, (uint16_t)v, e.op[1].size / 8, v2);
	case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		return emu_outs(ep, x, mn == ZYDIS_MNEMONIC_OUTSB ? 1 : mn == ZYDIS_MNEMONIC_OUTSW ? 2 : 4);
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
		if (!io_allowed(c)) {
			gp0(c);
			return 0;
		}
		return emu_ins(ep, x, mn == ZYDIS_MNEMONIC_INSB ? 1 : mn == ZYDIS_MNEMONIC_INSW ? 2 : 4);
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_MOVSQ: case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW:
	case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ: case ZYDIS_MNEMONIC_LODSB:
	case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ:
	case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
	case ZYDIS_MNEMONIC_CMPSQ: case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW:
	case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
		if (e.ip->operand_count_visible > 0 && mn == ZYDIS_MNEMONIC_MOVSD &&
		    e.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			emu_fail(ep, "SSE MOVSD reached the emulator:");
			return 0;
		}
		return emu_string(ep);
	case ZYDIS_MNEMONIC_INT3:
		bt_deliver(c, 3, false, 0, true, e.next);
		return 0;
	case ZYDIS_MNEMONIC_INT:
		bt_deliver(c, (int)(e.op[0].imm.value.u & 0xff), false, 0, true, e.next);
		return 0;
	case ZYDIS_MNEMONIC_INTO:
		if (c->flags & F_OF) {
			bt_deliver(c, 4, false, 0, true, e.next);
			return 0;
		}
		break;
	case ZYDIS_MNEMONIC_INT1:
		bt_deliver(c, 1, false, 0, false, e.next);
		return 0;
	case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ:
		bt_iret(c, e.osz);
		return 0;
	case ZYDIS_MNEMONIC_SYSCALL:
		if (!(c->efer & X86_EFER_SCE) || !(c->efer & X86_EFER_LMA)) {
			bt_raise(c, 6, false, 0);
			return 0;
		}
		c->gpr[GPR_RCX] = e.next;
		c->gpr[GPR_R11] = bt_get_rflags(c) & ~(1ull << 16);
		bt_set_rflags(c, bt_get_rflags(c) & ~c->sfmask & ~(1ull << 16));
		bt_syscall_segs(c, false, true);
		c->rip = (c->mode & BT_MODE_64) ? c->lstar : c->cstar;
		return 0;
	case ZYDIS_MNEMONIC_SYSRET: {
		if (!(c->efer & X86_EFER_SCE) || !(c->efer & X86_EFER_LMA)) {
			bt_raise(c, 6, false, 0);
			return 0;
		}
		if (!need_cpl0(ep))
			return 0;
		bool to64 = e.osz == 8;
		uint64_t target = to64 ? c->gpr[GPR_RCX] : (c->gpr[GPR_RCX] & 0xffffffffull);
		if (to64 && (uint64_t)(((int64_t)target << 16) >> 16) != target) {
			gp0(c);
			return 0;
		}
		bt_set_rflags(c, (c->gpr[GPR_R11] & 0x3c7fd7ull) | 2);
		bt_syscall_segs(c, true, to64);
		c->rip = target;
		return 0;
	}
	case ZYDIS_MNEMONIC_SWAPGS:
		if (!need_cpl0(ep))
			return 0;
		v = c->seg[SEG_GS].base;
		c->seg[SEG_GS].base = c->kernel_gs_base;
		c->kernel_gs_base = v;
		bt_update_mode(c);
		break;
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL: {
		bool call = mn == ZYDIS_MNEMONIC_CALL;
		uint16_t sel;
		uint64_t off;
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_POINTER) {
			sel = e.op[0].ptr.segment;
			off = e.op[0].ptr.offset;
		} else if (e.op[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
			uint8_t buf[10] = { 0 };
			if (op_vread(ep, &e.op[0], buf, e.osz + 2) < 0)
				return 0;
			off = 0;
			bt_memcpy(&off, buf, e.osz);
			bt_memcpy(&sel, buf + e.osz, 2);
		} else if (e.ip->meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) {
			/* Near indirect branches the translator leaves to us
			 * (call rsp): the stack is checked first, then the
			 * target, then the push happens, as on the host. */
			uint64_t to;
			if (op_read(ep, 0, &to) < 0)
				return 0;
			if (call) {
				uint64_t sp = (c->gpr[GPR_RSP] - (uint64_t)e.osz) & stack_mask(c);
				c->ss_access = true;
				int r = bt_vprobe_write(c, stack_lin(c, sp), (unsigned)e.osz, false);
				c->ss_access = false;
				if (r < 0)
					return 0;
			}
			if (e.osz < 8)
				to &= mask_of(e.osz);
			else if ((uint64_t)((int64_t)(to << 16) >> 16) != to) {
				gp0(c);
				return 0;
			}
			if (call && push(c, e.next, e.osz) < 0)
				return 0;
			c->rip = to;
			return 0;
		} else {
			emu_fail(ep, "unexpected near branch in the emulator:");
			return 0;
		}
		bt_far_transfer(c, sel, off, call, e.osz, e.next);
		return 0;
	}
	case ZYDIS_MNEMONIC_RET: {
		/* Far return (near returns are translated). The stack is read at
		 * explicit addresses and RSP changes only at the end: a fault is
		 * delivered on the spot and must see the RSP of the instruction. */
		uint64_t ip = 0, cs = 0, m = stack_mask(c), sp = c->gpr[GPR_RSP] & m;
		unsigned osz = (unsigned)e.osz;
		uint64_t imm = (e.ip->operand_count_visible &&
				e.op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) ? e.op[0].imm.value.u : 0;
		c->ss_access = true;
		int r = bt_vread(c, stack_lin(c, sp), &ip, osz, false);
		if (r == 0)
			r = bt_vread(c, stack_lin(c, (sp + osz) & m), &cs, osz, false);
		if (r == 0 && ((uint16_t)cs & 3) != c->cpl) {
			/* A change of privilege also pops SS:RSP (beyond the
			 * immediate); the host reads them, SS first, before it
			 * checks CS. */
			uint64_t nrsp = 0, nss = 0;
			uint64_t at = (sp + 2 * osz + imm) & m;
			r = bt_vread(c, stack_lin(c, (at + osz) & m), &nss, osz, false);
			if (r == 0)
				r = bt_vread(c, stack_lin(c, at), &nrsp, osz, false);
		}
		c->ss_access = false;
		if (r < 0)
			return 0;
		if (((uint16_t)cs & 3) < c->cpl) {
			bt_raise(c, 13, true, (uint32_t)cs & 0xfffc);
			return 0;
		}
		if (((uint16_t)cs & 3) != c->cpl) {
			emu_fail(ep, "far return to an outer privilege level:");
			return 0;
		}
		uint64_t nsp = (c->gpr[GPR_RSP] & ~m) | ((sp + 2 * osz + imm) & m);
		if (bt_far_transfer(c, (uint16_t)cs, ip, false, e.osz, 0) < 0)
			return 0;
		c->gpr[GPR_RSP] = nsp;
		return 0;
	}
	case ZYDIS_MNEMONIC_PUSH: {
		if (op_read(ep, 0, &v) < 0)
			return 0;
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(e.op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
			v = c->seg[bt_seg_of(e.op[0].reg.value)].sel;
		if (push(c, v, e.osz) < 0)
			return 0;
		break;
	}
	case ZYDIS_MNEMONIC_POP: {
		uint64_t sp = c->gpr[GPR_RSP];
		if (pop(c, &v, e.osz) < 0)
			return 0;
		/* A fault is delivered at once on the current stack, so RSP
		 * must already be back at its old value when one can happen;
		 * the destination address still uses the incremented RSP. */
		uint64_t nsp = c->gpr[GPR_RSP];
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(e.op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
			c->gpr[GPR_RSP] = sp;
			if (bt_load_seg(c, bt_seg_of(e.op[0].reg.value), (uint16_t)v) < 0)
				return 0;
			c->gpr[GPR_RSP] = nsp;
			if (e.op[0].reg.value == ZYDIS_REGISTER_SS)
				c->shadow = true;
		} else if (e.op[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
			uint64_t lin = op_lin(ep, &e.op[0]);
			int bytes = e.op[0].size / 8;
			c->gpr[GPR_RSP] = sp;
			c->ss_access = e.op[0].mem.segment == ZYDIS_REGISTER_SS;
			int r = bt_vwrite(c, lin, &v, bytes > 8 ? 8 : bytes, false);
			c->ss_access = false;
			if (r < 0)
				return 0;
			c->gpr[GPR_RSP] = nsp;
		} else {
			op_write(ep, 0, v);
		}
		break;
	}
	case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: {
		int w = mn == ZYDIS_MNEMONIC_PUSHA ? 2 : 4;
		uint64_t sp = c->gpr[GPR_RSP];
		uint8_t buf[32];
		/* Pushed order EAX ECX EDX EBX ESP(orig) EBP ESI EDI: EDI lowest. */
		for (int i = 0; i < 8; i++) {
			uint64_t val = i == GPR_RSP ? sp : c->gpr[i];
			bt_memcpy(buf + (7 - i) * w, &val, w);
		}
		uint64_t m = stack_mask(c);
		uint64_t nsp = (sp - 8 * w) & m;
		if (bt_vwrite(c, (seg_base(c, SEG_SS) + nsp) & 0xffffffffull, buf, 8 * w, false) < 0)
			return 0;
		c->gpr[GPR_RSP] = (sp & ~m) | nsp;
		break;
	}
	case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: {
		int w = mn == ZYDIS_MNEMONIC_POPA ? 2 : 4;
		uint64_t sp = c->gpr[GPR_RSP];
		uint64_t m = stack_mask(c);
		uint8_t buf[32];
		if (bt_vread(c, (seg_base(c, SEG_SS) + (sp & m)) & 0xffffffffull, buf, 8 * w, false) < 0)
			return 0;
		for (int i = 0; i < 8; i++) {
			if (i == GPR_RSP)
				continue;
			uint64_t val = 0;
			bt_memcpy(&val, buf + (7 - i) * w, w);
			c->gpr[i] = w == 4 ? val : ((c->gpr[i] & ~0xffffull) | val);
		}
		c->gpr[GPR_RSP] = (sp & ~m) | ((sp + 8 * w) & m);
		break;
	}
	case ZYDIS_MNEMONIC_ENTER: {
		/* Every access is made at its architectural address with RSP and
		 * RBP untouched until the end, so a fault anywhere (delivered on
		 * the spot) sees the state before the instruction. */
		uint64_t alloc = e.op[0].imm.value.u & 0xffff;
		uint64_t level = e.op[1].imm.value.u & 31;
		uint64_t m = stack_mask(c), sp = c->gpr[GPR_RSP] & m, bp = c->gpr[GPR_RBP];
		unsigned osz = (unsigned)e.osz;
		if (enter_push(c, &sp, bp, osz) < 0)
			return 0;
		uint64_t frame = sp;
		if (level) {
			/* Nested frames: level-1 frame pointers copied from the old
			 * frame (SS:[rBP - i*size]), then the new one. */
			for (uint64_t i = 1; i < level; i++) {
				uint64_t link = 0;
				bp = (bp - osz) & m;
				c->ss_access = true;
				int r = bt_vread(c, stack_lin(c, bp), &link, osz, false);
				c->ss_access = false;
				if (r < 0 || enter_push(c, &sp, link, osz) < 0)
					return 0;
			}
			if (enter_push(c, &sp, frame, osz) < 0)
				return 0;
		}
		uint64_t nsp = (sp - alloc) & m;
		/* Probe the lowest byte of the allocation for writing, as the CPU
		 * does (its #PF error code has W set). */
		c->ss_access = true;
		int r = alloc ? bt_vprobe_write(c, stack_lin(c, nsp), 1, false) : 0;
		c->ss_access = false;
		if (r < 0)
			return 0;
		reg_set(c, osz == 8 ? ZYDIS_REGISTER_RBP : osz == 4 ? ZYDIS_REGISTER_EBP :
			ZYDIS_REGISTER_BP, frame);
		c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~m) | nsp;
		break;
	}
	case ZYDIS_MNEMONIC_LEAVE: {
		uint64_t sp = c->gpr[GPR_RSP];
		c->gpr[GPR_RSP] = (sp & ~stack_mask(c)) | (c->gpr[GPR_RBP] & stack_mask(c));
		if (pop(c, &v, e.osz) < 0) {
			c->gpr[GPR_RSP] = sp;
			return 0;
		}
		reg_set(c, e.osz == 8 ? ZYDIS_REGISTER_RBP : e.osz == 4 ? ZYDIS_REGISTER_EBP :
			ZYDIS_REGISTER_BP, v);
		break;
	}
	case ZYDIS_MNEMONIC_XLAT: {
		uint8_t b;
		uint64_t off = (reg_get(c, e.asz == 8 ? ZYDIS_REGISTER_RBX : ZYDIS_REGISTER_EBX) +
				(c->gpr[GPR_RAX] & 0xff));
		if (bt_vread(c, lin_of(ep, str_seg(ep), off), &b, 1, false) < 0)
			return 0;
		c->gpr[GPR_RAX] = (c->gpr[GPR_RAX] & ~0xffull) | b;
		break;
	}
	case ZYDIS_MNEMONIC_VERW: case ZYDIS_MNEMONIC_VERR:
		/* Linux issues VERW only to flush buffers; report "not accessible". */
		c->flags &= ~F_ZF;
		break;
	case ZYDIS_MNEMONIC_XGETBV:
		if ((uint32_t)c->gpr[GPR_RCX] != 0 || !(c->cr4 & X86_CR4_OSXSAVE)) {
			bt_raise(c, (c->cr4 & X86_CR4_OSXSAVE) ? 13 : 6, (c->cr4 & X86_CR4_OSXSAVE), 0);
			return 0;
		}
		c->gpr[GPR_RAX] = c->xcr0 & 0xffffffffull;
		c->gpr[GPR_RDX] = c->xcr0 >> 32;
		break;
	case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64:
	case ZYDIS_MNEMONIC_FXRSTOR: case ZYDIS_MNEMONIC_FXRSTOR64: {
		/* The guest's FP state is the host's: run the real instruction on
		 * an aligned buffer and copy to or from guest memory. */
		static __thread uint8_t fx[512] __attribute__((aligned(64)));
		uint64_t lin = op_lin(ep, &e.op[0]);
		bool ss = e.op[0].mem.segment == ZYDIS_REGISTER_SS;
		/* Host order: a non-canonical operand (#SS if SS-relative)
		 * before misalignment (#GP). */
		if ((c->mode & BT_MODE_64) && (((lin + (1ull << 47)) >> 48) != 0 ||
					       (((lin + 511) + (1ull << 47)) >> 48) != 0)) {
			bt_raise(c, ss ? 12 : 13, true, 0);
			return 0;
		}
		if (lin & 15) {
			gp0(c);
			return 0;
		}
		bool save = mn == ZYDIS_MNEMONIC_FXSAVE || mn == ZYDIS_MNEMONIC_FXSAVE64;
		if (save) {
			/* The whole 512 bytes must be writable, but the CPU stores
			 * only the first 416: the rest is the guest's to keep. The
			 * host reports a fault at the top of the area, so the last
			 * byte is probed first. */
			if (bt_vprobe_write(c, lin + 511, 1, false) < 0 ||
			    bt_vprobe_write(c, lin, 512, false) < 0)
				return 0;
			bt_fpu_unpark(c);
			__asm__ volatile("fxsave64 %0" : "=m"(fx));
			if (bt_vwrite(c, lin, fx, 416, false) < 0)
				return 0;
		} else {
			uint8_t top;        /* the host faults at the top first here too */
			if (bt_vread(c, lin + 511, &top, 1, false) < 0 ||
			    bt_vread(c, lin, fx, 512, false) < 0)
				return 0;
			uint32_t mx;
			bt_memcpy(&mx, fx + 24, 4);
			if (mx & ~0xffffu) {
				gp0(c);
				return 0;
			}
			bt_fpu_unpark(c);
			__asm__ volatile("fxrstor64 %0" : : "m"(fx));
		}
		break;
	}
	case ZYDIS_MNEMONIC_BZHI: case ZYDIS_MNEMONIC_BEXTR: case ZYDIS_MNEMONIC_PDEP:
	case ZYDIS_MNEMONIC_PEXT: case ZYDIS_MNEMONIC_MULX: case ZYDIS_MNEMONIC_SHRX:
	case ZYDIS_MNEMONIC_SARX: case ZYDIS_MNEMONIC_SHLX: case ZYDIS_MNEMONIC_RORX:
	case ZYDIS_MNEMONIC_ANDN: case ZYDIS_MNEMONIC_BLSR: case ZYDIS_MNEMONIC_BLSI:
	case ZYDIS_MNEMONIC_BLSMSK:
		/* Forms the translator cannot re-encode (three of RSP/R10/R11):
		 * run the same host instruction on the operand values. */
		if (emu_bmi(ep) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_LAR:
		if (emu_lsl_lar(ep, mn == ZYDIS_MNEMONIC_LAR) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_CRC32: {
		/* Only forms the translator cannot re-encode reach here (a
		 * high-byte source with a displaced destination: crc32 esp, ah). */
		uint64_t src;
		if (op_read(ep, 1, &src) < 0)
			return 0;
		uint32_t crc = (uint32_t)reg_get(c, e.op[0].reg.value);
		for (unsigned i = 0; i < e.op[1].size / 8; i++) {
			crc ^= (uint8_t)(src >> (8 * i));
			for (int k = 0; k < 8; k++)     /* CRC-32C, reflected */
				crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
		}
		reg_set(c, e.op[0].reg.value, crc);
		break;
	}
	case ZYDIS_MNEMONIC_MASKMOVQ: case ZYDIS_MNEMONIC_MASKMOVDQU:
	case ZYDIS_MNEMONIC_VMASKMOVDQU: case ZYDIS_MNEMONIC_VMASKMOVPS:
	case ZYDIS_MNEMONIC_VMASKMOVPD: case ZYDIS_MNEMONIC_VPMASKMOVD:
	case ZYDIS_MNEMONIC_VPMASKMOVQ: {
		int m = 0;
		while (m < e.ip->operand_count && e.op[m].type != ZYDIS_OPERAND_TYPE_MEMORY)
			m++;
		if (m == e.ip->operand_count) {
			emu_fail(ep, "masked move without a memory operand");
			return 0;
		}
		if (bt_maskmov(c, e.ip, e.op, op_lin(ep, &e.op[m])) < 0)
			return 0;
		break;
	}
	case ZYDIS_MNEMONIC_VMCALL:
		/* The VMI transport under translation (SPEC 6.5). */
		return bt_vmi_call(c, e.next, x);
	case ZYDIS_MNEMONIC_XSETBV: {
		/* The guest's XCR0 only gates what it may enable; the host
		 * keeps every component live for it. */
		if (!(c->cr4 & X86_CR4_OSXSAVE)) {
			bt_raise(c, 6, false, 0);
			return 0;
		}
		v = (c->gpr[GPR_RAX] & 0xffffffffull) | (c->gpr[GPR_RDX] << 32);
		if (c->cpl != 0 || (uint32_t)c->gpr[GPR_RCX] != 0 || !(v & 1) ||
		    ((v & 4) && !(v & 2)) || (v & ~(c->fpu_mask & 7))) {
			gp0(c);
			return 0;
		}
		c->xcr0 = v;
		break;
	}
	case ZYDIS_MNEMONIC_RDRAND: case ZYDIS_MNEMONIC_RDSEED: case ZYDIS_MNEMONIC_RDPID:
	case ZYDIS_MNEMONIC_MONITOR: case ZYDIS_MNEMONIC_MWAIT:
	case ZYDIS_MNEMONIC_XSAVE: case ZYDIS_MNEMONIC_XRSTOR: case ZYDIS_MNEMONIC_XSAVEOPT:
	case ZYDIS_MNEMONIC_RDPKRU: case ZYDIS_MNEMONIC_WRPKRU: case ZYDIS_MNEMONIC_RDPMC:
	case ZYDIS_MNEMONIC_VMMCALL:
	case ZYDIS_MNEMONIC_RDFSBASE: case ZYDIS_MNEMONIC_RDGSBASE:
	case ZYDIS_MNEMONIC_WRFSBASE: case ZYDIS_MNEMONIC_WRGSBASE:
		/* Hidden by CPUID: a guest that uses them anyway gets #UD. */
		bt_raise(c, 6, false, 0);
		return 0;
	default:
		emu_fail(ep, "unsupported instruction");
		return 0;
	}
	c->rip = e.next;
	return 0;
}

int bt_emu_cr_read(struct bt_cpu *c, int n, uint64_t *v)
{
	if (n != 0 && n != 2 && n != 3 && n != 4 && n != 8)
		return -1;
	*v = cr_read(c, n);
	return 0;
}

int bt_emu_cr_write(struct bt_cpu *c, int n, uint64_t v)
{
	return cr_write(c, n, v);
}

int bt_emu_msr_read(struct bt_cpu *c, uint32_t msr, uint64_t *v)
{
	return msr_read(c, msr, v);
}

int bt_emu_msr_write(struct bt_cpu *c, uint32_t msr, uint64_t v)
{
	return msr_write(c, msr, v);
}
