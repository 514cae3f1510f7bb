/* Test-case generator. Random instructions: random bytes drawn from
 * per-category opcode pools, validated and classified by the Zydis decoder,
 * denied if sensitive or nondeterministic, then fixed up so that memory
 * operands land inside the data buffer (by choosing base/index register
 * values, or patching RIP-relative/absolute displacements) and relative
 * branches cannot loop. Register, flag and vector state is random with a
 * bias towards boundary values. Curated cases live in curated.c. */
#include <Zydis/Zydis.h>
#include <stdlib.h>
#include <string.h>

#include "difftest.h"
#include "error.h"
#include "gen.h"
#include "x86.h"

struct dt_gen {
	uint64_t s[4];
	ZydisDecoder dec;
};

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t dt_rand(struct dt_gen *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

uint64_t dt_below(struct dt_gen *g, uint64_t n)
{
	return n ? dt_rand(g) % n : 0;
}

static bool chance(struct dt_gen *g, unsigned percent)
{
	return dt_below(g, 100) < percent;
}

struct dt_gen *dt_gen_new(uint64_t seed)
{
	struct dt_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		err_set("out of memory");
		return NULL;
	}
	uint64_t z = seed;
	for (int i = 0; i < 4; i++) {
		z += 0x9e3779b97f4a7c15ull;
		uint64_t x = z;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
		g->s[i] = x ^ (x >> 31);
	}
	ZydisDecoderInit(&g->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	return g;
}

void dt_gen_free(struct dt_gen *g)
{
	free(g);
}

/* ---- random state ---- */

static const uint64_t boundary[] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
	0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
	0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
	0xffffffff80000000ull, 0xffffffffffff8000ull, 0xffffffffffffff80ull, 63, 64, 31, 32,
};

uint64_t dt_rand_value(struct dt_gen *g)
{
	switch (dt_below(g, 10)) {
	case 0: case 1: case 2:
		return dt_rand(g);
	case 3:
		return dt_below(g, 66);
	case 4:
		return -(uint64_t)dt_below(g, 66);
	case 5: case 6: {
		uint64_t v = boundary[dt_below(g, sizeof(boundary) / sizeof(boundary[0]))];
		if (chance(g, 30))
			v += dt_below(g, 3) - 1;
		return v;
	}
	case 7:
		return dt_rand(g) & 0xffffffff;
	case 8:
		return dt_rand(g) & (chance(g, 50) ? 0xff : 0xffff);
	default:
		return DT_PTR_LO + dt_below(g, DT_PTR_HI - DT_PTR_LO);
	}
}

static void rand_vec(struct dt_gen *g, uint8_t *v)
{
	for (int lane = 0; lane < 2; lane++) {
		uint8_t *p = v + 8 * lane;
		uint64_t x;
		switch (dt_below(g, 8)) {
		case 0: {       /* two floats */
			static const uint32_t f[] = { 0, 0x80000000, 0x3f800000, 0xbf800000,
						      0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000,
						      0x00000001, 0x00800000, 0x7f7fffff, 0x4f000000 };
			uint32_t a = chance(g, 50) ? f[dt_below(g, 12)] : (uint32_t)dt_rand(g);
			uint32_t b = chance(g, 50) ? f[dt_below(g, 12)] : (uint32_t)dt_rand(g);
			x = a | ((uint64_t)b << 32);
			break;
		}
		case 1: {       /* a double */
			static const uint64_t d[] = { 0, 0x8000000000000000ull, 0x3ff0000000000000ull,
						      0x7ff0000000000000ull, 0xfff8000000000000ull,
						      0x7ff4000000000000ull, 1, 0x0010000000000000ull,
						      0x43e0000000000000ull, 0xc3e0000000000000ull };
			x = chance(g, 50) ? d[dt_below(g, 10)] : dt_rand(g);
			break;
		}
		case 2: {       /* ordinary floats */
			float a = (float)((int64_t)dt_rand(g) % 100000) / 64.0f;
			float b = (float)((int64_t)dt_rand(g) % 1000) / 3.0f;
			uint32_t ua, ub;
			memcpy(&ua, &a, 4);
			memcpy(&ub, &b, 4);
			x = ua | ((uint64_t)ub << 32);
			break;
		}
		case 3: {
			double a = (double)((int64_t)dt_rand(g) % 10000000) / 7.0;
			memcpy(&x, &a, 8);
			break;
		}
		default:
			x = dt_rand_value(g);
		}
		memcpy(p, &x, 8);
	}
}

void dt_rand_state(struct dt_gen *g, struct dt_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	for (int i = 0; i < 16; i++)
		cpu->gpr[i] = dt_rand_value(g);
	cpu->gpr[4] = DT_STACK_TOP - 8 * dt_below(g, 64) - (chance(g, 5) ? dt_below(g, 8) : 0);
	cpu->rip = DT_CODE_VA;
	cpu->rflags = dt_rand(g) & DT_FLAGS_ARITH;
	uint32_t mx = 0x1f80;
	if (chance(g, 25))
		mx = (mx & ~0x6000u) | (uint32_t)(dt_below(g, 4) << 13);        /* rounding */
	if (chance(g, 10))
		mx |= 0x8000 | 0x40;                                            /* FTZ, DAZ */
	if (chance(g, 5))
		mx &= ~(uint32_t)(dt_below(g, 64) << 7);                        /* unmask */
	if (chance(g, 5))
		mx |= (uint32_t)dt_below(g, 64);                                /* sticky flags */
	cpu->mxcsr = mx;
	for (int i = 0; i < 16; i++) {
		rand_vec(g, cpu->xmm[i]);
		if (chance(g, 70))
			rand_vec(g, cpu->ymmh[i]);
	}
}

