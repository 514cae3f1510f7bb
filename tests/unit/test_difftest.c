/* The differential-testing harness's own parts: the native runner against
 * values computed here, the comparison, the generator's memory steering,
 * and (where /dev/kvm works) the guest runner agreeing with the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../difftest/difftest.h"
#include "engine.h"
#include "error.h"
#include "unit.h"
#include "x86.h"

static struct dt_native *nat;
static struct dt_case c;
static struct dt_result r, r2;

static bool native_up(void)
{
	if (!nat)
		nat = dt_native_start();
	if (!nat)
		fprintf(stderr, "native runner: %s\n", err_msg());
	return nat != NULL;
}

static void setup(const uint8_t *code, uint32_t len)
{
	memset(&c, 0, sizeof(c));
	memcpy(c.code, code, len);
	c.code_len = len;
	for (int i = 0; i < 16; i++)
		c.init.gpr[i] = 0x0101010101010101ull * (uint64_t)i;
	c.init.gpr[GPR_RSP] = DT_STACK_TOP;
	c.init.rip = DT_CODE_VA;
	c.init.mxcsr = 0x1f80;
	c.data_seed = 1234;
}

static bool completed(const struct dt_result *res)
{
	return res->status == DT_EXCEPTION && res->vector == 3 &&
	       res->cpu.rip == dt_case_end(&c);
}

/* Parity of the low byte, as PF defines it. */
static uint64_t pf(uint64_t v)
{
	return (__builtin_popcount((unsigned)(v & 0xff)) & 1) ? 0 : 0x4;
}

static void test_native_add_flags(void)
{
	CU_ASSERT_FATAL(native_up());
	static const uint8_t code[] = { 0x48, 0x01, 0xd8 };         /* add rax, rbx */
	uint64_t a[] = { 1, 0x8000000000000000ull, 0x7fffffffffffffffull, 0xf, ~0ull };
	uint64_t b[] = { 2, 0x8000000000000000ull, 1, 1, 1 };
	for (unsigned k = 0; k < sizeof(a) / sizeof(a[0]); k++) {
		setup(code, sizeof(code));
		c.init.gpr[GPR_RAX] = a[k];
		c.init.gpr[GPR_RBX] = b[k];
		CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
		CU_ASSERT_TRUE(completed(&r));
		uint64_t sum = a[k] + b[k];
		uint64_t want = (sum < a[k] ? 0x1 : 0) | pf(sum) |
				(((a[k] ^ b[k] ^ sum) & 0x10) ? 0x10 : 0) | (sum == 0 ? 0x40 : 0) |
				((sum >> 63) ? 0x80 : 0) |
				((~(a[k] ^ b[k]) & (a[k] ^ sum)) >> 63 ? 0x800 : 0);
		CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RAX], sum);
		CU_ASSERT_EQUAL(r.cpu.rflags & DT_FLAGS_ARITH, want);
		CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RBX], b[k]);
		CU_ASSERT_EQUAL(r.cpu.gpr[GPR_R15], c.init.gpr[GPR_R15]);
	}
}

static void test_native_div_zero(void)
{
	CU_ASSERT_FATAL(native_up());
	static const uint8_t code[] = { 0x90, 0x48, 0xf7, 0xf1 };   /* nop; div rcx */
	setup(code, sizeof(code));
	c.init.gpr[GPR_RCX] = 0;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL(r.status, DT_EXCEPTION);
	CU_ASSERT_EQUAL(r.vector, 0);
	CU_ASSERT_EQUAL(r.cpu.rip, DT_CODE_VA + 1);                 /* a fault: at the div */
	c.init.gpr[GPR_RCX] = 7;
	c.init.gpr[GPR_RDX] = 0;
	c.init.gpr[GPR_RAX] = 100;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_TRUE(completed(&r));
	CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RAX], 14);
	CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RDX], 2);
}

static void test_native_store_and_stack(void)
{
	CU_ASSERT_FATAL(native_up());
	/* mov [rdi], rax; push rbx; pop rcx */
	static const uint8_t code[] = { 0x48, 0x89, 0x07, 0x53, 0x59 };
	setup(code, sizeof(code));
	c.init.gpr[GPR_RDI] = DT_DATA_VA + 0x123;
	c.init.gpr[GPR_RAX] = 0x1122334455667788ull;
	c.init.gpr[GPR_RBX] = 0xdeadbeefcafef00dull;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_TRUE(completed(&r));
	static uint8_t want[DT_DATA_SIZE];
	dt_fill_data(c.data_seed, want);
	memcpy(want + 0x123, &c.init.gpr[GPR_RAX], 8);
	memcpy(want + (DT_STACK_TOP - 8 - DT_DATA_VA), &c.init.gpr[GPR_RBX], 8);
	CU_ASSERT_EQUAL(memcmp(r.data, want, DT_DATA_SIZE), 0);
	CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RCX], c.init.gpr[GPR_RBX]);
	CU_ASSERT_EQUAL(r.cpu.gpr[GPR_RSP], DT_STACK_TOP);
}

