/* The 8254 PIT: three counters at 1.193182 MHz derived from the guest clock
 * (nothing ticks: counts and outputs are computed from the load time).
 * Channel 0 drives IRQ0; channel 2's gate and output live in port 0x61,
 * which Linux uses to calibrate the TSC. BCD counting is accepted and treated
 * as binary (no OS uses it). */
#include "pit8254.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "device.h"
#include "error.h"
#include "irq.h"
#include "vm.h"

struct pit_chan {
	uint32_t n;             /* reload value, 1..65536 */
	uint8_t mode, rw, bcd;
	bool gate;
	bool counting;          /* a count was loaded (and, for modes 1/5, triggered) */
	bool frozen;            /* gate low: counting suspended at frozen_ticks */
	uint64_t frozen_ticks;
	uint64_t load_ns;
	bool null_count;
	bool count_latched, status_latched;
	uint16_t latched;
	uint8_t status, latch_step;
	uint8_t read_msb, write_msb, write_lsb;
};

struct pit {
	struct vm *vm;
	struct pit_chan ch[3];
	uint8_t port61;         /* bits 0-3 as written */
	bool irq_high;
	struct clock_timer timer;
	/* Re-injection (pit8254.h): ticks owed and the tick awaiting its ack. */
	uint64_t fired_periods;         /* periods accounted for since the load */
	uint64_t owed;
	bool in_flight;
	uint64_t in_flight_since;
};

static uint64_t ns_to_ticks(uint64_t ns)
{
	return clock_muldiv(ns, PIT_HZ, CLOCK_NS_PER_SEC);
}

/* First instant at which ns_to_ticks() reaches ticks. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
	uint64_t ns = clock_muldiv(ticks, CLOCK_NS_PER_SEC, PIT_HZ);
	while (ns_to_ticks(ns) < ticks)
		ns++;
	return ns;
}

static uint64_t elapsed(const struct pit_chan *c, uint64_t now)
{
	if (c->frozen)
		return c->frozen_ticks;
	return now >= c->load_ns ? ns_to_ticks(now - c->load_ns) : 0;
}

static uint16_t counter_value(const struct pit_chan *c, uint64_t now)
{
	if (!c->counting)
		return (uint16_t)c->n;
	uint64_t d = elapsed(c, now);
	switch (c->mode) {
	case 2:
		return (uint16_t)(c->n - d % c->n);
	case 3:
		return (uint16_t)(c->n - (2 * d) % c->n);
	default:
		return (uint16_t)(c->n - d);    /* wraps past terminal count, as the chip does */
	}
}

static bool out_level(const struct pit_chan *c, uint64_t now)
{
	if (!c->counting)
		return c->mode != 0;
	uint64_t d = elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		return d >= c->n;
	case 2:
		if (c->frozen)
			return true;
		return c->n < 2 || d % c->n != c->n - 1;
	case 3:
		if (c->frozen)
			return true;
		return d % c->n < (c->n + 1) / 2;
	default:
		return d != c->n;
	}
}

static void irq0_set(struct pit *p, bool level)
{
	if (p->irq_high == level)
		return;
	p->irq_high = level;
	irq_line_set(p->vm, 0, level);
}

/* Schedules channel 0's next IRQ0 edge. */
static void ch0_schedule(struct pit *p, uint64_t now)
{
	struct pit_chan *c = &p->ch[0];
	clock_timer_cancel(&p->timer);
	if (!c->counting || c->frozen)
		return;
	uint64_t d = elapsed(c, now);
	uint64_t target;
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		if (d >= c->n)
			return;         /* one-shot already expired */
		target = c->n;
		break;
	default:
		/* Next period boundary; missed ones are owed (pit8254.h). */
		target = (d / c->n + 1) * c->n;
		break;
	}
	uint64_t when = c->load_ns + ticks_to_ns(target);
	/* A tiny reload would wake the timer thread a million times a second;
	 * faster periods still reach the guest through re-injection. */
	if (c->mode == 2 || c->mode == 3) {
		if (when < now + PIT_MIN_PERIOD_NS)
			when = now + PIT_MIN_PERIOD_NS;
	}
	clock_timer_arm(&p->timer, when);
}

