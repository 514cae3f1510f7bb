/* The cascaded 8259A pair: master at 0x20, slave at 0xA0 on master input 2,
 * and the EISA edge/level control registers (ELCR) at 0x4D0/0x4D1. */
#include "pic8259.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "error.h"
#include "irq.h"
#include "vm.h"

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t line;           /* input levels, for edge detection */
	uint8_t elcr, elcr_mask;
	uint8_t base;           /* ICW2 vector base */
	uint8_t lowest;         /* priority rotation: IRQ with the lowest priority + 1 */
	uint8_t init_step;      /* 0 operational, 1..3: expecting ICW2..ICW4 */
	bool icw4, single, auto_eoi, rotate_aeoi, sfnm, special_mask;
	bool read_isr, poll;
};

struct pic {
	struct vm *vm;
	struct pic_chip chip[2];
};

static struct pic *pic_of(struct vm *vm)
{
	return vm->devices[DEV_PIC];
}

/* 0 is the highest priority; 8 means none of mask. */
static int chip_priority(const struct pic_chip *c, uint8_t mask)
{
	if (!mask)
		return 8;
	int p = 0;
	while (!(mask & (1u << ((p + c->lowest) & 7))))
		p++;
	return p;
}

/* The input the chip would present at INTA, or -1. */
static int chip_pending(const struct pic_chip *c, bool master)
{
	int p = chip_priority(c, c->irr & ~c->imr);
	if (p == 8)
		return -1;
	uint8_t in_service = c->isr;
	if (c->special_mask)
		in_service &= ~c->imr;
	/* Special fully nested: the slave may interrupt its own in-service request. */
	if (master && c->sfnm)
		in_service &= ~(1u << 2);
	if (p < chip_priority(c, in_service))
		return (p + c->lowest) & 7;
	return -1;
}

static void chip_input(struct pic_chip *c, unsigned n, bool level)
{
	uint8_t m = 1u << n;
	if (c->elcr & m) {
		if (level)
			c->irr |= m;
		else
			c->irr &= ~m;
	} else if (level && !(c->line & m)) {
		c->irr |= m;
	}
	if (level)
		c->line |= m;
	else
		c->line &= ~m;
}

/* The cascade wire behaves like a level input that follows the slave's INT. */
static void pic_update(struct pic *p)
{
	struct pic_chip *s = &p->chip[1];
	bool slave_int = chip_pending(s, false) >= 0;
	struct pic_chip *m = &p->chip[0];
	if (slave_int)
		m->irr |= 1u << 2;
	else
		m->irr &= ~(1u << 2);
	m->line = slave_int ? (m->line | 4) : (m->line & ~4);
	irq_pic_changed(p->vm);
}

void pic_set_irq(struct vm *vm, unsigned irq, bool level)
{
	struct pic *p = pic_of(vm);
	if (!p || irq >= 16)
		return;
	chip_input(&p->chip[irq >> 3], irq & 7, level);
	pic_update(p);
}

bool pic_output(struct vm *vm)
{
	struct pic *p = pic_of(vm);
	return p && chip_pending(&p->chip[0], true) >= 0;
}

static void chip_ack(struct pic_chip *c, int n)
{
	uint8_t m = 1u << n;
	if (c->auto_eoi) {
		if (c->rotate_aeoi)
			c->lowest = (n + 1) & 7;
	} else {
		c->isr |= m;
	}
	/* Edge requests are consumed by the acknowledge; level ones stay while held. */
	if (!(c->elcr & m))
		c->irr &= ~m;
}

int pic_intack(struct vm *vm)
{
	struct pic *p = pic_of(vm);
	if (!p)
		return -1;
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int vector, acked = -1;
	int n = chip_pending(m, true);
	if (n < 0) {
		vector = m->base + 7;           /* request vanished: spurious IRQ7 */
	} else if (n == 2 && !m->single) {
		int n2 = chip_pending(s, false);
		if (n2 >= 0) {
			chip_ack(s, n2);
			vector = s->base + n2;
			acked = 8 + n2;
		} else {
			vector = s->base + 7;   /* spurious IRQ15 */
		}
		chip_ack(m, 2);
	} else {
		chip_ack(m, n);
		vector = m->base + n;
		acked = n;
	}
	pic_update(p);
	if (acked >= 0)
		irq_isa_acked(vm, (unsigned)acked);
	return vector;
}

static void chip_reset(struct pic_chip *c)
{
	uint8_t elcr = c->elcr, mask = c->elcr_mask;
	memset(c, 0, sizeof(*c));
	c->elcr = elcr;
	c->elcr_mask = mask;
}

