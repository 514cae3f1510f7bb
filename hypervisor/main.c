/* vmlite entry point: parse, pick an engine, build the VM, run it, report. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "engine.h"
#include "error.h"
#include "vm.h"

static int run(const struct vm_config *cfg)
{
	char why[256] = "";
	const struct engine_ops *eng = engine_select(cfg->engine, why, sizeof(why));
	if (!eng) {
		fprintf(stderr, "vmlite: %s\n", err_msg());
		return VMLITE_EXIT_NOENGINE;
	}
	if (cfg->verbose)
		fprintf(stderr, "vmlite: engine %s: %s\n", eng->name, why);

	struct vm vm;
	if (vm_create(&vm, cfg, eng) < 0) {
		fprintf(stderr, "vmlite: %s\n", err_msg());
		return vm.exit_status ? vm.exit_status : VMLITE_EXIT_USAGE;
	}
	int status = vm_run(&vm);
	if (cfg->stats) {
		struct vm_stats total;
		vm_stats_total(&vm, &total);
		stats_print(&total, stderr);
	}
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	switch (cli_parse(argc, argv, &cfg)) {
	case CLI_HELP:
		cli_usage(stdout);
		return 0;
	case CLI_RUN_HELP:
		cli_run_usage(stdout);
		return 0;
	case CLI_VERSION:
		printf("vmlite %s\n", VMLITE_VERSION);
		return 0;
	case CLI_ERROR:
		fprintf(stderr, "vmlite: %s\n", err_msg());
		fprintf(stderr, "usage: vmlite run --kernel FILE [--engine bt|kvm|auto] [--memory SIZE] ...\n");
		return VMLITE_EXIT_USAGE;
	case CLI_RUN:
		break;
	}
	return run(&cfg);
}
