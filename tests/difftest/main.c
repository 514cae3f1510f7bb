/* build/difftest: runs generated and curated instruction sequences natively
 * and through an engine, compares the final states and reports mismatches.
 * Ends with "difftest: N passed, N failed". */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difftest.h"
#include "guest_layout.h"
#include "engine.h"
#include "error.h"
#include "vm.h"

struct counts {
	uint64_t pass, fail, skip, waived;
	uint64_t completed;             /* native ran to the trailer (no fault) */
	uint64_t vectors[32];
};

/* kvm_pvm (an emulating KVM) intercepts #GP/#SS raised by guest user code
 * and re-runs the instruction in KVM's emulator, which reports #UD for
 * instructions it cannot decode (SSE/AVX) and orders faults differently;
 * it also fails on user mode with a non-canonical RSP. Those are
 * defects of that host module, not of the code under test. */
static const char *kvm_pvm_waiver(const struct dt_case *c, const struct dt_result *n)
{
	uint64_t rsp = c->init.gpr[4], end = n->cpu.gpr[4];
	if ((uint64_t)((int64_t)(rsp << 16) >> 16) != rsp ||
	    (uint64_t)((int64_t)(end << 16) >> 16) != end)
		return "kvm_pvm cannot run user mode or take an exception with a non-canonical RSP";
	if (n->vector == 13 || n->vector == 12)
		return "kvm_pvm re-emulates user #GP/#SS with KVM's emulator";
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: difftest [options]\n"
		"  --engine bt|kvm     engine to test (default bt); 'native' runs the host\n"
		"                      against itself to check the generator's determinism\n"
		"  --cases N           number of cases (default 10000)\n"
		"  --seed S            master seed (default 1); case i is reproducible alone\n"
		"  --category C        only this category: alu shift muldiv bit mov stack string\n"
		"                      branch sse avx mem mixed group curated (default: a weighted mix)\n"
		"  --only I            run only case I (with the same seed) and show it in full\n"
		"  --hex 'BYTES[|r=v,..]'  run these instruction bytes (random state per case,\n"
		"                      memory operands steered, then the given registers set)\n"
		"  --inject-bug[=B]    wrap the engine with a deliberate bug (default cf-adc):\n"
		"                      %s\n"
		"  --cpl0              run test code at CPL0 instead of CPL3\n"
		"  --no-avx            do not carry/compare ymm upper halves\n"
		"  --no-vec            no x87/SSE/AVX state at all (guest stubs avoid FXSAVE)\n"
		"  --vec-moves         guest stubs move xmm with movdqu/ldmxcsr, not FXSAVE\n"
		"  --lax-undefined     ignore flags the SDM leaves undefined\n"
		"  --lax-fault-flags   ignore status flags when a case faults (the translator's\n"
		"                      default mode may leave its probe's flags in the frame)\n"
		"  --strict            no waivers for known kvm_pvm emulator defects\n"
		"  --fresh-vm          a new VM for every case (automatic for engines without\n"
		"                      the mem_written op, which cannot see rewritten code)\n"
		"  --timeout MS        per-case time limit (default 2000)\n"
		"  --show K            print at most K mismatches in full (default 10)\n"
		"  --verbose           print every case\n"
		"  --quiet             only the per-category table and the last line\n",
		dt_inject_names());
}

