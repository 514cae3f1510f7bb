/* The guest's way to end a test run with a status: a write of v to port 0xf4
 * stops the VM and the process exits with (v << 1) | 1, as QEMU's
 * isa-debug-exit (iobase=0xf4, iosize=4). The process exit status has only
 * eight bits, so v above 127 wraps: v=128 gives 1, v=0x2a gives 85. The
 * status is always odd, which keeps it apart from vmlite's own (even) ones. */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "error.h"
#include "vm.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_LEN  4

struct debug_exit {
	struct vm *vm;
};

static void debug_exit_io(void *opaque, uint64_t off, unsigned size, bool is_write,
			  uint8_t *data)
{
	struct debug_exit *d = opaque;
	(void)off;      /* any port of the range, any width: the value is what counts */
	if (!is_write) {
		memset(data, 0xff, size);       /* nothing to read: the bus floats */
		return;
	}
	uint32_t v = 0;
	memcpy(&v, data, size < 4 ? size : 4);
	vm_request_stop(d->vm, STOP_DEBUG_EXIT, (int)(((v << 1) | 1) & 0xff));
}

static int debug_exit_init(struct vm *vm)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	if (!d)
		return err_set("out of memory");
	d->vm = vm;
	if (bus_register(&vm->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_LEN, debug_exit_io, d,
			 "debug-exit") < 0) {
		free(d);
		return -1;
	}
	vm->devices[DEV_DEBUG_EXIT] = d;
	return 0;
}

static void debug_exit_destroy(struct vm *vm)
{
	free(vm->devices[DEV_DEBUG_EXIT]);
	vm->devices[DEV_DEBUG_EXIT] = NULL;
}

static const struct device_ops debug_exit_ops = {
	.name = "debug-exit",
	.order = 10,
	.init = debug_exit_init,
	.destroy = debug_exit_destroy,
};
DEVICE_REGISTER(debug_exit_ops)
