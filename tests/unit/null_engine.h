#ifndef VMLITE_TEST_NULL_ENGINE_H
#define VMLITE_TEST_NULL_ENGINE_H

#include "vm.h"

extern const struct engine_ops engine_null;
/* A 16 MiB VM with no kernel, serial off, every registered device created. */
int null_vm_create_default(struct vm *vm, struct vm_config *cfg);

#endif
