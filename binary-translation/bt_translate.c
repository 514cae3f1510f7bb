/* Guest basic block -> host x86-64 code. Safe instructions are copied (64-bit
 * guests) or re-encoded for 64-bit mode (32-bit guests); memory operands get
 * an inline soft-TLB probe and run against [r11]; displaced registers (RSP,
 * R10, R11) are substituted by scratch registers; control flow exits through
 * chainable stubs; anything else ends the block for the C emulator. */
#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_cpu.h"
#include "bt_decode.h"
#include "bt_group.h"
#include "vm.h"

#define R10 10
#define R11 11
#define MAX_BLOCK 64     /* guest instructions decoded into one block */
#define MAX_INSNS 128    /* ... and translated, with an unrolled loop's copies */
#define STATUS_FLAGS 0x8d5u

enum kind {
	K_GEN, K_NOP, K_LEA, K_JMP, K_JCC, K_LOOP, K_CALL, K_CALL_IND, K_JMP_IND, K_RET,
	K_PUSH, K_POP, K_LEAVE, K_EMUL, K_PUSHM, K_PUSHF, K_CLI, K_STI, K_SWAPGS, K_VERW, K_RDCR, K_RDSEG, K_STR,
	K_VMI, K_RDTSCP, K_INVLPG, K_WRCR, K_RETPOLINE, K_JCC_IN
};

struct tinsn {
	uint64_t rip;
	uint8_t bytes[16];
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	int kind;
	uint32_t live_in;
};

struct em {
	uint8_t *p, *start, *end;
	bool ovf;
};

enum { ST_SLOW, ST_EXIT, ST_POLL, ST_POLL_CMP, ST_BEXIT };

struct stub {
	int kind;
	uint8_t *field;         /* rel32 in the main path that must reach the stub */
	/* ST_SLOW */
	uint8_t *probe, *after;
	uint32_t tagoff;
	bool keep_cf;           /* CF-only probe: restore CF from TMPCF first */
	uint32_t info;
	uint64_t rip, next;
	uint8_t tail[96];
	int tail_len;
	/* ST_EXIT */
	uint64_t target;
};

#define MAX_STUBS 256

struct tctx {
	struct bt_cpu *c;
	struct bt_block *b;
	struct em e;
	bool m64;
	bool flat;
	bool cpl3;
	struct tinsn *ins;
	int n;
	struct stub *stubs;
	int nstubs;
	bool fail;
	/* For peek_live: the decoder, the block's first page (host and linear)
	 * and the guest RIP after the last instruction. */
	ZydisDecoder *dec;
	uint8_t *h0;
	uint64_t lin0, end_rip;
	bool stop_emul;
	bool emul_next;         /* ins[n] holds the emulated instruction that ends the block */
	uint16_t dlo, dhi, dhi1; /* code bytes read so far (see struct bt_block) */
	uint32_t live_end;      /* flags live after the last instruction */
	int unroll;             /* copies of a self-loop body in the block (1: none) */
	uint32_t live_exit;     /* flags live where an unrolled loop exits */
	/* Probe groups (bt_group.c): the plan, the slot of the member being
	 * emitted (-1: none) and how far its base moved since the leader, and
	 * per group its miss branch and its probe's form (what the miss path
	 * must restore); post[i] is where instruction i+1 starts. */
	bool nogroup;
	int ngroups;
	struct bt_group groups[MAX_INSNS / 2];
	int8_t grp[MAX_INSNS];
	int32_t moff[MAX_INSNS];
	int cur_slot;
	int32_t cur_moff;
	bool ea_host;           /* member_ea/stack_ea left the host address in r11 */
	bool slot_in_r10;       /* group_probe just stored the leader's slot from r10 */
	uint8_t *gmiss[MAX_INSNS / 2];
	uint8_t gform[MAX_INSNS / 2];
	uint8_t *post[MAX_INSNS];
	/* Slot registers (borrow_plan): guest GPRs an unrolled loop never
	 * names hold its groups' slots; their guest values wait in the vCPU
	 * block while the body runs. */
	uint16_t borrowed;
	int8_t slotreg[BT_GROUP_SLOTS];
	int rp_reg;             /* K_RETPOLINE: the thunk's register, the RIPs of its */
	uint64_t rp_jmp, rp_ret; /* jump to the return thunk and of its RET */
};

static uint64_t branch_target(struct tctx *t, struct tinsn *x);
static int classify(struct tctx *t, struct tinsn *x);
static int raw_lea_r11(const struct tinsn *x, uint8_t *out);
static struct tinsn *g_ins;
static unsigned site_align;    /* next site(): required alignment (0, 16, 32) for #GP priority */
static struct stub *g_stubs;

/* ---------------------------------------------------------------- emitter */
static void b1(struct em *e, uint8_t v)
{
	if (e->p < e->end)
		*e->p++ = v;
	else
		e->ovf = true;
}

static void b4(struct em *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b1(e, (uint8_t)(v >> (8 * i)));
}

static void b8(struct em *e, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b1(e, (uint8_t)(v >> (8 * i)));
}

static void bn(struct em *e, const uint8_t *s, int n)
{
	for (int i = 0; i < n; i++)
		b1(e, s[i]);
}

static void rex(struct em *e, bool w, int r, int x, int b, bool force)
{
	uint8_t v = 0x40 | (w ? 8 : 0) | ((r >> 3) & 1) << 2 | ((x >> 3) & 1) << 1 | ((b >> 3) & 1);
	if (v != 0x40 || force)
		b1(e, v);
}

/* ModRM/SIB/displacement of [rsp + off]: translated code runs with host RSP
 * at the vCPU block (bt_entry.S), so this names a block field. */
static void blk_modrm(struct em *e, int reg, uint32_t off)
{
	bool short_disp = off < 0x80;
	b1(e, (uint8_t)((short_disp ? 0x40 : 0x80) | ((reg & 7) << 3) | 4));
	b1(e, 0x24);
	if (short_disp)
		b1(e, (uint8_t)off);
	else
		b4(e, off);
}

/* ModRM/SIB/disp32 of [rsp + r10 * 2^scale + off] (REX.X set by the caller):
 * a soft-TLB or jump-cache entry indexed by r10. */
static void blk_modrm_r10(struct em *e, int reg, int scale, uint32_t off)
{
	b1(e, (uint8_t)(0x80 | ((reg & 7) << 3) | 4));
	b1(e, (uint8_t)(scale << 6 | 2 << 3 | 4));
	b4(e, off);
}

/* op reg, [block + off] */
static void blk_rm(struct em *e, uint8_t opc, int reg, bool w, uint32_t off)
{
	rex(e, w, reg, 0, 0, false);
	b1(e, opc);
	blk_modrm(e, reg, off);
}

static void blk_load(struct em *e, int reg, uint32_t off, bool w)
{
	blk_rm(e, 0x8b, reg, w, off);
}

static void blk_store(struct em *e, uint32_t off, int reg)
{
	blk_rm(e, 0x89, reg, true, off);
}

static void blk_store_imm(struct em *e, uint32_t off, int32_t imm)
{
	b1(e, 0x48);
	b1(e, 0xc7);
	blk_modrm(e, 0, off);
	b4(e, (uint32_t)imm);
}

static void blk_jmp(struct em *e, uint32_t off)
{
	b1(e, 0xff);
	blk_modrm(e, 4, off);
}

/* call [rsp + off]: the operand is read before the push. */
static void blk_call(struct em *e, uint32_t off)
{
	b1(e, 0xff);
	blk_modrm(e, 2, off);
}

static void mov_imm64(struct em *e, int reg, uint64_t v)
{
	rex(e, true, 0, 0, reg, false);
	b1(e, (uint8_t)(0xb8 + (reg & 7)));
	b8(e, v);
}

/* mov dst, src (64 or 32 bit) */
static void mov_rr(struct em *e, int dst, int src, bool w)
{
	rex(e, w, src, 0, dst, false);
	b1(e, 0x89);
	b1(e, (uint8_t)(0xc0 | ((src & 7) << 3) | (dst & 7)));
}

/* lea dst, [base + disp32] */
static void lea_disp(struct em *e, int dst, int base, int32_t disp, bool w)
{
	rex(e, w, dst, 0, base, false);
	b1(e, 0x8d);
	if ((base & 7) == 4) {
		b1(e, (uint8_t)(0x80 | ((dst & 7) << 3) | 4));
		b1(e, 0x24);
	} else {
		b1(e, (uint8_t)(0x80 | ((dst & 7) << 3) | (base & 7)));
	}
	b4(e, (uint32_t)disp);
}

/* dst = base + disp (64-bit), flag-free, a plain mov when disp is 0 */
static void add_disp(struct em *e, int dst, int base, int32_t disp)
{
	if (disp)
		lea_disp(e, dst, base, disp, true);
	else if (dst != base)
		mov_rr(e, dst, base, true);
}

/* lea r11, [r11 + r10] */
static void lea_r11_r10(struct em *e, bool w)
{
	b1(e, w ? 0x4f : 0x47);
	b1(e, 0x8d);
	b1(e, 0x1c);
	b1(e, 0x13);
}

/* mov [r11], reg / mov reg, [r11] with width 1/2/4/8 */
static void mov_r11mem(struct em *e, int reg, int width, bool load)
{
	if (width == 2)
		b1(e, 0x66);
	rex(e, width == 8, reg, 0, R11, true);
	b1(e, (uint8_t)((load ? 0x8a : 0x88) | (width > 1 ? 1 : 0)));
	b1(e, (uint8_t)(((reg & 7) << 3) | 3));
}

static void store_rip_exit(struct em *e, uint64_t rip, uint32_t reason)
{
	if ((int64_t)rip == (int32_t)rip) {
		blk_store_imm(e, BT_OFF_RIP, (int32_t)rip);
	} else {
		mov_imm64(e, R11, rip);
		blk_store(e, BT_OFF_RIP, R11);
	}
	blk_store_imm(e, BT_OFF_REASON, (int32_t)reason);
	blk_jmp(e, BT_OFF_A_EXIT);
}

static void patch32(uint8_t *field, uint8_t *target)
{
	int32_t rel = (int32_t)(target - (field + 4));
	memcpy(field, &rel, 4);
}

/* ------------------------------------------------------------ classification */
static bool displaced(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_NONE)
		return false;
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH)
		return false;
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	return big == ZYDIS_REGISTER_RSP || big == ZYDIS_REGISTER_R10 || big == ZYDIS_REGISTER_R11;
}

static int gpr_num(ZydisRegister r)
{
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (big < ZYDIS_REGISTER_RAX || big > ZYDIS_REGISTER_R15)
		return -1;
	return big - ZYDIS_REGISTER_RAX;
}

/* Same-width scratch register for a displaced guest register. */
static ZydisRegister scratch_like(ZydisRegister r, int which)
{
	int w = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r);
	switch (w) {
	case 64: return which == R10 ? ZYDIS_REGISTER_R10 : ZYDIS_REGISTER_R11;
	case 32: return which == R10 ? ZYDIS_REGISTER_R10D : ZYDIS_REGISTER_R11D;
	case 16: return which == R10 ? ZYDIS_REGISTER_R10W : ZYDIS_REGISTER_R11W;
	default: return which == R10 ? ZYDIS_REGISTER_R10B : ZYDIS_REGISTER_R11B;
	}
}

static bool cat_ok(ZydisInstructionCategory cat)
{
	switch (cat) {
	case ZYDIS_CATEGORY_BINARY: case ZYDIS_CATEGORY_LOGICAL: case ZYDIS_CATEGORY_SHIFT:
	case ZYDIS_CATEGORY_ROTATE: case ZYDIS_CATEGORY_BITBYTE: case ZYDIS_CATEGORY_DATAXFER:
	case ZYDIS_CATEGORY_CMOV: case ZYDIS_CATEGORY_SETCC: case ZYDIS_CATEGORY_CONVERT:
	case ZYDIS_CATEGORY_FLAGOP: case ZYDIS_CATEGORY_SEMAPHORE: case ZYDIS_CATEGORY_SSE:
	case ZYDIS_CATEGORY_AVX: case ZYDIS_CATEGORY_AVX2: case ZYDIS_CATEGORY_FMA4:
	case ZYDIS_CATEGORY_VFMA: case ZYDIS_CATEGORY_X87_ALU: case ZYDIS_CATEGORY_FCMOV:
	case ZYDIS_CATEGORY_MMX: case ZYDIS_CATEGORY_BMI1: case ZYDIS_CATEGORY_BMI2:
	case ZYDIS_CATEGORY_ADOX_ADCX: case ZYDIS_CATEGORY_LZCNT: case ZYDIS_CATEGORY_AES:
	case ZYDIS_CATEGORY_PCLMULQDQ: case ZYDIS_CATEGORY_SHA: case ZYDIS_CATEGORY_LOGICAL_FP:
	case ZYDIS_CATEGORY_BLEND: case ZYDIS_CATEGORY_BROADCAST: case ZYDIS_CATEGORY_STTNI:
	case ZYDIS_CATEGORY_DECIMAL: case ZYDIS_CATEGORY_GFNI: case ZYDIS_CATEGORY_VAES:
	case ZYDIS_CATEGORY_VPCLMULQDQ:
		return true;
	default:
		return false;
	}
}

static bool mnemonic_denied(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI: case ZYDIS_MNEMONIC_CLAC:
	case ZYDIS_MNEMONIC_STAC: case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD:
	case ZYDIS_MNEMONIC_PUSHFQ: case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD:
	case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64:
	case ZYDIS_MNEMONIC_FXRSTOR: case ZYDIS_MNEMONIC_FXRSTOR64: case ZYDIS_MNEMONIC_XSAVE:
	case ZYDIS_MNEMONIC_XRSTOR: case ZYDIS_MNEMONIC_XSAVEOPT: case ZYDIS_MNEMONIC_XSAVEC:
	case ZYDIS_MNEMONIC_XSAVES: case ZYDIS_MNEMONIC_XRSTORS: case ZYDIS_MNEMONIC_XGETBV:
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSQ:
	case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_STOSQ: case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW:
	case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ: case ZYDIS_MNEMONIC_SCASB:
	case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
	case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSQ:
	case ZYDIS_MNEMONIC_XLAT: case ZYDIS_MNEMONIC_MASKMOVDQU: case ZYDIS_MNEMONIC_MASKMOVQ:
	case ZYDIS_MNEMONIC_VMASKMOVDQU: case ZYDIS_MNEMONIC_VMASKMOVPS:
	case ZYDIS_MNEMONIC_VMASKMOVPD: case ZYDIS_MNEMONIC_VPMASKMOVD:
	case ZYDIS_MNEMONIC_VPMASKMOVQ:
		return true;
	default:
		return false;
	}
}

/* CR0, CR2, CR3, CR4: no device behind them (CR8 is the LAPIC's TPR). */
static bool plain_cr(ZydisRegister r)
{
	return r == ZYDIS_REGISTER_CR0 || r == ZYDIS_REGISTER_CR2 || r == ZYDIS_REGISTER_CR3 ||
	       r == ZYDIS_REGISTER_CR4;
}

