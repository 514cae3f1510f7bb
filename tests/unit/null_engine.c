/* An engine that runs nothing, so unit tests can build a whole struct vm
 * (memory, buses, every registered device) and drive devices through the bus. */
#include <string.h>

#include "null_engine.h"

static int null_probe(void) { return 0; }
static int null_vm_create(struct vm *vm) { (void)vm; return 0; }
static void null_vm_destroy(struct vm *vm) { (void)vm; }
static int null_vcpu_create(struct vcpu *v) { (void)v; return 0; }
static void null_vcpu_destroy(struct vcpu *v) { (void)v; }

static int null_vcpu_run(struct vcpu *v, struct vcpu_exit *e)
{
	(void)v;
	e->kind = EXIT_INTR;
	return 0;
}

static int null_get_state(struct vcpu *v, struct vcpu_state *st)
{
	(void)v;
	memset(st, 0, sizeof(*st));
	return 0;
}

static int null_set_state(struct vcpu *v, const struct vcpu_state *st)
{
	(void)v;
	(void)st;
	return 0;
}

const struct engine_ops engine_null = {
	.name = "null",
	.probe = null_probe,
	.vm_create = null_vm_create,
	.vm_destroy = null_vm_destroy,
	.vcpu_create = null_vcpu_create,
	.vcpu_destroy = null_vcpu_destroy,
	.vcpu_run = null_vcpu_run,
	.get_state = null_get_state,
	.set_state = null_set_state,
};

int null_vm_create_default(struct vm *vm, struct vm_config *cfg)
{
	config_defaults(cfg);
	cfg->mem_size = 16ull << 20;
	cfg->serial = SERIAL_NONE;
	return vm_create(vm, cfg, &engine_null);
}
