/* Comparison of a native and an engine result, and the readable report of
 * what differs: the instructions (disassembled), the outcome, each differing
 * register with both values, flags by name, vector registers and memory. */
#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "difftest.h"

struct out {
	char *p;
	size_t left;
};

static void say(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct out *o, const char *fmt, ...)
{
	if (!o->p || o->left <= 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p, o->left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t used = (size_t)n < o->left ? (size_t)n : o->left - 1;
	o->p += used;
	o->left -= used;
}

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

void dt_disasm(const uint8_t *code, uint32_t len, uint64_t va, char *outbuf, size_t outlen)
{
	struct out o = { outbuf, outlen };
	if (outlen)
		outbuf[0] = 0;
	ZydisDecoder dec;
	ZydisFormatter fmt;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
	uint32_t off = 0;
	while (off < len) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		char text[128] = "(bad)";
		uint32_t n = 1;
		if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code + off, len - off, &in, ops))) {
			n = in.length;
			ZydisFormatterFormatInstruction(&fmt, &in, ops, in.operand_count_visible, text,
							sizeof(text), va + off, NULL);
		}
		say(&o, "    %08" PRIx64 ": ", va + off);
		for (uint32_t i = 0; i < 12; i++)
			say(&o, i < n ? "%02x " : "   ", i < n ? code[off + i] : 0);
		say(&o, "%s%s\n", n > 12 ? "... " : "", text);
		off += n;
	}
}

/* Flags Zydis marks undefined for any instruction of the case. */
static uint64_t undefined_flags(const struct dt_case *c)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	uint64_t m = 0;
	uint32_t off = 0;
	while (off < c->code_len) {
		ZydisDecodedInstruction in;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, c->code + off,
								c->code_len - off, &in)))
			break;
		if (in.cpu_flags)
			m |= in.cpu_flags->undefined;
		off += in.length;
	}
	return m & DT_FLAGS_ARITH;
}

bool dt_case_uses_vec(const struct dt_case *c)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	uint32_t off = 0;
	while (off < c->code_len) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, c->code + off, c->code_len - off, &in, ops)))
			return false;
		for (int i = 0; i < in.operand_count; i++) {
			if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
				continue;
			ZydisRegisterClass k = ZydisRegisterGetClass(ops[i].reg.value);
			if (k == ZYDIS_REGCLASS_XMM || k == ZYDIS_REGCLASS_YMM ||
			    ops[i].reg.value == ZYDIS_REGISTER_MXCSR)
				return true;
		}
		off += in.length;
	}
	return false;
}

static void flag_names(uint64_t m, char *buf, size_t len)
{
	static const struct { uint64_t bit; const char *name; } f[] = {
		{ 1 << 0, "CF" }, { 1 << 2, "PF" }, { 1 << 4, "AF" }, { 1 << 6, "ZF" },
		{ 1 << 7, "SF" }, { 1 << 10, "DF" }, { 1 << 11, "OF" },
	};
	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (m & f[i].bit) {
			strncat(buf, buf[0] ? " " : "", len - strlen(buf) - 1);
			strncat(buf, f[i].name, len - strlen(buf) - 1);
		}
}

static void outcome(const struct dt_case *c, const struct dt_result *r, char *buf, size_t len)
{
	if (r->status == DT_TIMEOUT) {
		snprintf(buf, len, "timeout (%s)", r->why);
		return;
	}
	if (r->status == DT_RUNNER_ERROR) {
		snprintf(buf, len, "runner error: %s", r->why);
		return;
	}
	uint64_t end = dt_case_end(c);
	if (r->vector == 3 && r->cpu.rip == end)
		snprintf(buf, len, "completed");
	else if (dt_vector_has_error(r->vector))
		snprintf(buf, len, "%s (vector %d) error code 0x%x%s at rip 0x%" PRIx64,
			 dt_vector_name(r->vector), r->vector, r->error_code,
			 r->vector == 14 ? "" : "", r->cpu.rip);
	else
		snprintf(buf, len, "%s (vector %d) at rip 0x%" PRIx64, dt_vector_name(r->vector),
			 r->vector, r->cpu.rip);
	if (r->vector == 14) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, ", address 0x%" PRIx64, r->cr2);
	}
}

static void hex128(const uint8_t *v, char *buf)
{
	for (int i = 15; i >= 0; i--)
		sprintf(buf + 2 * (15 - i), "%02x", v[i]);
}

