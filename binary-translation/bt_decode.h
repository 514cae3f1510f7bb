/* Corrections to what the Zydis decoder reports. */
#ifndef BT_DECODE_H
#define BT_DECODE_H

#include <Zydis/Zydis.h>

#include "bt_cpu.h"

/* Zydis 4.0.0 (Debian 12) decodes a SIB byte with base 101, mod 00, REX.B
 * and a 0x67 prefix (67 4d 12 04 15 d32: adc r8b, [edx+d32]) as base R13D
 * with no displacement. The architecture says: no base, disp32. */
static inline void bt_decode_fixup(const ZydisDecodedInstruction *in, ZydisDecodedOperand *op)
{
	if (!(in->attributes & ZYDIS_ATTRIB_HAS_SIB) || in->raw.modrm.mod != 0 ||
	    in->raw.sib.base != 5 || in->raw.disp.size != 32)
		return;
	for (int i = 0; i < in->operand_count; i++) {
		ZydisDecodedOperand *o = &op[i];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
		    (o->mem.base != ZYDIS_REGISTER_R13D && o->mem.base != ZYDIS_REGISTER_R13))
			continue;
		o->mem.base = ZYDIS_REGISTER_NONE;
		o->mem.disp.has_displacement = 1;
		o->mem.disp.value = in->raw.disp.value;
	}
}

/* The vCPU block's index of a segment register operand; anything else
 * (no override, DS) is DS, the default data segment. */
static inline int bt_seg_of(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_ES: return SEG_ES;
	case ZYDIS_REGISTER_CS: return SEG_CS;
	case ZYDIS_REGISTER_SS: return SEG_SS;
	case ZYDIS_REGISTER_FS: return SEG_FS;
	case ZYDIS_REGISTER_GS: return SEG_GS;
	default: return SEG_DS;
	}
}

#endif
