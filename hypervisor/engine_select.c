/* Engine choice. KVM is only worth picking automatically when it is backed by
 * VT-x/AMD-V: emulating KVM modules (kvm_pvm in nested clouds) run guest
 * kernel code instruction by instruction, far slower than the translator. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "error.h"

static bool module_loaded(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

bool kvm_is_hardware(char *why, size_t whylen)
{
	if (access("/dev/kvm", F_OK) < 0) {
		snprintf(why, whylen, "/dev/kvm does not exist");
		return false;
	}
	if (module_loaded("kvm_intel") || module_loaded("kvm_amd")) {
		snprintf(why, whylen, "/dev/kvm is hardware virtualization (%s)",
			 module_loaded("kvm_intel") ? "VT-x" : "AMD-V");
		return true;
	}
	if (module_loaded("kvm_pvm"))
		snprintf(why, whylen, "/dev/kvm is kvm_pvm, which emulates guest kernel code "
			 "(~0.7 us per instruction)");
	else
		snprintf(why, whylen, "/dev/kvm is not backed by kvm_intel or kvm_amd");
	return false;
}

const struct engine_ops *engine_select(const char *name, char *why, size_t whylen)
{
	if (!strcmp(name, "kvm")) {
		snprintf(why, whylen, "requested with --engine kvm");
		return engine_kvm.probe() == 0 ? &engine_kvm : NULL;
	}
	if (!strcmp(name, "bt")) {
		snprintf(why, whylen, "requested with --engine bt");
		return engine_bt.probe() == 0 ? &engine_bt : NULL;
	}
	char hw[160];
	if (kvm_is_hardware(hw, sizeof(hw)) && engine_kvm.probe() == 0) {
		snprintf(why, whylen, "auto: %s", hw);
		return &engine_kvm;
	}
	if (engine_bt.probe() == 0) {
		snprintf(why, whylen, "auto: %s, so the binary translator runs the guest", hw);
		return &engine_bt;
	}
	char bt[512];
	snprintf(bt, sizeof(bt), "%s", err_msg());
	err_set("no fast engine on this host: %s, and %s", hw, bt);
	return NULL;
}
