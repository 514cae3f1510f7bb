/* Differential testing of an engine against the host CPU: shared layout,
 * test-case and result types. The same virtual addresses are used natively
 * (fixed mappings in a forked runner) and in the guest (page tables), so
 * instructions see identical pointers, RIP-relative targets and stack. */
#ifndef VMLITE_DIFFTEST_H
#define VMLITE_DIFFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Test code: one page, the instructions then int3 (the trailer) then int3
 * filler, so any jump that lands after the code stops at a known vector. */
#define DT_CODE_VA      0x10000000ull
#define DT_CODE_SIZE    0x1000u
#define DT_CODE_MAX     (DT_CODE_SIZE - 16)
/* Data buffer, read/write, no-execute. The test's stack lives inside it so
 * push/pop/call are compared byte for byte. Unmapped on both sides around it. */
#define DT_DATA_VA      0x20000000ull
#define DT_DATA_SIZE    0x10000u
#define DT_STACK_TOP    (DT_DATA_VA + 0xe000u)
/* Where generated pointers may point (leaves room for displacements). */
#define DT_PTR_LO       (DT_DATA_VA + 0x1000u)
#define DT_PTR_HI       (DT_DATA_VA + 0xc000u)

#define DT_TRAILER      0xcc    /* int3: #BP at the end means "ran to completion" */

/* Arithmetic flags plus DF: what instructions compute and what we compare. */
#define DT_FLAGS_ARITH  0x8d5ull        /* OF SF ZF AF PF CF */
#define DT_FLAG_DF      0x400ull
#define DT_FLAGS_CMP    (DT_FLAGS_ARITH | DT_FLAG_DF)
/* Always set when entering test code: reserved bit 1 and IF (as in user space). */
#define DT_FLAGS_FIXED  0x202ull

/* User-visible CPU state that a case starts from and is compared on. */
struct dt_cpu {
	uint64_t gpr[16];               /* enum x86_gpr order */
	uint64_t rip;
	uint64_t rflags;
	uint32_t mxcsr;
	uint8_t xmm[16][16];
	uint8_t ymmh[16][16];           /* upper halves of ymm0-15 */
};

/* Outcome of running a case on one side. */
enum dt_status {
	DT_EXCEPTION,                   /* stopped by an exception (vector); #BP at the trailer = done */
	DT_TIMEOUT,                     /* ran too long (should not happen: generator avoids loops) */
	DT_RUNNER_ERROR,                /* the runner itself failed; why says how */
};

struct dt_result {
	enum dt_status status;
	int vector;
	uint32_t error_code;            /* for vectors that push one */
	uint64_t cr2;                   /* #PF address */
	struct dt_cpu cpu;
	bool has_vec;                   /* xmm/ymmh/mxcsr valid */
	uint8_t data[DT_DATA_SIZE];     /* data buffer after the run */
	char why[200];
};

/* Instruction classes the generator draws from and counts are reported by. */
enum dt_cat {
	CAT_ALU, CAT_SHIFT, CAT_MULDIV, CAT_BIT, CAT_MOV, CAT_STACK, CAT_STRING,
	CAT_BRANCH, CAT_SSE, CAT_AVX, CAT_MEM, CAT_MIXED, CAT_GROUP, CAT_LOOP, CAT_CURATED,
	CAT_COUNT
};

#define DT_MAX_INSNS 16

struct dt_case {
	uint64_t id;
	enum dt_cat cat;
	int ninsns;
	uint8_t code[DT_CODE_MAX];
	uint32_t code_len;
	uint32_t code_off;              /* where the code starts in the page (0 but for
					 * page-end cases, which have no trailer) */
	struct dt_cpu init;
	uint64_t data_seed;             /* data buffer contents are derived from this */
	char note[64];                  /* curated cases: what is being checked */
};

/* ---- native runner (native.c) ---- */
struct dt_native;
/* Forks the runner process. -1 + err_set() when the fixed addresses cannot be mapped. */
struct dt_native *dt_native_start(void);
void dt_native_stop(struct dt_native *n);
/* Runs one case natively; returns -1 only if the runner cannot be restarted. */
int dt_native_run(struct dt_native *n, const struct dt_case *c, struct dt_result *r);
bool dt_host_has_avx(void);