/* ---- classification ---- */

static bool reg_class_denied(ZydisRegister r)
{
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_X87: case ZYDIS_REGCLASS_MMX: case ZYDIS_REGCLASS_ZMM:
	case ZYDIS_REGCLASS_TMM: case ZYDIS_REGCLASS_CONTROL: case ZYDIS_REGCLASS_DEBUG:
	case ZYDIS_REGCLASS_MASK: case ZYDIS_REGCLASS_BOUND: case ZYDIS_REGCLASS_TABLE:
	case ZYDIS_REGCLASS_TEST:
		return true;
	default:
		return false;
	}
}

static bool mnemonic_denied(ZydisMnemonic m)
{
	switch (m) {
	/* nondeterministic or host-specific values */
	case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP:
	case ZYDIS_MNEMONIC_RDPMC: case ZYDIS_MNEMONIC_RDRAND: case ZYDIS_MNEMONIC_RDSEED:
	case ZYDIS_MNEMONIC_RDPID: case ZYDIS_MNEMONIC_XGETBV: case ZYDIS_MNEMONIC_RDPKRU:
	case ZYDIS_MNEMONIC_WRPKRU:
	/* system entry and privileged */
	case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSEXIT:
	case ZYDIS_MNEMONIC_SYSRET: case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT1:
	case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_INTO: case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ: case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: case ZYDIS_MNEMONIC_INSB:
	case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD: case ZYDIS_MNEMONIC_OUTSB:
	case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD: case ZYDIS_MNEMONIC_CLI:
	case ZYDIS_MNEMONIC_STI: case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD:
	case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL:
	case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW: case ZYDIS_MNEMONIC_SGDT:
	case ZYDIS_MNEMONIC_SIDT: case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR:
	case ZYDIS_MNEMONIC_SMSW: case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_LGDT:
	case ZYDIS_MNEMONIC_LIDT: case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_LTR:
	case ZYDIS_MNEMONIC_SWAPGS: case ZYDIS_MNEMONIC_XSETBV: case ZYDIS_MNEMONIC_INVD:
	case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVLPG: case ZYDIS_MNEMONIC_CLTS:
	case ZYDIS_MNEMONIC_MONITOR: case ZYDIS_MNEMONIC_MWAIT: case ZYDIS_MNEMONIC_RSM:
	/* segment loads through descriptors we do not mirror */
	case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LSS:
	case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS:
	/* gathers: vector indices we do not steer into the buffer */
	case ZYDIS_MNEMONIC_VPGATHERDD: case ZYDIS_MNEMONIC_VPGATHERDQ:
	case ZYDIS_MNEMONIC_VPGATHERQD: case ZYDIS_MNEMONIC_VPGATHERQQ:
	case ZYDIS_MNEMONIC_VGATHERDPD: case ZYDIS_MNEMONIC_VGATHERDPS:
	case ZYDIS_MNEMONIC_VGATHERQPD: case ZYDIS_MNEMONIC_VGATHERQPS:
	/* cache-line and store-ordering instructions with no state to compare */
	case ZYDIS_MNEMONIC_CLFLUSH: case ZYDIS_MNEMONIC_CLFLUSHOPT: case ZYDIS_MNEMONIC_CLWB:
	case ZYDIS_MNEMONIC_CLZERO: case ZYDIS_MNEMONIC_MASKMOVDQU: case ZYDIS_MNEMONIC_VMASKMOVDQU:
	case ZYDIS_MNEMONIC_LDMXCSR: case ZYDIS_MNEMONIC_VLDMXCSR:
		return true;
	default:
		return false;
	}
}

