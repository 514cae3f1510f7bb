/* Masked moves, run element by element (bt_maskmov.c). */
#ifndef BT_MASKMOV_H
#define BT_MASKMOV_H

#include <Zydis/Zydis.h>

#include "bt_cpu.h"

/* 0 when done, -1 when an exception was raised in the guest. */
int bt_maskmov(struct bt_cpu *c, const ZydisDecodedInstruction *in,
	       const ZydisDecodedOperand *op, uint64_t lin);

#endif
