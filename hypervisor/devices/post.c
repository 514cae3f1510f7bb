/* Port 0x80: the POST code register that firmware and test guests write
 * progress codes to, and the "dummy" port Linux writes to for I/O delays
 * (outb_p). Reads return the last value written, so a guest can check it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "error.h"
#include "vm.h"

#define POST_PORT       0x80
/* Linux's io_delay writes make the port busy; --verbose logs only this many. */
#define POST_LOG_MAX    64

struct post {
	struct vm *vm;
	uint8_t code;
	uint64_t writes;
};

static void post_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct post *p = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0xff, size);
		data[0] = p->code;
		return;
	}
	p->code = data[0];
	p->writes++;
	if (p->vm->cfg->verbose && p->writes <= POST_LOG_MAX)
		fprintf(stderr, "vmlite: POST code 0x%02x%s\n", p->code,
			p->writes == POST_LOG_MAX ? " (further POST writes not logged)" : "");
}

static int post_init(struct vm *vm)
{
	struct post *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set("out of memory");
	p->vm = vm;
	if (bus_register(&vm->pio, POST_PORT, 1, post_io, p, "post") < 0) {
		free(p);
		return -1;
	}
	vm->devices[DEV_POST] = p;
	return 0;
}

static void post_destroy(struct vm *vm)
{
	free(vm->devices[DEV_POST]);
	vm->devices[DEV_POST] = NULL;
}

static const struct device_ops post_ops = {
	.name = "post",
	.order = 10,
	.init = post_init,
	.destroy = post_destroy,
};
DEVICE_REGISTER(post_ops)