static uint64_t case_seed(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 1;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *hex_spec;

static int make_case(uint64_t seed, uint64_t i, int cat, struct dt_case *c)
{
	if (hex_spec)
		return dt_hex_case(hex_spec, case_seed(seed, i), c);
	if (cat == CAT_CURATED) {
		int n = dt_curated_count();
		return dt_curated_case((int)(i % (uint64_t)n), case_seed(seed, i), c);
	}
	struct dt_gen *g = dt_gen_new(case_seed(seed, i));
	if (!g)
		return -1;
	int rc = dt_gen_case(g, cat, c);
	dt_gen_free(g);
	return rc;
}

static void print_case(FILE *f, const struct dt_case *c)
{
	char dis[4096];
	dt_disasm(c->code, c->code_len, DT_CODE_VA + c->code_off, dis, sizeof(dis));
	fputs(dis, f);
	static const char *const n[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	fprintf(f, "  initial:");
	for (int i = 0; i < 16; i++)
		fprintf(f, "%s%s=%llx", i % 4 ? " " : "\n    ", n[i], (unsigned long long)c->init.gpr[i]);
	fprintf(f, "\n    rflags=%llx mxcsr=%x data_seed=%llx\n",
		(unsigned long long)c->init.rflags, c->init.mxcsr, (unsigned long long)c->data_seed);
}

static int run_self_check(uint64_t ncases, uint64_t seed, int cat, bool quiet)
{
	struct dt_native *a = dt_native_start(), *b = a ? dt_native_start() : NULL;
	if (!a || !b) {
		fprintf(stderr, "difftest: native runner: %s\n", err_msg());
		dt_native_stop(a);
		return VMLITE_EXIT_INTERNAL;
	}
	static struct dt_case c;
	static struct dt_result ra, rb;
	struct dt_cmp_opts opt = { .compare_vec = true, .compare_ymm = dt_host_has_avx(),
				   .compare_mxcsr = true };
	uint64_t pass = 0, failed = 0, shown = 0;
	for (uint64_t i = 0; i < ncases; i++) {
		if (make_case(seed, i, cat, &c) < 0)
			continue;
		if (dt_native_run(a, &c, &ra) < 0 || dt_native_run(b, &c, &rb) < 0)
			break;
		if (ra.status != DT_EXCEPTION)
			continue;
		char report[8192];
		if (!dt_compare(&c, &ra, &rb, &opt, report, sizeof(report))) {
			pass++;
			continue;
		}
		failed++;
		if (shown++ < 10 && !quiet) {
			printf("NONDETERMINISTIC case %llu [%s]\n", (unsigned long long)i, dt_cat_name(c.cat));
			print_case(stdout, &c);
			fputs(report, stdout);
		}
	}
	printf("difftest: %llu passed, %llu failed\n", (unsigned long long)pass, (unsigned long long)failed);
	dt_native_stop(a);
	dt_native_stop(b);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *engine_name = "bt";
	uint64_t ncases = 10000, seed = 1;
	int cat = -1;
	long long only = -1;
	const char *bug = NULL;
	bool cpl0 = false, no_avx = false, verbose = false, quiet = false, strict = false;
	bool fresh = false, no_vec = false, vec_moves = false;
	struct dt_cmp_opts opt = { .lax_undefined = false, .compare_vec = true, .compare_ymm = true,
				   .compare_mxcsr = true };
	int timeout_ms = 2000, show = 10;
	static const struct option lo[] = {
		{ "engine", required_argument, 0, 'e' }, { "cases", required_argument, 0, 'n' },
		{ "seed", required_argument, 0, 's' }, { "category", required_argument, 0, 'c' },
		{ "only", required_argument, 0, 'o' }, { "inject-bug", optional_argument, 0, 'b' },
		{ "cpl0", no_argument, 0, '0' }, { "no-avx", no_argument, 0, 'a' },
		{ "lax-undefined", no_argument, 0, 'u' }, { "lax-fault-flags", no_argument, 0, 'L' }, { "timeout", required_argument, 0, 't' },
		{ "show", required_argument, 0, 'k' }, { "verbose", no_argument, 0, 'v' },
		{ "quiet", no_argument, 0, 'q' }, { "strict", no_argument, 0, 'S' },
		{ "fresh-vm", no_argument, 0, 'F' }, { "no-vec", no_argument, 0, 'V' },
		{ "hex", required_argument, 0, 'x' }, { "vec-moves", no_argument, 0, 'M' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'e': engine_name = optarg; break;
		case 'n': ncases = strtoull(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'c':
			if (strcmp(optarg, "all")) {
				cat = dt_cat_parse(optarg);
				if (cat < 0) {
					fprintf(stderr, "difftest: unknown category '%s'\n", optarg);
					usage(stderr);
					return VMLITE_EXIT_USAGE;
				}
			}
			break;
		case 'o': only = strtoll(optarg, NULL, 0); break;
		case 'b': bug = optarg ? optarg : "cf-adc"; break;
		case '0': cpl0 = true; break;
		case 'a': no_avx = true; break;
		case 'u': opt.lax_undefined = true; break;
		case 'L': opt.lax_fault_flags = true; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'k': show = atoi(optarg); break;
		case 'v': verbose = true; break;
		case 'q': quiet = true; break;
		case 'S': strict = true; break;
		case 'F': fresh = true; break;
		case 'V': no_vec = true; break;
		case 'x': hex_spec = optarg; break;
		case 'M': vec_moves = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return VMLITE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return VMLITE_EXIT_USAGE;
	}

	if (bug && !strncmp(bug, "env:", 4)) {
		/* Bugs the translator itself plants (see the report). */
		setenv("VMLITE_BT_INJECT_BUG", bug + 4, 1);
		bug = NULL;
	}
	/* "native": the host against itself, to find nondeterminism that slipped
	 * past the generator's deny list (no engine involved). */
	bool self = !strcmp(engine_name, "native");
	if (self)
		return run_self_check(ncases, seed, cat, quiet);
	char why[256];
	const struct engine_ops *eng = engine_select(engine_name, why, sizeof(why));
	if (!eng) {
		fprintf(stderr, "difftest: %s\n", err_msg());
		bool known = !strcmp(engine_name, "bt") || !strcmp(engine_name, "kvm") ||
			     !strcmp(engine_name, "auto");
		return known ? VMLITE_EXIT_NOENGINE : VMLITE_EXIT_USAGE;
	}
	if (bug) {
		eng = dt_inject_wrap(eng, bug);
		if (!eng) {
			fprintf(stderr, "difftest: %s\n", err_msg());
			return VMLITE_EXIT_USAGE;
		}
		printf("difftest: injected bug '%s' into engine %s\n", bug, engine_name);
	}
	struct dt_native *nat = dt_native_start();
	if (!nat) {
		fprintf(stderr, "difftest: native runner: %s\n", err_msg());
		return VMLITE_EXIT_INTERNAL;
	}
	struct dt_guest *gst = dt_guest_start_ex(eng, !cpl0, !no_avx && !no_vec,
						   no_vec ? DT_VEC_NONE : vec_moves ? DT_VEC_MOVDQU : DT_VEC_FX);
	if (!gst) {
		fprintf(stderr, "difftest: engine %s: %s\n", engine_name, err_msg());
		dt_native_stop(nat);
		return VMLITE_EXIT_NOENGINE;
	}
	dt_guest_set_timeout(gst, timeout_ms);
	if (fresh)
		dt_guest_set_fresh(gst, true);
	opt.compare_ymm = dt_guest_has_avx(gst);
	opt.compare_vec = dt_guest_has_vec(gst);
	opt.compare_mxcsr = dt_guest_has_mxcsr(gst);
	no_vec = !opt.compare_vec;
	char hwwhy[200];
	bool pvm = !strcmp(eng->name, "kvm") && !kvm_is_hardware(hwwhy, sizeof(hwwhy)) && !strict;
	if (!quiet)
		printf("difftest: engine %s, %s, seed %llu, %s; ymm %s%s\n", engine_name,
		       cpl0 ? "CPL0" : "CPL3", (unsigned long long)seed,
		       cat < 0 ? "all categories" : dt_cat_name(cat),
		       opt.compare_ymm ? "compared" : "not compared",
		       dt_guest_fresh_vms(gst) ? "; a fresh VM per case" : "");

	static struct dt_case c;
	static struct dt_result rn, re;
	struct counts per[CAT_COUNT];
	memset(per, 0, sizeof(per));
	uint64_t pass = 0, failed = 0, skipped = 0, genfail = 0, shown = 0, waived = 0, undef_only = 0;
	const char *waiver_seen[4] = { 0 };
	uint64_t first = only >= 0 ? (uint64_t)only : 0;
	uint64_t last = only >= 0 ? (uint64_t)only + 1 : ncases;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 0;
	for (uint64_t i = first; i < last; i++) {
		int made = -1;
		/* Without vector state, cases touching it are replaced by others
		 * (drawn deterministically, so --only still reproduces). */
		for (uint64_t alt = 0; alt < 64; alt++) {
			made = make_case(seed, i + (alt << 40), cat, &c);
			if (made < 0 || !no_vec || !dt_case_uses_vec(&c))
				break;
			made = -1;
			err_set("no case without vector instructions in this category");
		}
		if (made < 0) {
			if (genfail++ < 3)
				fprintf(stderr, "difftest: case %llu: %s\n", (unsigned long long)i, err_msg());
			continue;
		}
		c.id = i;
		if (!opt.compare_mxcsr)
			c.init.mxcsr = 0x1f80;  /* the guest cannot load it */
		if (dt_native_run(nat, &c, &rn) < 0 ||
		    (rn.status == DT_EXCEPTION && dt_guest_run(gst, &c, &re) < 0)) {
			fprintf(stderr, "difftest: case %llu: %s\n", (unsigned long long)i, err_msg());
			rc = VMLITE_EXIT_INTERNAL;
			break;
		}
		struct counts *k = &per[c.cat];
		if (rn.status == DT_EXCEPTION && rn.vector == 14 && rn.cr2 >= G_USER_VA &&
		    rn.cr2 < G_USER_VA + 0x2000) {
			/* The case reached the guest's helper pages, which exist
			 * only in the guest: the two runs are not comparable. */
			k->skip++;
			skipped++;
			if (verbose)
				printf("SKIP case %llu [%s]: touches the guest-only helper pages\n",
				       (unsigned long long)i, dt_cat_name(c.cat));
			continue;
		}
		uint64_t at = rn.cpu.rip - DT_CODE_VA - c.code_off;
		if (rn.status == DT_EXCEPTION && rn.vector == 1 && at < c.code_len &&
		    c.code[at] == 0xf1) {
			/* INT1: this host (a cloud VM) reports its #DB with RIP at
			 * the INT1; the SDM and the engines put it after. */
			k->skip++;
			skipped++;
			if (verbose)
				printf("SKIP case %llu [%s]: INT1, reported at the instruction by this host\n",
				       (unsigned long long)i, dt_cat_name(c.cat));
			continue;
		}
		if (rn.status != DT_EXCEPTION) {
			/* The oracle itself did not produce a state (e.g. a syscall
			 * reached by a jump into an instruction's middle). */
			k->skip++;
			skipped++;
			if (verbose)
				printf("SKIP case %llu [%s]: native %s\n", (unsigned long long)i,
				       dt_cat_name(c.cat), rn.why);
			continue;
		}
		if (rn.vector == 3 && rn.cpu.rip == dt_case_end(&c))
			k->completed++;
		else if (rn.vector >= 0 && rn.vector < 32)
			k->vectors[rn.vector]++;
		char report[8192];
		int d = dt_compare(&c, &rn, &re, &opt, report, sizeof(report));
		if (!d) {
			k->pass++;
			pass++;
			if (verbose || only >= 0) {
				printf("PASS case %llu [%s]%s%s\n", (unsigned long long)i, dt_cat_name(c.cat),
				       c.note[0] ? " " : "", c.note);
				print_case(stdout, &c);
			}
			continue;
		}
		const char *w = pvm ? kvm_pvm_waiver(&c, &rn) : NULL;
		if (w) {
			k->waived++;
			waived++;
			for (int j = 0; j < 4; j++) {
				if (waiver_seen[j] == w)
					break;
				if (!waiver_seen[j]) {
					waiver_seen[j] = w;
					if (!quiet) {
						printf("WAIVED case %llu [%s] (first of its kind): %s\n",
						       (unsigned long long)i, dt_cat_name(c.cat), w);
						print_case(stdout, &c);
						fputs(report, stdout);
					}
					break;
				}
			}
			continue;
		}
		k->fail++;
		failed++;
		if (!opt.lax_undefined) {
			struct dt_cmp_opts lax = opt;
			lax.lax_undefined = true;
			if (!dt_compare(&c, &rn, &re, &lax, NULL, 0))
				undef_only++;
		}
		if (shown < (uint64_t)show || only >= 0) {
			shown++;
			printf("FAIL case %llu [%s]%s%s\n", (unsigned long long)i, dt_cat_name(c.cat),
			       c.note[0] ? " " : "", c.note);
			print_case(stdout, &c);
			fputs(report, stdout);
			printf("  reproduce: build/difftest --engine %s --seed %llu%s%s --only %llu%s%s%s%s%s%s%s\n",
			       engine_name, (unsigned long long)seed, cat >= 0 ? " --category " : "",
			       cat >= 0 ? dt_cat_name(cat) : "", (unsigned long long)i,
			       cpl0 ? " --cpl0" : "", no_vec ? " --no-vec" : no_avx ? " --no-avx" : "",
			       bug ? " --inject-bug=" : "", bug ? bug : "",
			       hex_spec ? " --hex '" : "", hex_spec ? hex_spec : "", hex_spec ? "'" : "");
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%-9s %9s %9s %9s %9s  %s\n", "category", "passed", "failed", "skipped", "waived",
	       "native outcome: ran to the end / faults");
	for (int i = 0; i < CAT_COUNT; i++) {
		if (!per[i].pass && !per[i].fail && !per[i].skip && !per[i].waived)
			continue;
		printf("%-9s %9llu %9llu %9llu %9llu  %llu", dt_cat_name((enum dt_cat)i),
		       (unsigned long long)per[i].pass, (unsigned long long)per[i].fail,
		       (unsigned long long)per[i].skip, (unsigned long long)per[i].waived,
		       (unsigned long long)per[i].completed);
		for (int v = 0; v < 32; v++)
			if (per[i].vectors[v])
				printf(" %s:%llu", dt_vector_name(v), (unsigned long long)per[i].vectors[v]);
		printf("\n");
	}
	if (waived)
		printf("difftest: %llu mismatches waived as known kvm_pvm defects (--strict counts them)\n",
		       (unsigned long long)waived);
	if (skipped)
		printf("difftest: %llu cases skipped: the native run gave no CPU state, or the case\n"
		       "          reached the guest-only helper pages at 0x7f000000, or hit INT1 (see main.c)\n",
		       (unsigned long long)skipped);
	if (undef_only)
		printf("difftest: %llu of the failures differ only in flags the SDM leaves undefined "
		       "(--lax-undefined ignores those)\n", (unsigned long long)undef_only);
	if (genfail)
		printf("difftest: %llu cases could not be generated\n", (unsigned long long)genfail);
	if (!quiet)
		printf("difftest: %.1f s, %.1f us per case\n", secs,
		       (pass + failed + skipped) ? secs * 1e6 / (double)(pass + failed + skipped) : 0.0);
	printf("difftest: %llu passed, %llu failed\n", (unsigned long long)pass,
	       (unsigned long long)failed);
	dt_guest_stop(gst);
	dt_native_stop(nat);
	if (rc)
		return rc;
	return failed ? 1 : 0;
}
