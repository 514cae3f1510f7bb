#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "memory.h"

void config_defaults(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->engine = "auto";
	c->mem_size = CONFIG_DEFAULT_MEM;
	c->cpus = 1;
	c->serial = SERIAL_STDIO;
	vmi_config_default(&c->vmi);
}

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: vmlite <command> [options]\n"
		"\n"
		"commands:\n"
		"  run            boot a guest (see 'vmlite run --help')\n"
		"\n"
		"options:\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n");
}

void cli_run_usage(FILE *out)
{
	fprintf(out,
		"usage: vmlite run --kernel FILE [options]\n"
		"\n"
		"  --engine bt|kvm|auto     how guest code runs (default auto): bt = vmlite's binary\n"
		"                           translator, kvm = /dev/kvm; auto picks kvm only where it\n"
		"                           is VT-x/AMD-V hardware, otherwise bt (--verbose says why)\n"
		"  --kernel FILE            multiboot (ELF32 or a.out kludge), Linux bzImage or ELF64 kernel\n"
		"  --initrd FILE            initial ramdisk (multiboot: module 0)\n"
		"  --cmdline STRING         kernel command line\n"
		"  --memory SIZE            guest RAM, e.g. 256M or 2G (default 256M; 2M..64G)\n"
		"  --cpus N                 number of vCPUs (default 1; 1..%d)\n"
		"  --serial stdio|file:PATH|none\n"
		"                           where COM1 output goes (default stdio; stdin feeds COM1)\n"
		"  --disk path=FILE[,readonly=on]\n"
		"                           raw disk image as a virtio-blk device (repeatable, up to %d)\n"
		"  --on-reboot exit|restart what a guest reboot does (default exit, status 4)\n"
		"  --vmi on|off             offer the VMI paravirtual ABI to the guest (default on;\n"
		"                           off: no VMI CPUID leaves, the VMI MSRs raise #GP)\n"
		"  --vmi-version MAJ.MIN    VMI ABI version offered (default and highest: %u.%u)\n"
		"  --vmi-kinds default|calls\n"
		"                           calls: advise calls for the page-table, CR3 and TSS/TLS\n"
		"                           operations the engine runs cheaper natively (to measure them)\n"
		"  --stats                  print exit and VMI call counters when the guest stops\n"
		"  -v, --verbose            explain engine choice and device activity on stderr\n"
		"  -h, --help               show this help\n"
		"\n"
		"exit status: the guest's debug-exit value v at port 0xf4 gives (v << 1) | 1;\n"
		"  0 guest powered off, 2 bad command line or input, 4 guest reset,\n"
		"  6 triple fault, 8 halted with interrupts disabled, 10 internal error,\n"
		"  12 engine unavailable on this host, 14 guest kernel panic (the last console\n"
		"  lines are printed), 130 interrupted by a signal\n"
		"\n"
		"console: with --serial stdio, keyboard input goes to COM1; Ctrl-A x quits,\n"
		"  Ctrl-A Ctrl-A sends a literal Ctrl-A\n",
		CONFIG_MAX_CPUS, CONFIG_MAX_DISKS, VMI_VERSION_MAJOR, VMI_VERSION_MINOR);
}

static int check_file(const char *flag, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return err_set("%s %s: %s; give the path of an existing file", flag, path,
			       strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set("%s %s: not a regular file; give the path of a kernel or initrd image",
			       flag, path);
	if (access(path, R_OK) < 0)
		return err_set("%s %s: not readable (%s); check its permissions", flag, path,
			       strerror(errno));
	return 0;
}

static int parse_serial(const char *v, struct vm_config *cfg)
{
	if (!strcmp(v, "stdio")) {
		cfg->serial = SERIAL_STDIO;
	} else if (!strcmp(v, "none")) {
		cfg->serial = SERIAL_NONE;
	} else if (!strncmp(v, "file:", 5) && v[5]) {
		cfg->serial = SERIAL_FILE;
		cfg->serial_path = v + 5;
	} else {
		return err_set("--serial %s: expected stdio, none or file:PATH", v);
	}
	return 0;
}

static int parse_cpus(const char *v, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 1 || n > CONFIG_MAX_CPUS)
		return err_set("--cpus %s: expected a number from 1 to %d", v, CONFIG_MAX_CPUS);
	*out = (int)n;
	return 0;
}

enum opt_id { OPT_ENGINE = 256, OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY,
	      OPT_CPUS, OPT_SERIAL, OPT_STATS, OPT_DISK, OPT_ON_REBOOT, OPT_VMI,
	      OPT_VMI_VERSION, OPT_VMI_KINDS };