int dt_classify(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	if (mnemonic_denied(in->mnemonic))
		return -1;
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
	    in->encoding != ZYDIS_INSTRUCTION_ENCODING_VEX)
		return -1;
	if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return -1;
	/* An operand-size prefix on a near branch is ignored by Intel in 64-bit
	 * mode but truncates RIP (and RET's pop) to 16 bits on AMD: a vendor
	 * difference (Zydis decodes the Intel way), not a translator question. */
	if ((in->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) &&
	    (in->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE || in->mnemonic == ZYDIS_MNEMONIC_RET ||
	     in->mnemonic == ZYDIS_MNEMONIC_CALL || in->mnemonic == ZYDIS_MNEMONIC_JMP))
		return -1;
	for (int i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
			if (reg_class_denied(o->reg.value))
				return -1;
			if (ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_SEGMENT &&
			    (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
				return -1;
			if (o->reg.value == ZYDIS_REGISTER_FS || o->reg.value == ZYDIS_REGISTER_GS)
				return -1;
		}
		if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			if (o->mem.segment == ZYDIS_REGISTER_FS || o->mem.segment == ZYDIS_REGISTER_GS)
				return -1;
			if (o->mem.type == ZYDIS_MEMOP_TYPE_VSIB || o->mem.type == ZYDIS_MEMOP_TYPE_MIB)
				return -1;
		}
		if (o->type == ZYDIS_OPERAND_TYPE_POINTER)
			return -1;
	}
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_IMUL: case ZYDIS_MNEMONIC_DIV:
	case ZYDIS_MNEMONIC_IDIV: case ZYDIS_MNEMONIC_MULX:
		return CAT_MULDIV;
	case ZYDIS_MNEMONIC_POPCNT: case ZYDIS_MNEMONIC_LZCNT: case ZYDIS_MNEMONIC_TZCNT:
		return CAT_BIT;
	default:
		break;
	}
	bool vex = in->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX;
	switch (in->meta.isa_ext) {
	case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2: case ZYDIS_ISA_EXT_SSE3:
	case ZYDIS_ISA_EXT_SSSE3: case ZYDIS_ISA_EXT_SSE4: case ZYDIS_ISA_EXT_AES:
	case ZYDIS_ISA_EXT_PCLMULQDQ: case ZYDIS_ISA_EXT_SHA: case ZYDIS_ISA_EXT_GFNI:
		return vex ? CAT_AVX : CAT_SSE;
	case ZYDIS_ISA_EXT_AVX: case ZYDIS_ISA_EXT_AVX2: case ZYDIS_ISA_EXT_F16C:
	case ZYDIS_ISA_EXT_FMA: case ZYDIS_ISA_EXT_AVXAES: case ZYDIS_ISA_EXT_VAES:
	case ZYDIS_ISA_EXT_VPCLMULQDQ:
		return vex ? CAT_AVX : -1;
	case ZYDIS_ISA_EXT_BMI1: case ZYDIS_ISA_EXT_BMI2: case ZYDIS_ISA_EXT_LZCNT:
	case ZYDIS_ISA_EXT_ADOX_ADCX:
		return CAT_BIT;
	case ZYDIS_ISA_EXT_BASE: case ZYDIS_ISA_EXT_LONGMODE: case ZYDIS_ISA_EXT_MOVBE:
	case ZYDIS_ISA_EXT_PAUSE: case ZYDIS_ISA_EXT_CET:
		break;
	default:
		return -1;
	}
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_BINARY: case ZYDIS_CATEGORY_LOGICAL:
		return CAT_ALU;
	case ZYDIS_CATEGORY_SHIFT: case ZYDIS_CATEGORY_ROTATE:
		return CAT_SHIFT;
	case ZYDIS_CATEGORY_BITBYTE:
		return CAT_BIT;
	case ZYDIS_CATEGORY_DATAXFER: case ZYDIS_CATEGORY_CMOV: case ZYDIS_CATEGORY_SETCC:
	case ZYDIS_CATEGORY_SEMAPHORE: case ZYDIS_CATEGORY_CONVERT: case ZYDIS_CATEGORY_FLAGOP:
	case ZYDIS_CATEGORY_MISC: case ZYDIS_CATEGORY_NOP: case ZYDIS_CATEGORY_WIDENOP:
		return CAT_MOV;
	case ZYDIS_CATEGORY_PUSH: case ZYDIS_CATEGORY_POP: case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
		return CAT_STACK;
	case ZYDIS_CATEGORY_STRINGOP:
		return CAT_STRING;
	case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR:
		return CAT_BRANCH;
	default:
		return -1;
	}
}

/* ---- random encodings ---- */

struct pool {
	uint8_t len;
	uint8_t b[3];
};

#define P1(a) { 1, { a } }
#define P2(a, b) { 2, { a, b } }
#define P3(a, b, c) { 3, { a, b, c } }