static int classify(struct tctx *t, struct tinsn *x)
{
	ZydisDecodedInstruction *in = &x->in;
	ZydisMnemonic m = in->mnemonic;
	ZydisDecodedOperand *op = x->op;

	if (!t->m64 && in->address_width == 16)
		return K_EMUL;
	bool cpl0 = (t->b->mode & BT_MODE_CPL_MASK) == 0;
	if (m == ZYDIS_MNEMONIC_RDTSC && !(t->c->cr4 & (1ull << 2)))
		return K_GEN;           /* same TSC as the host, no offset */
	if (m == ZYDIS_MNEMONIC_RDTSCP && !(t->c->cr4 & (1ull << 2)))
		return K_RDTSCP;        /* host TSC, the guest's TSC_AUX (vDSO clocks) */
	if ((m == ZYDIS_MNEMONIC_PUSHFQ || m == ZYDIS_MNEMONIC_PUSHFD) &&
	    !(t->c->rflags_sys & (1ull << 17)))
		return K_PUSHF;
	if (cpl0 && m == ZYDIS_MNEMONIC_CLI)
		return K_CLI;
	if (cpl0 && m == ZYDIS_MNEMONIC_STI)
		return K_STI;
	if (cpl0 && m == ZYDIS_MNEMONIC_SWAPGS)
		return K_SWAPGS;
	if (cpl0 && t->m64 && m == ZYDIS_MNEMONIC_MOV && op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    plain_cr(op[1].reg.value))
		return K_RDCR;          /* reads have no side effects: a load */
	if (cpl0 && t->m64 && m == ZYDIS_MNEMONIC_INVLPG)
		return K_INVLPG;        /* bt_helper_sys: no block exit */
	if (cpl0 && t->m64 && m == ZYDIS_MNEMONIC_MOV && op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    gpr_num(op[1].reg.value) >= 0 && plain_cr(op[0].reg.value))
		return K_WRCR;          /* bt_helper_sys: no block exit */
	if (m == ZYDIS_MNEMONIC_MOV && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(op[1].reg.value) == ZYDIS_REGCLASS_SEGMENT &&
	    gpr_num(op[0].reg.value) >= 0 && op[0].size >= 32)
		return K_RDSEG;         /* mov r32/r64, Sreg: zero-extended selector load */
	if ((m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW || m == ZYDIS_MNEMONIC_MOVSQ ||
	     (m == ZYDIS_MNEMONIC_MOVSD && in->meta.category == ZYDIS_CATEGORY_STRINGOP) ||
	     m == ZYDIS_MNEMONIC_STOSB || m == ZYDIS_MNEMONIC_STOSW || m == ZYDIS_MNEMONIC_STOSD ||
	     m == ZYDIS_MNEMONIC_STOSQ) && t->flat && in->address_width != 16 &&
	    !(in->attributes & ZYDIS_ATTRIB_HAS_SEGMENT) &&
	    !(in->attributes & (ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE) &&
	      !(in->attributes & ZYDIS_ATTRIB_HAS_REP)))
		return K_STR;           /* REP MOVS/STOS: a C helper without a block exit */
	if (m == ZYDIS_MNEMONIC_VMCALL && (t->b->mode & BT_MODE_64))
		return K_VMI;           /* a VMI call: a C helper without a block exit */
	if (m == ZYDIS_MNEMONIC_VERW && (t->b->mode & BT_MODE_PE))
		return K_VERW;
	if (m == ZYDIS_MNEMONIC_PUSH && op[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
	    op[0].mem.type == ZYDIS_MEMOP_TYPE_MEM && in->operand_width != 16)
		return K_PUSHM;
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_UNCOND_BR:
		if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR || in->operand_width == 16)
			return K_EMUL;
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			return K_JMP;
		return (op[0].type == ZYDIS_OPERAND_TYPE_MEMORY || op[0].type == ZYDIS_OPERAND_TYPE_REGISTER) ?
			K_JMP_IND : K_EMUL;
	case ZYDIS_CATEGORY_COND_BR:
		if (in->operand_width == 16)
			return K_EMUL;
		if (m == ZYDIS_MNEMONIC_JCXZ || m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JRCXZ ||
		    m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE)
			return in->address_width == 16 ? K_EMUL : K_LOOP;
		return K_JCC;
	case ZYDIS_CATEGORY_CALL:
		if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR || in->operand_width == 16)
			return K_EMUL;
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			return K_CALL;
		if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && displaced(op[0].reg.value) &&
		    gpr_num(op[0].reg.value) == 4)
			return K_EMUL;
		return K_CALL_IND;
	case ZYDIS_CATEGORY_RET:
		if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR || m != ZYDIS_MNEMONIC_RET ||
		    in->operand_width == 16)
			return K_EMUL;
		return K_RET;
	case ZYDIS_CATEGORY_PUSH:
		if (m != ZYDIS_MNEMONIC_PUSH)
			return K_EMUL;
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			return K_PUSH;
		if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_num(op[0].reg.value) >= 0)
			return K_PUSH;
		return K_EMUL;
	case ZYDIS_CATEGORY_POP:
		if (m == ZYDIS_MNEMONIC_POP && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    gpr_num(op[0].reg.value) >= 0)
			return K_POP;
		return K_EMUL;
	case ZYDIS_CATEGORY_NOP: case ZYDIS_CATEGORY_WIDENOP: case ZYDIS_CATEGORY_PREFETCH:
		return K_NOP;
	default:
		break;
	}
	if (m == ZYDIS_MNEMONIC_LEAVE)
		return (in->operand_width == 16) ? K_EMUL : K_LEAVE;
	if (m == ZYDIS_MNEMONIC_LEA)
		return K_LEA;
	if (m == ZYDIS_MNEMONIC_PAUSE || m == ZYDIS_MNEMONIC_ENDBR64 || m == ZYDIS_MNEMONIC_ENDBR32 ||
	    m == ZYDIS_MNEMONIC_CLFLUSH || m == ZYDIS_MNEMONIC_CLFLUSHOPT || m == ZYDIS_MNEMONIC_CLWB)
		return K_NOP;
	if (m == ZYDIS_MNEMONIC_LFENCE || m == ZYDIS_MNEMONIC_MFENCE || m == ZYDIS_MNEMONIC_SFENCE)
		return K_GEN;
	/* SERIALIZE (we advertise it; the host may lack it): what it orders is
	 * instruction fetch after code writes, and our translations already
	 * see every code write (bt_smc_range), and one vCPU runs. */
	if (m == ZYDIS_MNEMONIC_SERIALIZE)
		return K_NOP;
	if (!cat_ok(in->meta.category) || mnemonic_denied(m) ||
	    (in->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED))
		return K_EMUL;
	if (in->encoding == ZYDIS_INSTRUCTION_ENCODING_EVEX || in->encoding == ZYDIS_INSTRUCTION_ENCODING_MVEX)
		return K_EMUL;
	int nmem = 0;
	for (int i = 0; i < in->operand_count; i++) {
		ZydisDecodedOperand *o = &op[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
			ZydisRegisterClass rc = ZydisRegisterGetClass(o->reg.value);
			if (rc == ZYDIS_REGCLASS_SEGMENT || rc == ZYDIS_REGCLASS_CONTROL ||
			    rc == ZYDIS_REGCLASS_DEBUG || rc == ZYDIS_REGCLASS_TEST ||
			    rc == ZYDIS_REGCLASS_BOUND || rc == ZYDIS_REGCLASS_TABLE)
				return K_EMUL;
			if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT && displaced(o->reg.value))
				return K_EMUL;
		} else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
				return K_EMUL;
			if (o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
				return K_EMUL;
			nmem++;
		} else if (o->type == ZYDIS_OPERAND_TYPE_POINTER) {
			return K_EMUL;
		}
	}
	if (nmem > 1)
		return K_EMUL;
	return K_GEN;
}

static bool is_terminator(int k)
{
	return k == K_JMP || k == K_JCC || k == K_LOOP || k == K_CALL || k == K_CALL_IND ||
	       k == K_JMP_IND || k == K_RET || k == K_RETPOLINE;
}

/* Status flags an instruction reads, and those it surely writes. op may be
 * NULL (decoded without operands): shift counts then come from the raw
 * immediate. */
static uint32_t flag_effect(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
			    uint32_t *wr_out)
{
	const ZydisAccessedFlags *f = in->cpu_flags;
	uint32_t rd = 0, wr = 0;
	if (f) {
		/* "Undefined" flags are not killed: this silicon may keep or
		 * derive them from their old values (AMD's IMUL/DIV do), and
		 * the guest must see what the native instruction produces. */
		rd = f->tested;
		wr = f->modified | f->set_0 | f->set_1;
		wr &= ~f->undefined;
	}
	ZydisInstructionCategory cat = in->meta.category;
	if (cat == ZYDIS_CATEGORY_SHIFT || cat == ZYDIS_CATEGORY_ROTATE) {
		/* A zero count leaves the flags alone. */
		bool zero_possible = true;
		for (int k = 0; op && k < in->operand_count_visible; k++)
			if (op[k].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
			    (op[k].imm.value.u & 0x1f) != 0)
				zero_possible = false;
		if (!op && in->raw.imm[0].size && (in->raw.imm[0].value.u & 0x1f) != 0)
			zero_possible = false;
		if (in->operand_count_visible == 1)
			zero_possible = false;      /* shift by 1 */
		if (zero_possible)
			wr = 0;
	}
	*wr_out = wr & STATUS_FLAGS;
	return rd & STATUS_FLAGS;
}

/* The translation read guest code [lin, lin + len), lin on the block's first
 * page: a later write there must drop the block (bt_smc_range). */
static void note_code(struct tctx *t, uint64_t lin, unsigned len)
{
	uint64_t off = (lin - t->lin0) + (t->lin0 & 0xfff);
	uint64_t end = off + len;
	if (off < t->dlo)
		t->dlo = (uint16_t)off;
	if (end > 4096) {
		if (end - 4096 > t->dhi1)
			t->dhi1 = (uint16_t)(end - 4096);
		end = 4096;
	}
	if (end > t->dhi)
		t->dhi = (uint16_t)end;
}

/* What the liveness peek may decode through: straight-line computational
 * code (as cat_ok/mnemonic_denied judge it for translation), and the
 * conditional branch that ends it. Decided from the instruction alone, so
 * the peek skips Zydis's operand decoding, a third of its cost. Emulated
 * forms of these (segment or control registers...) have the same
 * architectural flag effects, so following them is as exact as stopping. */
enum { PK_STOP, PK_PLAIN, PK_JCC };

static int peek_kind(const ZydisDecodedInstruction *in)
{
	ZydisMnemonic m = in->mnemonic;
	if (in->encoding == ZYDIS_INSTRUCTION_ENCODING_EVEX ||
	    in->encoding == ZYDIS_INSTRUCTION_ENCODING_MVEX ||
	    (in->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) || mnemonic_denied(m))
		return PK_STOP;
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
		if (m == ZYDIS_MNEMONIC_JCXZ || m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JRCXZ ||
		    m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE)
			return PK_STOP;
		return PK_JCC;
	case ZYDIS_CATEGORY_PUSH:
		return m == ZYDIS_MNEMONIC_PUSH ? PK_PLAIN : PK_STOP;
	case ZYDIS_CATEGORY_POP:
		return m == ZYDIS_MNEMONIC_POP ? PK_PLAIN : PK_STOP;
	case ZYDIS_CATEGORY_NOP: case ZYDIS_CATEGORY_WIDENOP: case ZYDIS_CATEGORY_PREFETCH:
		return PK_PLAIN;
	default:
		return m == ZYDIS_MNEMONIC_LEA || cat_ok(in->meta.category) ? PK_PLAIN : PK_STOP;
	}
}

/* Status flags the code at guest rip may read before writing them. It
 * decodes forward on the block's own first page only, and note_code()
 * records what it read: a guest write to those bytes drops this block too,
 * so the answer cannot go stale. Whatever it cannot follow (a branch, a
 * call, what peek_kind does not call plain, the end of the page, 16
 * instructions) counts as
 * reading every flag still undecided. Dead flags at a block's end let its
 * memory probes use the short sub/cmp form instead of the flag-free one. */
static uint32_t peek_live(struct tctx *t, uint64_t rip)
{
	uint32_t live = 0, open = STATUS_FLAGS;
	if (!t->h0 || t->c->bt->precise_flags)
		return STATUS_FLAGS;
	ZydisDecodedInstruction in;
	for (int i = 0; i < 16 && open; i++) {
		uint64_t lin = t->m64 ? rip : ((t->b->cs_base + rip) & 0xffffffffull);
		if ((lin & ~0xfffull) != (t->lin0 & ~0xfffull) || (lin & 0xfff) > 4096 - 15)
			break;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(t->dec, NULL, t->h0 + (lin & 0xfff), 15,
								&in))) {
			note_code(t, lin, 15);
			break;
		}
		note_code(t, lin, in.length);
		int k = peek_kind(&in);
		if (k == PK_STOP)
			break;
		uint32_t wr, rd = flag_effect(&in, NULL, &wr);
		live |= rd & open;
		open &= ~wr;
		if (k == PK_JCC)
			break;
		rip += in.length;
		if (!t->m64)
			rip &= 0xffffffffull;
	}
	return live | open;
}

/* Flags live after the block's last instruction. */
static uint32_t live_out(struct tctx *t)
{
	struct tinsn *last = &t->ins[t->n - 1];
	switch (last->kind) {
	case K_JMP:
		return peek_live(t, branch_target(t, last));
	case K_JCC:
		return peek_live(t, branch_target(t, last)) | peek_live(t, t->end_rip);
	case K_CALL:
		return peek_live(t, branch_target(t, last));
	default:
		if (t->stop_emul && t->emul_next) {
			/* The emulator runs next. These overwrite every status
			 * flag without reading one (SYSRET from R11, IRET and
			 * POPF from the stack). */
			switch (t->ins[t->n].in.mnemonic) {
			case ZYDIS_MNEMONIC_SYSRET: case ZYDIS_MNEMONIC_IRETQ:
			case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRET:
			case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_POPFD:
			case ZYDIS_MNEMONIC_POPF:
				return 0;
			default:
				return STATUS_FLAGS;
			}
		}
		if (is_terminator(last->kind) || t->stop_emul)
			return STATUS_FLAGS;
		return peek_live(t, t->end_rip);   /* the block was cut short */
	}
}

static void liveness(struct tctx *t)
{
	uint32_t live = t->live_end = live_out(t);
	t->live_exit = t->unroll > 1 ? peek_live(t, t->end_rip) : 0;
	for (int i = t->n - 1; i >= 0; i--) {
		struct tinsn *x = &t->ins[i];
		if (x->kind == K_EMUL) {
			live = STATUS_FLAGS;
			x->live_in = live;
			continue;
		}
		uint32_t wr, rd = flag_effect(&x->in, x->op, &wr);
		/* Blocks end at their first terminator; live_out() covers what
		 * follows JMP, JCC and CALL, the others leave all flags live. */
		if (is_terminator(x->kind) && x->kind != K_JMP && x->kind != K_JCC &&
		    x->kind != K_CALL)
			rd = STATUS_FLAGS;
		if (x->kind == K_JCC_IN)        /* its exit leaves the loop */
			rd |= t->live_exit;
		live = ((live & ~wr) | rd) & STATUS_FLAGS;
		x->live_in = live;
	}
}

/* ------------------------------------------------------------ probe groups */
static int stack_width(struct tctx *t, struct tinsn *x);

