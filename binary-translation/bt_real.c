/* 16-bit code (real mode and 16-bit protected-mode segments) runs here, one
 * instruction at a time, instead of being translated: it is rare (boot
 * paths, mode switches) and its segmented 16-bit addressing does not fit
 * the translator's flat address rewriting. Ordinary integer instructions
 * are interpreted below; system instructions (Sreg/CR moves, LGDT, far
 * branches, INT/IRET, IN/OUT, string ops, PUSHF/POPF, HLT...) go to
 * bt_emulate, which already handles PE=0 (IVT delivery, sel<<4 bases).
 *
 * A20 is treated as always enabled: linear = base + offset is not wrapped
 * at 1 MiB (what every post-BIOS OS expects). */
#include <Zydis/Zydis.h>
#include <stdio.h>

#include "bt_cpu.h"
#include "bt_decode.h"

struct real {
	struct bt_cpu *c;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t bytes[16];
	uint64_t next;
};

/* Arithmetic flags the host computes for us (CF PF AF ZF SF OF). */
#define REAL_ARITH 0x8d5ull

static uint64_t real_mask(int bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1;
}

static bool real_gpr(ZydisRegister r, int *idx, int *shift, int *bytes)
{
	*shift = 0;
	if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
		*idx = r - ZYDIS_REGISTER_AL;
		*bytes = 1;
	} else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		*idx = r - ZYDIS_REGISTER_AH;
		*shift = 8;
		*bytes = 1;
	} else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
		*idx = r - ZYDIS_REGISTER_AX;
		*bytes = 2;
	} else if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
		*idx = r - ZYDIS_REGISTER_EAX;
		*bytes = 4;
	} else {
		return false;
	}
	return true;
}

static uint64_t real_reg_get(struct bt_cpu *c, ZydisRegister r)
{
	int i, sh, n;
	if (!real_gpr(r, &i, &sh, &n))
		return 0;
	return (c->gpr[i] >> sh) & real_mask(n);
}

static void real_reg_set(struct bt_cpu *c, ZydisRegister r, uint64_t v)
{
	int i, sh, n;
	if (!real_gpr(r, &i, &sh, &n))
		return;
	uint64_t m = real_mask(n) << sh;
	c->gpr[i] = (c->gpr[i] & ~m) | ((v << sh) & m);
}

static uint64_t real_ea(struct real *e, const ZydisDecodedOperand *o)
{
	uint64_t a = (uint64_t)o->mem.disp.value;
	if (o->mem.base != ZYDIS_REGISTER_NONE)
		a += real_reg_get(e->c, o->mem.base);
	if (o->mem.index != ZYDIS_REGISTER_NONE)
		a += real_reg_get(e->c, o->mem.index) * (o->mem.scale ? o->mem.scale : 1);
	return a & real_mask(e->in.address_width / 8);
}

static uint64_t real_lin(struct real *e, const ZydisDecodedOperand *o)
{
	return (e->c->seg[bt_seg_of(o->mem.segment)].base + real_ea(e, o)) & 0xffffffffull;
}

static int real_read(struct real *e, int i, uint64_t *v)
{
	const ZydisDecodedOperand *o = &e->op[i];
	*v = 0;
	switch (o->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		*v = real_reg_get(e->c, o->reg.value);
		return 0;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*v = o->imm.value.u & real_mask(o->size / 8);
		return 0;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		return bt_vread(e->c, real_lin(e, o), v, o->size / 8, false);
	default:
		return 0;
	}
}

static int real_write(struct real *e, int i, uint64_t v)
{
	const ZydisDecodedOperand *o = &e->op[i];
	if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		real_reg_set(e->c, o->reg.value, v);
		return 0;
	}
	if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
		return bt_vwrite(e->c, real_lin(e, o), &v, o->size / 8, false);
	return 0;
}

static uint64_t real_sp_mask(struct bt_cpu *c)
{
	return c->seg[SEG_SS].db ? 0xffffffffull : 0xffffull;
}