static const struct pool alu_pool[] = {
	P1(0x00), P1(0x01), P1(0x02), P1(0x03), P1(0x04), P1(0x05), P1(0x08), P1(0x09),
	P1(0x0a), P1(0x0b), P1(0x0c), P1(0x0d), P1(0x10), P1(0x11), P1(0x12), P1(0x13),
	P1(0x14), P1(0x15), P1(0x18), P1(0x19), P1(0x1a), P1(0x1b), P1(0x1c), P1(0x1d),
	P1(0x20), P1(0x21), P1(0x22), P1(0x23), P1(0x24), P1(0x25), P1(0x28), P1(0x29),
	P1(0x2a), P1(0x2b), P1(0x2c), P1(0x2d), P1(0x30), P1(0x31), P1(0x32), P1(0x33),
	P1(0x34), P1(0x35), P1(0x38), P1(0x39), P1(0x3a), P1(0x3b), P1(0x3c), P1(0x3d),
	P1(0x80), P1(0x81), P1(0x83), P1(0x84), P1(0x85), P1(0xa8), P1(0xa9), P1(0xf6),
	P1(0xf7), P1(0xfe), P1(0xff),
};
static const struct pool shift_pool[] = {
	P1(0xc0), P1(0xc1), P1(0xd0), P1(0xd1), P1(0xd2), P1(0xd3), P1(0xd2), P1(0xd3),
	P2(0x0f, 0xa4), P2(0x0f, 0xa5), P2(0x0f, 0xac), P2(0x0f, 0xad),
};
static const struct pool muldiv_pool[] = {
	P1(0xf6), P1(0xf7), P2(0x0f, 0xaf), P1(0x69), P1(0x6b),
};
static const struct pool bit_pool[] = {
	P2(0x0f, 0xa3), P2(0x0f, 0xab), P2(0x0f, 0xb3), P2(0x0f, 0xbb), P2(0x0f, 0xba),
	P2(0x0f, 0xbc), P2(0x0f, 0xbd), P3(0xf3, 0x0f, 0xb8), P3(0xf3, 0x0f, 0xbc),
	P3(0xf3, 0x0f, 0xbd), P3(0x0f, 0x38, 0xf6),
};
static const struct pool mov_pool[] = {
	P1(0x88), P1(0x89), P1(0x8a), P1(0x8b), P1(0x8c), P1(0x8d), P1(0x63), P1(0xc6),
	P1(0xc7), P1(0xb0), P1(0xb3), P1(0xb8), P1(0xbb), P1(0xbf), P1(0x86), P1(0x87),
	P1(0x91), P1(0x95), P1(0x98), P1(0x99), P1(0x9e), P1(0x9f), P1(0xd7), P1(0xf5),
	P1(0xf8), P1(0xf9), P1(0xfc), P1(0xa0), P1(0xa1), P1(0xa2), P1(0xa3),
	P2(0x0f, 0xb6), P2(0x0f, 0xb7), P2(0x0f, 0xbe), P2(0x0f, 0xbf),
	P2(0x0f, 0x40), P2(0x0f, 0x42), P2(0x0f, 0x44), P2(0x0f, 0x47), P2(0x0f, 0x4c),
	P2(0x0f, 0x4f), P2(0x0f, 0x45), P2(0x0f, 0x4a), P2(0x0f, 0x90), P2(0x0f, 0x92),
	P2(0x0f, 0x94), P2(0x0f, 0x97), P2(0x0f, 0x9c), P2(0x0f, 0x9f), P2(0x0f, 0x9a),
	P2(0x0f, 0xc0), P2(0x0f, 0xc1), P2(0x0f, 0xb0), P2(0x0f, 0xb1), P2(0x0f, 0xc7),
	P2(0x0f, 0xc8), P2(0x0f, 0xcb), P2(0x0f, 0xcf), P3(0x0f, 0x38, 0xf0),
	P3(0x0f, 0x38, 0xf1), P2(0x0f, 0x1f),
};
static const struct pool stack_pool[] = {
	P1(0x50), P1(0x53), P1(0x54), P1(0x55), P1(0x57), P1(0x58), P1(0x5b), P1(0x5c),
	P1(0x5d), P1(0x5f), P1(0x68), P1(0x6a), P1(0x8f), P1(0xff), P1(0xe8), P1(0xc2),
	P1(0xc3), P1(0xc8), P1(0xc9), P1(0x9c),
};
static const struct pool string_pool[] = {
	P1(0xa4), P1(0xa5), P1(0xa6), P1(0xa7), P1(0xaa), P1(0xab), P1(0xac), P1(0xad),
	P1(0xae), P1(0xaf),
};
static const struct pool branch_pool[] = {
	P1(0x70), P1(0x71), P1(0x72), P1(0x73), P1(0x74), P1(0x75), P1(0x76), P1(0x77),
	P1(0x78), P1(0x79), P1(0x7a), P1(0x7b), P1(0x7c), P1(0x7d), P1(0x7e), P1(0x7f),
	P2(0x0f, 0x82), P2(0x0f, 0x84), P2(0x0f, 0x8c), P2(0x0f, 0x8f), P1(0xe0), P1(0xe1),
	P1(0xe2), P1(0xe3), P1(0xe9), P1(0xeb), P1(0xff),
};
static const struct pool sse_pool[] = {
	P1(0x0f), P2(0x0f, 0x38), P2(0x0f, 0x3a),
};

#define POOL(p) p, sizeof(p) / sizeof(p[0])

static uint32_t put_pool(struct dt_gen *g, uint8_t *b, const struct pool *p, size_t n)
{
	const struct pool *e = &p[dt_below(g, n)];
	memcpy(b, e->b, e->len);
	return e->len;
}

/* ModRM biased so that both register and memory forms are common; SIB
 * and displacement bytes follow as random. */
static uint32_t put_tail(struct dt_gen *g, uint8_t *b)
{
	for (int i = 0; i < 12; i++)
		b[i] = (uint8_t)dt_rand(g);
	if (chance(g, 45))
		b[0] |= 0xc0;
	return 12;
}

static uint32_t candidate(struct dt_gen *g, int cat, uint8_t *b)
{
	uint32_t n = 0;
	bool sse = cat == CAT_SSE;
	if (cat == CAT_AVX || (cat == CAT_BIT && chance(g, 30)) || (cat == CAT_MULDIV && chance(g, 10))) {
		/* VEX: 3-byte form with a random map 1-3, or the 2-byte form. */
		if (chance(g, 70)) {
			b[n++] = 0xc4;
			uint8_t map = cat == CAT_AVX ? (uint8_t)(1 + dt_below(g, 3)) : (chance(g, 80) ? 2 : 3);
			b[n++] = (uint8_t)((dt_rand(g) & 0xe0) | map);
			b[n++] = (uint8_t)dt_rand(g);
		} else {
			b[n++] = 0xc5;
			b[n++] = (uint8_t)dt_rand(g);
		}
		if (cat == CAT_AVX)
			b[n++] = (uint8_t)dt_rand(g);
		else
			b[n++] = (uint8_t)(0xf0 + dt_below(g, 8));
		return n + put_tail(g, b + n);
	}
	/* legacy prefixes */
	int np = (int)dt_below(g, 3);
	for (int i = 0; i < np; i++) {
		static const uint8_t pre[] = { 0x66, 0x66, 0x66, 0xf2, 0xf3, 0xf3, 0xf0, 0x67, 0x2e, 0x3e };
		uint8_t p = pre[dt_below(g, sizeof(pre))];
		if (p == 0xf0 && !chance(g, 40))
			continue;
		b[n++] = p;
	}
	if (sse && chance(g, 60)) {
		static const uint8_t mand[] = { 0x66, 0xf2, 0xf3 };
		b[n++] = mand[dt_below(g, 3)];
	}
	if (chance(g, 45))
		b[n++] = (uint8_t)(0x40 | dt_below(g, 16));
	switch (cat) {
	case CAT_ALU: n += put_pool(g, b + n, POOL(alu_pool)); break;
	case CAT_SHIFT: n += put_pool(g, b + n, POOL(shift_pool)); break;
	case CAT_MULDIV: n += put_pool(g, b + n, POOL(muldiv_pool)); break;
	case CAT_BIT: n += put_pool(g, b + n, POOL(bit_pool)); break;
	case CAT_MOV: n += put_pool(g, b + n, POOL(mov_pool)); break;
	case CAT_STACK: n += put_pool(g, b + n, POOL(stack_pool)); break;
	case CAT_STRING:
		if (chance(g, 60))
			b[n++] = chance(g, 70) ? 0xf3 : 0xf2;
		n += put_pool(g, b + n, POOL(string_pool));
		break;
	case CAT_BRANCH: n += put_pool(g, b + n, POOL(branch_pool)); break;
	case CAT_SSE:
		n += put_pool(g, b + n, POOL(sse_pool));
		b[n++] = (uint8_t)dt_rand(g);
		break;
	default:
		b[n++] = (uint8_t)dt_rand(g);
	}
	return n + put_tail(g, b + n);
}

