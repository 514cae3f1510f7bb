/* Generator internals shared by gen.c and curated.c. */
#ifndef VMLITE_DIFFTEST_GEN_H
#define VMLITE_DIFFTEST_GEN_H

#include <Zydis/Zydis.h>

#include "difftest.h"

uint64_t dt_rand(struct dt_gen *g);
uint64_t dt_below(struct dt_gen *g, uint64_t n);
uint64_t dt_rand_value(struct dt_gen *g);
void dt_rand_state(struct dt_gen *g, struct dt_cpu *cpu);
/* The dt_cat of a decoded instruction, or -1 when it must not be generated. */
int dt_classify(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops);
/* Points the memory operands of the instructions in c->code into the data
 * buffer (all instructions: registers written earlier in the block are left). */
void dt_fix_block(struct dt_gen *g, struct dt_case *c);
/* Value biases that need the final registers (cmpxchg equal half the time). */
void dt_bias_block(struct dt_gen *g, struct dt_case *c);

#endif
