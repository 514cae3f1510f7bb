/* What the user asked for, parsed from the command line (cli.c). */
#ifndef VMLITE_CONFIG_H
#define VMLITE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vmi/vmi_host.h"

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

#define CONFIG_MAX_DISKS 4

struct disk_config {
	const char *path;
	bool readonly;
};

struct vm_config {
	const char *engine;             /* "bt", "kvm" or "auto" */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	int cpus;
	enum serial_mode serial;
	const char *serial_path;
	bool stats;
	bool verbose;
	bool on_reboot_restart;         /* --on-reboot restart (default: exit) */
	struct disk_config disks[CONFIG_MAX_DISKS];
	int ndisks;
	struct vmi_config vmi;            /* --vmi on|off, --vmi-version MAJ.MIN */
};

#define CONFIG_DEFAULT_MEM  (256ull << 20)
#define CONFIG_MAX_CPUS     64

void config_defaults(struct vm_config *c);

#endif
