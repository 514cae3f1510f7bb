/* CUnit runner for every suite registered with UNIT_SUITE. Prints CUnit's own
 * summary and then the project's closing line "N passed, N failed". */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#define MAX_SUITES 64

static const struct unit_suite *suites[MAX_SUITES];
static int nsuites;
static unsigned nskipped;

void unit_skip(const char *why)
{
	printf("\n  SKIP: %s\n", why);
	nskipped++;
}

void unit_register(const struct unit_suite *s)
{
	if (nsuites < MAX_SUITES)
		suites[nsuites++] = s;
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (int i = 0; i < nsuites; i++) {
		if (only && strcmp(only, suites[i]->name))
			continue;
		CU_pSuite s = CU_add_suite(suites[i]->name, NULL, NULL);
		for (int j = 0; j < suites[i]->ncases; j++)
			CU_add_test(s, suites[i]->cases[j].name, suites[i]->cases[j].fn);
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned run = CU_get_number_of_tests_run();
	unsigned failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	printf("unit: %u passed, %u failed, %u skipped\n", run - failed - nskipped, failed,
	       nskipped);
	return failed ? 1 : 0;
}