/* What the grouping (bt_group.c) needs to know about x. */
static void group_view(struct tctx *t, struct tinsn *x, struct bt_gacc *a)
{
	ZydisDecodedInstruction *in = &x->in;
	memset(a, 0, sizeof(*a));
	a->base = -1;
	a->adj_reg = -1;
	if (t->m64 && (x->kind == K_PUSH || x->kind == K_CALL ||
		       (x->kind == K_POP && gpr_num(x->op[0].reg.value) != GPR_RSP) || x->kind == K_RET)) {
		/* Stack accesses at a known offset from RSP, which moves by it. */
		int n = x->kind == K_PUSH || x->kind == K_POP ? stack_width(t, x) : 8;
		bool push = x->kind == K_PUSH || x->kind == K_CALL;
		a->base = GPR_RSP;
		a->lo = push ? -n : 0;
		a->hi = push ? 0 : n;
		a->write = push;
		a->adj_reg = GPR_RSP;
		a->adj = push ? -n : n;
		if (x->kind == K_RET && x->in.operand_count_visible &&
		    x->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			a->adj += (int32_t)(x->op[0].imm.value.u & 0xffff);
		if (x->kind == K_POP)
			a->writes = (uint16_t)(1u << gpr_num(x->op[0].reg.value));
		return;
	}
	if (x->kind == K_JCC_IN)
		return;         /* leaving early only skips members: the probe covered more */
	if (x->kind != K_GEN && x->kind != K_LEA && x->kind != K_NOP) {
		a->barrier = true;
		return;
	}
	for (int i = 0; i < in->operand_count; i++) {
		ZydisDecodedOperand *o = &x->op[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
		    gpr_num(o->reg.value) >= 0)
			a->writes |= (uint16_t)(1u << gpr_num(o->reg.value));
	}
	/* add/sub reg, imm and lea reg, [reg+d] (64-bit) move a base register by
	 * a constant: RSP in frame set-up, a pointer stepping through an array
	 * in a loop (unrolled loops keep one group across the steps). */
	ZydisMnemonic mn = in->mnemonic;
	int mg = x->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr_num(x->op[0].reg.value) : -1;
	if (t->m64 && mg >= 0 && x->op[0].size == 64) {
		int64_t d = 0;
		bool known = false;
		if ((mn == ZYDIS_MNEMONIC_ADD || mn == ZYDIS_MNEMONIC_SUB) &&
		    x->op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			d = mn == ZYDIS_MNEMONIC_ADD ? x->op[1].imm.value.s : -x->op[1].imm.value.s;
			known = true;
		} else if (mn == ZYDIS_MNEMONIC_LEA && gpr_num(x->op[1].mem.base) == mg &&
			   x->op[1].mem.index == ZYDIS_REGISTER_NONE && in->address_width == 64) {
			d = x->op[1].mem.disp.value;
			known = true;
		}
		if (known && d > -65536 && d < 65536) {
			a->writes &= (uint16_t)~(1u << mg);
			a->adj_reg = (int8_t)mg;
			a->adj = (int32_t)d;
		}
	}
	if (x->kind != K_GEN || !t->m64)
		return;
	int mem = -1;
	for (int i = 0; i < in->operand_count_visible; i++)
		if (x->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem = i;
	if (mem < 0)
		return;
	ZydisDecodedOperand *o = &x->op[mem];
	int seg = bt_seg_of(o->mem.segment);
	unsigned size = o->size / 8;
	int64_t disp = o->mem.disp.value;
	/* BT* m, r reach other words through the register's bit offset. */
	bool bitmem = mem == 0 && x->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		      (mn == ZYDIS_MNEMONIC_BT || mn == ZYDIS_MNEMONIC_BTS ||
		       mn == ZYDIS_MNEMONIC_BTR || mn == ZYDIS_MNEMONIC_BTC);
	if (o->mem.type != ZYDIS_MEMOP_TYPE_MEM || o->mem.index != ZYDIS_REGISTER_NONE ||
	    gpr_num(o->mem.base) < 0 || in->address_width != 64 || seg == SEG_FS || seg == SEG_GS ||
	    size == 0 || size > 64 || bitmem || disp < INT32_MIN || disp > INT32_MAX - 64)
		return;
	a->base = (int8_t)gpr_num(o->mem.base);
	a->lo = (int32_t)disp;
	a->hi = (int32_t)(disp + size);
	a->write = o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
}

/* An unrolled loop whose every memory access is a group member, with nothing
 * but plain instructions (no helper, no slow path, no exit but its JCCs),
 * keeps its slots in host registers the loop never names, so a member is
 * the guest instruction on [reg + disp] with no load of the slot. Their
 * guest values are stored at the body's start and loaded back on every way
 * out; a host fault inside the body takes them from the vCPU block. */
static void borrow_plan(struct tctx *t)
{
	t->borrowed = 0;
	for (int k = 0; k < BT_GROUP_SLOTS; k++)
		t->slotreg[k] = -1;
	if (t->unroll < 2 || !t->ngroups || t->c->bt->precise_flags)
		return;
	uint32_t used = 1u << GPR_RSP | 1u << GPR_R10 | 1u << GPR_R11 | 1u << GPR_RCX;
	for (int i = 0; i < t->n; i++) {
		struct tinsn *x = &t->ins[i];
		if (x->kind != K_GEN && x->kind != K_LEA && x->kind != K_NOP &&
		    x->kind != K_JCC_IN && x->kind != K_JCC)
			return;
		for (int k = 0; k < x->in.operand_count; k++) {
			ZydisDecodedOperand *o = &x->op[k];
			if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_num(o->reg.value) >= 0)
				used |= 1u << gpr_num(o->reg.value);    /* AH..BH too */
			if (o->type != ZYDIS_OPERAND_TYPE_MEMORY)
				continue;
			if (gpr_num(o->mem.base) >= 0)
				used |= 1u << gpr_num(o->mem.base);
			if (gpr_num(o->mem.index) >= 0)
				used |= 1u << gpr_num(o->mem.index);
			if (x->kind == K_GEN && t->grp[i] < 0)
				return;         /* an access with a probe of its own */
		}
	}
	static const int pref[] = { GPR_RBX, GPR_RSI, GPR_RDI, GPR_R14, GPR_R15, GPR_R12,
				    GPR_R13, GPR_RBP, GPR_RDX, GPR_R8, GPR_R9, GPR_RAX };
	int next = 0;
	for (int gi = 0; gi < t->ngroups; gi++) {
		int slot = t->groups[gi].slot;
		if (t->slotreg[slot] >= 0)
			continue;
		while (next < 12 && (used & (1u << pref[next])))
			next++;
		if (next == 12)
			break;
		t->slotreg[slot] = (int8_t)pref[next];
		t->borrowed |= (uint16_t)(1u << pref[next]);
		next++;
	}
}

static void groups_plan(struct tctx *t)
{
	t->ngroups = 0;
	for (int i = 0; i < t->n; i++)
		t->grp[i] = -1;
	if (t->nogroup || !t->m64 || t->c->bt->groups == BT_GROUPS_OFF)
		return;
	struct bt_gacc a[MAX_INSNS];
	for (int i = 0; i < t->n; i++)
		group_view(t, &t->ins[i], &a[i]);
	t->ngroups = bt_group_form(a, t->n, t->groups, MAX_INSNS / 2, t->grp, t->moff);
	borrow_plan(t);
}

static void groups_count(struct tctx *t)
{
	t->c->n.groups += (uint64_t)t->ngroups;
	for (int i = 0; i < t->ngroups; i++)
		t->c->n.grouped += (uint64_t)t->groups[i].members;
}

static bool is_displaced_gpr(int g)
{
	return g == GPR_RSP || g == GPR_R10 || g == GPR_R11;
}

/* How a soft-TLB probe treats the guest's flags where it runs: free to
 * clobber them (none live), keep CF only (an ADC/SBB chain: the common live
 * set in multi-word arithmetic loops), or keep all of them. */
enum { PF_FAST, PF_CF, PF_FREE };
#define FLAG_CF 0x1u

static int probe_form(struct tctx *t, const struct tinsn *x)
{
	if (t->c->bt->precise_flags)
		return PF_FREE;
	if (x->live_in == 0)
		return PF_FAST;
	return x->live_in == FLAG_CF ? PF_CF : PF_FREE;
}

/* setnc [TMPCF] / cmp byte [TMPCF], 1: CF = (!CF < 1), the saved CF,
 * without touching the saved byte (a retried probe restores it again). */
static void cf_save(struct tctx *t)
{
	struct em *e = &t->e;
	b1(e, 0x0f); b1(e, t->c->bt->inject == BT_BUG_CF_PROBE ? 0x92 : 0x93);
	blk_modrm(e, 0, BT_OFF_TMPCF);
}

static void cf_restore(struct em *e)
{
	b1(e, 0x80); blk_modrm(e, 7, BT_OFF_TMPCF); b1(e, 1);
}

static uint8_t *probe_head(struct tctx *t, unsigned size, bool wr, bool flagfree);
static void probe_addend(struct tctx *t);
static uint32_t tlb_base(struct tctx *t);

/* Before group gi's leader x: one probe for the whole span; on a hit the
 * host address of the base register goes to the group's slot, on a miss
 * the block continues in the ungrouped copy (emit_group_copies). */
static void group_probe(struct tctx *t, int gi, struct tinsn *x)
{
	struct em *e = &t->e;
	struct bt_group *g = &t->groups[gi];
	int form = probe_form(t, x);
	bool flagfree = form == PF_FREE;
	if (form == PF_CF)
		cf_save(t);
	if (is_displaced_gpr(g->base)) {
		blk_load(e, R11, BT_OFF_GPR + 8 * g->base, true);
		add_disp(e, R11, R11, g->lo);
	} else {
		add_disp(e, R11, g->base, g->lo);
	}
	unsigned span = t->c->bt->inject == BT_BUG_GROUP_SPAN ? 1 : (unsigned)(g->hi - g->lo);
	t->gmiss[gi] = probe_head(t, span, g->write, flagfree);
	t->gform[gi] = (uint8_t)form;
	if (t->c->bt->groups == BT_GROUPS_MISS) {
		/* A hit falls into this jmp, the probe's miss branch is sent
		 * to it: both continue in the copy. */
		uint8_t *jmp = e->p;
		b1(e, 0xe9);
		uint8_t *f = e->p;
		b4(e, 0);
		patch32(t->gmiss[gi], jmp);
		t->gmiss[gi] = f;
		return;
	}
	if (flagfree) {
		/* r11 = base + lo, r10 = host - guest: slot = host of base */
		probe_addend(t);
		b1(e, 0x4f); b1(e, 0x8d); b1(e, 0x94); b1(e, 0x1a); b4(e, (uint32_t)-g->lo);
	} else {
		/* the short probe left r11 = offset in the page */
		b1(e, 0x4e); b1(e, 0x03); blk_modrm_r10(e, R11, 0, tlb_base(t) + BT_TLBE_HOST);
		add_disp(e, t->slotreg[g->slot] >= 0 ? t->slotreg[g->slot] : R10, R11, -g->lo);
	}
	if (t->slotreg[g->slot] >= 0) {
		if (flagfree)
			mov_rr(e, t->slotreg[g->slot], R10, true);
	} else
		blk_store(e, BT_OFF_GBASE + 8 * (uint32_t)g->slot, R10);
	t->slot_in_r10 = true;          /* the leader need not reload it */
	if (form == PF_CF)
		cf_restore(e);
}

/* ------------------------------------------------------------------ sites */
static struct stub *new_stub(struct tctx *t, int kind)
{
	if (t->nstubs >= MAX_STUBS) {
		t->fail = true;
		return &t->stubs[0];
	}
	struct stub *s = &t->stubs[t->nstubs++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	return s;
}

static uint32_t tlb_base(struct tctx *t)
{
	return BT_OFF_TLB + (t->cpl3 ? BT_TLB_SIZE * BT_TLBE_SIZE : 0);
}

/* The soft-TLB check of r11 = guest linear address for an access of size
 * bytes, up to and including the branch to the miss path (its rel32 field is
 * returned). With the guest's flags dead it is sub/cmp/ja; with them live a
 * flag-free sequence (pext index, lea compare, jrcxz with RCX spilled; on a
 * hit RCX is back). On a hit r10 indexes the TLB entry: r10 = entry offset
 * (fast form) or entry offset / 4 (flag-free form). */
static uint8_t *probe_head(struct tctx *t, unsigned size, bool wr, bool flagfree)
{
	struct em *e = &t->e;
	uint32_t tag = tlb_base(t) + (wr ? BT_TLBE_TAG_W : BT_TLBE_TAG_R);
	uint8_t *field;
	if (flagfree) {
		blk_rm(e, 0x89, 1, true, BT_OFF_TMPRCX);                 /* mov [tmp], rcx */
		b1(e, 0xc4); b1(e, 0x62); b1(e, 0xa2); b1(e, 0xf5);
		blk_modrm(e, R10, BT_OFF_MASKIDX);                      /* pext r10, r11, mask */
		b1(e, 0x4e); b1(e, 0x8d); b1(e, 0x14); b1(e, 0xd5); b4(e, 0); /* lea r10,[r10*8] */
		b1(e, 0x4a); b1(e, 0x8b);
		blk_modrm_r10(e, 1, 2, tag);                            /* mov rcx, tag */
		b1(e, 0x48); b1(e, 0xf7); b1(e, 0xd1);                  /* not rcx */
		/* lea rcx, [rcx + r11 + size]: disp8 while it fits */
		if (size < 128) {
			b1(e, 0x49); b1(e, 0x8d); b1(e, 0x4c); b1(e, 0x0b); b1(e, (uint8_t)size);
		} else {
			b1(e, 0x49); b1(e, 0x8d); b1(e, 0x8c); b1(e, 0x0b); b4(e, size);
		}
		b1(e, 0xc4); b1(e, 0xe2); b1(e, 0xf2); b1(e, 0xf5);
		blk_modrm(e, 1, BT_OFF_MASKHI);                         /* pext rcx, rcx, ~fff */
		b1(e, 0xe3); b1(e, 5);                                  /* jrcxz hit */
		b1(e, 0xe9);
		field = e->p;
		b4(e, 0);
		blk_load(e, 1, BT_OFF_TMPRCX, true);                     /* mov rcx, [tmp] */
	} else {
		static const uint8_t p1[] = { 0x4d, 0x89, 0xda, 0x49, 0xc1, 0xea, 0x07, 0x41, 0x81, 0xe2 };
		bn(e, p1, sizeof(p1));
		b4(e, (BT_TLB_SIZE - 1) << 5);
		b1(e, 0x4e); b1(e, 0x2b); blk_modrm_r10(e, R11, 0, tag);
		b1(e, 0x49); b1(e, 0x81); b1(e, 0xfb); b4(e, 0x1000 - size);
		b1(e, 0x0f); b1(e, 0x87);
		field = e->p;
		b4(e, 0);
	}
	return field;
}

/* mov r10, [entry + ADDEND] after a flag-free probe's hit (host - guest
 * of the page; the short probe leaves the page offset in r11 instead) */
static void probe_addend(struct tctx *t)
{
	struct em *e = &t->e;
	b1(e, 0x4e); b1(e, 0x8b);
	blk_modrm_r10(e, R10, 2, tlb_base(t) + BT_TLBE_ADDEND);
}

/* Emits the probe for r11 = guest linear address, then the tail. Members of
 * a probe group skip the probe: their group's check covered the page and
 * member_ea/stack_ea formed the host address from the group's slot. */
static void site(struct tctx *t, struct tinsn *x, unsigned size, bool rd, bool wr, bool stack,
		 const uint8_t *tail, int tail_len, uint64_t next)
{
	struct em *e = &t->e;
	/* Precise mode never clobbers flags, even where they are dead: a fault
	 * on a later access in the dead region must still see them. */
	int form = probe_form(t, x);
	bool flagfree = form == PF_FREE;
	if (t->cur_slot >= 0) {
		/* A member whose address was not formed from the slot would
		 * need the guest address too: drop the groups instead. */
		if (!t->ea_host)
			t->fail = true;
		t->ea_host = false;
		bn(e, tail, tail_len);
		site_align = 0;
		return;
	}
	if (form == PF_CF)
		cf_save(t);
	uint8_t *probe = e->p;
	uint32_t tag = tlb_base(t) + (wr ? BT_TLBE_TAG_W : BT_TLBE_TAG_R);
	if (size == 0)
		size = 1;
	if (size > 64)
		size = 64;
	uint8_t *field = probe_head(t, size, wr, flagfree);
	t->c->n.probes++;
	if (flagfree) {
		probe_addend(t);
		lea_r11_r10(e, true);
	} else {
		b1(e, 0x4e); b1(e, 0x03); blk_modrm_r10(e, R11, 0, tlb_base(t) + BT_TLBE_HOST);
	}
	if (form == PF_CF)
		cf_restore(e);
	bn(e, tail, tail_len);
	struct stub *s = new_stub(t, ST_SLOW);
	s->field = field;
	s->probe = probe;
	s->after = e->p;
	s->tagoff = flagfree ? 0 : tag;
	s->keep_cf = form == PF_CF;
	s->info = size | (wr ? BT_SI_WRITE : 0) | (rd ? BT_SI_READ : 0) | (stack ? BT_SI_STACK : 0) |
		  (site_align == 16 ? BT_SI_ALIGN16 : site_align == 32 ? BT_SI_ALIGN32 : 0);
	site_align = 0;
	s->rip = x->rip;
	s->next = next;
	if (tail_len > (int)sizeof(s->tail))
		t->fail = true;
	else
		memcpy(s->tail, tail, tail_len);
	s->tail_len = tail_len;
}

/* The guest values of the slot registers into the vCPU block, after the
 * entry poll (the body then reuses the registers). */
static void borrowed_save(struct tctx *t)
{
	for (int g = 0; g < 16; g++)
		if (t->borrowed & (1u << g))
			blk_store(&t->e, BT_OFF_GPR + 8 * (uint32_t)g, g);
}

/* The guest values of the slot registers back from the vCPU block: before
 * anything that leaves the body (an exit, a jump to another block, the
 * ungrouped copy and its slow paths, which save every host register). */
static void borrowed_restore(struct tctx *t)
{
	for (int g = 0; g < 16; g++)
		if (t->borrowed & (1u << g))
			blk_load(&t->e, g, BT_OFF_GPR + 8 * (uint32_t)g, true);
}

static void jump_exit(struct tctx *t, uint8_t opc0, int opc1, uint64_t target)
{
	struct em *e = &t->e;
	b1(e, opc0);
	if (opc1 >= 0)
		b1(e, (uint8_t)opc1);
	struct stub *s = new_stub(t, ST_EXIT);
	s->field = e->p;
	s->target = target;
	b4(e, 0);
}

/* ------------------------------------------------------ address computation */
static uint64_t next_rip(struct tctx *t, struct tinsn *x)
{
	uint64_t n = x->rip + x->in.length;
	return t->m64 ? n : (n & 0xffffffffull);
}

static int encode(struct tctx *t, ZydisEncoderRequest *r, uint8_t *out, int *len)
{
	ZyanUSize n = 16;
	(void)t;
	if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(r, out, &n)))
		return -1;
	*len = (int)n;
	return 0;
}