static int real_push(struct bt_cpu *c, uint64_t v, int bytes)
{
	uint64_t m = real_sp_mask(c);
	uint64_t sp = (c->gpr[GPR_RSP] - bytes) & m;
	if (bt_vwrite(c, (c->seg[SEG_SS].base + sp) & 0xffffffffull, &v, bytes, false) < 0)
		return -1;
	c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~m) | sp;
	return 0;
}

static int real_pop(struct bt_cpu *c, uint64_t *v, int bytes)
{
	uint64_t m = real_sp_mask(c);
	uint64_t sp = c->gpr[GPR_RSP] & m;
	*v = 0;
	if (bt_vread(c, (c->seg[SEG_SS].base + sp) & 0xffffffffull, v, bytes, false) < 0)
		return -1;
	c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~m) | ((sp + bytes) & m);
	return 0;
}

enum {
	RA_ADD, RA_OR, RA_ADC, RA_SBB, RA_AND, RA_SUB, RA_XOR,
	RA_INC, RA_DEC, RA_NEG, RA_SHL, RA_SHR, RA_SAR, RA_ROL, RA_ROR, RA_RCL, RA_RCR,
	RA_IMUL,
};

/* The host computes the flags: exact by construction, including the
 * partial updates of INC/DEC and count-dependent shifts. The red zone is
 * skipped because push would clobber it. */
#define RA_PRE  "lea -128(%%rsp),%%rsp\n\tpush %[f]\n\tpopfq\n\t"
#define RA_POST "\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp),%%rsp"
#define RA2(insn) __asm__ volatile(RA_PRE insn " %[y],%[x]" RA_POST \
				   : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y) : "cc", "memory")
#define RA1(insn) __asm__ volatile(RA_PRE insn " %[x]" RA_POST \
				   : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory")
#define RAS(insn) __asm__ volatile(RA_PRE insn " %%cl,%[x]" RA_POST \
				   : [x] "+r"(x), [f] "+r"(f) : "c"(cnt) : "cc", "memory")
#define RA_BODY                                                         \
	switch (op) {                                                   \
	case RA_ADD: RA2("add"); break;                                 \
	case RA_OR:  RA2("or");  break;                                 \
	case RA_ADC: RA2("adc"); break;                                 \
	case RA_SBB: RA2("sbb"); break;                                 \
	case RA_AND: RA2("and"); break;                                 \
	case RA_SUB: RA2("sub"); break;                                 \
	case RA_XOR: RA2("xor"); break;                                 \
	case RA_INC: RA1("inc"); break;                                 \
	case RA_DEC: RA1("dec"); break;                                 \
	case RA_NEG: RA1("neg"); break;                                 \
	case RA_SHL: RAS("shl"); break;                                 \
	case RA_SHR: RAS("shr"); break;                                 \
	case RA_SAR: RAS("sar"); break;                                 \
	case RA_ROL: RAS("rol"); break;                                 \
	case RA_ROR: RAS("ror"); break;                                 \
	case RA_RCL: RAS("rcl"); break;                                 \
	case RA_RCR: RAS("rcr"); break;                                 \
	default: break;                                                 \
	}

static uint64_t real_alu(struct bt_cpu *c, int op, int bytes, uint64_t a, uint64_t b)
{
	uint64_t f = (c->flags & 0xcd5) | 2;
	uint8_t cnt = (uint8_t)b;
	uint64_t r;
	if (bytes == 1) {
		uint8_t x = (uint8_t)a, y = (uint8_t)b;
		RA_BODY
		r = x;
	} else if (bytes == 2) {
		uint16_t x = (uint16_t)a, y = (uint16_t)b;
		RA_BODY
		if (op == RA_IMUL)
			RA2("imul");
		r = x;
	} else {
		uint32_t x = (uint32_t)a, y = (uint32_t)b;
		RA_BODY
		if (op == RA_IMUL)
			RA2("imul");
		r = x;
	}
	c->flags = (c->flags & ~REAL_ARITH) | (f & REAL_ARITH);
	return r;
}

