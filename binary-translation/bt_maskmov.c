/* Masked moves (MASKMOVQ, [V]MASKMOVDQU, VMASKMOVPS/PD, VPMASKMOVD/Q).
 *
 * Their point is that masked-off elements are never accessed: they may lie
 * on unmapped pages without faulting. The translator's memory path checks
 * the whole operand, so these run here, one selected element at a time,
 * on the guest registers as the parked XSAVE image holds them. */
#include <cpuid.h>
#include <string.h>

#include "bt_maskmov.h"

/* Offset of the YMM upper halves in a standard-format XSAVE area. */
static unsigned ymm_hi_offset(void)
{
	static unsigned off;
	if (!off) {
		unsigned a, b, c, d;
		__cpuid_count(0xd, 2, a, b, c, d);
		off = b;
	}
	return off;
}

/* Guest vector register n (XMM/YMM/MMX) from the parked image; components
 * in their init state read as zero, as the hardware would load them. */
static void reg_fetch(struct bt_cpu *c, ZydisRegister r, uint8_t out[32])
{
	const uint8_t *a = c->fpu_area;
	uint64_t bv;
	bt_memcpy(&bv, a + 512, 8);
	for (int i = 0; i < 32; i++)
		out[i] = 0;
	ZydisRegisterClass rc = ZydisRegisterGetClass(r);
	if (rc == ZYDIS_REGCLASS_MMX) {
		if (bv & 1)
			bt_memcpy(out, a + 32 + 16 * (r - ZYDIS_REGISTER_MM0), 8);
		return;
	}
	int n = rc == ZYDIS_REGCLASS_YMM ? r - ZYDIS_REGISTER_YMM0 : r - ZYDIS_REGISTER_XMM0;
	if (bv & 2)
		bt_memcpy(out, a + 160 + 16 * n, 16);
	if (rc == ZYDIS_REGCLASS_YMM && (bv & 4))
		bt_memcpy(out + 16, a + ymm_hi_offset() + 16 * n, 16);
}

/* A VEX load writes the whole YMM register (upper half zero for VEX.128). */
static void reg_store_vex(struct bt_cpu *c, ZydisRegister r, const uint8_t v[32])
{
	uint8_t *a = c->fpu_area;
	uint64_t bv;
	bt_memcpy(&bv, a + 512, 8);
	bool ymm = ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_YMM;
	int n = ymm ? r - ZYDIS_REGISTER_YMM0 : r - ZYDIS_REGISTER_XMM0;
	if (!(bv & 2)) {
		/* Leaving init state: the other registers become explicit zeros. */
		for (int i = 0; i < 16 * 16; i++)
			a[160 + i] = 0;
	}
	if (!(bv & 4)) {
		for (int i = 0; i < 16 * 16; i++)
			a[ymm_hi_offset() + i] = 0;
	}
	bt_memcpy(a + 160 + 16 * n, v, 16);
	if (ymm)
		bt_memcpy(a + ymm_hi_offset() + 16 * n, v + 16, 16);
	else
		for (int i = 0; i < 16; i++)
			a[ymm_hi_offset() + 16 * n + i] = 0;
	bv |= 6;
	bt_memcpy(a + 512, &bv, 8);
}

int bt_maskmov(struct bt_cpu *c, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *op, uint64_t lin)
{
	/* Register operands in order: the mask is always the second-named
	 * vector register of the VEX forms and the second of MASKMOV*. */
	int mem = -1, regs[3], nreg = 0;
	for (int i = 0; i < in->operand_count && nreg < 3; i++) {
		if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem = i;
		else if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			 ZydisRegisterGetClass(op[i].reg.value) != ZYDIS_REGCLASS_GPR64 &&
			 ZydisRegisterGetClass(op[i].reg.value) != ZYDIS_REGCLASS_GPR32 &&
			 ZydisRegisterGetClass(op[i].reg.value) != ZYDIS_REGCLASS_GPR16)
			regs[nreg++] = i;
	}
	if (mem < 0 || nreg != 2)
		return bt_raise(c, 6, false, 0), -1;
	if (c->cr0 & X86_CR0_TS)
		return bt_raise(c, 7, false, 0), -1;
	bool vex = in->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX;
	if (vex && (!(c->cr4 & X86_CR4_OSXSAVE) || (c->xcr0 & 6) != 6))
		return bt_raise(c, 6, false, 0), -1;

	bool legacy = in->mnemonic == ZYDIS_MNEMONIC_MASKMOVQ ||
		      in->mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU ||
		      in->mnemonic == ZYDIS_MNEMONIC_VMASKMOVDQU;
	bool store = legacy || mem == 0;
	unsigned esz = legacy ? 1 :
		(in->mnemonic == ZYDIS_MNEMONIC_VMASKMOVPS ||
		 in->mnemonic == ZYDIS_MNEMONIC_VPMASKMOVD) ? 4 : 8;
	unsigned bytes = op[regs[0]].size / 8;
	ZydisRegister data = store ? op[regs[legacy ? 0 : 1]].reg.value : op[regs[0]].reg.value;
	ZydisRegister maskr = op[regs[legacy ? 1 : (store ? 0 : 1)]].reg.value;

	bt_fpu_park(c);
	uint8_t mask[32], val[32];
	reg_fetch(c, maskr, mask);
	reg_fetch(c, data, val);

	/* Check every selected element first: a fault leaves memory and the
	 * destination as they were. */
	uint8_t loaded[32] = { 0 };
	/* RSP/RBP-based operands are SS-relative: non-canonical is #SS. */
	c->ss_access = op[mem].mem.segment == ZYDIS_REGISTER_SS;
	for (unsigned e = 0; e < bytes; e += esz) {
		if (!(mask[e + esz - 1] & 0x80))
			continue;
		int r = store ? bt_vprobe_write(c, lin + e, esz, false) :
				bt_vread(c, lin + e, loaded + e, esz, false);
		if (r < 0) {
			c->ss_access = false;
			return -1;
		}
	}
	c->ss_access = false;
	if (store) {
		for (unsigned e = 0; e < bytes; e += esz)
			if ((mask[e + esz - 1] & 0x80) &&
			    bt_vwrite(c, lin + e, val + e, esz, false) < 0)
				return -1;
	} else {
		reg_store_vex(c, data, loaded);
	}
	return 0;
}