static void test_native_faults(void)
{
	CU_ASSERT_FATAL(native_up());
	static const uint8_t load[] = { 0x48, 0x8b, 0x00 };        /* mov rax, [rax] */
	setup(load, sizeof(load));
	c.init.gpr[GPR_RAX] = 0x1234000;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL(r.vector, 14);
	CU_ASSERT_EQUAL(r.cr2, 0x1234000);
	CU_ASSERT_EQUAL(r.error_code & 0x2, 0);                     /* a read */
	c.init.gpr[GPR_RAX] = 0x8000000000000000ull;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL(r.vector, 13);                              /* non-canonical */
	static const uint8_t ud[] = { 0x0f, 0x0b };
	setup(ud, sizeof(ud));
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL(r.vector, 6);
	static const uint8_t movaps[] = { 0x0f, 0x28, 0x07 };      /* movaps xmm0, [rdi] */
	setup(movaps, sizeof(movaps));
	c.init.gpr[GPR_RDI] = DT_DATA_VA + 0x1008;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL(r.vector, 13);                              /* misaligned SSE */
}

static void test_native_vectors(void)
{
	CU_ASSERT_FATAL(native_up());
	static const uint8_t code[] = { 0x66, 0x0f, 0xfe, 0xc1 };   /* paddd xmm0, xmm1 */
	setup(code, sizeof(code));
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++) {
			c.init.xmm[i][j] = (uint8_t)(i * 16 + j);
			c.init.ymmh[i][j] = (uint8_t)(0xff - j);
		}
	c.init.mxcsr = 0x3f80;
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_TRUE(completed(&r));
	CU_ASSERT_TRUE(r.has_vec);
	for (int lane = 0; lane < 4; lane++) {
		uint32_t x, y, z;
		memcpy(&x, c.init.xmm[0] + 4 * lane, 4);
		memcpy(&y, c.init.xmm[1] + 4 * lane, 4);
		memcpy(&z, r.cpu.xmm[0] + 4 * lane, 4);
		CU_ASSERT_EQUAL(z, x + y);
	}
	CU_ASSERT_EQUAL(memcmp(r.cpu.xmm[1], c.init.xmm[1], 16), 0);
	CU_ASSERT_EQUAL(r.cpu.mxcsr, 0x3f80);
	if (dt_host_has_avx()) {
		/* legacy SSE keeps the upper halves */
		CU_ASSERT_EQUAL(memcmp(r.cpu.ymmh[0], c.init.ymmh[0], 16), 0);
	}
}

static void test_compare_reports(void)
{
	CU_ASSERT_FATAL(native_up());
	static const uint8_t code[] = { 0x48, 0x11, 0xd8 };         /* adc rax, rbx */
	setup(code, sizeof(code));
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	r2 = r;
	struct dt_cmp_opts o = { .compare_vec = true, .compare_ymm = true, .compare_mxcsr = true };
	char rep[4096];
	CU_ASSERT_EQUAL(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)), 0);
	r2.cpu.rflags ^= 1;
	CU_ASSERT_EQUAL(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "differ in CF"));
	r2 = r;
	r2.data[100] ^= 0x80;
	r2.cpu.gpr[GPR_R9] += 1;
	CU_ASSERT_EQUAL(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "r9"));
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "memory 0x20000064"));
	r2 = r;
	r2.vector = 6;
	CU_ASSERT_TRUE(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "#UD"));
}

/* Generated memory operands are steered into the buffer: most MOV-class
 * cases with a fixed-up address must not fault with #PF outside it. */