static bool real_cond(struct bt_cpu *c, ZydisMnemonic m)
{
	uint64_t f = c->flags;
	bool cf = f & 1, pf = f & 4, zf = f & 0x40, sf = f & 0x80, of = f & 0x800;
	switch (m) {
	case ZYDIS_MNEMONIC_JO: return of;
	case ZYDIS_MNEMONIC_JNO: return !of;
	case ZYDIS_MNEMONIC_JB: return cf;
	case ZYDIS_MNEMONIC_JNB: return !cf;
	case ZYDIS_MNEMONIC_JZ: return zf;
	case ZYDIS_MNEMONIC_JNZ: return !zf;
	case ZYDIS_MNEMONIC_JBE: return cf || zf;
	case ZYDIS_MNEMONIC_JNBE: return !cf && !zf;
	case ZYDIS_MNEMONIC_JS: return sf;
	case ZYDIS_MNEMONIC_JNS: return !sf;
	case ZYDIS_MNEMONIC_JP: return pf;
	case ZYDIS_MNEMONIC_JNP: return !pf;
	case ZYDIS_MNEMONIC_JL: return sf != of;
	case ZYDIS_MNEMONIC_JNL: return sf == of;
	case ZYDIS_MNEMONIC_JLE: return zf || sf != of;
	case ZYDIS_MNEMONIC_JNLE: return !zf && sf == of;
	default: return false;
	}
}

static int real_alu_op(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_ADD: return RA_ADD;
	case ZYDIS_MNEMONIC_OR: return RA_OR;
	case ZYDIS_MNEMONIC_ADC: return RA_ADC;
	case ZYDIS_MNEMONIC_SBB: return RA_SBB;
	case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_TEST: return RA_AND;
	case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_CMP: return RA_SUB;
	case ZYDIS_MNEMONIC_XOR: return RA_XOR;
	case ZYDIS_MNEMONIC_INC: return RA_INC;
	case ZYDIS_MNEMONIC_DEC: return RA_DEC;
	case ZYDIS_MNEMONIC_NEG: return RA_NEG;
	case ZYDIS_MNEMONIC_SHL: return RA_SHL;
	case ZYDIS_MNEMONIC_SHR: return RA_SHR;
	case ZYDIS_MNEMONIC_SAR: return RA_SAR;
	case ZYDIS_MNEMONIC_ROL: return RA_ROL;
	case ZYDIS_MNEMONIC_ROR: return RA_ROR;
	case ZYDIS_MNEMONIC_RCL: return RA_RCL;
	case ZYDIS_MNEMONIC_RCR: return RA_RCR;
	default: return -1;
	}
}

/* MUL/IMUL r/m and DIV/IDIV r/m on AL/AX/EAX (+AH/DX/EDX). DIV leaves the
 * (undefined) flags as they were; MUL sets CF=OF and keeps the others. */