/* ---- fixups ---- */

static int gpr_index(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_NONE)
		return -1;
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (ZydisRegisterGetClass(big) != ZYDIS_REGCLASS_GPR64)
		return -1;
	return ZydisRegisterGetId(big);
}

/* A target for a memory access: inside the pointer window, with an
 * alignment that is sometimes natural and sometimes not. */
static uint64_t mem_target(struct dt_gen *g, unsigned size_bits)
{
	uint64_t t = DT_PTR_LO + dt_below(g, DT_PTR_HI - DT_PTR_LO);
	/* Vector operands mostly aligned, or most legacy SSE cases would end
	 * in the same alignment #GP instead of computing something. */
	if (size_bits >= 128 && chance(g, 80))
		return t & ~(uint64_t)(size_bits / 8 - 1);
	switch (dt_below(g, 4)) {
	case 0: return t & ~63ull;
	case 1: return t & ~15ull;
	case 2: return t & ~7ull;
	default: return t;
	}
}

static void patch(uint8_t *p, uint64_t v, int bytes)
{
	memcpy(p, &v, (size_t)bytes);
}

/* Registers a block has written so far (their values are no longer ours
 * to choose) and registers already given a value for an address. */
struct regs_used {
	uint16_t written;
	uint16_t fixed;
};

static void mark_writes(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			struct regs_used *u)
{
	for (int i = 0; i < in->operand_count; i++) {
		if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    !(ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			continue;
		int r = gpr_index(ops[i].reg.value);
		if (r >= 0)
			u->written |= (uint16_t)(1u << r);
	}
}

/* Chooses register values (or patches displacements) so that each memory
 * operand of the instruction at code[off] points into the data buffer. */
static void fix_memory(struct dt_gen *g, struct dt_case *c, uint32_t off,
		       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		       struct regs_used *u)
{
	uint8_t *ib = c->code + off;
	uint64_t end = DT_CODE_VA + off + in->length;
	for (int i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
			continue;
		uint64_t t = mem_target(g, o->size);
		int base = gpr_index(o->mem.base);
		int index = gpr_index(o->mem.index);
		int64_t disp = o->mem.disp.has_displacement ? o->mem.disp.value : 0;
		uint64_t scale = o->mem.scale ? o->mem.scale : 1;
		if (o->mem.base == ZYDIS_REGISTER_RIP || o->mem.base == ZYDIS_REGISTER_EIP) {
			/* Into the data buffer, or sometimes the code page itself. */
			if (chance(g, 25))
				t = DT_CODE_VA + dt_below(g, DT_CODE_SIZE - 32);
			if (in->raw.disp.size == 32)
				patch(ib + in->raw.disp.offset, t - end, 4);
			continue;
		}
		if (base < 0 && index < 0) {
			if (in->raw.disp.size == 32 || in->raw.disp.size == 64)
				patch(ib + in->raw.disp.offset, t, in->raw.disp.size / 8);
			continue;
		}
		bool can_base = base >= 0 && !((u->written | u->fixed) & (1u << base));
		bool can_index = index >= 0 && !((u->written | u->fixed) & (1u << index));
		if (base == GPR_RSP && o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
			continue;               /* push/pop/call/ret: the stack is already set */
		if (base >= 0 && !can_base)
			continue;
		if (index >= 0 && index != base && !can_index)
			continue;
		uint64_t ival = 0;
		if (index >= 0 && index != base) {
			ival = chance(g, 80) ? dt_below(g, 32) : -(uint64_t)dt_below(g, 16);
			c->init.gpr[index] = ival;
			u->fixed |= (uint16_t)(1u << index);
		}
		if (base < 0) {
			if (in->raw.disp.size == 32)
				patch(ib + in->raw.disp.offset, t - ival * scale, 4);
			continue;
		}
		uint64_t v;
		if (index == base)
			v = (t - (uint64_t)disp) / (scale + 1);
		else
			v = t - (uint64_t)disp - ival * scale;
		/* xlat: [rbx + al] */
		if (in->mnemonic == ZYDIS_MNEMONIC_XLAT)
			v = t - (c->init.gpr[GPR_RAX] & 0xff);
		/* 32-bit addressing ignores the upper half: make it garbage
		 * (but keep the stack pointer canonical, as any real one is). */
		if (in->address_width == 32 && base != GPR_RSP)
			v = (v & 0xffffffff) | (chance(g, 50) ? dt_rand(g) << 32 : 0);
		c->init.gpr[base] = v;
		u->fixed |= (uint16_t)(1u << base);
	}
}

/* Rejects relative branches that could jump back into the block (loops). */
static bool branch_ok(const ZydisDecodedInstruction *in, uint32_t off)
{
	if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_NONE)
		return true;
	for (int i = 0; i < 2; i++) {
		if (!in->raw.imm[i].is_relative)
			continue;
		uint64_t end = DT_CODE_VA + off + in->length;
		uint64_t t = end + (uint64_t)in->raw.imm[i].value.s;
		if (t >= DT_CODE_VA && t < end)
			return false;
	}
	return true;
}

/* Retargets relative branches inside a block to a later instruction
 * boundary or the trailer, so multi-instruction blocks branch usefully. */
static void retarget_branches(struct dt_gen *g, struct dt_case *c, const uint32_t *starts, int n)
{
	for (int k = 0; k < n; k++) {
		ZydisDecodedInstruction in;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&g->dec, NULL, c->code + starts[k],
								 c->code_len - starts[k], &in)))
			continue;
		if (!in.raw.imm[0].is_relative || !chance(g, 80))
			continue;
		uint32_t end = starts[k] + in.length;
		uint32_t choices = (uint32_t)(n - k);   /* later starts + trailer */
		uint32_t pick = (uint32_t)dt_below(g, choices);
		uint32_t dest = (k + 1 + (int)pick < n) ? starts[k + 1 + pick] : c->code_len;
		int64_t rel = (int64_t)dest - (int64_t)end;
		int bytes = in.raw.imm[0].size / 8;
		if (bytes == 1 && rel > 127)
			continue;
		patch(c->code + starts[k] + in.raw.imm[0].offset, (uint64_t)rel, bytes);
	}
}

