/* Unit-test registration: each test file lists its cases with UNIT_SUITE and
 * the runner (main.c) adds every suite to the CUnit registry. */
#ifndef VMLITE_UNIT_H
#define VMLITE_UNIT_H

#include <CUnit/CUnit.h>

struct unit_case {
	const char *name;
	CU_TestFunc fn;
};

struct unit_suite {
	const char *name;
	const struct unit_case *cases;
	int ncases;
};

void unit_register(const struct unit_suite *s);
/* Marks the running case as skipped (printed, and not counted as passed). */
void unit_skip(const char *why);

#define UNIT_SUITE(sname, ...) \
	static const struct unit_case sname##_cases[] = { __VA_ARGS__ }; \
	static const struct unit_suite sname##_suite = { #sname, sname##_cases, \
		(int)(sizeof(sname##_cases) / sizeof(sname##_cases[0])) }; \
	static void __attribute__((constructor)) sname##_reg(void) \
	{ unit_register(&sname##_suite); }

#define UNIT_CASE(fn) { #fn, fn }

#endif