static int real_muldiv(struct real *e, ZydisMnemonic m, int bytes)
{
	struct bt_cpu *c = e->c;
	uint64_t src;
	if (real_read(e, 0, &src) < 0)
		return -1;
	int bits = bytes * 8;
	uint64_t mk = real_mask(bytes);
	uint64_t lo = c->gpr[GPR_RAX] & mk;
	uint64_t hi = bytes == 1 ? (c->gpr[GPR_RAX] >> 8) & 0xff : c->gpr[GPR_RDX] & mk;
	uint64_t rlo, rhi;
	bool sig = m == ZYDIS_MNEMONIC_IMUL || m == ZYDIS_MNEMONIC_IDIV;
	if (m == ZYDIS_MNEMONIC_MUL || m == ZYDIS_MNEMONIC_IMUL) {
		uint64_t p;
		bool ov;
		if (sig) {
			int64_t a = (int64_t)(lo << (64 - bits)) >> (64 - bits);
			int64_t b = (int64_t)(src << (64 - bits)) >> (64 - bits);
			int64_t sp = a * b;
			p = (uint64_t)sp;
			ov = ((int64_t)((p & mk) << (64 - bits)) >> (64 - bits)) != sp;
		} else {
			p = lo * src;
			ov = (p >> bits) != 0;
		}
		rlo = p & mk;
		rhi = (p >> bits) & mk;
		c->flags = (c->flags & ~0x801ull) | (ov ? 0x801ull : 0);
	} else {
		uint64_t dividend = (hi << bits) | lo;
		if ((src & mk) == 0) {
			bt_raise(c, 0, false, 0);
			return -1;
		}
		if (sig) {
			int64_t n = (int64_t)(dividend << (64 - 2 * bits)) >> (64 - 2 * bits);
			int64_t d = (int64_t)(src << (64 - bits)) >> (64 - bits);
			if (d == -1 && n == INT64_MIN) {
				bt_raise(c, 0, false, 0);
				return -1;
			}
			int64_t q = n / d, r = n % d;
			int64_t qmax = (int64_t)(mk >> 1);
			if (q > qmax || q < -qmax - 1) {
				bt_raise(c, 0, false, 0);
				return -1;
			}
			rlo = (uint64_t)q & mk;
			rhi = (uint64_t)r & mk;
		} else {
			uint64_t q = dividend / src, r = dividend % src;
			if (q > mk) {
				bt_raise(c, 0, false, 0);
				return -1;
			}
			rlo = q;
			rhi = r;
		}
	}
	if (bytes == 1) {
		c->gpr[GPR_RAX] = (c->gpr[GPR_RAX] & ~0xffffull) | rlo | (rhi << 8);
	} else {
		c->gpr[GPR_RAX] = (c->gpr[GPR_RAX] & ~mk) | rlo;
		c->gpr[GPR_RDX] = (c->gpr[GPR_RDX] & ~mk) | rhi;
	}
	return 0;
}

/* Fetches and decodes the instruction at CS:IP. 0, or -1 after a fault. */
static int real_decode(struct real *e)
{
	struct bt_cpu *c = e->c;
	uint64_t lin = (c->seg[SEG_CS].base + c->rip) & 0xffffffffull;
	int len = 15;
	bt_memset(e->bytes, 0, sizeof(e->bytes));
	/* Shorten the fetch until it stays inside mapped memory; an
	 * instruction that really crosses into a hole faults below. */
	while (len > 1 && bt_translate_quiet(c, lin + len - 1, BT_ACC_X, &(uint64_t){ 0 }) < 0)
		len--;
	if (bt_vread(c, lin, e->bytes, (unsigned)len, false) < 0)
		return -1;
	bt_fpu_park(c);
	ZydisDecoder dec;
	if (c->seg[SEG_CS].db)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	else
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16);
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, e->bytes, len, &e->in, e->op))) {
		bt_raise(c, 6, false, 0);
		return -1;
	}
	e->next = (c->rip + e->in.length) & (c->seg[SEG_CS].db ? 0xffffffffull : 0xffffull);
	return 0;
}

static bool real_is_sys_reg(const ZydisDecodedOperand *o)
{
	if (o->type != ZYDIS_OPERAND_TYPE_REGISTER)
		return false;
	ZydisRegisterClass k = ZydisRegisterGetClass(o->reg.value);
	return k == ZYDIS_REGCLASS_SEGMENT || k == ZYDIS_REGCLASS_CONTROL ||
	       k == ZYDIS_REGCLASS_DEBUG;
}

/* Runs one instruction of 16-bit code. Returns 1 when *x was filled for the
 * core (port I/O, HLT...), else 0. */
