#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "unit.h"

static char kernel_path[64];

static enum cli_action parse(struct vm_config *c, int argc, const char **argv)
{
	return cli_parse(argc, (char **)argv, c);
}

#define ARGV(...) (const char *[]){ "vmlite", __VA_ARGS__, NULL }
#define ARGC(...) ((int)(sizeof((const char *[]){ "vmlite", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(c, ...) parse(c, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void make_kernel(void)
{
	if (kernel_path[0])
		return;
	snprintf(kernel_path, sizeof(kernel_path), "/tmp/vmlite-cli-test-%d", (int)getpid());
	FILE *f = fopen(kernel_path, "w");
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
}

static void test_cli_full(void)
{
	struct vm_config c;
	make_kernel();
	CU_ASSERT_EQUAL(PARSE(&c, "run", "--engine", "kvm", "--kernel", kernel_path,
			      "--initrd", kernel_path, "--cmdline", "console=ttyS0",
			      "--memory", "512M", "--cpus", "2", "--serial", "file:/tmp/x",
			      "--stats", "-v"), CLI_RUN);
	CU_ASSERT_STRING_EQUAL(c.engine, "kvm");
	CU_ASSERT_STRING_EQUAL(c.kernel, kernel_path);
	CU_ASSERT_STRING_EQUAL(c.cmdline, "console=ttyS0");
	CU_ASSERT_EQUAL(c.mem_size, 512ull << 20);
	CU_ASSERT_EQUAL(c.cpus, 2);
	CU_ASSERT_EQUAL(c.serial, SERIAL_FILE);
	CU_ASSERT_STRING_EQUAL(c.serial_path, "/tmp/x");
	CU_ASSERT_TRUE(c.stats);
	CU_ASSERT_TRUE(c.verbose);
}

static void test_cli_defaults(void)
{
	struct vm_config c;
	make_kernel();
	CU_ASSERT_EQUAL(PARSE(&c, "run", "--kernel", kernel_path), CLI_RUN);
	CU_ASSERT_STRING_EQUAL(c.engine, "auto");
	CU_ASSERT_EQUAL(c.mem_size, CONFIG_DEFAULT_MEM);
	CU_ASSERT_EQUAL(c.cpus, 1);
	CU_ASSERT_EQUAL(c.serial, SERIAL_STDIO);
	CU_ASSERT_FALSE(c.stats);
	CU_ASSERT_EQUAL(PARSE(&c, "run", "--kernel=/dev/null", "--serial=none"), CLI_ERROR);
	CU_ASSERT_EQUAL(PARSE(&c, "--help"), CLI_HELP);
	CU_ASSERT_EQUAL(PARSE(&c, "--version"), CLI_VERSION);
	CU_ASSERT_EQUAL(PARSE(&c, "run", "--help"), CLI_RUN_HELP);
}

static void test_cli_errors(void)
{
	struct vm_config c;
	make_kernel();
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--bogus"), "unknown option --bogus");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "-x"), "unknown option -x");
	expect_error(PARSE(&c, "frobnicate"), "unknown command 'frobnicate'");
	expect_error(PARSE(&c, "--frob"), "unknown option --frob");
	expect_error(PARSE(&c, "run"), "pass --kernel FILE");
	expect_error(PARSE(&c, "run", "--kernel"), "needs a value");
	expect_error(PARSE(&c, "run", "--kernel", "/nonexistent/vmlinuz"), "No such file");
	expect_error(PARSE(&c, "run", "--kernel", "/tmp"), "not a regular file");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--initrd", "/nope"), "--initrd /nope");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--memory", "12Q"), "such as 256M");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--memory", "1M"), "from 2M to 64G");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--memory", "65G"), "from 2M to 64G");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--memory", "4097K"), "multiple of 4K");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--cpus", "0"), "from 1 to");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--cpus", "2x"), "from 1 to");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--engine", "qemu"), "bt, kvm or auto");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--serial", "tcp:1"), "stdio, none or file:PATH");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--serial", "file:"), "stdio, none or file:PATH");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "extra"), "unexpected argument 'extra'");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--stats=1"), "--stats");
}

static void test_cli_unreadable(void)
{
	struct vm_config c;
	if (geteuid() == 0) {
		/* root reads any file, so permission errors cannot be provoked here */
		make_kernel();
		CU_ASSERT_EQUAL(PARSE(&c, "run", "--kernel", kernel_path), CLI_RUN);
		return;
	}
	make_kernel();
	chmod(kernel_path, 0);
	expect_error(PARSE(&c, "run", "--kernel", kernel_path), "not readable");
	chmod(kernel_path, 0644);
}

static void test_cli_disk(void)
{
	struct vm_config c;
	make_kernel();
	char a1[128], a2[128];
	snprintf(a1, sizeof(a1), "path=%s,readonly=on", kernel_path);
	snprintf(a2, sizeof(a2), "%s", kernel_path);
	CU_ASSERT_EQUAL(PARSE(&c, "run", "--kernel", kernel_path, "--disk", a1, "--disk", a2), CLI_RUN);
	CU_ASSERT_EQUAL(c.ndisks, 2);
	CU_ASSERT_STRING_EQUAL(c.disks[0].path, kernel_path);
	CU_ASSERT_TRUE(c.disks[0].readonly);
	CU_ASSERT_FALSE(c.disks[1].readonly);
	snprintf(a1, sizeof(a1), "path=%s,cache=none", kernel_path);
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--disk", a1), "unknown setting 'cache=none'");
	snprintf(a1, sizeof(a1), "readonly=on");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--disk", a1), "no image given");
	snprintf(a1, sizeof(a1), "path=/nonexistent.img");
	expect_error(PARSE(&c, "run", "--kernel", kernel_path, "--disk", a1), "--disk /nonexistent.img");
}

UNIT_SUITE(cli,
	UNIT_CASE(test_cli_disk),
	UNIT_CASE(test_cli_full),
	UNIT_CASE(test_cli_defaults),
	UNIT_CASE(test_cli_errors),
	UNIT_CASE(test_cli_unreadable))