/* r11 = linear address of memory operand o (segment base included). */
static int emit_ea(struct tctx *t, struct tinsn *x, const ZydisDecodedOperand *o)
{
	struct em *e = &t->e;
	bool a32 = x->in.address_width == 32;
	ZydisRegister base = o->mem.base, index = o->mem.index;
	int64_t disp = o->mem.disp.value;
	uint8_t buf[16];
	int n;
	if (base == ZYDIS_REGISTER_RIP || base == ZYDIS_REGISTER_EIP) {
		uint64_t a = next_rip(t, x) + (uint64_t)disp;
		if (a32)
			a &= 0xffffffffull;
		mov_imm64(e, R11, a);
	} else if (base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE) {
		uint64_t a = (uint64_t)disp;
		if (a32)
			a &= 0xffffffffull;
		mov_imm64(e, R11, a);
	} else if (t->m64 && !a32 && !displaced(base) && !displaced(index) &&
		   (n = raw_lea_r11(x, buf)) > 0) {
		bn(e, buf, n);
	} else {
		ZydisEncoderRequest r;
		memset(&r, 0, sizeof(r));
		r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
		r.mnemonic = ZYDIS_MNEMONIC_LEA;
		r.operand_count = 2;
		r.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
		r.operands[0].reg.value = a32 ? ZYDIS_REGISTER_R11D : ZYDIS_REGISTER_R11;
		r.operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
		if (displaced(base)) {
			blk_load(e, R11, BT_OFF_GPR + 8 * gpr_num(base), true);
			base = a32 ? ZYDIS_REGISTER_R11D : ZYDIS_REGISTER_R11;
		}
		if (displaced(index)) {
			blk_load(e, R10, BT_OFF_GPR + 8 * gpr_num(index), true);
			index = a32 ? ZYDIS_REGISTER_R10D : ZYDIS_REGISTER_R10;
		}
		r.operands[1].mem.base = base;
		r.operands[1].mem.index = index;
		r.operands[1].mem.scale = index != ZYDIS_REGISTER_NONE ? (o->mem.scale ? o->mem.scale : 1) : 0;
		r.operands[1].mem.displacement = a32 ? (int64_t)(int32_t)disp : disp;
		r.operands[1].mem.size = a32 ? 4 : 8;
		if (encode(t, &r, buf, &n) < 0)
			return -1;
		bn(e, buf, n);
	}
	int seg = bt_seg_of(o->mem.segment);
	bool add = seg == SEG_FS || seg == SEG_GS || (!t->m64 && !t->flat);
	if (add) {
		blk_load(e, R10, BT_OFF_SEGBASE + 8 * seg, true);
		lea_r11_r10(e, t->m64);
	}
	return 0;
}

/* A probe-group member [base + disp] is at slot + (what the base moved
 * since the leader) + disp in host memory: emit_gen folds that into the
 * instruction's own displacement, so r11 is just the slot. */
static int64_t member_disp(struct tctx *t, const ZydisDecodedOperand *o)
{
	return (int64_t)t->cur_moff + o->mem.disp.value;
}

static void slot_to_r11(struct tctx *t)
{
	int sr = t->slotreg[t->cur_slot];
	if (sr >= 0)
		mov_rr(&t->e, R11, sr, true);
	else if (t->slot_in_r10)
		mov_rr(&t->e, R11, R10, true);
	else
		blk_load(&t->e, R11, BT_OFF_GBASE + 8 * (uint32_t)t->cur_slot, true);
	t->slot_in_r10 = false;
}

static void member_ea(struct tctx *t)
{
	slot_to_r11(t);
	t->ea_host = true;
}

/* --------------------------------------------------------- instruction kinds */
/* Offset just past the ModRM byte, SIB byte and displacement. */
static unsigned modrm_end(const ZydisDecodedInstruction *in)
{
	return in->raw.modrm.offset + 1 + ((in->attributes & ZYDIS_ATTRIB_HAS_SIB) ? 1 : 0) +
	       in->raw.disp.size / 8;
}

/* The instruction's own bytes with its ModRM memory operand replaced by
 * [base + disp] (base: r11, or a loop's slot register): what the Zydis
 * encoder would produce for the common case (64-bit legacy encoding, no
 * displaced register, no AH..BH), at a fraction of the cost: a Linux boot
 * rewrites ~150,000 memory operands. Segment and address-size prefixes are
 * dropped (the base holds the linear or host address); REX loses X and
 * takes B from the base. Returns the length, or -1 for the encoder path. */
static int raw_mem_base(const struct tinsn *x, int64_t disp, int base, uint8_t *out)
{
	const ZydisDecodedInstruction *in = &x->in;
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    !(in->attributes & ZYDIS_ATTRIB_HAS_MODRM) || in->raw.modrm.mod == 3 ||
	    disp < INT32_MIN || disp > INT32_MAX)
		return -1;
	bool has_rex = in->attributes & ZYDIS_ATTRIB_HAS_REX;
	unsigned npre = in->raw.prefix_count - (has_rex ? 1 : 0);
	unsigned op0 = in->raw.prefix_count, mo = in->raw.modrm.offset;
	unsigned tail = modrm_end(in);
	if (op0 >= mo || tail > in->length)
		return -1;
	int n = 0;
	for (unsigned i = 0; i < npre; i++) {
		uint8_t b = x->bytes[i];
		if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 ||
		    b == 0x67)
			continue;
		out[n++] = b;
	}
	out[n++] = (uint8_t)(((has_rex ? x->bytes[in->raw.rex.offset] : 0x40) & ~0x03) | (base >> 3));
	for (unsigned i = op0; i < mo; i++)
		out[n++] = x->bytes[i];
	uint8_t reg = (uint8_t)(x->bytes[mo] & 0x38), rm = (uint8_t)(base & 7);
	/* rm 4 (RSP, R12) means a SIB byte follows; mod 0 with rm 5 (RBP,
	 * R13) means disp32 without a base: those bases take SIB 0x24 / disp8. */
	uint8_t sib = rm == 4 ? 0x24 : 0;
	if (disp == 0 && rm != 5) {
		out[n++] = (uint8_t)(0x00 | reg | rm);
		if (sib)
			out[n++] = sib;
	} else if (disp >= -128 && disp <= 127) {
		out[n++] = (uint8_t)(0x40 | reg | rm);
		if (sib)
			out[n++] = sib;
		out[n++] = (uint8_t)disp;
	} else {
		out[n++] = (uint8_t)(0x80 | reg | rm);
		if (sib)
			out[n++] = sib;
		uint32_t d = (uint32_t)disp;
		memcpy(out + n, &d, 4);
		n += 4;
	}
	for (unsigned i = tail; i < in->length; i++)
		out[n++] = x->bytes[i];
	return n;
}

/* lea r11, [the instruction's own base + index*scale + disp], copied from
 * its ModRM/SIB/displacement bytes (see raw_mem_base); -1 when those do not
 * name the operand plainly. */
static int raw_lea_r11(const struct tinsn *x, uint8_t *out)
{
	const ZydisDecodedInstruction *in = &x->in;
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY || in->address_width != 64 ||
	    !(in->attributes & ZYDIS_ATTRIB_HAS_MODRM) || in->raw.modrm.mod == 3)
		return -1;
	unsigned mo = in->raw.modrm.offset;
	unsigned end = modrm_end(in);
	if (end > in->length)
		return -1;
	uint8_t rx = (in->attributes & ZYDIS_ATTRIB_HAS_REX) ? x->bytes[in->raw.rex.offset] : 0;
	int n = 0;
	out[n++] = (uint8_t)(0x4c | (rx & 0x03));               /* REX.W.R + the original X, B */
	out[n++] = 0x8d;
	out[n++] = (uint8_t)((x->bytes[mo] & 0xc7) | (3 << 3));
	for (unsigned i = mo + 1; i < end; i++)
		out[n++] = x->bytes[i];
	return n;
}

/* The Zydis encoder's form of the rewrite: displaced registers become
 * R10/R11 (disp_regs[0]/[1]; BT* m,r's offset register is R10), the memory
 * operand becomes [r11 or the borrowed register + member displacement].
 * Returns the length written to out, or -1. */
static int encode_substituted(struct tctx *t, struct tinsn *x, int mem,
			      const ZydisRegister disp_regs[2], bool bitmem, int borrow,
			      uint8_t *out)
{
	ZydisDecodedInstruction *in = &x->in;
	ZydisEncoderRequest r;
	if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(in, x->op,
			in->operand_count_visible, &r)))
		return -1;
	r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	r.prefixes &= ~(ZYDIS_ATTRIB_HAS_SEGMENT | ZYDIS_ATTRIB_HAS_ADDRESSSIZE);
	r.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
	for (int i = 0; i < r.operand_count; i++) {
		ZydisEncoderOperand *o = &r.operands[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (displaced(o->reg.value) || (bitmem && i == 1))) {
			int g = gpr_num(o->reg.value);
			o->reg.value = scratch_like(o->reg.value, gpr_num(disp_regs[0]) == g ? R10 : R11);
		}
		if (i == mem) {
			o->mem.base = borrow >= 0 ? (ZydisRegister)(ZYDIS_REGISTER_RAX + borrow) :
				ZYDIS_REGISTER_R11;
			o->mem.index = ZYDIS_REGISTER_NONE;
			o->mem.scale = 0;
			o->mem.displacement = 0;
			if (t->cur_slot >= 0) {
				int64_t d = member_disp(t, &x->op[mem]);
				if (d < INT32_MIN || d > INT32_MAX)
					return -1;
				o->mem.displacement = d;
			}
		}
	}
	int n;
	return encode(t, &r, out, &n) < 0 ? -1 : n;
}

