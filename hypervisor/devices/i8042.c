/* The i8042 keyboard controller, enough for Linux's i8042 probe to finish
 * quickly and for the classic reset: a keyboard port with a minimal keyboard
 * that acknowledges its commands, no AUX (mouse) port, the command byte, the
 * output port with A20, and the reset line.
 *
 * No AUX port: Linux tests for one with AUX_LOOP (0xd3). Answering it as
 * keyboard data (AUXDATA clear) and AUX_TEST (0xa9) with "clock line stuck"
 * makes Linux decide at once that there is none, instead of waiting out its
 * half-second timeouts on commands a controller silently ignores. */
#include "i8042.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "error.h"
#include "vm.h"

#define I8042_DATA      0x60
#define I8042_CMD       0x64

/* Status register. */
#define STR_OBF         0x01    /* output buffer full: a byte waits at 0x60 */
#define STR_IBF         0x02    /* input buffer full: never, we act at once */
#define STR_SYS         0x04    /* system flag: self test passed */
#define STR_CMD         0x08    /* last write went to 0x64 */
#define STR_UNLOCKED    0x10    /* keyboard not inhibited by the keylock */

/* Command byte (controller RAM byte 0). */
#define CTR_KBDINT      0x01
#define CTR_SYS         0x04
#define CTR_KBDDIS      0x10
#define CTR_AUXDIS      0x20
#define CTR_XLATE       0x40

/* Output port. */
#define OUT_RESET       0x01    /* active low: clearing it resets the CPU */
#define OUT_A20         0x02

#define QUEUE_SIZE      16

struct i8042 {
	struct vm *vm;
	uint8_t ram[32];                /* ram[0] is the command byte */
	uint8_t status;
	uint8_t outport;
	uint8_t pending;                /* controller command waiting for its data byte */
	uint8_t kbd_pending;            /* keyboard command waiting for its argument */
	uint8_t queue[QUEUE_SIZE];
	unsigned qhead, qcount;
	uint8_t last;
	void (*irq)(void *opaque, int level);
	void *irq_opaque;
	int irq_line;
};

static void i8042_update_irq(struct i8042 *k)
{
	int level = k->qcount && (k->ram[0] & CTR_KBDINT);
	if (level == k->irq_line)
		return;
	k->irq_line = level;
	if (k->irq)
		k->irq(k->irq_opaque, level);
}

static void i8042_queue(struct i8042 *k, uint8_t b)
{
	if (k->qcount == QUEUE_SIZE)
		return;         /* a guest that never reads loses the newest bytes */
	k->queue[(k->qhead + k->qcount++) % QUEUE_SIZE] = b;
}

static void i8042_reset_line(struct i8042 *k)
{
	vm_request_stop(k->vm, STOP_RESET, VMLITE_EXIT_RESET);
}

/* The keyboard behind the controller: acknowledges everything so atkbd's
 * probe succeeds, and never has a key to report. */
static void kbd_write(struct i8042 *k, uint8_t b)
{
	if (k->kbd_pending) {
		uint8_t cmd = k->kbd_pending;
		k->kbd_pending = 0;
		i8042_queue(k, 0xfa);
		if (cmd == 0xf0 && b == 0)      /* "which scan code set?" */
			i8042_queue(k, (k->ram[0] & CTR_XLATE) ? 0x41 : 0x02);
		return;
	}
	switch (b) {
	case 0xed:      /* set LEDs */
	case 0xf0:      /* scan code set */
	case 0xf3:      /* typematic rate */
		k->kbd_pending = b;
		i8042_queue(k, 0xfa);
		break;
	case 0xee:      /* echo */
		i8042_queue(k, 0xee);
		break;
	case 0xf2:      /* identify: an MF2 keyboard */
		i8042_queue(k, 0xfa);
		i8042_queue(k, 0xab);
		i8042_queue(k, (k->ram[0] & CTR_XLATE) ? 0x41 : 0x83);
		break;
	case 0xff:      /* reset: ack, then basic assurance test passed */
		i8042_queue(k, 0xfa);
		i8042_queue(k, 0xaa);
		break;
	default:        /* enable, disable, set defaults, ... */
		i8042_queue(k, 0xfa);
		break;
	}
}

