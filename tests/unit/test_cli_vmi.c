/* --vmi on|off and --vmi-version MAJ.MIN. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "unit.h"

static char kernel[64];

#define ARGV(...) (char *[]){ "vmlite", "run", "--kernel", kernel, __VA_ARGS__, NULL }
#define ARGC(...) ((int)(sizeof((const char *[]){ "vmlite", "run", "--kernel", kernel, \
						   __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(c, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), c)

static void make_kernel(void)
{
	if (kernel[0])
		return;
	snprintf(kernel, sizeof(kernel), "/tmp/vmlite-cli-vmi-%d", (int)getpid());
	FILE *f = fopen(kernel, "w");
	fputs("x", f);
	fclose(f);
}

static void expect_error(enum cli_action a, const char *substr)
{
	CU_ASSERT_EQUAL(a, CLI_ERROR);
	if (!strstr(err_msg(), substr)) {
		fprintf(stderr, "\n  message '%s' lacks '%s'\n", err_msg(), substr);
		CU_FAIL("error message does not name the problem");
	}
	CU_ASSERT_PTR_NULL(strchr(err_msg(), '\n'));
}

static void test_vmi_default_on(void)
{
	struct vm_config c;
	char *argv[] = { "vmlite", "run", "--kernel", kernel, NULL };
	make_kernel();
	CU_ASSERT_EQUAL(cli_parse(4, argv, &c), CLI_RUN);
	CU_ASSERT_TRUE(c.vmi.enabled);
	CU_ASSERT_EQUAL(c.vmi.version, VMI_VERSION(VMI_VERSION_MAJOR, VMI_VERSION_MINOR));
	CU_ASSERT_EQUAL(c.vmi.cpuid_base, VMI_CPUID_BASE_FIRST);
}

static void test_vmi_on_off(void)
{
	struct vm_config c;
	make_kernel();
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi", "off"), CLI_RUN);
	CU_ASSERT_FALSE(c.vmi.enabled);
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi", "on"), CLI_RUN);
	CU_ASSERT_TRUE(c.vmi.enabled);
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi=off", "--vmi", "on"), CLI_RUN);
	CU_ASSERT_TRUE(c.vmi.enabled);
	/* --vmi off wins over a version in either order. */
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi", "off", "--vmi-version", "1.0"), CLI_RUN);
	CU_ASSERT_FALSE(c.vmi.enabled);
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi-version", "1.0", "--vmi", "off"), CLI_RUN);
	CU_ASSERT_FALSE(c.vmi.enabled);
}

static void test_vmi_version(void)
{
	struct vm_config c;
	make_kernel();
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi-version", "1.0"), CLI_RUN);
	CU_ASSERT_TRUE(c.vmi.enabled);
	CU_ASSERT_EQUAL(c.vmi.version, VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi-version=1.0"), CLI_RUN);
	CU_ASSERT_EQUAL(c.vmi.version, VMI_VERSION(1, 0));
}

static void test_vmi_kinds(void)
{
	struct vm_config c;
	make_kernel();
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi", "on"), CLI_RUN);
	CU_ASSERT_FALSE(c.vmi.all_calls);
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi-kinds", "calls"), CLI_RUN);
	CU_ASSERT_TRUE(c.vmi.all_calls);
	CU_ASSERT_EQUAL(PARSE(&c, "--vmi-kinds=calls", "--vmi-kinds", "default"), CLI_RUN);
	CU_ASSERT_FALSE(c.vmi.all_calls);
	expect_error(PARSE(&c, "--vmi-kinds", "call"), "--vmi-kinds call: expected default or calls");
}

static void test_vmi_errors(void)
{
	struct vm_config c;
	make_kernel();
	expect_error(PARSE(&c, "--vmi", "yes"), "--vmi yes: expected on or off");
	expect_error(PARSE(&c, "--vmi", ""), "expected on or off");
	expect_error(PARSE(&c, "--vmi-version", "1"), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", "1."), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", ".0"), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", "1.0x"), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", "-1.0"), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", "1.65536"), "expected MAJOR.MINOR");
	expect_error(PARSE(&c, "--vmi-version", "2.0"), "offers VMI 1.0 up to");
	expect_error(PARSE(&c, "--vmi-version", "1.1"), "offers VMI 1.0 up to");
	expect_error(PARSE(&c, "--vmi-version", "0.9"), "offers VMI 1.0 up to");
	expect_error(PARSE(&c, "--vmi-version", "off"), "use --vmi off");
	expect_error(PARSE(&c, "--vmi"), "needs a value");
}

UNIT_SUITE(cli_vmi,
	UNIT_CASE(test_vmi_default_on),
	UNIT_CASE(test_vmi_on_off),
	UNIT_CASE(test_vmi_version),
	UNIT_CASE(test_vmi_kinds),
	UNIT_CASE(test_vmi_errors))