static int emit_gen(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	ZydisDecodedInstruction *in = &x->in;
	int mem = -1;
	ZydisRegister disp_regs[2] = { ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_NONE };
	int ndisp = 0;
	for (int i = 0; i < in->operand_count_visible; i++) {
		ZydisDecodedOperand *o = &x->op[i];
		if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem = i;
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && displaced(o->reg.value)) {
			int g = gpr_num(o->reg.value);
			bool seen = false;
			for (int k = 0; k < ndisp; k++)
				if (gpr_num(disp_regs[k]) == g)
					seen = true;
			if (!seen) {
				if (ndisp == 2)
					return -1;
				disp_regs[ndisp++] = o->reg.value;
			}
		}
	}
	if (t->m64 && mem < 0 && ndisp == 0) {
		bn(e, x->bytes, in->length);
		return 0;
	}
	/* Two displaced registers and a memory operand (shrx esp, [m], r11d):
	 * both scratches hold guest registers, so the address moves to a
	 * borrowed legacy register, as for AH..BH below. */
	bool twodisp = mem >= 0 && ndisp > 1;
	/* BT/BTS/BTR/BTC m, r: the register is a signed bit offset into a bit
	 * string that may reach other pages. Move the address by the offset's
	 * whole words here and hand the instruction only the offset modulo the
	 * operand size (pext), so [r11] is the word that is really accessed. */
	bool bitmem = mem == 0 && x->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		      (in->mnemonic == ZYDIS_MNEMONIC_BT || in->mnemonic == ZYDIS_MNEMONIC_BTS ||
		       in->mnemonic == ZYDIS_MNEMONIC_BTR || in->mnemonic == ZYDIS_MNEMONIC_BTC);
	int bitreg = -1, bitw = 0;
	bool bitdisp = false;
	if (bitmem) {
		bitdisp = ndisp == 1 && gpr_num(disp_regs[0]) == gpr_num(x->op[1].reg.value);
		if (ndisp && !bitdisp)
			return -1;
		bitreg = gpr_num(x->op[1].reg.value);
		bitw = x->op[1].size / 8;
		ndisp = 1;
		disp_regs[0] = x->op[1].reg.value;
	}
	int scratch_of[2] = { R10, R11 };     /* for the displaced loads and stores */
	/* AH..BH cannot be encoded with a REX prefix, so [r11] is impossible:
	 * borrow a legacy register (saved in the block) as the base instead. */
	int borrow = -1;
	if (mem >= 0) {
		bool high = false;
		uint32_t used = 0;
		for (int i = 0; i < in->operand_count; i++) {
			ZydisDecodedOperand *o = &x->op[i];
			if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
				if (o->reg.value >= ZYDIS_REGISTER_AH && o->reg.value <= ZYDIS_REGISTER_BH) {
					high = true;
					used |= 1u << (o->reg.value - ZYDIS_REGISTER_AH);
				} else if (gpr_num(o->reg.value) >= 0) {
					used |= 1u << gpr_num(o->reg.value);
				}
			}
		}
		if (high || twodisp) {
			static const int cand[] = { GPR_RSI, GPR_RDI, GPR_RBP, GPR_RBX, GPR_RDX,
						    GPR_RCX, GPR_RAX };
			for (int k = 0; k < 7 && borrow < 0; k++)
				if (!(used & (1u << cand[k])))
					borrow = cand[k];
			if (borrow < 0 || (ndisp && !twodisp))
				return -1;
		}
	}
	/* The instruction itself, into ib: the guest's bytes edited where
	 * that is enough, else re-encoded with its operands substituted. */
	uint8_t ib[24];
	int n = -1;
	/* A member whose slot is in a register addresses through it directly. */
	int sr = t->cur_slot >= 0 ? t->slotreg[t->cur_slot] : -1;
	bool direct = false;
	if (t->m64 && mem >= 0 && ndisp == 0 && borrow < 0 && !bitmem) {
		n = raw_mem_base(x, t->cur_slot >= 0 ? member_disp(t, &x->op[mem]) : 0,
				 sr >= 0 ? sr : R11, ib);
		direct = n >= 0 && sr >= 0;
	}
	if (n < 0 && (n = encode_substituted(t, x, mem, disp_regs, bitmem, borrow, ib)) < 0)
		return -1;
	uint8_t tail[64];
	int tl = 0;
	/* The borrowed base first: the displaced loads may overwrite r11. */
	if (borrow >= 0) {
		struct em te = { tail + tl, tail, tail + sizeof(tail), false };
		blk_store(&te, BT_OFF_TMP3, borrow);
		mov_rr(&te, borrow, R11, true);
		tl = (int)(te.p - tail);
	}
	for (int k = 0; k < ndisp; k++) {
		struct em te = { tail + tl, tail, tail + sizeof(tail), false };
		if (bitmem) {
			/* pext r10, reg64, [mask for the operand size] */
			int src = bitreg;
			if (bitdisp) {
				blk_load(&te, R10, BT_OFF_GPR + 8 * bitreg, true);
				src = R10;
			}
			b1(&te, 0xc4); b1(&te, 0x62);
			b1(&te, (uint8_t)(0x80 | ((~src & 15) << 3) | 2));
			b1(&te, 0xf5);
			blk_modrm(&te, R10, BT_OFF_MASKBIT + 8 * (bitw == 2 ? 0 : bitw == 4 ? 1 : 2));
		} else {
			blk_load(&te, scratch_of[k], BT_OFF_GPR + 8 * gpr_num(disp_regs[k]), true);
		}
		tl = (int)(te.p - tail);
	}
	memcpy(tail + tl, ib, (size_t)n);
	tl += n;
	if (borrow >= 0) {
		struct em te = { tail + tl, tail, tail + sizeof(tail), false };
		blk_load(&te, borrow, BT_OFF_TMP3, true);
		tl = (int)(te.p - tail);
	}
	for (int k = 0; k < ndisp && !bitmem; k++) {
		bool written = false;
		for (int i = 0; i < in->operand_count_visible; i++)
			if (x->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    gpr_num(x->op[i].reg.value) == gpr_num(disp_regs[k]) &&
			    (x->op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
				written = true;
		if (written) {
			struct em te = { tail + tl, tail, tail + sizeof(tail), false };
			blk_store(&te, BT_OFF_GPR + 8 * gpr_num(disp_regs[k]), scratch_of[k]);
			tl = (int)(te.p - tail);
		}
	}
	if (mem < 0) {
		bn(e, tail, tl);
		return 0;
	}
	ZydisDecodedOperand *mo = &x->op[mem];
	if (direct)
		t->ea_host = true;
	else if (t->cur_slot >= 0)
		member_ea(t);
	else if (emit_ea(t, x, mo) < 0)
		return -1;
	if (bitmem) {
		int shift = bitw == 2 ? 4 : bitw == 4 ? 5 : 6;
		blk_store(e, BT_OFF_TMP3, R11);
		b1(e, 0x41); b1(e, 0xbb); b4(e, (uint32_t)shift);      /* mov r11d, shift */
		int src = bitreg;
		if (bitdisp) {
			blk_load(e, R10, BT_OFF_GPR + 8 * bitreg, true);
			src = R10;
		}
		if (bitw == 8) {
			if (src != R10)
				mov_rr(e, R10, src, true);
		} else if (bitw == 4) {                                 /* movsxd r10, reg32 */
			b1(e, (uint8_t)(0x4c | (src >> 3)));
			b1(e, 0x63);
			b1(e, (uint8_t)(0xd0 | (src & 7)));
		} else {                                                /* movsx r10, reg16 */
			b1(e, (uint8_t)(0x4c | (src >> 3)));
			b1(e, 0x0f); b1(e, 0xbf);
			b1(e, (uint8_t)(0xd0 | (src & 7)));
		}
		b1(e, 0xc4); b1(e, 0x42); b1(e, 0xa2); b1(e, 0xf7); b1(e, 0xd2); /* sarx r10,r10,r11 */
		blk_load(e, R11, BT_OFF_TMP3, true);
		/* a 32-bit address size wraps the offset address too (67 btc) */
		b1(e, t->m64 && in->address_width == 64 ? 0x4f : 0x47);
		b1(e, 0x8d); b1(e, 0x1c);
		b1(e, (uint8_t)((bitw == 2 ? 0x40 : bitw == 4 ? 0x80 : 0xc0) | 0x13)); /* lea r11,[r11+r10*w] */
	}
	bool rd = mo->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
	bool wr = mo->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
	ZydisMnemonic mn = in->mnemonic;
	bool xmm = false;
	for (int i = 0; i < in->operand_count_visible; i++)
		if (x->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(x->op[i].reg.value) == ZYDIS_REGCLASS_XMM)
			xmm = true;
	if (in->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY && mo->size == 128 && xmm &&
	    mn != ZYDIS_MNEMONIC_MOVUPS && mn != ZYDIS_MNEMONIC_MOVUPD && mn != ZYDIS_MNEMONIC_MOVDQU &&
	    mn != ZYDIS_MNEMONIC_LDDQU && mn != ZYDIS_MNEMONIC_PCMPESTRI &&
	    mn != ZYDIS_MNEMONIC_PCMPESTRM && mn != ZYDIS_MNEMONIC_PCMPISTRI &&
	    mn != ZYDIS_MNEMONIC_PCMPISTRM && in->meta.category != ZYDIS_CATEGORY_SHA)
		site_align = 16;
	if (in->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX &&
	    (mn == ZYDIS_MNEMONIC_VMOVDQA || mn == ZYDIS_MNEMONIC_VMOVAPS ||
	     mn == ZYDIS_MNEMONIC_VMOVAPD || mn == ZYDIS_MNEMONIC_VMOVNTDQ ||
	     mn == ZYDIS_MNEMONIC_VMOVNTPS || mn == ZYDIS_MNEMONIC_VMOVNTPD ||
	     mn == ZYDIS_MNEMONIC_VMOVNTDQA))
		site_align = mo->size == 256 ? 32 : 16;
	if (mn == ZYDIS_MNEMONIC_CMPXCHG16B)
		site_align = 16;        /* #GP when misaligned, before any #PF */
	/* SS-relative operands (RSP/RBP base) raise #SS, not #GP, when non-canonical. */
	site(t, x, mo->size / 8, rd, wr, mo->mem.segment == ZYDIS_REGISTER_SS, tail, tl,
	     next_rip(t, x));
	return 0;
}

static int emit_lea(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	ZydisDecodedOperand *d = &x->op[0], *m = &x->op[1];
	bool rip_rel = m->mem.base == ZYDIS_REGISTER_RIP || m->mem.base == ZYDIS_REGISTER_EIP;
	if (t->m64 && !displaced(d->reg.value) && !displaced(m->mem.base) &&
	    !displaced(m->mem.index) && !rip_rel) {
		bn(e, x->bytes, x->in.length);
		return 0;
	}
	ZydisDecodedOperand agen = *m;
	agen.mem.segment = ZYDIS_REGISTER_DS;
	bool saved_flat = t->flat;
	t->flat = true;         /* LEA never adds a segment base */
	int r = emit_ea(t, x, &agen);
	t->flat = saved_flat;
	if (r < 0)
		return -1;
	int w = d->size / 8;
	int g = gpr_num(d->reg.value);
	if (displaced(d->reg.value)) {
		if (w == 8 || w == 4) {
			if (w == 4)
				mov_rr(e, R11, R11, false);
			blk_store(e, BT_OFF_GPR + 8 * g, R11);
		} else {
			blk_load(e, R10, BT_OFF_GPR + 8 * g, true);
			b1(e, 0x66); b1(e, 0x45); b1(e, 0x89); b1(e, 0xda);     /* mov r10w, r11w */
			blk_store(e, BT_OFF_GPR + 8 * g, R10);
		}
	} else if (w == 2) {
		b1(e, 0x66);
		rex(e, false, R11, 0, g, false);
		b1(e, 0x89);
		b1(e, (uint8_t)(0xc0 | (3 << 3) | (g & 7)));
	} else {
		mov_rr(e, g, R11, w == 8);
	}
	return 0;
}

static int stack_width(struct tctx *t, struct tinsn *x)
{
	if (t->m64)
		return x->in.operand_width == 16 ? 2 : 8;
	return x->in.operand_width == 16 ? 2 : 4;
}

/* r11 = linear stack address at RSP + delta; for a probe-group member the
 * host address, from the slot and how far RSP moved since the leader. */
static void stack_ea(struct tctx *t, int delta)
{
	struct em *e = &t->e;
	if (t->cur_slot >= 0) {
		slot_to_r11(t);
		add_disp(e, R11, R11, t->cur_moff + delta);
		t->ea_host = true;
		return;
	}
	blk_load(e, R11, BT_OFF_GPR + 8 * GPR_RSP, t->m64);
	if (delta)
		lea_disp(e, R11, R11, delta, t->m64);
	if (!t->m64 && !t->flat) {
		blk_load(e, R10, BT_OFF_SEGBASE + 8 * SEG_SS, true);
		lea_r11_r10(e, false);
	}
}

static void rsp_update(struct em *e, int delta, bool w64)
{
	blk_load(e, R10, BT_OFF_GPR + 8 * GPR_RSP, true);
	lea_disp(e, R10, R10, delta, w64);
	blk_store(e, BT_OFF_GPR + 8 * GPR_RSP, R10);
}

/* Push of a value described by (reg or imm); returns tail in buf. */
static void push_value(struct tctx *t, struct tinsn *x, int n, int reg, bool is_imm, uint64_t imm,
		       uint64_t smc_next)
{
	uint8_t tail[64];
	struct em te = { tail, tail, tail + sizeof(tail), false };
	if (is_imm && (n != 8 || imm == (uint64_t)(int64_t)(int32_t)imm)) {
		/* mov [r11], imm (sign-extended imm32 for 8 bytes: every return
		 * address in the low 2 GiB or in the kernel's top 2 GiB) */
		if (n == 2)
			b1(&te, 0x66);
		rex(&te, n == 8, 0, 0, R11, true);
		b1(&te, 0xc7);
		b1(&te, 0x03);
		if (n == 2) {
			b1(&te, (uint8_t)imm);
			b1(&te, (uint8_t)(imm >> 8));
		} else {
			b4(&te, (uint32_t)imm);
		}
	} else if (is_imm) {
		mov_imm64(&te, R10, imm);
		mov_r11mem(&te, R10, n, false);
	} else if (reg < 0) {
		blk_load(&te, R10, BT_OFF_TMP2, true);
		mov_r11mem(&te, R10, n, false);
	} else if (reg == GPR_RSP || reg == GPR_R10 || reg == GPR_R11) {
		blk_load(&te, R10, BT_OFF_GPR + 8 * reg, true);
		mov_r11mem(&te, R10, n, false);
	} else {
		mov_r11mem(&te, reg, n, false);
	}
	rsp_update(&te, -n, t->m64);
	stack_ea(t, -n);
	site(t, x, n, false, true, true, tail, (int)(te.p - tail), smc_next);
}

static int emit_push(struct tctx *t, struct tinsn *x)
{
	int n = stack_width(t, x);
	if (x->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		uint64_t v = (uint64_t)x->op[0].imm.value.s;
		push_value(t, x, n, 0, true, v, next_rip(t, x));
	} else {
		push_value(t, x, n, gpr_num(x->op[0].reg.value), false, 0, next_rip(t, x));
	}
	return 0;
}

static void pext_pdep_r10(struct em *e, uint32_t mask_off)
{
	b1(e, 0xc4); b1(e, 0x62); b1(e, 0xaa); b1(e, 0xf5);
	blk_modrm(e, R10, mask_off);                            /* pext r10, r10, mask */
	b1(e, 0xc4); b1(e, 0x62); b1(e, 0xab); b1(e, 0xf5);
	blk_modrm(e, R10, mask_off);                            /* pdep r10, r10, mask */
}

#define OFF_SYS ((uint32_t)offsetof(struct bt_cpu, rflags_sys))

/* PUSH r/m: load through one probe into TMP2, push through another. */
static int emit_pushm(struct tctx *t, struct tinsn *x)
{
	int n = stack_width(t, x);
	if (emit_ea(t, x, &x->op[0]) < 0)
		return -1;
	uint8_t tail[32];
	struct em te = { tail, tail, tail + sizeof(tail), false };
	mov_r11mem(&te, R10, n, true);
	blk_store(&te, BT_OFF_TMP2, R10);
	/* An RSP/RBP-based source is SS-relative: non-canonical is #SS. */
	site(t, x, n, true, false, x->op[0].mem.segment == ZYDIS_REGISTER_SS, tail,
	     (int)(te.p - tail), next_rip(t, x));
	push_value(t, x, n, -1, false, 0, next_rip(t, x));
	return 0;
}

/* PUSHF: host arithmetic flags (pext/pdep keep 0xcd5, flag-free) plus the
 * virtual system flags. */
static int emit_pushf(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	int n = stack_width(t, x);
	b1(e, 0x9c);                                            /* pushfq */
	b1(e, 0x41); b1(e, 0x5a);                               /* pop r10 */
	pext_pdep_r10(e, BT_OFF_MASKARITH);
	blk_load(e, R11, OFF_SYS, true);
	b1(e, 0x4f); b1(e, 0x8d); b1(e, 0x14); b1(e, 0x1a);     /* lea r10, [r10+r11] */
	blk_store(e, BT_OFF_TMP2, R10);
	push_value(t, x, n, -1, false, 0, next_rip(t, x));
	return 0;
}

static void emit_cli(struct tctx *t)
{
	struct em *e = &t->e;
	blk_load(e, R10, OFF_SYS, true);
	pext_pdep_r10(e, BT_OFF_MASKNOTIF);
	blk_store(e, OFF_SYS, R10);
}

/* STI: if an interrupt is already pending, let the emulator do it (it
 * handles the shadow); otherwise just set the virtual IF. */
static void emit_sti(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	blk_rm(e, 0x89, 1, true, BT_OFF_TMPRCX);
	mov_imm64(e, R10, (uint64_t)&t->c->vcpu->irq_pending);
	b1(e, 0x41); b1(e, 0x0f); b1(e, 0xb6); b1(e, 0x0a);     /* movzx ecx, byte [r10] */
	b1(e, 0xe3);
	uint8_t *rel = e->p;
	b1(e, 0);
	uint8_t *from = e->p;
	blk_load(e, 1, BT_OFF_TMPRCX, true);
	store_rip_exit(e, x->rip, BT_EXIT_EMULATE);
	*rel = (uint8_t)(e->p - from);
	blk_load(e, 1, BT_OFF_TMPRCX, true);
	emit_cli(t);
	b1(e, 0x4d); b1(e, 0x8d); b1(e, 0x92); b4(e, 0x200);    /* lea r10, [r10+0x200] */
	blk_store(e, OFF_SYS, R10);
}

static void emit_swapgs(struct tctx *t)
{
	struct em *e = &t->e;
	uint32_t gsb = (uint32_t)offsetof(struct bt_cpu, seg) + SEG_GS * sizeof(struct x86_seg) +
		       (uint32_t)offsetof(struct x86_seg, base);
	uint32_t kgs = (uint32_t)offsetof(struct bt_cpu, kernel_gs_base);
	blk_load(e, R10, gsb, true);
	blk_load(e, R11, kgs, true);
	blk_store(e, gsb, R11);
	blk_store(e, BT_OFF_SEGBASE + 8 * SEG_GS, R11);
	blk_store(e, kgs, R10);
}

static int emit_pop(struct tctx *t, struct tinsn *x)
{
	int n = stack_width(t, x);
	int g = gpr_num(x->op[0].reg.value);
	uint8_t tail[64];
	struct em te = { tail, tail, tail + sizeof(tail), false };
	if (g == GPR_RSP) {
		if (n == 2)
			return -1;
		mov_r11mem(&te, R10, n, true);
		blk_store(&te, BT_OFF_GPR + 8 * GPR_RSP, R10);
	} else {
		if (g == GPR_R10 || g == GPR_R11) {
			blk_load(&te, R10, BT_OFF_GPR + 8 * g, true);
			mov_r11mem(&te, R10, n, true);
			blk_store(&te, BT_OFF_GPR + 8 * g, R10);
		} else {
			mov_r11mem(&te, g, n, true);
		}
		rsp_update(&te, n, t->m64);
	}
	stack_ea(t, 0);
	site(t, x, n, true, false, true, tail, (int)(te.p - tail), next_rip(t, x));
	return 0;
}

static int emit_leave(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	int n = stack_width(t, x);
	if (n == 2 || (!t->m64 && !t->flat))
		return -1;
	lea_disp(e, R10, GPR_RBP, n, t->m64);
	blk_store(e, BT_OFF_TMP2, R10);
	mov_rr(e, R11, GPR_RBP, t->m64);
	uint8_t tail[64];
	struct em te = { tail, tail, tail + sizeof(tail), false };
	mov_r11mem(&te, GPR_RBP, n, true);
	blk_load(&te, R10, BT_OFF_TMP2, true);
	blk_store(&te, BT_OFF_GPR + 8 * GPR_RSP, R10);
	site(t, x, n, true, false, true, tail, (int)(te.p - tail), next_rip(t, x));
	return 0;
}

static uint64_t branch_target(struct tctx *t, struct tinsn *x)
{
	uint64_t target = 0;
	ZydisCalcAbsoluteAddress(&x->in, &x->op[0], x->rip, &target);
	if (!t->m64)
		target &= 0xffffffffull;
	return target;
}

/* r11 = indirect target from operand 0 (register or memory). For memory the
 * load goes through a site whose tail performs "mov r11, [r11]". */
static int load_target(struct tctx *t, struct tinsn *x, uint64_t smc_next)
{
	struct em *e = &t->e;
	ZydisDecodedOperand *o = &x->op[0];
	int w = t->m64 ? 8 : 4;
	if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		int g = gpr_num(o->reg.value);
		if (g == GPR_RSP || g == GPR_R10 || g == GPR_R11)
			blk_load(e, R11, BT_OFF_GPR + 8 * g, t->m64);
		else
			mov_rr(e, R11, g, t->m64);
		return 0;
	}
	if (emit_ea(t, x, o) < 0)
		return -1;
	uint8_t tail[8];
	struct em te = { tail, tail, tail + sizeof(tail), false };
	mov_r11mem(&te, R11, w, true);
	/* [rsp+..]/[rbp+..] targets are SS-relative: non-canonical is #SS. */
	site(t, x, w, true, false, o->mem.segment == ZYDIS_REGISTER_SS, tail,
	     (int)(te.p - tail), smc_next);
	return 0;
}

