/* vmlite entry point: parse, pick an engine, build the VM, run it, report. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "engine.h"
#include "error.h"
#include "vm.h"

/* A guest that died is reported with its own last console lines, unless the
 * user watched them live on stdio. */
static void report_stop(struct vm *vm)
{
	const char *what = NULL;
	switch (vm->stop_reason) {
	case STOP_PANIC: what = "guest kernel panic"; break;
	case STOP_TRIPLE: what = "guest triple fault"; break;
	case STOP_INTERNAL: what = "internal error"; break;
	case STOP_HALTED: what = "guest halted with interrupts disabled"; break;
	default: return;
	}
	fprintf(stderr, "vmlite: %s (exit status %d)\n", what, vm->exit_status);
	if (vm->cfg->serial != SERIAL_STDIO && (vm->console.count || vm->console.curlen)) {
		fprintf(stderr, "vmlite: last console lines:\n");
		console_log_dump(&vm->console, stderr, 12);
	}
}

static int run(const struct vm_config *cfg)
{
	/* Stop signals stay blocked for the whole run and are taken only by
	 * vm_run()'s sigtimedwait, so one arriving between two boots of a
	 * restart loop is still seen (by the next vm_run) instead of killing us. */
	sigset_t stopset;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGHUP);
	sigprocmask(SIG_BLOCK, &stopset, NULL);

	char why[256] = "";
	const struct engine_ops *eng = engine_select(cfg->engine, why, sizeof(why));
	if (!eng) {
		fprintf(stderr, "vmlite: %s\n", err_msg());
		return VMLITE_EXIT_NOENGINE;
	}
	if (cfg->verbose)
		fprintf(stderr, "vmlite: engine %s: %s\n", eng->name, why);

	for (unsigned boots = 1;; boots++) {
		struct vm vm;
		if (vm_create(&vm, cfg, eng) < 0) {
			fprintf(stderr, "vmlite: %s\n", err_msg());
			return vm.exit_status ? vm.exit_status : VMLITE_EXIT_USAGE;
		}
		int status = vm_run(&vm);
		report_stop(&vm);
		if (cfg->stats) {
			struct vm_stats total;
			vm_stats_total(&vm, &total);
			stats_print(&total, stderr);
			if (vm.vmi.cfg.enabled) {
				struct vmi_stats vt = { 0 };
				for (int i = 0; i < vm.ncpus; i++)
					vmi_stats_add(&vt, &vm.vcpus[i].vmi.stats);
				vmi_stats_print(&vt, stderr);
			}
		}
		bool again = vm.stop_reason == STOP_RESET && cfg->on_reboot_restart;
		vm_destroy(&vm);
		if (vm_signalled())
			return VMLITE_EXIT_SIGNAL;
		if (!again)
			return status;
		if (cfg->verbose)
			fprintf(stderr, "vmlite: guest reset; restarting (boot %u)\n", boots + 1);
	}
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