static void pit_tick(struct pit *p, uint64_t now)
{
	p->owed--;
	p->in_flight = true;
	p->in_flight_since = now;
	irq0_set(p, true);
	irq0_set(p, false);
}

static void ch0_fire(void *opaque, uint64_t now)
{
	struct pit *p = opaque;
	struct pit_chan *c = &p->ch[0];
	if (!c->counting)
		return;
	if (c->mode == 0 || c->mode == 1) {
		irq0_set(p, true);      /* OUT stays high until reprogrammed */
	} else if (c->mode == 2 || c->mode == 3) {
		uint64_t periods = elapsed(c, now) / c->n;
		uint64_t cap = ns_to_ticks(PIT_MAX_BACKLOG_NS) / c->n + 1;
		p->owed += periods - p->fired_periods;
		p->fired_periods = periods;
		if (p->owed > cap)
			p->owed = cap;
		if (p->in_flight && now - p->in_flight_since > PIT_ACK_TIMEOUT_NS) {
			/* Nobody is taking IRQ0 (masked, or the edge was lost to a
			 * controller reset): keep no backlog, but keep ticking so a
			 * lost edge cannot stop the clock. */
			p->owed = 0;
			irq0_set(p, true);
			irq0_set(p, false);
		} else if (!p->in_flight && p->owed) {
			pit_tick(p, now);
		}
	} else {
		irq0_set(p, true);
		irq0_set(p, false);
	}
	ch0_schedule(p, now);
}

void pit_irq0_acked(struct vm *vm)
{
	struct pit *p = vm->devices[DEV_PIT];
	if (!p || !p->in_flight)
		return;
	p->in_flight = false;
	/* The replayed edge latches in IRR/ISR-blocked state and is taken after
	 * the guest's EOI for the tick it is handling now. */
	if (p->owed)
		pit_tick(p, clock_now_ns());
}

static void chan_load(struct pit *p, int i, uint32_t count)
{
	struct pit_chan *c = &p->ch[i];
	uint64_t now = clock_now_ns();
	c->n = count ? count : 65536;
	c->null_count = false;
	c->load_ns = now;
	c->frozen = false;
	c->frozen_ticks = 0;
	/* Modes 1 and 5 wait for a gate trigger; 0/2/3/4 count while the gate is high. */
	c->counting = !(c->mode == 1 || c->mode == 5);
	if (c->counting && !c->gate)
		c->frozen = true;
	if (i == 0) {
		p->owed = 0;
		p->fired_periods = 0;
		p->in_flight = false;
		irq0_set(p, false);
		ch0_schedule(p, now);
	}
}

static void latch_count(struct pit_chan *c, uint64_t now)
{
	if (c->count_latched)
		return;
	c->latched = counter_value(c, now);
	c->count_latched = true;
	c->latch_step = 0;
}

static void control_write(struct pit *p, uint8_t val)
{
	uint64_t now = clock_now_ns();
	unsigned sc = val >> 6;
	if (sc == 3) {                  /* read-back */
		for (int i = 0; i < 3; i++) {
			if (!(val & (2u << i)))
				continue;
			struct pit_chan *c = &p->ch[i];
			if (!(val & 0x20))
				latch_count(c, now);
			if (!(val & 0x10) && !c->status_latched) {
				c->status = (uint8_t)(out_level(c, now) << 7 | c->null_count << 6 |
						      c->rw << 4 | c->mode << 1 | c->bcd);
				c->status_latched = true;
			}
		}
		return;
	}
	struct pit_chan *c = &p->ch[sc];
	unsigned rw = (val >> 4) & 3;
	if (rw == 0) {
		latch_count(c, now);
		return;
	}
	c->rw = (uint8_t)rw;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;           /* 6 and 7 alias 2 and 3 */
	c->bcd = val & 1;
	c->read_msb = c->write_msb = 0;
	c->counting = false;
	c->frozen = false;
	c->null_count = true;
	c->count_latched = false;
	if (sc == 0) {
		clock_timer_cancel(&p->timer);
		irq0_set(p, false);
	}
}

static void data_write(struct pit *p, int i, uint8_t val)
{
	struct pit_chan *c = &p->ch[i];
	switch (c->rw) {
	case 1:
		chan_load(p, i, val);
		break;
	case 2:
		chan_load(p, i, (uint32_t)val << 8);
		break;
	case 3:
		if (!c->write_msb) {
			c->write_lsb = val;
			c->write_msb = 1;
		} else {
			c->write_msb = 0;
			chan_load(p, i, c->write_lsb | (uint32_t)val << 8);
		}
		break;
	}
}