/* Indirect branch to the guest RIP in r11: probe the jump cache of the
 * current CPL inline (each site keeps its own host indirect jump, so the
 * host predictor sees distinct branches), flag-free. */
static void indirect_ex(struct tctx *t, bool chain_miss);
static uint64_t ind_site_rip;
static int64_t ind_site_delta;

/* site_rip/delta: the branch and the RSP change it made, so a bad target
 * can be turned into a precise #GP on the branch. */
static void indirect(struct tctx *t, uint64_t site_rip, int64_t delta)
{
	ind_site_rip = site_rip;
	ind_site_delta = delta;
	indirect_ex(t, false);
}

/* chain_miss: a direct branch's exit stub; a miss leaves as BT_EXIT_CHAIN
 * (with the chain record in r10 stored by the caller) so the dispatcher can
 * patch same-page targets. */
static void indirect_ex(struct tctx *t, bool chain_miss)
{
	struct em *e = &t->e;
	blk_rm(e, 0x89, 1, true, BT_OFF_TMPRCX);
	b1(e, 0xc4); b1(e, 0x43); b1(e, 0xfb); b1(e, 0xf0); b1(e, 0xd3); b1(e, 4); /* rorx r10, r11, 4 */
	b1(e, 0x4f); b1(e, 0x8d); b1(e, 0x14); b1(e, 0x1a);     /* lea r10, [r10+r11] */
	b1(e, 0xc4); b1(e, 0x62); b1(e, 0xaa); b1(e, 0xf5);
	blk_modrm(e, R10, BT_OFF_MASKJC);                       /* pext r10, r10, jcmask */
	b1(e, 0x4f); b1(e, 0x8d); b1(e, 0x14); b1(e, 0x12);     /* lea r10, [r10+r10] */
	blk_load(e, 1, BT_OFF_JCPTR, true);                      /* mov rcx, [jcptr] */
	b1(e, 0x4e); b1(e, 0x8d); b1(e, 0x14); b1(e, 0xd1);     /* lea r10, [rcx+r10*8] */
	b1(e, 0x49); b1(e, 0x8b); b1(e, 0x0a);                  /* mov rcx, [r10] */
	b1(e, 0x48); b1(e, 0xf7); b1(e, 0xd1);                  /* not rcx */
	b1(e, 0x4a); b1(e, 0x8d); b1(e, 0x4c); b1(e, 0x19); b1(e, 0x01); /* lea rcx,[rcx+r11+1] */
	b1(e, 0xe3);
	uint8_t *rel = e->p;
	b1(e, 0);
	uint8_t *miss = e->p;
	blk_load(e, 1, BT_OFF_TMPRCX, true);
	if (!chain_miss) {
		mov_imm64(e, R10, ind_site_rip);
		blk_store(e, BT_OFF_INDSITE, R10);
		blk_store_imm(e, BT_OFF_INDDELTA, (int32_t)ind_site_delta);
	}
	blk_store(e, BT_OFF_RIP, R11);
	blk_store_imm(e, BT_OFF_REASON, chain_miss ? BT_EXIT_CHAIN : BT_EXIT_LOOKUP);
	blk_jmp(e, BT_OFF_A_EXIT);
	*rel = (uint8_t)(e->p - miss);
	blk_load(e, 1, BT_OFF_TMPRCX, true);
	b1(e, 0x41); b1(e, 0xff); b1(e, 0x62); b1(e, 0x08);     /* jmp [r10+8] */
}

static void exit_chain(struct tctx *t, uint64_t target)
{
	jump_exit(t, 0xe9, -1, target);
}

/* Calls the helper trampoline at [block + off] with the instruction's RIP and
 * the next RIP in the block (where it resumes or faults). */
static void helper_call(struct tctx *t, struct tinsn *x, uint32_t off)
{
	struct em *e = &t->e;
	mov_imm64(e, R10, x->rip);
	blk_store(e, BT_OFF_RIP, R10);
	mov_imm64(e, R10, next_rip(t, x));
	blk_store(e, BT_OFF_NEXT, R10);
	blk_call(e, off);
}

static int emit_insn(struct tctx *t, struct tinsn *x)
{
	struct em *e = &t->e;
	switch (x->kind) {
	case K_NOP:
		return 0;
	case K_GEN:
		return emit_gen(t, x);
	case K_LEA:
		return emit_lea(t, x);
	case K_PUSH:
		return emit_push(t, x);
	case K_POP:
		return emit_pop(t, x);
	case K_LEAVE:
		return emit_leave(t, x);
	case K_PUSHM:
		return emit_pushm(t, x);
	case K_PUSHF:
		return emit_pushf(t, x);
	case K_CLI:
		emit_cli(t);
		return 0;
	case K_STI:
		emit_sti(t, x);
		return 0;
	case K_SWAPGS:
		emit_swapgs(t);
		return 0;
	case K_RDCR: {
		uint32_t off;
		switch (x->op[1].reg.value) {
		case ZYDIS_REGISTER_CR0: off = offsetof(struct bt_cpu, cr0); break;
		case ZYDIS_REGISTER_CR2: off = offsetof(struct bt_cpu, cr2); break;
		case ZYDIS_REGISTER_CR3: off = offsetof(struct bt_cpu, cr3); break;
		default: off = offsetof(struct bt_cpu, cr4); break;
		}
		int g = gpr_num(x->op[0].reg.value);
		if (g == GPR_RSP || g == GPR_R10 || g == GPR_R11) {
			blk_load(e, R10, off, true);
			blk_store(e, BT_OFF_GPR + 8 * g, R10);
		} else {
			blk_load(e, g, off, true);
		}
		return 0;
	}
	case K_STR: {
		ZydisMnemonic m = x->in.mnemonic;
		bool movs = m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW ||
			    m == ZYDIS_MNEMONIC_MOVSD || m == ZYDIS_MNEMONIC_MOVSQ;
		uint32_t info = (movs ? BT_STR_MOVS : BT_STR_STOS) |
			((uint32_t)(x->in.operand_width / 8) << 4) |
			((x->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
					      ZYDIS_ATTRIB_HAS_REPNE)) ? BT_STR_REP : 0) |
			(x->in.address_width == 32 ? BT_STR_A32 : 0);
		blk_store_imm(e, BT_OFF_SLOWINFO, (int32_t)info);
		helper_call(t, x, BT_OFF_A_HELPER);
		return 0;
	}
	case K_RDTSCP:
		b1(e, 0x0f); b1(e, 0x31);                               /* rdtsc */
		blk_load(e, 1, (uint32_t)offsetof(struct bt_cpu, tsc_aux), false); /* mov ecx, aux */
		return 0;
	case K_VMI:
		helper_call(t, x, BT_OFF_A_VMI);
		return 0;
	case K_INVLPG:
		if (emit_ea(t, x, &x->op[0]) < 0)
			return -1;
		blk_store(e, BT_OFF_TMP3, R11);
		blk_store_imm(e, BT_OFF_SLOWINFO, BT_SYS_INVLPG);
		helper_call(t, x, BT_OFF_A_SYS);
		return 0;
	case K_WRCR:
		blk_store_imm(e, BT_OFF_SLOWINFO, (int32_t)(BT_SYS_WRCR |
			(uint32_t)(x->op[0].reg.value - ZYDIS_REGISTER_CR0) << 8 |
			(uint32_t)gpr_num(x->op[1].reg.value) << 16));
		helper_call(t, x, BT_OFF_A_SYS);
		return 0;
	case K_RDSEG: {
		uint32_t off = (uint32_t)offsetof(struct bt_cpu, seg) +
			bt_seg_of(x->op[1].reg.value) * (uint32_t)sizeof(struct x86_seg) +
			(uint32_t)offsetof(struct x86_seg, sel);
		if (x->op[1].reg.value == ZYDIS_REGISTER_DS)
			off = (uint32_t)offsetof(struct bt_cpu, seg) + SEG_DS * (uint32_t)sizeof(struct x86_seg) +
				(uint32_t)offsetof(struct x86_seg, sel);
		int g = gpr_num(x->op[0].reg.value);
		int dst = (g == GPR_RSP || g == GPR_R10 || g == GPR_R11) ? R10 : g;
		rex(e, false, dst, 0, 0, false);
		b1(e, 0x0f); b1(e, 0xb7);                       /* movzx r32, word [off] */
		blk_modrm(e, dst, off);
		if (dst == R10)
			blk_store(e, BT_OFF_GPR + 8 * g, R10);
		return 0;
	}
	case K_VERW: {
		/* Linux issues VERW only to flush CPU buffers and ignores the
		 * result: answer "not writable" (ZF=0) without an exit. Its
		 * return-to-user VERW is followed by SYSRET or IRET, which
		 * overwrite ZF: then the pushf/popf pair is not needed. */
		long i = x - t->ins;
		uint32_t after = i + 1 < t->n ? t->ins[i + 1].live_in : t->live_end;
		if (!(after & 0x40))
			return 0;
		static const uint8_t v[] = { 0x9c, 0x80, 0x24, 0x24, 0xbf, 0x9d };
		bn(e, v, sizeof(v));
		return 0;
	}
	case K_JMP:
		exit_chain(t, branch_target(t, x));
		return 0;
	case K_JCC: {
		borrowed_restore(t);
		uint8_t cc = x->in.opcode & 0xf;
		if (cc == 0xc && t->c->bt->inject == BT_BUG_JL_JLE)
			cc = 0xe;
		jump_exit(t, 0x0f, 0x80 | cc, branch_target(t, x));
		exit_chain(t, next_rip(t, x));
		return 0;
	}
	case K_JCC_IN: {
		/* A copy of the self-loop's JCC inside the unrolled block: taken
		 * runs the next copy (falls through), not taken leaves the loop
		 * (through a stub that first restores the slot registers). */
		uint8_t cc = x->in.opcode & 0xf;
		if (cc == 0xc && t->c->bt->inject == BT_BUG_JL_JLE)
			cc = 0xe;
		jump_exit(t, 0x0f, 0x80 | (cc ^ 1), next_rip(t, x));
		if (t->borrowed)
			t->stubs[t->nstubs - 1].kind = ST_BEXIT;
		return 0;
	}
	case K_LOOP: {
		/* On the 64-bit host, 0x67 selects ECX as the counter. */
		if (x->in.address_width == 32)
			b1(e, 0x67);
		uint8_t opc = x->in.opcode;     /* E0..E3 */
		/* Some hosts (AMD here) let a redundant F2/F3 prefix pick the ZF
		 * condition of LOOPE/LOOPNE; keep the last one so the host decides
		 * exactly as it would natively. */
		uint8_t rep = 0;
		for (int i = 0; i < x->in.raw.prefix_count; i++) {
			uint8_t v = x->in.raw.prefixes[i].value;
			if (v == 0xf2 || v == 0xf3)
				rep = v;
		}
		if (rep && (opc == 0xe0 || opc == 0xe1))
			b1(e, rep);
		b1(e, opc);
		b1(e, 5);
		exit_chain(t, next_rip(t, x));
		exit_chain(t, branch_target(t, x));
		return 0;
	}
	case K_CALL: {
		int n = t->m64 ? 8 : 4;
		uint64_t target = branch_target(t, x);
		push_value(t, x, n, 0, true, next_rip(t, x), target);
		exit_chain(t, target);
		return 0;
	}
	case K_CALL_IND: {
		int n = t->m64 ? 8 : 4;
		if (load_target(t, x, next_rip(t, x)) < 0)
			return -1;
		/* A non-canonical target faults before anything is pushed:
		 * check it flag-free (rcx = (r11 + 2^47) >> 48) and leave
		 * through a lookup that turns it into #GP with no RSP change. */
		uint8_t *bad = NULL;
		if (t->m64) {
			blk_rm(e, 0x89, 1, true, BT_OFF_TMPRCX);         /* mov [tmp], rcx */
			mov_imm64(e, R10, 1ull << 47);
			b1(e, 0x4b); b1(e, 0x8d); b1(e, 0x0c); b1(e, 0x13); /* lea rcx,[r11+r10] */
			b1(e, 0x41); b1(e, 0xba); b4(e, 48);             /* mov r10d, 48 */
			b1(e, 0xc4); b1(e, 0xe2); b1(e, 0xab); b1(e, 0xf7); b1(e, 0xc9); /* shrx rcx,rcx,r10 */
			b1(e, 0xe3); b1(e, 5);                           /* jrcxz ok */
			b1(e, 0xe9);
			bad = e->p;
			b4(e, 0);
			blk_load(e, 1, BT_OFF_TMPRCX, true);              /* ok: */
		}
		blk_store(e, BT_OFF_TMP2, R11);
		push_value(t, x, n, 0, true, next_rip(t, x), next_rip(t, x));
		blk_load(e, R11, BT_OFF_TMP2, true);
		indirect(t, x->rip, -n);
		if (bad) {
			int32_t rel = (int32_t)(e->p - (bad + 4));
			memcpy(bad, &rel, 4);
			blk_load(e, 1, BT_OFF_TMPRCX, true);
			/* The CPU checks the stack before the target: the lookup
			 * exit probes the push first (BT_IND_CALLPUSH). */
			indirect(t, x->rip, BT_IND_CALLPUSH + n);
		}
		return 0;
	}
	case K_JMP_IND:
		if (load_target(t, x, next_rip(t, x)) < 0)
			return -1;
		indirect(t, x->rip, 0);
		return 0;
	case K_RETPOLINE: {
		/* The state after the thunk's MOV ([rsp-8] = REG, RSP - 8: a
		 * fault is the CALL's, SMC continues at the jump), then its RET
		 * without reloading what was just stored. */
		int g = t->rp_reg;
		push_value(t, x, 8, g, false, 0, t->rp_jmp);
		rsp_update(e, 8, true);
		if (g == GPR_R10 || g == GPR_R11)
			blk_load(e, R11, BT_OFF_GPR + 8 * g, true);
		else
			mov_rr(e, R11, g, true);
		indirect(t, t->rp_ret, 8);
		return 0;
	}
	case K_RET: {
		int n = t->m64 ? 8 : 4;
		int extra = 0;
		if (x->in.operand_count_visible && x->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			extra = (int)(x->op[0].imm.value.u & 0xffff);
		uint8_t tail[64];
		struct em te = { tail, tail, tail + sizeof(tail), false };
		mov_r11mem(&te, R11, n, true);
		rsp_update(&te, n + extra, t->m64);
		stack_ea(t, 0);
		site(t, x, n, true, false, true, tail, (int)(te.p - tail), next_rip(t, x));
		indirect(t, x->rip, n + extra);
		return 0;
	}
	default:
		return -1;
	}
}