static int decode(struct dt_gen *g, const uint8_t *b, uint32_t len, ZydisDecodedInstruction *in,
		  ZydisDecodedOperand *ops)
{
	return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&g->dec, b, len, in, ops)) ? 0 : -1;
}

void dt_fix_block(struct dt_gen *g, struct dt_case *c)
{
	struct regs_used used = { 0, 0 };
	uint32_t off = 0;
	while (off < c->code_len) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (decode(g, c->code + off, c->code_len - off, &in, ops) < 0)
			break;
		fix_memory(g, c, off, &in, ops, &used);
		mark_writes(&in, ops, &used);
		off += in.length;
	}
}

static uint64_t reg_value(const struct dt_cpu *cpu, ZydisRegister r)
{
	int i = gpr_index(r);
	if (i < 0)
		return 0;
	uint64_t v = cpu->gpr[i];
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR32: return v & 0xffffffff;
	case ZYDIS_REGCLASS_GPR16: return v & 0xffff;
	case ZYDIS_REGCLASS_GPR8:
		return (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) ? (v >> 8) & 0xff : v & 0xff;
	default: return v;
	}
}

/* Half of the single compare-exchanges get an accumulator equal to the
 * destination, so the "equal: store" path is exercised as often as the other. */
static void bias_cmpxchg(struct dt_gen *g, struct dt_case *c)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (c->ninsns != 1 || decode(g, c->code, c->code_len, &in, ops) < 0 || !chance(g, 50))
		return;
	if (in.mnemonic != ZYDIS_MNEMONIC_CMPXCHG && in.mnemonic != ZYDIS_MNEMONIC_CMPXCHG8B &&
	    in.mnemonic != ZYDIS_MNEMONIC_CMPXCHG16B)
		return;
	const ZydisDecodedOperand *d = &ops[0];
	uint64_t lo = 0, hi = 0;
	if (d->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		lo = reg_value(&c->init, d->reg.value);
	} else if (d->type == ZYDIS_OPERAND_TYPE_MEMORY) {
		uint64_t a = d->mem.disp.has_displacement ? (uint64_t)d->mem.disp.value : 0;
		if (d->mem.base == ZYDIS_REGISTER_RIP)
			a += DT_CODE_VA + in.length;
		else
			a += reg_value(&c->init, d->mem.base);
		a += reg_value(&c->init, d->mem.index) * (d->mem.scale ? d->mem.scale : 1);
		if (in.address_width == 32)
			a &= 0xffffffff;
		if (a < DT_DATA_VA || a - DT_DATA_VA > DT_DATA_SIZE - 16)   /* no wrap at 2^64 */
			return;
		static uint8_t buf[DT_DATA_SIZE];
		dt_fill_data(c->data_seed, buf);
		memcpy(&lo, buf + (a - DT_DATA_VA), 8);
		memcpy(&hi, buf + (a - DT_DATA_VA) + 8, 8);
	} else {
		return;
	}
	uint64_t *rax = &c->init.gpr[GPR_RAX], *rdx = &c->init.gpr[GPR_RDX];
	if (in.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B) {
		*rax = lo;
		*rdx = hi;
	} else if (in.mnemonic == ZYDIS_MNEMONIC_CMPXCHG8B) {
		*rax = (*rax & ~0xffffffffull) | (lo & 0xffffffff);
		*rdx = (*rdx & ~0xffffffffull) | (lo >> 32);
	} else {
		*rax = lo;
	}
}

void dt_bias_block(struct dt_gen *g, struct dt_case *c)
{
	bias_cmpxchg(g, c);
}

static const enum dt_cat mixable[] = {
	CAT_ALU, CAT_ALU, CAT_SHIFT, CAT_MULDIV, CAT_BIT, CAT_MOV, CAT_MOV, CAT_STACK,
	CAT_STRING, CAT_BRANCH, CAT_SSE, CAT_AVX,
};