static void i8042_data_write(struct i8042 *k, uint8_t b)
{
	uint8_t cmd = k->pending;
	k->pending = 0;
	if (cmd >= 0x60 && cmd < 0x80) {
		k->ram[cmd - 0x60] = b;
		if (cmd == 0x60)
			k->status = (uint8_t)((k->status & ~STR_SYS) | (b & CTR_SYS));
		return;
	}
	switch (cmd) {
	case 0xd1:      /* write output port */
		k->outport = b;
		if (!(b & OUT_RESET))
			i8042_reset_line(k);
		return;
	case 0xd2:      /* as if the keyboard sent it */
		i8042_queue(k, b);
		return;
	case 0xd3:      /* AUX loop: see the top of the file */
		i8042_queue(k, b);
		return;
	case 0xd4:      /* to the AUX device: there is none */
		return;
	default:
		kbd_write(k, b);
		return;
	}
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	if (cmd >= 0x20 && cmd < 0x40) {
		i8042_queue(k, k->ram[cmd - 0x20]);
		return;
	}
	if ((cmd >= 0x60 && cmd < 0x80) || (cmd >= 0xd1 && cmd <= 0xd4)) {
		k->pending = cmd;
		return;
	}
	if (cmd >= 0xf0) {
		/* Pulse the output lines whose bit is clear: bit 0 is reset. */
		if (!(cmd & 1))
			i8042_reset_line(k);
		return;
	}
	switch (cmd) {
	case 0xa7: k->ram[0] |= CTR_AUXDIS; break;
	case 0xa8: k->ram[0] &= (uint8_t)~CTR_AUXDIS; break;
	case 0xa9: i8042_queue(k, 0x01); break;     /* AUX clock line stuck: no AUX */
	case 0xaa:      /* self test */
		k->status |= STR_SYS;
		i8042_queue(k, 0x55);
		break;
	case 0xab: i8042_queue(k, 0x00); break;     /* keyboard interface OK */
	case 0xad: k->ram[0] |= CTR_KBDDIS; break;
	case 0xae: k->ram[0] &= (uint8_t)~CTR_KBDDIS; break;
	case 0xc0: i8042_queue(k, 0x80); break;     /* input port: keylock open */
	case 0xd0: i8042_queue(k, k->outport); break;
	case 0xdd: k->outport &= (uint8_t)~OUT_A20; break;
	case 0xdf: k->outport |= OUT_A20; break;
	default: break;         /* unknown commands are ignored, as on hardware */
	}
}

static void i8042_io(void *opaque, uint64_t off, unsigned size, bool is_write,
		     uint8_t *data, bool is_cmd_port)
{
	struct i8042 *k = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0xff, size);
		if (is_cmd_port) {
			data[0] = k->status | (k->qcount ? STR_OBF : 0);
		} else {
			if (k->qcount) {
				k->last = k->queue[k->qhead];
				k->qhead = (k->qhead + 1) % QUEUE_SIZE;
				k->qcount--;
			}
			data[0] = k->last;
		}
	} else if (is_cmd_port) {
		k->status |= STR_CMD;
		i8042_command(k, data[0]);
	} else {
		k->status &= (uint8_t)~STR_CMD;
		i8042_data_write(k, data[0]);
	}
	i8042_update_irq(k);
}

static void i8042_data_io(void *opaque, uint64_t off, unsigned size, bool is_write,
			  uint8_t *data)
{
	i8042_io(opaque, off, size, is_write, data, false);
}

static void i8042_cmd_io(void *opaque, uint64_t off, unsigned size, bool is_write,
			 uint8_t *data)
{
	i8042_io(opaque, off, size, is_write, data, true);
}

void i8042_set_irq(struct vm *vm, void (*fn)(void *opaque, int level), void *opaque)
{
	struct i8042 *k = vm->devices[DEV_I8042];
	if (!k)
		return;
	k->irq = fn;
	k->irq_opaque = opaque;
	k->irq_line = k->qcount && (k->ram[0] & CTR_KBDINT);
	if (fn)
		fn(opaque, k->irq_line);
}

bool i8042_a20(struct vm *vm)
{
	struct i8042 *k = vm->devices[DEV_I8042];
	return k && (k->outport & OUT_A20);
}

static void i8042_destroy(struct vm *vm)
{
	free(vm->devices[DEV_I8042]);
	vm->devices[DEV_I8042] = NULL;
}

static int i8042_init(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return err_set("out of memory");
	k->vm = vm;
	/* As a BIOS leaves it: keyboard interrupt on, translation on, no AUX. */
	k->ram[0] = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
	k->status = STR_SYS | STR_UNLOCKED;
	k->outport = OUT_RESET | OUT_A20;
	vm->devices[DEV_I8042] = k;
	if (bus_register(&vm->pio, I8042_DATA, 1, i8042_data_io, k, "i8042-data") < 0 ||
	    bus_register(&vm->pio, I8042_CMD, 1, i8042_cmd_io, k, "i8042-cmd") < 0) {
		i8042_destroy(vm);
		return -1;
	}
	return 0;
}

static const struct device_ops i8042_ops = {
	.name = "i8042",
	.order = 10,
	.init = i8042_init,
	.destroy = i8042_destroy,
};
DEVICE_REGISTER(i8042_ops)