/* ------------------------------------------------------------ block cache */
static uint32_t hash_key(uint64_t rip, uint64_t page, uint32_t mode)
{
	uint64_t h = rip * 0x9e3779b97f4a7c15ull ^ (page >> 12) * 0xc2b2ae3d27d4eb4full ^ mode;
	return (uint32_t)(h >> 40) & (BT_HASH_SIZE - 1);
}

static int64_t page_index(struct bt_cpu *c, uint64_t gpa)
{
	uint8_t *h = bt_gpa_host(c, gpa);
	const struct guest_memory *m = &c->vm->mem;
	if (!h || h < m->ram || h >= m->ram + m->ram_size)
		return -1;
	return (h - m->ram) >> 12;
}

void bt_flush_all(struct bt_cpu *c)
{
	struct bt_state *s = c->bt;
	s->code_used = 0;
	s->nblocks = 0;
	s->nmap = 0;
	s->nchains = 0;
	s->gen++;
	s->flushes++;
	for (int i = 0; i < BT_HASH_SIZE; i++)
		s->hash[i] = -1;
	for (uint64_t i = 0; i < s->npages; i++) {
		s->page_head[i] = -1;
		s->page_code[i] = 0;
		s->page_miss[i] = 0;
	}
	bt_tlb_flush(c);
}

static void jc_drop(struct bt_cpu *c, struct bt_block *b)
{
	for (int t = 0; t < 2; t++) {
		struct bt_jce *j = &c->jc[t][bt_jc_index(b->rip)];
		if (j->host == (uint64_t)b->code)
			bt_jc_clear(j);
	}
}

/* Chains into b from blocks that stay alive land on its entry: from now on
 * that jumps to b's poll exit, and the dispatcher translates afresh. */
static void kill_block(struct bt_cpu *c, struct bt_block *b)
{
	struct bt_state *s = c->bt;
	b->valid = false;
	c->n.killed++;
	jc_drop(c, b);
	if (!b->code)
		return;
	if (b->dead) {
		int32_t rel = (int32_t)(b->dead - (b->code + 5));
		b->code[0] = 0xe9;
		memcpy(b->code + 1, &rel, 4);
	}
	/* Unlink the chains into b, so blocks that live on ask the dispatcher
	 * again (and get relinked to b's successor) instead of taking the
	 * dead entry's exit every time. */
	for (int32_t i = b->in_head; i >= 0 && (uint32_t)i < s->nchains; i = s->chains[i].in_next) {
		struct bt_chainrec *cr = &s->chains[i];
		int32_t cur;
		memcpy(&cur, cr->field, 4);
		if (cr->field + 4 + cur == b->code)
			patch32(cr->field, cr->stub);
	}
	b->in_head = -1;
}

void bt_chain_link(struct bt_cpu *c, struct bt_chainrec *cr, struct bt_block *dst)
{
	struct bt_state *s = c->bt;
	patch32(cr->field, dst->code);
	cr->in_next = dst->in_head;
	dst->in_head = (int32_t)(cr - s->chains);
}

/* The branch cannot be linked to its target: it probes the jump cache from
 * now on instead of leaving for the dispatcher. */
void bt_chain_probe(struct bt_chainrec *cr)
{
	patch32(cr->field, cr->alt);
}

void bt_invalidate_page(struct bt_cpu *c, uint64_t page)
{
	struct bt_state *s = c->bt;
	int64_t pi = page_index(c, page);
	if (pi < 0)
		return;
	int32_t bi = s->page_head[pi];
	while (bi >= 0) {
		struct bt_block *b = &s->blocks[bi];
		if (b->valid)
			kill_block(c, b);
		bi = (b->page0 == page) ? b->pnext0 : b->pnext1;
	}
	s->page_head[pi] = -1;
	s->page_code[pi] = 0;
	s->page_miss[pi] = 0;
}

/* A guest write to bytes [lo, hi) of a code page drops only the blocks that
 * read them, so code that patches other code on its own page (Linux applying
 * alternatives) is not retranslated after every write. A page that takes
 * many writes hitting no block holds data too: drop it all, so its writes go
 * back to the inline fast path. Returns whether any block died. */
bool bt_smc_range(struct bt_cpu *c, uint64_t page, unsigned lo, unsigned hi)
{
	struct bt_state *s = c->bt;
	int64_t pi = page_index(c, page);
	if (pi < 0)
		return false;
	bool killed = false;
	int32_t *link = &s->page_head[pi];
	while (*link >= 0) {
		struct bt_block *b = &s->blocks[*link];
		bool second = b->page0 != page;
		int32_t *next = second ? &b->pnext1 : &b->pnext0;
		unsigned blo = second ? 0 : b->dlo0, bhi = second ? b->dhi1 : b->dhi0;
		if (b->valid && !(lo < bhi && blo < hi)) {
			link = next;
			continue;
		}
		if (b->valid) {
			kill_block(c, b);
			killed = true;
		}
		*link = *next;
	}
	if (s->page_head[pi] < 0) {
		s->page_code[pi] = 0;
		s->page_miss[pi] = 0;
	} else if (!killed && ++s->page_miss[pi] >= BT_SMC_MISS_MAX) {
		bt_invalidate_page(c, page);
		killed = true;
	}
	return killed;
}

static void register_page(struct bt_cpu *c, struct bt_block *b, int32_t bi, uint64_t page, bool second)
{
	struct bt_state *s = c->bt;
	int64_t pi = page_index(c, page);
	if (pi < 0)
		return;
	if (second)
		b->pnext1 = s->page_head[pi];
	else
		b->pnext0 = s->page_head[pi];
	s->page_head[pi] = bi;
	if (!s->page_code[pi]) {
		s->page_code[pi] = 1;
		bt_code_page_mark(c, page);
	}
}

/* Fetches up to 15 bytes at lin for translation; returns the count. */
static int fetch_bytes(struct tctx *t, uint64_t lin, uint8_t *buf, uint8_t *h0, uint64_t lin0,
		       uint64_t *page1)
{
	struct bt_cpu *c = t->c;
	uint64_t off = lin - (lin0 & ~0xfffull);
	int avail = (int)(4096 - off);
	if (avail >= 15) {
		memcpy(buf, h0 + off, 15);
		return 15;
	}
	memcpy(buf, h0 + off, avail);
	uint64_t g;
	uint64_t nl = (lin0 & ~0xfffull) + 4096;
	if (!t->m64)
		nl &= 0xffffffffull;
	if (bt_fetch_probe(c, nl, &g) < 0)
		return avail;
	uint8_t *h1 = bt_gpa_host(c, g);
	if (!h1)
		return avail;
	memcpy(buf + avail, h1, 15 - avail);
	*page1 = g & ~0xfffull;
	return 15;
}

static void emit_stubs(struct tctx *t)
{
	struct em *e = &t->e;
	struct bt_state *s = t->c->bt;
	for (int i = 0; i < t->nstubs; i++) {
		struct stub *st = &t->stubs[i];
		if (st->kind == ST_SLOW) {
			patch32(st->field, e->p);
			if (st->tagoff)         /* r11 = lin again */
				b1(e, 0x4e), b1(e, 0x03), blk_modrm_r10(e, R11, 0, st->tagoff);
			else                    /* flag-free probe: r11 intact, RCX spilled */
				blk_load(e, 1, BT_OFF_TMPRCX, true);
			if (st->keep_cf)        /* the helper and the tail see the guest's CF */
				cf_restore(e);
			blk_store_imm(e, BT_OFF_SLOWINFO, (int32_t)st->info);
			b1(e, 0x4c); b1(e, 0x8d); b1(e, 0x15);
			b4(e, (uint32_t)(st->probe - (e->p + 4)));
			blk_store(e, BT_OFF_RETRY, R10);
			b1(e, 0x4c); b1(e, 0x8d); b1(e, 0x15);
			b4(e, (uint32_t)(st->after - (e->p + 4)));
			blk_store(e, BT_OFF_AFTER, R10);
			mov_imm64(e, R10, st->rip);
			blk_store(e, BT_OFF_RIP, R10);
			mov_imm64(e, R10, st->next);
			blk_store(e, BT_OFF_NEXT, R10);
			blk_call(e, BT_OFF_A_SLOW);
			if (s->nmap < BT_MAP_MAX) {
				s->map[s->nmap] = (uint32_t)(e->p - e->start);
				s->map_rip[s->nmap] = st->rip;
				s->nmap++;
				t->b->nmap++;
			}
			bn(e, st->tail, st->tail_len);
			blk_call(e, BT_OFF_A_COMMIT);
		} else if (st->kind == ST_EXIT) {
			/* Unlinked direct branch: probe the jump cache (cross-page
			 * targets stay on this path); a miss asks the dispatcher,
			 * which links same-page targets by patching the jmp. */
			patch32(st->field, e->p);
			struct bt_chainrec *cr = NULL;
			if (s->nchains < BT_CHAIN_MAX) {
				cr = &s->chains[s->nchains++];
				cr->src = (int32_t)(t->b - s->blocks);
				cr->gen = s->gen;
				cr->field = st->field;
				cr->stub = e->p;
				cr->alt = NULL;
				cr->in_next = -1;
				mov_imm64(e, R11, (uint64_t)cr);
				blk_store(e, BT_OFF_CHAIN, R11);
			} else {
				blk_store_imm(e, BT_OFF_CHAIN, 0);
			}
			uint64_t lin0 = t->m64 ? t->b->rip : ((t->b->cs_base + t->b->rip) & 0xffffffffull);
			uint64_t tlin = t->m64 ? st->target :
				((t->b->cs_base + st->target) & 0xffffffffull);
			if ((tlin ^ lin0) < 4096 && ((tlin ^ lin0) & ~0xfffull) == 0) {
				/* Same page: the dispatcher will patch the jmp. */
				if ((int64_t)st->target == (int32_t)st->target) {
					blk_store_imm(e, BT_OFF_RIP, (int32_t)st->target);
				} else {
					mov_imm64(e, R11, st->target);
					blk_store(e, BT_OFF_RIP, R11);
				}
				blk_store_imm(e, BT_OFF_REASON, BT_EXIT_CHAIN);
				blk_jmp(e, BT_OFF_A_EXIT);
				/* For a target the dispatcher finds but cannot link
				 * (a block that runs into a second page this one does
				 * not share) it points the jmp here instead, so later
				 * visits stay in translated code. */
				if (cr) {
					cr->alt = e->p;
					blk_store_imm(e, BT_OFF_CHAIN, 0);      /* a miss links nothing */
					mov_imm64(e, R11, st->target);
					indirect_ex(t, true);
				}
			} else {
				mov_imm64(e, R11, st->target);
				indirect_ex(t, true);
			}
		} else if (st->kind == ST_BEXIT) {
			patch32(st->field, e->p);
			if (t->c->bt->inject != BT_BUG_LOOP_EXIT)
				borrowed_restore(t);
			b1(e, 0xe9);
			struct stub *x = new_stub(t, ST_EXIT);
			x->field = e->p;
			x->target = st->target;
			b4(e, 0);
		} else if (st->kind == ST_POLL || st->kind == ST_POLL_CMP) {
			patch32(st->field, e->p);
			if (st->kind == ST_POLL)
				b1(e, 0x4c), b1(e, 0x89), b1(e, 0xd1);  /* mov rcx, r10 */
			t->b->dead = e->p;
			store_rip_exit(e, st->target, BT_EXIT_POLL);
		}
	}
}

static void map_add(struct tctx *t, uint64_t rip)
{
	struct bt_state *s = t->c->bt;
	if (s->nmap < BT_MAP_MAX) {
		s->map[s->nmap] = (uint32_t)(t->e.p - t->e.start);
		s->map_rip[s->nmap] = rip;
		s->nmap++;
		t->b->nmap++;
	}
}

/* Drops the probe groups and rewinds the body for a second emission. */
static void ungroup(struct tctx *t, uint8_t *body, int body_stubs, uint32_t body_map)
{
	t->e.p = body;
	t->e.ovf = false;
	t->nstubs = body_stubs;
	t->fail = false;
	t->b->nmap -= t->c->bt->nmap - body_map;
	t->c->bt->nmap = body_map;
	t->nogroup = true;
	groups_plan(t);
}

/* The ungrouped copy of each cluster of overlapping groups, after the body:
 * a group whose probe missed continues here at its leader (from there on
 * every access has its own probe, so no slot is needed) and comes back to
 * the body after the cluster's last member, where no group is open. */
static int emit_group_copies(struct tctx *t)
{
	struct em *e = &t->e;
	uint8_t *entry[MAX_INSNS / 2];
	for (int i = 0; i < t->n; i++) {
		int gi = t->grp[i];
		if (gi < 0 || t->groups[gi].leader != i)
			continue;
		int end = t->groups[gi].last;
		for (int j = i; j <= end; j++) {
			int gj = t->grp[j];
			if (gj >= 0 && t->groups[gj].leader == j && t->groups[gj].last > end)
				end = t->groups[gj].last;
		}
		for (int j = i; j <= end; j++) {
			int gj = t->grp[j];
			if (gj >= 0 && t->groups[gj].leader == j) {
				entry[gj] = e->p;
				if (t->gform[gj] == PF_FAST && !t->borrowed)
					patch32(t->gmiss[gj], e->p);
			}
			map_add(t, t->ins[j].rip);
			if (emit_insn(t, &t->ins[j]) < 0 || t->fail)
				return -1;
		}
		b1(e, 0xe9);
		uint8_t *back = e->p;
		b4(e, 0);
		patch32(back, t->post[end]);
		/* A flag-free probe missed with the guest's RCX spilled, a
		 * CF-keeping one with CF in TMPCF. */
		for (int j = i; j <= end; j++) {
			int gj = t->grp[j];
			if (gj >= 0 && t->groups[gj].leader == j &&
			    (t->gform[gj] != PF_FAST || t->borrowed)) {
				patch32(t->gmiss[gj], e->p);
				if (t->gform[gj] == PF_FREE)
					blk_load(e, 1, BT_OFF_TMPRCX, true);
				else if (t->gform[gj] == PF_CF)
					cf_restore(e);
				borrowed_restore(t);
				b1(e, 0xe9);
				uint8_t *f = e->p;
				b4(e, 0);
				patch32(f, entry[gj]);
			}
		}
		i = end;
	}
	return 0;
}

static void set_deps(struct tctx *t)
{
	t->b->dlo0 = t->dlo < t->dhi ? t->dlo : 0;
	t->b->dhi0 = t->dhi;
	t->b->dhi1 = t->dhi1;
}

/* A retpoline thunk (Linux's __x86_indirect_thunk_REG, GCC's
 * -mindirect-branch=thunk) at the block's start:
 *   X:    call X+12            e8 07 00 00 00
 *   X+5:  pause; lfence; jmp X+5   (speculation trap, never reached)
 *   X+12: mov [rsp], REG       48/4c 89 modrm 24
 *   X+16: ret                  c3, or jmp T with T: ret, on the same page
 * Architecturally that is [rsp-8] = REG and a jump to REG, which the
 * translator does in one block instead of three (call, mov+jmp, ret) and one
 * jump-cache lookup instead of a push, a store and a return. Speculation
 * hardening means nothing here: the host's own branch predictor sees only
 * our jump-cache dispatch. Every kernel indirect call goes through one of
 * these on a retpoline build. Returns REG, or -1. */