int dt_compare(const struct dt_case *c, const struct dt_result *nat,
	       const struct dt_result *eng, const struct dt_cmp_opts *opt, char *outbuf, size_t outlen)
{
	struct out o = { outbuf, outlen };
	if (outlen)
		outbuf[0] = 0;
	int diffs = 0;
	char a[256], b[256];
	outcome(c, nat, a, sizeof(a));
	outcome(c, eng, b, sizeof(b));
	if (eng->status != DT_EXCEPTION || nat->status != DT_EXCEPTION) {
		say(&o, "  outcome: native %s; engine %s\n", a, b);
		return 1;
	}
	if (nat->vector != eng->vector) {
		say(&o, "  outcome: native %s; engine %s\n", a, b);
		diffs++;
	} else if (dt_vector_has_error(nat->vector)) {
		uint32_t mask = 0xffffffff;
		if (nat->vector == 14) {
			/* U differs by design in CPL0 mode; Linux reports P=1 for any
			 * address from TASK_SIZE_MAX (the last user page is a guard)
			 * up, where our guest has its own mappings. */
			mask = 0x2 | 0x10 | (nat->cr2 < 0x7ffffffff000ull ? 0x1 : 0);
		}
		if ((nat->error_code ^ eng->error_code) & mask) {
			say(&o, "  error code: native 0x%x engine 0x%x (%s)\n", nat->error_code,
			    eng->error_code, dt_vector_name(nat->vector));
			diffs++;
		}
		if (nat->vector == 14 && nat->cr2 != eng->cr2) {
			say(&o, "  #PF address (cr2): native 0x%" PRIx64 " engine 0x%" PRIx64 "\n",
			    nat->cr2, eng->cr2);
			diffs++;
		}
	}
	if (nat->cpu.rip != eng->cpu.rip) {
		say(&o, "  rip: native 0x%" PRIx64 " engine 0x%" PRIx64 "\n", nat->cpu.rip, eng->cpu.rip);
		diffs++;
	}
	for (int i = 0; i < 16; i++) {
		if (nat->cpu.gpr[i] == eng->cpu.gpr[i])
			continue;
		say(&o, "  %-4s native 0x%016" PRIx64 " engine 0x%016" PRIx64 " (xor 0x%" PRIx64 ")\n",
		    gpr_names[i], nat->cpu.gpr[i], eng->cpu.gpr[i], nat->cpu.gpr[i] ^ eng->cpu.gpr[i]);
		diffs++;
	}
	uint64_t undef = undefined_flags(c);
	uint64_t fmask = DT_FLAGS_CMP & ~(opt->lax_undefined ? undef : 0);
	/* The translator's default mode may leave its probe's status flags in
	 * the frame of a faulting access (docs/binary-translation.md); the
	 * registers, memory and fault itself must still match. */
	bool completed = nat->vector == 3 && nat->cpu.rip == dt_case_end(c);
	if (opt->lax_fault_flags && !completed)
		fmask &= ~(uint64_t)0x8d5;
	uint64_t fdiff = (nat->cpu.rflags ^ eng->cpu.rflags) & fmask;
	if (fdiff) {
		char names[64], un[64];
		flag_names(fdiff, names, sizeof(names));
		flag_names(fdiff & undef, un, sizeof(un));
		say(&o, "  rflags: native 0x%" PRIx64 " engine 0x%" PRIx64 " differ in %s%s%s%s\n",
		    (uint64_t)(nat->cpu.rflags & DT_FLAGS_CMP), (uint64_t)(eng->cpu.rflags & DT_FLAGS_CMP), names,
		    un[0] ? " (undefined per the SDM: " : "", un, un[0] ? ")" : "");
		diffs++;
	}
	if (opt->compare_vec && nat->has_vec && eng->has_vec) {
		if (opt->compare_mxcsr && nat->cpu.mxcsr != eng->cpu.mxcsr) {
			say(&o, "  mxcsr: native 0x%x engine 0x%x\n", nat->cpu.mxcsr, eng->cpu.mxcsr);
			diffs++;
		}
		for (int i = 0; i < 16; i++) {
			bool lo = memcmp(nat->cpu.xmm[i], eng->cpu.xmm[i], 16) != 0;
			bool hi = opt->compare_ymm && memcmp(nat->cpu.ymmh[i], eng->cpu.ymmh[i], 16) != 0;
			if (!lo && !hi)
				continue;
			char x[33], y[33], x2[33], y2[33];
			hex128(nat->cpu.xmm[i], x);
			hex128(eng->cpu.xmm[i], y);
			hex128(nat->cpu.ymmh[i], x2);
			hex128(eng->cpu.ymmh[i], y2);
			if (hi)
				say(&o, "  ymm%-2d native %s_%s\n         engine %s_%s\n", i, x2, x, y2, y);
			else
				say(&o, "  xmm%-2d native %s\n         engine %s\n", i, x, y);
			diffs++;
		}
	}
	int ranges = 0;
	for (uint32_t i = 0; i < DT_DATA_SIZE; i++) {
		if (nat->data[i] == eng->data[i])
			continue;
		uint32_t j = i;
		while (j < DT_DATA_SIZE && j - i < 16 && nat->data[j] != eng->data[j])
			j++;
		if (ranges < 4) {
			say(&o, "  memory 0x%" PRIx64 ":", (uint64_t)(DT_DATA_VA + i));
			say(&o, " native");
			for (uint32_t k = i; k < j; k++)
				say(&o, " %02x", nat->data[k]);
			say(&o, "; engine");
			for (uint32_t k = i; k < j; k++)
				say(&o, " %02x", eng->data[k]);
			say(&o, "\n");
		}
		ranges++;
		i = j;
	}
	if (ranges) {
		if (ranges > 4)
			say(&o, "  ... %d more differing memory ranges\n", ranges - 4);
		diffs++;
	}
	if (diffs && nat->vector == eng->vector)
		say(&o, "  outcome (both): %s\n", a);
	return diffs;
}