static const ZydisDecodedOperand *group_mem(const ZydisDecodedInstruction *in,
					    const ZydisDecodedOperand *ops)
{
	for (int i = 0; i < in->operand_count_visible; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM)
			return &ops[i];
	return NULL;
}

static int64_t group_disp(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	const ZydisDecodedOperand *o = group_mem(in, ops);
	return o && o->mem.disp.has_displacement ? o->mem.disp.value : 0;
}

/* Accepts candidate b for a group case: a 64-bit [base + disp] operand, the
 * first one choosing the base, later ones sharing it with a 32-bit
 * displacement re-aimed within +-128 bytes of the first target (8-bit ones
 * are near it already). */
static bool group_member(struct dt_gen *g, struct dt_case *c, uint8_t *b,
			 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			 int *gbase, uint64_t gtarget)
{
	const ZydisDecodedOperand *o = group_mem(in, ops);
	if (!o || o->mem.index != ZYDIS_REGISTER_NONE || in->address_width != 64)
		return false;
	int base = gpr_index(o->mem.base);
	if (base < 0 || (*gbase >= 0 && base != *gbase))
		return false;
	if (*gbase < 0) {
		*gbase = base;
		return true;
	}
	int64_t want = (int64_t)(gtarget - c->init.gpr[base]);
	if (in->raw.disp.size == 32) {
		int64_t d = want + (int64_t)dt_below(g, 257) - 128;
		patch(b + in->raw.disp.offset, (uint64_t)d, 4);
	} else if (want < -256 || want > 256) {
		return false;           /* a short displacement cannot get near */
	}
	return true;
}

/* True when the instruction writes GPR r (explicitly or not). */
static bool writes_gpr(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, int r)
{
	for (int i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && gpr_index(ops[i].reg.value) == r)
			return true;
	return false;
}

/* loop: the whole case is one loop that jumps back to its first
 * instruction, so the translator sees a block that is a loop (it unrolls
 * those and keeps their probe groups across the copies):
 *   L: 1-4 memory instructions on [B + disp]
 *      lea B, [B + step] | add B, step | sub B, -step
 *      dec C | sub C, 1
 *      jnz L
 * with C = 1..13 iterations, so the loop leaves after every copy in some
 * case, the step moving B across page boundaries (half the cases start
 * near one), and ADC/SBB chains kept across iterations by DEC. The body
 * never writes B, C or RSP itself. */
static int gen_loop(struct dt_gen *g, struct dt_case *c)
{
	static const int regs[] = { GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RBP, GPR_RSI, GPR_RDI,
				    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14,
				    GPR_R15 };
	static const int steps[] = { 8, 16, 24, 32, 64, 128, -8, -16, -32, -64 };
	int creg = regs[dt_below(g, 15)];
	c->init.gpr[creg] = 1 + dt_below(g, 13);
	int step = steps[dt_below(g, sizeof(steps) / sizeof(steps[0]))];
	static const enum dt_cat memcats[] = { CAT_ALU, CAT_ALU, CAT_MOV, CAT_SSE, CAT_SHIFT, CAT_BIT };
	int n = 1 + (int)dt_below(g, 4), made = 0;
	int gbase = -1;
	uint64_t gtarget = 0;
	struct regs_used used = { 0, (uint16_t)(1u << creg) };
	for (int k = 0; k < n; k++) {
		int sub = (int)memcats[dt_below(g, sizeof(memcats) / sizeof(memcats[0]))];
		for (int attempt = 0; attempt < 20000; attempt++) {
			uint8_t b[32];
			uint32_t len = candidate(g, sub, b);
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			if (decode(g, b, len, &in, ops) < 0 || dt_classify(&in, ops) != sub ||
			    in.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE)
				continue;
			int before = gbase;
			if (!group_member(g, c, b, &in, ops, &gbase, gtarget)) {
				gbase = before;
				continue;
			}
			if (gbase == creg || gbase == GPR_RSP || writes_gpr(&in, ops, creg) ||
			    writes_gpr(&in, ops, gbase) || writes_gpr(&in, ops, GPR_RSP)) {
				gbase = before;
				continue;
			}
			if (c->code_len + in.length + 16 > DT_CODE_MAX)
				break;
			memcpy(c->code + c->code_len, b, in.length);
			if (made == 0) {
				fix_memory(g, c, c->code_len, &in, ops, &used);
				int64_t d = group_disp(&in, ops);
				gtarget = c->init.gpr[gbase] + (uint64_t)d;
				if (chance(g, 50)) {
					gtarget = (gtarget | 0xfff) + 1 - dt_below(g, 160);
					c->init.gpr[gbase] = gtarget - (uint64_t)d;
				}
			}
			c->code_len += in.length;
			made++;
			break;
		}
	}
	if (!made)
		return err_set("could not generate a loop body");
	uint8_t *p = c->code + c->code_len;
	int m = 0;
	uint8_t rb = (uint8_t)(0x48 | (gbase >> 3)), rc = (uint8_t)(0x48 | (creg >> 3));
	switch (dt_below(g, 3)) {
	case 0:                 /* lea B, [B + step] (disp32 keeps every base plain) */
		p[m++] = (uint8_t)(0x48 | (gbase >> 3) << 2 | (gbase >> 3));
		p[m++] = 0x8d;
		p[m++] = (uint8_t)(0x80 | (gbase & 7) << 3 | (gbase & 7));
		if ((gbase & 7) == 4)
			p[m++] = 0x24;
		patch(p + m, (uint64_t)(int64_t)step, 4);
		m += 4;
		break;
	case 1:                 /* add B, step */
		p[m++] = rb; p[m++] = 0x83; p[m++] = (uint8_t)(0xc0 | (gbase & 7)); p[m++] = (uint8_t)step;
		break;
	default:                /* sub B, -step */
		p[m++] = rb; p[m++] = 0x83; p[m++] = (uint8_t)(0xe8 | (gbase & 7)); p[m++] = (uint8_t)-step;
		break;
	}
	if (chance(g, 75)) {    /* dec C: keeps CF for an ADC chain */
		p[m++] = rc; p[m++] = 0xff; p[m++] = (uint8_t)(0xc8 | (creg & 7));
	} else {                /* sub C, 1 */
		p[m++] = rc; p[m++] = 0x83; p[m++] = (uint8_t)(0xe8 | (creg & 7)); p[m++] = 1;
	}
	p[m++] = 0x75;          /* jnz L */
	p[m] = (uint8_t)(-(int)(c->code_len + (uint32_t)m + 1));
	m++;
	c->code_len += (uint32_t)m;
	c->ninsns = made + 3;
	return 0;
}