static uint8_t data_read(struct pit *p, int i)
{
	struct pit_chan *c = &p->ch[i];
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v;
	bool msb;
	if (c->count_latched) {
		v = c->latched;
		if (c->rw == 3) {
			msb = c->latch_step == 1;
			c->latch_step++;
			if (c->latch_step == 2)
				c->count_latched = false;
		} else {
			msb = c->rw == 2;
			c->count_latched = false;
		}
	} else {
		v = counter_value(c, clock_now_ns());
		if (c->rw == 3) {
			msb = c->read_msb;
			c->read_msb ^= 1;
		} else {
			msb = c->rw == 2;
		}
	}
	return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

static void pit_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct pit *p = opaque;
	for (unsigned k = 0; k < size; k++) {
		unsigned port = (unsigned)(off + k) & 3;
		if (port == 3) {
			if (is_write)
				control_write(p, data[k]);
			else
				data[k] = 0xff;         /* the control port is write-only */
		} else if (is_write) {
			data_write(p, (int)port, data[k]);
		} else {
			data[k] = data_read(p, (int)port);
		}
	}
}

static void gate2_set(struct pit *p, bool gate)
{
	struct pit_chan *c = &p->ch[2];
	if (c->gate == gate)
		return;
	uint64_t now = clock_now_ns();
	c->gate = gate;
	if (!gate) {
		if (c->counting && !c->frozen) {
			c->frozen_ticks = (c->mode == 0 || c->mode == 4) ? elapsed(c, now) : 0;
			c->frozen = true;
		}
		return;
	}
	if (c->null_count)
		return;                 /* no count loaded yet */
	if (c->mode == 0 || c->mode == 4) {
		if (c->frozen) {        /* resume where the count stopped */
			c->load_ns = now - ticks_to_ns(c->frozen_ticks);
			c->frozen = false;
		}
	} else {                        /* rising edge (re)triggers modes 1, 2, 3, 5 */
		c->load_ns = now;
		c->frozen = false;
		c->counting = true;
	}
}

static void port61_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct pit *p = opaque;
	(void)off;
	if (is_write) {
		p->port61 = data[0] & 0x0f;
		gate2_set(p, data[0] & 1);
		return;
	}
	uint64_t now = clock_now_ns();
	uint8_t v = p->port61;
	/* Bit 4 toggles with the DRAM refresh every 15.085 us; delay loops poll it. */
	if ((now / 15085) & 1)
		v |= 0x10;
	if (out_level(&p->ch[2], now))
		v |= 0x20;
	for (unsigned i = 0; i < size; i++)
		data[i] = i ? 0xff : v;
}

int pit_vm_init(struct vm *vm)
{
	struct pit *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set("out of memory");
	p->vm = vm;
	for (int i = 0; i < 3; i++) {
		p->ch[i].gate = i != 2;  /* channel 2's gate comes from port 0x61 */
		p->ch[i].n = 65536;
		p->ch[i].rw = 3;
		p->ch[i].null_count = true;
	}
	clock_timer_init(vm, &p->timer, ch0_fire, p);
	vm->devices[DEV_PIT] = p;
	if (bus_register(&vm->pio, 0x40, 4, pit_io, p, "pit") < 0 ||
	    bus_register(&vm->pio, 0x61, 1, port61_io, p, "port61") < 0) {
		pit_vm_destroy(vm);
		return -1;
	}
	return 0;
}

void pit_vm_destroy(struct vm *vm)
{
	struct pit *p = vm->devices[DEV_PIT];
	if (!p)
		return;
	clock_timer_remove(&p->timer);
	vm->devices[DEV_PIT] = NULL;
	free(p);
}

static void pit_dev_destroy(struct vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
	pit_vm_destroy(vm);
	pthread_mutex_unlock(&vm->dev_lock);
}

static const struct device_ops pit_device = {
	.name = "pit8254",
	.order = 5,
	.init = pit_vm_init,
	.destroy = pit_dev_destroy,
};
DEVICE_REGISTER(pit_device);