static int retpoline_reg(struct tctx *t, const uint8_t *h0, uint64_t lin0)
{
	static const uint8_t head[12] = { 0xe8, 7, 0, 0, 0, 0xf3, 0x90, 0x0f, 0xae, 0xe8, 0xeb, 0xf9 };
	unsigned off = lin0 & 0xfff;
	if (off > 4096 - 21)
		return -1;
	const uint8_t *p = h0 + off;
	if (memcmp(p, head, sizeof(head)) || (p[12] != 0x48 && p[12] != 0x4c) || p[13] != 0x89 ||
	    (p[14] & 0xc7) != 0x04 || p[15] != 0x24)
		return -1;
	int reg = ((p[12] & 4) << 1) | ((p[14] >> 3) & 7);
	if (reg == GPR_RSP)
		return -1;
	uint64_t ret = lin0 + 16;
	note_code(t, lin0, 21);
	if (p[16] == 0xe9) {
		int32_t rel;
		memcpy(&rel, p + 17, 4);
		ret = lin0 + 21 + (uint64_t)(int64_t)rel;
		if ((ret & ~0xfffull) != (lin0 & ~0xfffull))
			return -1;
		note_code(t, ret, 1);
	}
	if (h0[ret & 0xfff] != 0xc3)
		return -1;
	t->rp_jmp = lin0 + 16;
	t->rp_ret = ret;
	return reg;
}

/* A block that is a whole loop, its last instruction a JCC back to its own
 * start (an array walk, an ADC chain over limbs), gets up to s->unroll
 * copies of the body: the JCC of every copy but the last falls through into
 * the next when taken and leaves the loop when not (K_JCC_IN). The copies
 * share one exit-request poll, and the probe groups span them (a base
 * stepped by lea/add/sub moves its members, as push/pop move RSP's), so one
 * soft-TLB check covers several iterations' accesses. Leaving early only
 * skips members the group probe had covered: a span reaching a page the
 * loop never touches just takes the ungrouped copy. */
static void unroll_plan(struct tctx *t, bool stop_emul)
{
	t->unroll = 1;
	if (t->n == 0)
		return;
	struct tinsn *last = &t->ins[t->n - 1];
	if (!t->m64 || stop_emul || last->kind != K_JCC || t->b->page1 != ~0ull ||
	    branch_target(t, last) != t->b->rip)
		return;
	int u = MAX_INSNS / t->n;
	if (u > t->c->bt->unroll)
		u = t->c->bt->unroll;
	if (u < 2)
		return;
	for (int k = 1; k < u; k++)
		memcpy(&t->ins[k * t->n], t->ins, (size_t)t->n * sizeof(*t->ins));
	for (int k = 0; k < u - 1; k++)
		t->ins[k * t->n + t->n - 1].kind = K_JCC_IN;
	t->n *= u;
	t->unroll = u;
	t->c->n.unrolled++;
}

int bt_translate(struct bt_cpu *c, struct bt_block *b)
{
	struct bt_state *s = c->bt;
	struct tctx t;
	memset(&t, 0, sizeof(t));
	t.cur_slot = -1;
	t.c = c;
	t.b = b;
	t.m64 = b->mode & BT_MODE_64;
	t.flat = b->mode & BT_MODE_FLAT;
	t.cpl3 = (b->mode & BT_MODE_CPL_MASK) == 3;
	if (!g_ins) {
		g_ins = calloc(MAX_INSNS, sizeof(struct tinsn));
		g_stubs = calloc(MAX_STUBS, sizeof(struct stub));
		if (!g_ins || !g_stubs) {
			bt_fail(c, "out of memory for the translator's work area");
			return -1;
		}
	}
	t.ins = g_ins;
	t.stubs = g_stubs;

	ZydisDecoder dec;
	if (t.m64)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	else
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);

	uint64_t lin0 = t.m64 ? b->rip : ((b->cs_base + b->rip) & 0xffffffffull);
	uint8_t *h0 = bt_gpa_host(c, b->page0);
	if (!h0) {
		bt_fail(c, "executing from non-RAM guest-physical address 0x%llx (rip=0x%llx)",
			(unsigned long long)b->page0, (unsigned long long)b->rip);
		return -1;
	}
	b->page1 = ~0ull;
	uint64_t rip = b->rip;
	bool stop_emul = false;
	t.lin0 = lin0;
	t.dlo = 4096;
	while (t.n < MAX_BLOCK) {
		uint64_t lin = t.m64 ? rip : ((b->cs_base + rip) & 0xffffffffull);
		if ((lin & ~0xfffull) != (lin0 & ~0xfffull))
			break;
		struct tinsn *x = &t.ins[t.n];
		uint64_t p1 = ~0ull;
		memset(x->bytes, 0, sizeof(x->bytes));
		int n = fetch_bytes(&t, lin, x->bytes, h0, lin0, &p1);
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, x->bytes, n, &x->in, x->op))) {
			note_code(&t, lin, (unsigned)n);
			stop_emul = true;
			break;
		}
		note_code(&t, lin, x->in.length);
		bt_decode_fixup(&x->in, x->op);
		if ((lin & 0xfff) + x->in.length > 4096) {
			if (p1 == ~0ull) {
				stop_emul = true;
				break;
			}
			b->page1 = p1;
		}
		x->rip = rip;
		x->kind = classify(&t, x);
		if (t.n == 0 && x->kind == K_CALL && t.m64 &&
		    (t.rp_reg = retpoline_reg(&t, h0, lin0)) >= 0) {
			x->kind = K_RETPOLINE;
			c->n.retpolines++;
		}
		if (x->kind == K_EMUL) {
			stop_emul = true;
			t.emul_next = true;
			break;
		}
		t.n++;
		rip += x->in.length;
		if (!t.m64)
			rip &= 0xffffffffull;
		if (is_terminator(x->kind) || b->page1 != ~0ull)
			break;
	}
	unroll_plan(&t, stop_emul);
	b->ninsn = t.n;
	if (t.n == 0) {
		b->emulate_first = true;
		b->code = NULL;
		b->code_len = 0;
		set_deps(&t);
		return 0;
	}
	t.dec = &dec;
	t.h0 = h0;
	t.lin0 = lin0;
	t.end_rip = rip;
	t.stop_emul = stop_emul;
	liveness(&t);

	t.e.start = t.e.p = s->code + s->code_used;
	t.e.end = s->code + BT_CODE_SIZE;
	b->code = t.e.start;
	b->map = s->nmap;
	b->nmap = 0;
	struct em *e = &t.e;

	/* Exit-request poll at entry: cmp/jne when the first instruction
	 * overwrites the flags anyway, else a flag-free movzx/jrcxz. */
	struct stub *ps = new_stub(&t, ST_POLL);
	ps->target = b->rip;
	if (t.ins[0].live_in == 0 && !s->precise_flags) {
		b1(e, 0x80); blk_modrm(e, 7, BT_OFF_EXITREQ); b1(e, 0);
		b1(e, 0x0f); b1(e, 0x85);                       /* jne stub */
		ps->field = e->p;
		ps->kind = ST_POLL_CMP;
		b4(e, 0);
	} else {
		b1(e, 0x49); b1(e, 0x89); b1(e, 0xca);          /* mov r10, rcx */
		b1(e, 0x0f); b1(e, 0xb6);
		blk_modrm(e, 1, BT_OFF_EXITREQ);                /* movzx ecx, byte [req] */
		b1(e, 0xe3); b1(e, 5);                          /* jrcxz +5 */
		b1(e, 0xe9);
		ps->field = e->p;
		b4(e, 0);
		b1(e, 0x4c); b1(e, 0x89); b1(e, 0xd1);          /* mov rcx, r10 */
	}

	b->body_off = (uint32_t)(e->p - e->start);
	/* Emission may fail on an instruction (it is then emulated and the
	 * block ends before it); with probe groups planned, first retry the
	 * whole body without them, since the plan assumed every member. */
	uint8_t *body = e->p;
	int body_stubs = t.nstubs;
	uint32_t body_map = s->nmap;
	groups_plan(&t);
again:
	borrowed_save(&t);
	b->borrowed = t.borrowed;
	for (int i = 0; i < t.n; i++) {
		struct tinsn *x = &t.ins[i];
		map_add(&t, x->rip);
		uint8_t *mark = e->p;
		int nst = t.nstubs;
		int gi = t.grp[i];
		if (gi >= 0 && t.groups[gi].leader == i)
			group_probe(&t, gi, x);
		t.cur_slot = gi >= 0 ? t.groups[gi].slot : -1;
		t.cur_moff = t.moff[i];
		int rc = emit_insn(&t, x);
		t.cur_slot = -1;
		t.ea_host = false;
		t.slot_in_r10 = false;
		if ((rc < 0 || t.fail) && t.ngroups) {
			ungroup(&t, body, body_stubs, body_map);
			goto again;
		}
		if (rc < 0 || t.fail) {
			/* Cannot translate this one: end the block here, emulate it. */
			e->p = mark;
			t.nstubs = nst;
			t.fail = false;
			t.n = i;
			b->ninsn = i;
			stop_emul = true;
			rip = x->rip;
			break;
		}
		t.post[i] = e->p;
	}
	if (t.n == 0) {
		b->emulate_first = true;
		b->code = NULL;
		s->nmap = b->map;
		b->nmap = 0;
		set_deps(&t);
		return 0;
	}
	struct tinsn *last = &t.ins[t.n - 1];
	if (!is_terminator(last->kind)) {
		if (stop_emul) {
			store_rip_exit(e, rip, BT_EXIT_EMULATE);
		} else {
			exit_chain(&t, rip);
		}
	}
	if (t.ngroups && (emit_group_copies(&t) < 0 || t.fail)) {
		ungroup(&t, body, body_stubs, body_map);
		goto again;
	}
	groups_count(&t);
	emit_stubs(&t);
	if (e->ovf) {
		s->nmap = b->map;
		return 1;               /* code cache full: caller flushes and retries */
	}
	b->code_len = (uint32_t)(e->p - e->start);
	s->code_used += (b->code_len + 15) & ~15u;
	set_deps(&t);
	return 0;
}

static uint32_t cur_mode(struct bt_cpu *c)
{
	return c->mode;
}

/* For reading the generated code: objdump -D -b binary -mi386:x86-64
 * DIR/RIP-N.bin, N counting translations of that RIP in this process. */
static void dump_block(const char *dir, const struct bt_block *b)
{
	char path[512];
	static unsigned seq;
	snprintf(path, sizeof(path), "%s/%llx-%u.bin", dir, (unsigned long long)b->rip, seq++);
	FILE *f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(b->code, 1, b->code_len, f);
	fclose(f);
}

struct bt_block *bt_lookup(struct bt_cpu *c, struct vcpu_exit *exit, int *err)
{
	struct bt_state *s = c->bt;
	(void)exit;
	*err = 0;
	uint32_t mode = cur_mode(c);
	bool m64 = mode & BT_MODE_64;
	if (!(mode & (BT_MODE_64 | BT_MODE_32))) {
		bt_fail(c, "16-bit code (real mode or 16-bit protected mode) at cs:ip=%04x:%04llx is "
			"not supported by the translator yet",
			c->seg[SEG_CS].sel, (unsigned long long)c->rip);
		*err = 1;
		return NULL;
	}
	uint64_t cs_base = m64 ? 0 : c->seg[SEG_CS].base;
	/* The jump cache is exact for the current mode and mappings (flushed
	 * with the TLB), so a hit skips the page walk and the hash. */
	int jt = (mode & BT_MODE_CPL_MASK) == 3;
	unsigned ji = bt_jc_index(c->rip);
	if (c->jc[jt][ji].rip == c->rip) {
		int32_t bi = c->jc_blk[jt][ji];
		if (bi >= 0 && bi < s->nblocks) {
			struct bt_block *b = &s->blocks[bi];
			if (b->valid && b->rip == c->rip && b->mode == mode &&
			    (uint64_t)b->code == c->jc[jt][ji].host)
				return b;
		}
	}
	uint64_t lin = m64 ? c->rip : ((cs_base + c->rip) & 0xffffffffull);
	uint64_t gpa;
	if (bt_translate_lin(c, lin, BT_ACC_X, c->cpl == 3, &gpa) < 0)
		return NULL;            /* #PF delivered; the caller loops */
	uint64_t page = gpa & ~0xfffull;
	uint32_t h = hash_key(c->rip, page, mode);
	for (int32_t i = s->hash[h]; i >= 0; i = s->blocks[i].hnext) {
		struct bt_block *b = &s->blocks[i];
		if (b->valid && b->rip == c->rip && b->page0 == page && b->mode == mode &&
		    b->cs_base == cs_base) {
			if (b->page1 != ~0ull) {
				uint64_t g1;
				uint64_t nl = (lin & ~0xfffull) + 4096;
				if (!m64)
					nl &= 0xffffffffull;
				if (bt_fetch_probe(c, nl, &g1) < 0 || (g1 & ~0xfffull) != b->page1)
					continue;
			}
			return b;
		}
	}
	if (s->nblocks >= BT_MAX_BLOCKS - 1 || s->code_used + (256u << 10) > BT_CODE_SIZE ||
	    s->nmap + 4096 > BT_MAP_MAX || s->nchains + 1024 > BT_CHAIN_MAX)
		bt_flush_all(c);
	bt_fpu_park(c);
	for (int attempt = 0; attempt < 2; attempt++) {
		int32_t bi = s->nblocks;
		struct bt_block *b = &s->blocks[bi];
		memset(b, 0, sizeof(*b));
		b->rip = c->rip;
		b->cs_base = cs_base;
		b->page0 = page;
		b->mode = mode;
		b->pnext0 = b->pnext1 = -1;
		b->in_head = -1;
		c->n.translated++;
		uint64_t t0 = __builtin_ia32_rdtsc();
		int r = bt_translate(c, b);
		c->n.translate_tsc += __builtin_ia32_rdtsc() - t0;
		if (r < 0) {
			*err = 1;
			return NULL;
		}
		if (r == 1) {
			bt_flush_all(c);
			continue;
		}
		s->nblocks++;
		b->valid = true;
		b->hnext = s->hash[h];
		s->hash[h] = bi;
		if (s->perfmap) {
			/* perf(1) names JIT samples from /tmp/perf-PID.map. */
			fprintf(s->perfmap, "%lx %x guest_%llx%s\n", (unsigned long)(uintptr_t)b->code,
				b->code_len, (unsigned long long)b->rip, c->cpl == 3 ? "_u" : "");
			fflush(s->perfmap);
		}
		if (s->dumpdir)
			dump_block(s->dumpdir, b);
		register_page(c, b, bi, page, false);
		if (b->page1 != ~0ull)
			register_page(c, b, bi, b->page1, true);
		return b;
	}
	bt_fail(c, "a single block does not fit in the code cache");
	*err = 1;
	return NULL;
}

uint64_t bt_host_to_guest_rip(struct bt_cpu *c, uint64_t host_rip, bool *found,
			      uint16_t *borrowed)
{
	struct bt_state *s = c->bt;
	*found = false;
	*borrowed = 0;
	uint8_t *h = (uint8_t *)host_rip;
	if (h < s->code || h >= s->code + s->code_used)
		return 0;
	int32_t lo = 0, hi = s->nblocks - 1, best = -1;
	while (lo <= hi) {
		int32_t mid = (lo + hi) / 2;
		struct bt_block *b = &s->blocks[mid];
		if (!b->code || b->code <= h) {
			if (b->code)
				best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	/* Blocks that are emulate-only have no code; step back to a real one. */
	while (best >= 0 && !s->blocks[best].code)
		best--;
	if (best < 0)
		return 0;
	struct bt_block *b = &s->blocks[best];
	if (h >= b->code + b->code_len)
		return 0;
	uint32_t off = (uint32_t)(h - b->code);
	uint64_t rip = b->rip;
	for (uint32_t i = 0; i < b->nmap; i++)
		if (s->map[b->map + i] <= off)
			rip = s->map_rip[b->map + i];
	*found = true;
	/* Before the body's first store of them, the slot registers still
	 * hold the guest's values (only the entry poll runs there). */
	if (off >= b->body_off)
		*borrowed = b->borrowed;
	return rip;
}