/* ---- guest runner (guest.c) ---- */
struct engine_ops;
struct dt_guest;
/* cpl3: run test code at CPL3 (else CPL0); want_avx: carry ymm upper halves. */
struct dt_guest *dt_guest_start(const struct engine_ops *eng, bool cpl3, bool want_avx);
/* How the guest stubs move xmm0-15/MXCSR: FXSAVE/FXRSTOR (default), plain
 * movdqu with MXCSR left at 0x1f80 (engines without FXSAVE/LDMXCSR; cases
 * then start with the default MXCSR and it is not compared), or not at all (vector
 * registers are then neither set nor compared). The runner falls back along
 * this list by itself if the engine cannot run a nop case. */
enum dt_vec_mode { DT_VEC_NONE, DT_VEC_FX, DT_VEC_MOVDQU };
struct dt_guest *dt_guest_start_ex(const struct engine_ops *eng, bool cpl3, bool want_avx,
				   enum dt_vec_mode vec);
void dt_guest_stop(struct dt_guest *g);
int dt_guest_run(struct dt_guest *g, const struct dt_case *c, struct dt_result *r);
/* Engines whose guest runs longer than this many milliseconds get kicked. */
void dt_guest_set_timeout(struct dt_guest *g, int ms);
bool dt_guest_has_avx(const struct dt_guest *g);
bool dt_guest_has_vec(const struct dt_guest *g);
bool dt_guest_has_mxcsr(const struct dt_guest *g);
/* True when the engine cannot be told about rewritten code (no mem_written
 * op) and the runner therefore builds a fresh VM for every case. */
bool dt_guest_fresh_vms(const struct dt_guest *g);
void dt_guest_set_fresh(struct dt_guest *g, bool fresh);
/* The test's exception frame in guest RAM after a run: slot 0 RIP, 1 CS,
 * 2 RFLAGS, 3 RSP, 4 SS. NULL when the stubs recorded no frame. */
uint8_t *dt_guest_frame_slot(uint8_t *ram, int slot);

/* ---- shared helpers (case.c) ---- */
void dt_fill_data(uint64_t seed, uint8_t *buf);
void dt_code_page(const struct dt_case *c, uint8_t *page);
/* RIP after the trailer int3: the "ran to completion" outcome. */
uint64_t dt_case_end(const struct dt_case *c);
const char *dt_cat_name(enum dt_cat c);
int dt_cat_parse(const char *s);
const char *dt_vector_name(int v);
bool dt_vector_has_error(int v);

/* ---- generator (gen.c) ---- */
struct dt_gen;
struct dt_gen *dt_gen_new(uint64_t seed);
void dt_gen_free(struct dt_gen *g);
/* cat < 0: any category (weighted). Returns 0 or -1 when no case could be made. */
int dt_gen_case(struct dt_gen *g, int cat, struct dt_case *c);
/* Curated list: index i of dt_curated_count(). */
int dt_curated_count(void);
int dt_curated_case(int i, uint64_t seed, struct dt_case *c);
/* A case from hex bytes ("48 01 d8 | rcx=0"): random state from seed, memory
 * operands steered into the buffer, then the given registers set. */
int dt_hex_case(const char *spec, uint64_t seed, struct dt_case *c);

/* ---- comparison (compare.c) ---- */
struct dt_cmp_opts {
	bool lax_undefined;             /* ignore flags Zydis marks undefined */
	bool lax_fault_flags;           /* ignore status flags when the case faults */
	bool compare_vec;
	bool compare_ymm;
	bool compare_mxcsr;
};
/* Returns the number of differences; writes a readable report to out (may be NULL). */
struct dt_diff;
int dt_compare(const struct dt_case *c, const struct dt_result *nat,
	       const struct dt_result *eng, const struct dt_cmp_opts *o, char *out, size_t outlen);
/* True if any instruction of the case reads or writes vector state. */
bool dt_case_uses_vec(const struct dt_case *c);
void dt_disasm(const uint8_t *code, uint32_t len, uint64_t va, char *out, size_t outlen);

/* ---- injected bugs (inject.c) ---- */
/* Wraps an engine so one result is corrupted; NULL + err_set() for an unknown name. */
const struct engine_ops *dt_inject_wrap(const struct engine_ops *inner, const char *bug);
const char *dt_inject_names(void);

#endif