/* "path=FILE[,readonly=on|off]" or a bare FILE. Splits in place: argv is ours. */
static int parse_disk(char *v, struct vm_config *cfg)
{
	if (cfg->ndisks == CONFIG_MAX_DISKS)
		return err_set("--disk: at most %d disks", CONFIG_MAX_DISKS);
	struct disk_config *d = &cfg->disks[cfg->ndisks];
	*d = (struct disk_config){ 0 };
	char *save = NULL;
	for (char *kv = strtok_r(v, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (!strncmp(kv, "path=", 5) && kv[5])
			d->path = kv + 5;
		else if (!strcmp(kv, "readonly=on"))
			d->readonly = true;
		else if (!strcmp(kv, "readonly=off"))
			d->readonly = false;
		else if (!strchr(kv, '=') && !d->path)
			d->path = kv;
		else
			return err_set("--disk: unknown setting '%s'; expected path=FILE[,readonly=on]", kv);
	}
	if (!d->path)
		return err_set("--disk: no image given; expected path=FILE[,readonly=on]");
	if (check_file("--disk", d->path) < 0)
		return -1;
	cfg->ndisks++;
	return 0;
}

/* The version and on/off are independent settings: "--vmi off" wins over
 * any --vmi-version, in either order, so a script can append "--vmi off". */
static int parse_vmi_version(const char *arg, struct vmi_config *vmi)
{
	bool enabled = vmi->enabled;
	if (!strcmp(arg, "off"))
		return err_set("--vmi-version off: use --vmi off to remove the ABI, or give "
			       "MAJOR.MINOR such as 1.0");
	if (vmi_config_parse_version(vmi, arg) < 0)
		return -1;
	vmi->enabled = enabled;
	return 0;
}

static const struct option run_opts[] = {
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "vmi", required_argument, NULL, OPT_VMI },
	{ "vmi-version", required_argument, NULL, OPT_VMI_VERSION },
	{ "vmi-kinds", required_argument, NULL, OPT_VMI_KINDS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(int c, const char *arg, struct vm_config *cfg)
{
	switch (c) {
	case OPT_ENGINE:
		if (strcmp(arg, "bt") && strcmp(arg, "kvm") && strcmp(arg, "auto"))
			return err_set("--engine %s: expected bt, kvm or auto", arg);
		cfg->engine = arg;
		return 0;
	case OPT_KERNEL: cfg->kernel = arg; return 0;
	case OPT_INITRD: cfg->initrd = arg; return 0;
	case OPT_CMDLINE: cfg->cmdline = arg; return 0;
	case OPT_MEMORY:
		if (size_parse(arg, &cfg->mem_size) < 0)
			return err_set("--memory %s: expected a size such as 256M or 2G", arg);
		if (cfg->mem_size < MEM_MIN_SIZE || cfg->mem_size > MEM_MAX_SIZE)
			return err_set("--memory %s: out of range; use a size from 2M to 64G", arg);
		if (cfg->mem_size & 0xfff)
			return err_set("--memory %s: not a multiple of 4K; use e.g. 256M", arg);
		return 0;
	case OPT_CPUS: return parse_cpus(arg, &cfg->cpus);
	case OPT_SERIAL: return parse_serial(arg, cfg);
	case OPT_STATS: cfg->stats = true; return 0;
	case OPT_DISK: return parse_disk((char *)arg, cfg);
	case OPT_ON_REBOOT:
		if (strcmp(arg, "exit") && strcmp(arg, "restart"))
			return err_set("--on-reboot %s: expected exit or restart", arg);
		cfg->on_reboot_restart = !strcmp(arg, "restart");
		return 0;
	case OPT_VMI:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return err_set("--vmi %s: expected on or off", arg);
		cfg->vmi.enabled = !strcmp(arg, "on");
		return 0;
	case OPT_VMI_VERSION: return parse_vmi_version(arg, &cfg->vmi);
	case OPT_VMI_KINDS:
		if (strcmp(arg, "default") && strcmp(arg, "calls"))
			return err_set("--vmi-kinds %s: expected default or calls", arg);
		cfg->vmi.all_calls = !strcmp(arg, "calls");
		return 0;
	case 'v': cfg->verbose = true; return 0;
	default: return err_set("internal: unhandled option %d", c);
	}
}

static enum cli_action parse_run(int argc, char **argv, struct vm_config *cfg)
{
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hv", run_opts, NULL)) != -1) {
		if (c == 'h')
			return CLI_RUN_HELP;
		if (c == '?') {
			const char *bad = argv[optind - 1];
			if (!strncmp(bad, "--", 2) && strchr(bad, '='))
				err_set("option %s is unknown or takes no value; see 'vmlite run --help'", bad);
			else if (!strncmp(bad, "--", 2) || !optopt || optopt > 127)
				err_set("unknown option %s; see 'vmlite run --help'", bad);
			else
				err_set("unknown option -%c; see 'vmlite run --help'", optopt);
			return CLI_ERROR;
		}
		if (c == ':') {
			err_set("option %s needs a value; see 'vmlite run --help'", argv[optind - 1]);
			return CLI_ERROR;
		}
		if (parse_one(c, optarg, cfg) < 0)
			return CLI_ERROR;
	}
	if (optind < argc) {
		err_set("unexpected argument '%s'; see 'vmlite run --help'", argv[optind]);
		return CLI_ERROR;
	}
	if (!cfg->kernel) {
		err_set("no kernel given; pass --kernel FILE (see 'vmlite run --help')");
		return CLI_ERROR;
	}
	if (check_file("--kernel", cfg->kernel) < 0)
		return CLI_ERROR;
	if (cfg->initrd && check_file("--initrd", cfg->initrd) < 0)
		return CLI_ERROR;
	return CLI_RUN;
}

enum cli_action cli_parse(int argc, char **argv, struct vm_config *cfg)
{
	config_defaults(cfg);
	if (argc < 2) {
		err_set("no command given; try 'vmlite run --kernel FILE' or 'vmlite --help'");
		return CLI_ERROR;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		return CLI_HELP;
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
		return CLI_VERSION;
	if (!strcmp(cmd, "run"))
		return parse_run(argc - 1, argv + 1, cfg);
	if (cmd[0] == '-')
		err_set("unknown option %s; see 'vmlite --help'", cmd);
	else
		err_set("unknown command '%s'; the command is 'run' (see 'vmlite --help')", cmd);
	return CLI_ERROR;
}