int bt_real_step(struct bt_cpu *c, struct vcpu_exit *x)
{
	struct real e = { .c = c };
	if (real_decode(&e) < 0)
		return 0;
	ZydisMnemonic m = e.in.mnemonic;
	int osz = e.in.operand_width / 8;
	uint64_t a, b;
	c->insns_emulated++;
	int aop = real_alu_op(m);
	if (aop >= 0) {
		bool is1 = aop == RA_INC || aop == RA_DEC || aop == RA_NEG;
		int bytes = e.op[0].size / 8;
		if (real_read(&e, 0, &a) < 0)
			return 0;
		b = 0;
		if (aop >= RA_SHL && aop <= RA_RCR) {
			if (e.in.operand_count_visible > 1 && real_read(&e, 1, &b) < 0)
				return 0;
			if (e.in.operand_count_visible < 2)
				b = 1;
		} else if (!is1 && real_read(&e, 1, &b) < 0) {
			return 0;
		}
		uint64_t r = real_alu(c, aop, bytes, a, b);
		if (m != ZYDIS_MNEMONIC_CMP && m != ZYDIS_MNEMONIC_TEST && real_write(&e, 0, r) < 0)
			return 0;
		c->rip = e.next;
		return 0;
	}
	switch (m) {
	case ZYDIS_MNEMONIC_NOP:
		break;
	case ZYDIS_MNEMONIC_MOV:
		if (real_is_sys_reg(&e.op[0]) || real_is_sys_reg(&e.op[1]))
			return bt_emulate(c, x);
		if (real_read(&e, 1, &a) < 0 || real_write(&e, 0, a) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: {
		if (real_read(&e, 1, &a) < 0)
			return 0;
		int sb = e.op[1].size;
		if (m == ZYDIS_MNEMONIC_MOVSX)
			a = (uint64_t)((int64_t)(a << (64 - sb)) >> (64 - sb));
		real_write(&e, 0, a);
		break;
	}
	case ZYDIS_MNEMONIC_NOT:
		if (real_read(&e, 0, &a) < 0 || real_write(&e, 0, ~a) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_LEA:
		real_reg_set(c, e.op[0].reg.value, real_ea(&e, &e.op[1]));
		break;
	case ZYDIS_MNEMONIC_XCHG:
		if (real_read(&e, 0, &a) < 0 || real_read(&e, 1, &b) < 0)
			return 0;
		if (real_write(&e, 0, b) < 0 || real_write(&e, 1, a) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_IMUL:
		if (e.in.operand_count_visible >= 2) {
			int last = e.in.operand_count_visible - 1;
			if (real_read(&e, last == 2 ? 1 : 0, &a) < 0 || real_read(&e, last, &b) < 0)
				return 0;
			real_reg_set(c, e.op[0].reg.value, real_alu(c, RA_IMUL, osz, a, b));
			break;
		}
		/* fall through */
	case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV:
		if (real_muldiv(&e, m, e.op[0].size / 8) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_CBW:
		c->gpr[GPR_RAX] = (c->gpr[GPR_RAX] & ~0xffffull) | (uint16_t)(int8_t)c->gpr[GPR_RAX];
		break;
	case ZYDIS_MNEMONIC_CWDE:
		c->gpr[GPR_RAX] = (uint32_t)(int16_t)c->gpr[GPR_RAX];
		break;
	case ZYDIS_MNEMONIC_CWD:
		c->gpr[GPR_RDX] = (c->gpr[GPR_RDX] & ~0xffffull) |
				  ((int16_t)c->gpr[GPR_RAX] < 0 ? 0xffff : 0);
		break;
	case ZYDIS_MNEMONIC_CDQ:
		c->gpr[GPR_RDX] = (int32_t)c->gpr[GPR_RAX] < 0 ? 0xffffffffull : 0;
		break;
	case ZYDIS_MNEMONIC_CLC: c->flags &= ~1ull; break;
	case ZYDIS_MNEMONIC_STC: c->flags |= 1; break;
	case ZYDIS_MNEMONIC_CMC: c->flags ^= 1; break;
	case ZYDIS_MNEMONIC_CLD: c->flags &= ~0x400ull; break;
	case ZYDIS_MNEMONIC_STD: c->flags |= 0x400; break;
	case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LSS:
	case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS: {
		uint8_t buf[6] = { 0 };
		if (bt_vread(c, real_lin(&e, &e.op[1]), buf, osz + 2, false) < 0)
			return 0;
		uint64_t off = 0;
		uint16_t sel;
		bt_memcpy(&off, buf, osz);
		bt_memcpy(&sel, buf + osz, 2);
		int s = m == ZYDIS_MNEMONIC_LDS ? SEG_DS : m == ZYDIS_MNEMONIC_LES ? SEG_ES :
			m == ZYDIS_MNEMONIC_LSS ? SEG_SS : m == ZYDIS_MNEMONIC_LFS ? SEG_FS : SEG_GS;
		if (bt_load_seg(c, s, sel) < 0)
			return 0;
		real_reg_set(c, e.op[0].reg.value, off);
		break;
	}
	case ZYDIS_MNEMONIC_PUSH:
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(e.op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) {
			a = c->seg[bt_seg_of(e.op[0].reg.value)].sel;
		} else if (real_read(&e, 0, &a) < 0) {
			return 0;
		}
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			a = (uint64_t)e.op[0].imm.value.s;
		if (real_push(c, a, osz) < 0)
			return 0;
		break;
	case ZYDIS_MNEMONIC_POP: {
		uint64_t sp = c->gpr[GPR_RSP];
		if (real_pop(c, &a, osz) < 0)
			return 0;
		int r;
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(e.op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
			r = bt_load_seg(c, bt_seg_of(e.op[0].reg.value), (uint16_t)a);
		else
			r = real_write(&e, 0, a);
		if (r < 0) {
			c->gpr[GPR_RSP] = sp;
			return 0;
		}
		break;
	}
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL:
		if (e.in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
			return bt_emulate(c, x);
		if (e.op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			a = e.next + (uint64_t)e.op[0].imm.value.s;
		else if (real_read(&e, 0, &a) < 0)
			return 0;
		if (m == ZYDIS_MNEMONIC_CALL && real_push(c, e.next, osz) < 0)
			return 0;
		c->rip = a & real_mask(osz);
		return 0;
	case ZYDIS_MNEMONIC_RET:
		if (e.in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
			/* In real mode any CS is fine; the emulator's far
			 * return checks RPL == CPL, which only PE=1 means. */
			if (c->cr0 & X86_CR0_PE)
				return bt_emulate(c, x);
			uint64_t sp = c->gpr[GPR_RSP];
			if (real_pop(c, &a, osz) < 0 || real_pop(c, &b, osz) < 0) {
				c->gpr[GPR_RSP] = sp;
				return 0;
			}
			if (e.in.operand_count_visible)
				c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~real_sp_mask(c)) |
					((c->gpr[GPR_RSP] + e.op[0].imm.value.u) & real_sp_mask(c));
			bt_far_transfer(c, (uint16_t)b, a, false, osz, 0);
			return 0;
		}
		if (real_pop(c, &a, osz) < 0)
			return 0;
		if (e.in.operand_count_visible)
			c->gpr[GPR_RSP] = (c->gpr[GPR_RSP] & ~real_sp_mask(c)) |
				((c->gpr[GPR_RSP] + e.op[0].imm.value.u) & real_sp_mask(c));
		c->rip = a;
		return 0;
	case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_JECXZ:
	case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE: case ZYDIS_MNEMONIC_LOOPNE: {
		uint64_t cm = real_mask(e.in.address_width / 8);
		uint64_t cx = c->gpr[GPR_RCX] & cm;
		bool take;
		if (m == ZYDIS_MNEMONIC_JCXZ || m == ZYDIS_MNEMONIC_JECXZ) {
			take = cx == 0;
		} else {
			cx = (cx - 1) & cm;
			c->gpr[GPR_RCX] = (c->gpr[GPR_RCX] & ~cm) | cx;
			bool zf = c->flags & 0x40;
			take = cx != 0 && (m == ZYDIS_MNEMONIC_LOOP ||
					   (m == ZYDIS_MNEMONIC_LOOPE ? zf : !zf));
		}
		c->rip = take ? (e.next + (uint64_t)e.op[0].imm.value.s) & real_mask(osz) : e.next;
		return 0;
	}
	default:
		if (e.in.meta.category == ZYDIS_CATEGORY_COND_BR) {
			c->rip = real_cond(c, m) ?
				(e.next + (uint64_t)e.op[0].imm.value.s) & real_mask(osz) : e.next;
			return 0;
		}
		/* System, string and I/O instructions: the shared emulator
		 * decodes them again in 16-bit mode and fails by name for
		 * anything it does not know either. */
		return bt_emulate(c, x);
	}
	c->rip = e.next;
	return 0;
}
