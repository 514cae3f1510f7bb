#include "device.h"

#include "error.h"
#include "vm.h"

#define DEVICE_MAX 32

static const struct device_ops *device_table[DEVICE_MAX];
static int device_count;

void device_register(const struct device_ops *ops)
{
	if (device_count == DEVICE_MAX)
		return;         /* a build with more devices than this is a programming error */
	int i = device_count++;
	while (i > 0 && device_table[i - 1]->order > ops->order) {
		device_table[i] = device_table[i - 1];
		i--;
	}
	device_table[i] = ops;
}

int devices_init(struct vm *vm)
{
	for (int i = 0; i < device_count; i++) {
		if (device_table[i]->init(vm) < 0) {
			err_wrap("device %s", device_table[i]->name);
			while (--i >= 0)
				if (device_table[i]->destroy)
					device_table[i]->destroy(vm);
			return -1;
		}
	}
	return 0;
}

void devices_destroy(struct vm *vm)
{
	for (int i = device_count - 1; i >= 0; i--)
		if (device_table[i]->destroy)
			device_table[i]->destroy(vm);
}