static void test_generator_targets_buffer(void)
{
	CU_ASSERT_FATAL(native_up());
	struct dt_gen *g = dt_gen_new(77);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	int done = 0, stray = 0;
	for (int i = 0; i < 300; i++) {
		CU_ASSERT_EQUAL_FATAL(dt_gen_case(g, CAT_MEM, &c), 0);
		CU_ASSERT_TRUE(c.code_len > 0 && c.code_len <= DT_CODE_MAX);
		if (c.ninsns != 1)
			continue;
		CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
		done++;
		if (r.vector == 14 && (r.cr2 < DT_DATA_VA - 0x10000 || r.cr2 > DT_DATA_VA + 0x20000) &&
		    (r.cr2 >> 12) != (DT_CODE_VA >> 12))
			stray++;
	}
	dt_gen_free(g);
	CU_ASSERT_TRUE(done > 100);
	/* about 8% keep random addresses on purpose */
	CU_ASSERT_TRUE(stray * 5 < done);
}

static void test_kvm_agrees_with_host(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		unit_skip("/dev/kvm is not usable here; guest-runner agreement not checked");
		return;
	}
	CU_ASSERT_FATAL(native_up());
	struct dt_guest *gst = dt_guest_start(&engine_kvm, true, true);
	if (!gst) {
		fprintf(stderr, "guest runner: %s\n", err_msg());
		CU_FAIL_FATAL("the guest runner did not start on KVM");
	}
	struct dt_gen *g = dt_gen_new(4242);
	struct dt_cmp_opts o = { .compare_vec = true, .compare_ymm = dt_guest_has_avx(gst),
				 .compare_mxcsr = true };
	int compared = 0, bad = 0;
	for (int i = 0; i < 400; i++) {
		CU_ASSERT_EQUAL_FATAL(dt_gen_case(g, -1, &c), 0);
		CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
		CU_ASSERT_EQUAL_FATAL(dt_guest_run(gst, &c, &r2), 0);
		/* kvm_pvm re-emulates user #GP/#SS and fails on a non-canonical
		 * RSP (see main.c's waiver) */
		uint64_t sp = r.cpu.gpr[GPR_RSP];
		if (r.status != DT_EXCEPTION || r.vector == 12 || r.vector == 13 ||
		    (uint64_t)((int64_t)(sp << 16) >> 16) != sp)
			continue;
		compared++;
		char rep[8192];
		if (dt_compare(&c, &r, &r2, &o, rep, sizeof(rep))) {
			if (bad++ < 2) {
				char dis[2048];
				dt_disasm(c.code, c.code_len, DT_CODE_VA, dis, sizeof(dis));
				fprintf(stderr, "case %d differs:\n%s%s", i, dis, rep);
			}
		}
	}
	dt_gen_free(g);
	dt_guest_stop(gst);
	CU_ASSERT_TRUE(compared > 200);
	CU_ASSERT_EQUAL(bad, 0);
}

/* The injected-bug wrapper must corrupt exactly what it claims, so the
 * comparison has something to find (and nothing else). */
static void test_injected_bug_is_caught(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		unit_skip("/dev/kvm is not usable here; injected-bug check not run");
		return;
	}
	CU_ASSERT_FATAL(native_up());
	const struct engine_ops *bad = dt_inject_wrap(&engine_kvm, "cf-adc");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	struct dt_guest *gst = dt_guest_start(bad, true, false);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gst);
	struct dt_cmp_opts o = { .compare_vec = true, .compare_mxcsr = true };
	static const uint8_t adc[] = { 0x48, 0x11, 0xd8 };          /* adc rax, rbx */
	static const uint8_t add[] = { 0x48, 0x01, 0xd8 };          /* add rax, rbx */
	char rep[4096];
	setup(adc, sizeof(adc));
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL_FATAL(dt_guest_run(gst, &c, &r2), 0);
	CU_ASSERT_EQUAL(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep, "differ in CF"));
	setup(add, sizeof(add));
	CU_ASSERT_EQUAL_FATAL(dt_native_run(nat, &c, &r), 0);
	CU_ASSERT_EQUAL_FATAL(dt_guest_run(gst, &c, &r2), 0);
	CU_ASSERT_EQUAL(dt_compare(&c, &r, &r2, &o, rep, sizeof(rep)), 0);
	dt_guest_stop(gst);
	CU_ASSERT_PTR_NULL(dt_inject_wrap(&engine_kvm, "no-such-bug"));
}

UNIT_SUITE(difftest,
	UNIT_CASE(test_native_add_flags),
	UNIT_CASE(test_native_div_zero),
	UNIT_CASE(test_native_store_and_stack),
	UNIT_CASE(test_native_faults),
	UNIT_CASE(test_native_vectors),
	UNIT_CASE(test_compare_reports),
	UNIT_CASE(test_generator_targets_buffer),
	UNIT_CASE(test_kvm_agrees_with_host),
	UNIT_CASE(test_injected_bug_is_caught))