/* OCW3 poll mode: the read is the acknowledge. */
static uint8_t chip_poll(struct pic *p, int idx)
{
	struct pic_chip *c = &p->chip[idx];
	c->poll = false;
	int n = chip_pending(c, idx == 0);
	if (n < 0)
		return 0;
	/* A master poll reporting 2 leaves the slave to be polled on its own. */
	chip_ack(c, n);
	pic_update(p);
	return 0x80 | n;
}

static void chip_write(struct pic *p, int idx, unsigned port, uint8_t val)
{
	struct pic_chip *c = &p->chip[idx];
	if (port == 0) {
		if (val & 0x10) {               /* ICW1 */
			chip_reset(c);
			c->init_step = 1;
			c->icw4 = val & 1;
			c->single = val & 2;
		} else if (val & 0x08) {        /* OCW3 */
			if (val & 0x04)
				c->poll = true;
			if (val & 0x02)
				c->read_isr = val & 1;
			if (val & 0x40)
				c->special_mask = (val >> 5) & 1;
		} else {                        /* OCW2 */
			unsigned cmd = val >> 5;
			int n;
			switch (cmd) {
			case 0: c->rotate_aeoi = false; break;
			case 4: c->rotate_aeoi = true; break;
			case 1:                 /* non-specific EOI */
			case 5:                 /* rotate on non-specific EOI */
				n = chip_priority(c, c->isr);
				if (n != 8) {
					n = (n + c->lowest) & 7;
					c->isr &= ~(1u << n);
					if (cmd == 5)
						c->lowest = (n + 1) & 7;
				}
				break;
			case 3:                 /* specific EOI */
				c->isr &= ~(1u << (val & 7));
				break;
			case 6:                 /* set priority */
				c->lowest = (val + 1) & 7;
				break;
			case 7:                 /* rotate on specific EOI */
				c->isr &= ~(1u << (val & 7));
				c->lowest = ((val & 7) + 1) & 7;
				break;
			default:
				break;
			}
		}
	} else {
		switch (c->init_step) {
		case 0:
			c->imr = val;   /* OCW1 */
			break;
		case 1:
			c->base = val & 0xf8;
			c->init_step = c->single ? (c->icw4 ? 3 : 0) : 2;
			break;
		case 2:                 /* ICW3: the cascade wiring is fixed */
			c->init_step = c->icw4 ? 3 : 0;
			break;
		case 3:
			c->sfnm = (val >> 4) & 1;
			c->auto_eoi = (val >> 1) & 1;
			c->init_step = 0;
			break;
		}
	}
	pic_update(p);
}

static uint8_t chip_read(struct pic *p, int idx, unsigned port)
{
	struct pic_chip *c = &p->chip[idx];
	if (c->poll)
		return chip_poll(p, idx);
	if (port == 0)
		return c->read_isr ? c->isr : c->irr;
	return c->imr;
}

static void pic_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data,
		   int idx)
{
	struct pic *p = opaque;
	for (unsigned i = 0; i < size; i++) {
		unsigned port = (off + i) & 1;
		if (is_write)
			chip_write(p, idx, port, data[i]);
		else
			data[i] = chip_read(p, idx, port);
	}
}

static void pic_master_io(void *o, uint64_t off, unsigned size, bool w, uint8_t *d)
{
	pic_io(o, off, size, w, d, 0);
}

static void pic_slave_io(void *o, uint64_t off, unsigned size, bool w, uint8_t *d)
{
	pic_io(o, off, size, w, d, 1);
}

static void pic_elcr_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct pic *p = opaque;
	for (unsigned i = 0; i < size && off + i < 2; i++) {
		struct pic_chip *c = &p->chip[off + i];
		if (is_write)
			c->elcr = data[i] & c->elcr_mask;
		else
			data[i] = c->elcr;
	}
	if (is_write)
		pic_update(p);
}

int pic_vm_init(struct vm *vm)
{
	struct pic *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set("out of memory");
	p->vm = vm;
	/* IRQ0-2 and 8, 13 are always edge on a PC. */
	p->chip[0].elcr_mask = 0xf8;
	p->chip[1].elcr_mask = 0xde;
	vm->devices[DEV_PIC] = p;
	if (bus_register(&vm->pio, 0x20, 2, pic_master_io, p, "pic-master") < 0 ||
	    bus_register(&vm->pio, 0xa0, 2, pic_slave_io, p, "pic-slave") < 0 ||
	    bus_register(&vm->pio, 0x4d0, 2, pic_elcr_io, p, "elcr") < 0) {
		vm->devices[DEV_PIC] = NULL;
		free(p);
		return -1;
	}
	return 0;
}

void pic_vm_destroy(struct vm *vm)
{
	free(vm->devices[DEV_PIC]);
	vm->devices[DEV_PIC] = NULL;
}

static const struct device_ops pic_device = {
	.name = "pic8259",
	.order = 2,
	.init = pic_vm_init,
	.destroy = pic_vm_destroy,
};
DEVICE_REGISTER(pic_device);