int dt_gen_case(struct dt_gen *g, int want, struct dt_case *c)
{
	static const enum dt_cat weighted[] = {
		CAT_ALU, CAT_ALU, CAT_SHIFT, CAT_MULDIV, CAT_BIT, CAT_MOV, CAT_MOV, CAT_STACK,
		CAT_STRING, CAT_BRANCH, CAT_SSE, CAT_SSE, CAT_AVX, CAT_MEM, CAT_MIXED, CAT_GROUP,
		CAT_LOOP, CAT_CURATED,
	};
	int cat = want >= 0 ? want : (int)weighted[dt_below(g, sizeof(weighted) / sizeof(weighted[0]))];
	if (cat == CAT_CURATED)
		return dt_curated_case((int)dt_below(g, (uint64_t)dt_curated_count()), dt_rand(g), c);
	memset(c, 0, sizeof(*c));
	c->cat = (enum dt_cat)cat;
	c->data_seed = dt_rand(g);
	dt_rand_state(g, &c->init);
	if (cat == CAT_LOOP)
		return gen_loop(g, c);
	if (cat == CAT_STRING) {
		c->init.gpr[GPR_RCX] = chance(g, 80) ? dt_below(g, 40) : c->init.gpr[GPR_RCX];
		if (chance(g, 15))
			c->init.rflags |= DT_FLAG_DF;
	}
	int n = 1;
	if (cat == CAT_MIXED)
		n = 2 + (int)dt_below(g, 7);
	else if (cat == CAT_GROUP)
		n = 3 + (int)dt_below(g, 4);
	else if (chance(g, 30))
		n = 2 + (int)dt_below(g, 3);
	bool fix = !chance(g, 8);               /* some cases keep random addresses */
	if (cat == CAT_GROUP)
		fix = true;
	struct regs_used used = { 0, 0 };
	/* group: every access shares the first one's base register and lands
	 * near its target (the translator checks such runs against the soft
	 * TLB once: page crossings, read-only and unmapped neighbours). */
	int gbase = -1;
	uint64_t gtarget = 0;
	uint32_t starts[DT_MAX_INSNS];
	int made = 0;
	for (int k = 0; k < n; k++) {
		int sub = cat;
		if (cat == CAT_MIXED)
			sub = (int)mixable[dt_below(g, sizeof(mixable) / sizeof(mixable[0]))];
		if (cat == CAT_MEM || cat == CAT_GROUP) {
			static const enum dt_cat memcats[] = { CAT_ALU, CAT_MOV, CAT_SSE, CAT_AVX,
							       CAT_SHIFT, CAT_BIT };
			sub = (int)memcats[dt_below(g, 6)];
		}
		for (int attempt = 0; attempt < 20000; attempt++) {
			uint8_t b[32];
			uint32_t len = candidate(g, sub, b);
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			if (decode(g, b, len, &in, ops) < 0)
				continue;
			if (dt_classify(&in, ops) != sub)
				continue;
			if (cat == CAT_MEM) {
				bool has_mem = false;
				for (int i = 0; i < in.operand_count_visible; i++)
					has_mem |= ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
						   ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM;
				if (!has_mem)
					continue;
			}
			if (cat == CAT_GROUP && !group_member(g, c, b, &in, ops, &gbase, gtarget))
				continue;
			if (!branch_ok(&in, c->code_len))
				continue;
			if (c->code_len + in.length > DT_CODE_MAX)
				break;
			memcpy(c->code + c->code_len, b, in.length);
			if (fix)
				fix_memory(g, c, c->code_len, &in, ops, &used);
			if (cat == CAT_GROUP && made == 0) {
				/* Half the groups straddle a page boundary. */
				int64_t d = group_disp(&in, ops);
				gtarget = c->init.gpr[gbase] + (uint64_t)d;
				if (chance(g, 50) && !(used.written & (1u << gbase))) {
					gtarget = (gtarget | 0xfff) + 1 - dt_below(g, 96);
					c->init.gpr[gbase] = gtarget - (uint64_t)d;
				}
			}
			mark_writes(&in, ops, &used);
			starts[made++] = c->code_len;
			c->code_len += in.length;
			break;
		}
	}
	if (!made)
		return err_set("could not generate an instruction of category %s", dt_cat_name(cat));
	c->ninsns = made;
	if (made > 1)
		retarget_branches(g, c, starts, made);
	bias_cmpxchg(g, c);
	return 0;
}
