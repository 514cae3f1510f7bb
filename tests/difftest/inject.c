/* Deliberately injected engine bugs, to show that the harness finds them.
 * The translator cannot be modified from here, so the bug lives in an engine
 * wrapper: it forwards every operation to the real engine and corrupts one
 * result after the guest stops, the way a translator bug would. */
#include <Zydis/Zydis.h>
#include <string.h>

#include "difftest.h"
#include "engine.h"
#include "error.h"
#include "guest_layout.h"
#include "vm.h"

enum bug { BUG_CARRY, BUG_SHIFT_RAX, BUG_STORE, BUG_PADDD };

static const struct {
	const char *name;
	enum bug bug;
	const char *what;
} bugs[] = {
	{ "cf-adc", BUG_CARRY, "flips CF after blocks containing adc or sbb" },
	{ "shift-rax", BUG_SHIFT_RAX, "adds 1 to rax after blocks containing a shift by CL" },
	{ "stos-byte", BUG_STORE, "flips a bit of the last byte a forward stos stored" },
	{ "paddd-xmm", BUG_PADDD, "flips bit 0 of xmm0 after blocks containing (v)paddd" },
};

static const struct engine_ops *inner;
static enum bug active;
static struct engine_ops wrapped;

const char *dt_inject_names(void)
{
	return "cf-adc (flip CF after adc/sbb), shift-rax (rax+1 after shift by CL),\n"
	       "                      stos-byte (corrupt the last stos byte), paddd-xmm (flip\n"
	       "                      xmm0 bit 0 after paddd); env:NAME sets VMLITE_BT_INJECT_BUG=NAME";
}

/* True if the test block (from the start of the code page up to the int3
 * trailer) contains an instruction the bug is about. */
static bool block_has(struct vm *vm, enum bug b)
{
	const uint8_t *code = vm->mem.ram + G_CODE_PA;
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	uint32_t off = 0;
	while (off < DT_CODE_MAX) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code + off, DT_CODE_SIZE - off, &in, ops)))
			return false;
		if (in.mnemonic == ZYDIS_MNEMONIC_INT3)
			return false;
		switch (b) {
		case BUG_CARRY:
			if (in.mnemonic == ZYDIS_MNEMONIC_ADC || in.mnemonic == ZYDIS_MNEMONIC_SBB)
				return true;
			break;
		case BUG_SHIFT_RAX:
			if (in.meta.category == ZYDIS_CATEGORY_SHIFT)
				for (int i = 0; i < in.operand_count_visible; i++)
					if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
					    ops[i].reg.value == ZYDIS_REGISTER_CL)
						return true;
			break;
		case BUG_PADDD:
			if (in.mnemonic == ZYDIS_MNEMONIC_PADDD || in.mnemonic == ZYDIS_MNEMONIC_VPADDD)
				return true;
			break;
		case BUG_STORE:
			if (in.mnemonic == ZYDIS_MNEMONIC_STOSB || in.mnemonic == ZYDIS_MNEMONIC_STOSW ||
			    in.mnemonic == ZYDIS_MNEMONIC_STOSD || in.mnemonic == ZYDIS_MNEMONIC_STOSQ)
				return true;
			break;
		}
		off += in.length;
	}
	return false;
}

static int bug_vcpu_run(struct vcpu *v, struct vcpu_exit *e)
{
	int rc = inner->vcpu_run(v, e);
	if (rc < 0 || e->kind != EXIT_HLT || !block_has(v->vm, active))
		return rc;
	uint8_t *flags = dt_guest_frame_slot(v->vm->mem.ram, 2);
	struct vcpu_state st;
	switch (active) {
	case BUG_CARRY:
		if (flags)
			flags[0] ^= 1;
		break;
	case BUG_SHIFT_RAX:
		if (inner->get_state(v, &st) == 0) {
			st.gpr[GPR_RAX] += 1;
			inner->set_state(v, &st);
		}
		break;
	case BUG_PADDD:
		/* the stub's FXSAVE image: xmm0 at byte 160 */
		v->vm->mem.ram[G_SYS_PA + SYS_FX_OUT + 160] ^= 1;
		break;
	case BUG_STORE:
		if (inner->get_state(v, &st) == 0) {
			uint64_t a = st.gpr[GPR_RDI] - 1;
			if (a >= DT_DATA_VA && a < DT_DATA_VA + DT_DATA_SIZE)
				v->vm->mem.ram[G_DATA_PA + (a - DT_DATA_VA)] ^= 1;
		}
		break;
	}
	return rc;
}

const struct engine_ops *dt_inject_wrap(const struct engine_ops *eng, const char *bug)
{
	for (unsigned i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++) {
		if (strcmp(bugs[i].name, bug))
			continue;
		inner = eng;
		active = bugs[i].bug;
		wrapped = *eng;
		wrapped.vcpu_run = bug_vcpu_run;
		return &wrapped;
	}
	err_set("unknown injected bug '%s'; known: %s", bug, dt_inject_names());
	return NULL;
}
