/* Local APICs: one per vCPU, reached through the xAPIC MMIO page (which
 * targets the accessing vCPU's own APIC) or the x2APIC MSRs. Interrupts are
 * taken by vcpu_irq_ack() (irq.c) via lapic_ack(). */
#include "lapic.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "device.h"
#include "devices/ioapic.h"
#include "error.h"
#include "irq.h"
#include "vm.h"

enum {
	REG_ID = 0x20, REG_VERSION = 0x30, REG_TPR = 0x80, REG_APR = 0x90, REG_PPR = 0xA0,
	REG_EOI = 0xB0, REG_RRD = 0xC0, REG_LDR = 0xD0, REG_DFR = 0xE0, REG_SVR = 0xF0,
	REG_ISR = 0x100, REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280,
	REG_LVT_CMCI = 0x2F0, REG_ICR_LO = 0x300, REG_ICR_HI = 0x310,
	REG_LVT_TIMER = 0x320, REG_LVT_ERROR = 0x370, REG_TMICT = 0x380,
	REG_TMCCT = 0x390, REG_TDCR = 0x3E0, REG_SELF_IPI = 0x3F0,
};
enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_MASKED      (1u << 16)
#define SVR_ENABLE      (1u << 8)
#define TIMER_ONESHOT   0
#define TIMER_PERIODIC  1
#define TIMER_TSCDEADLINE 2
#define APIC_VERSION    (0x14u | ((LVT_COUNT - 1u) << 16))
#define ESR_SEND_ILLEGAL  (1u << 5)
#define ESR_RECV_ILLEGAL  (1u << 6)

struct lapic {
	struct vm *vm;
	int cpu;
	uint32_t id;
	uint64_t base;
	uint32_t tpr, ldr, dfr, svr, esr, esr_latch, icr_lo, icr_hi;
	uint32_t lvt[LVT_COUNT];
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t tmict, tdcr;
	uint64_t t_start;               /* ns when the count was loaded */
	uint64_t tsc_deadline;
	struct clock_timer timer;
	bool nmi, extint, init, sipi;
	uint8_t sipi_vector;
};

struct lapic_set {
	int n;
	struct lapic cpu[];
};

struct lapic *lapic_get(struct vm *vm, int cpu)
{
	struct lapic_set *s = vm->devices[DEV_LAPIC];
	if (!s || cpu < 0 || cpu >= s->n)
		return NULL;
	return &s->cpu[cpu];
}

static bool x2apic(const struct lapic *l)
{
	return l->base & APIC_BASE_EXTD;
}

static bool hw_enabled(const struct lapic *l)
{
	return l->base & APIC_BASE_ENABLE;
}

static bool sw_enabled(const struct lapic *l)
{
	return hw_enabled(l) && (l->svr & SVR_ENABLE);
}

static int vec_highest(const uint32_t *bits)
{
	for (int i = 7; i >= 0; i--)
		if (bits[i])
			return i * 32 + 31 - __builtin_clz(bits[i]);
	return -1;
}

static void vec_set(uint32_t *bits, unsigned v)
{
	bits[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *bits, unsigned v)
{
	bits[v >> 5] &= ~(1u << (v & 31));
}

static bool vec_test(const uint32_t *bits, unsigned v)
{
	return bits[v >> 5] & (1u << (v & 31));
}

static uint32_t ppr(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);
	uint32_t isrc = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (l->tpr & 0xf0) >= isrc ? l->tpr & 0xff : isrc;
}

static void changed(struct lapic *l)
{
	irq_cpu_changed(l->vm, l->cpu);
}

bool lapic_has_irq(struct lapic *l)
{
	if (!sw_enabled(l))
		return false;
	int v = vec_highest(l->irr);
	return v >= 0 && ((uint32_t)v & 0xf0) > (ppr(l) & 0xf0);
}

int lapic_ack(struct lapic *l)
{
	if (!lapic_has_irq(l))
		return -1;
	int v = vec_highest(l->irr);
	vec_clear(l->irr, v);
	vec_set(l->isr, v);
	return v;
}

bool lapic_accepts_pic(struct lapic *l)
{
	if (l->extint)
		return true;            /* the IOAPIC routed an ExtINT pin here */
	if (!hw_enabled(l))
		return l->cpu == 0;     /* APIC off: INTR goes straight to the BSP */
	uint32_t lint0 = l->lvt[LVT_LINT0];
	return !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) == APIC_DM_EXTINT;
}

bool lapic_nmi_pending(struct lapic *l)
{
	return l->nmi;
}

bool lapic_take_nmi(struct lapic *l)
{
	bool n = l->nmi;
	l->nmi = false;
	return n;
}

bool lapic_take_extint(struct lapic *l)
{
	bool e = l->extint;
	l->extint = false;
	return e;
}

bool lapic_take_sipi(struct lapic *l, uint8_t *vector)
{
	if (!l->sipi)
		return false;
	l->sipi = false;
	*vector = l->sipi_vector;
	return true;
}

bool lapic_take_init(struct lapic *l)
{
	bool i = l->init;
	l->init = false;
	return i;
}

static void set_irr(struct lapic *l, uint8_t vector, bool level)
{
	if (vector < 16) {
		l->esr_latch |= ESR_RECV_ILLEGAL;
		return;
	}
	vec_set(l->irr, vector);
	if (level)
		vec_set(l->tmr, vector);
	else
		vec_clear(l->tmr, vector);
}

static void accept(struct lapic *l, enum apic_dm mode, uint8_t vector, bool level)
{
	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (!hw_enabled(l))
			return;
		set_irr(l, vector, level);
		break;
	case APIC_DM_NMI:
		l->nmi = true;
		break;
	case APIC_DM_INIT:
		l->init = true;
		break;
	case APIC_DM_SIPI:
		l->sipi = true;
		l->sipi_vector = vector;
		break;
	case APIC_DM_EXTINT:
		l->extint = true;
		break;
	case APIC_DM_SMI:
		return;
	}
	changed(l);
}

static bool match(const struct lapic *l, uint32_t dest, bool logical)
{
	if (!logical)
		return dest == 0xff || dest == 0xffffffffu || dest == l->id;
	if (x2apic(l)) {
		if (dest == 0xffffffffu)
			return true;
		return (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffff);
	}
	uint8_t d = dest & 0xff, ldr = l->ldr >> 24;
	if (d == 0xff)
		return true;
	if ((l->dfr >> 28) == 0xf)              /* flat model */
		return d & ldr;
	return (d >> 4) == (ldr >> 4) && (d & ldr & 0xf);  /* cluster model */
}

void lapic_deliver(struct vm *vm, uint32_t dest, bool logical, enum apic_dm mode,
		   uint8_t vector, bool level_trig)
{
	struct lapic_set *s = vm->devices[DEV_LAPIC];
	if (!s)
		return;
	for (int i = 0; i < s->n; i++) {
		if (!match(&s->cpu[i], dest, logical))
			continue;
		accept(&s->cpu[i], mode, vector, level_trig);
		/* Lowest priority: any one target will do; the first is stable. */
		if (mode == APIC_DM_LOWEST)
			return;
	}
}

static void send_ipi(struct lapic *l)
{
	struct lapic_set *s = l->vm->devices[DEV_LAPIC];
	uint32_t lo = l->icr_lo;
	enum apic_dm mode = (lo >> 8) & 7;
	uint8_t vector = lo & 0xff;
	bool logical = lo & (1u << 11);
	bool level = lo & (1u << 15);
	unsigned shorthand = (lo >> 18) & 3;
	uint32_t dest = x2apic(l) ? l->icr_hi : l->icr_hi >> 24;
	/* INIT level de-assert is a no-op on modern APICs. */
	if (mode == APIC_DM_INIT && level && !(lo & (1u << 14)))
		return;
	if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16) {
		l->esr_latch |= ESR_SEND_ILLEGAL;
		return;
	}
	for (int i = 0; i < s->n; i++) {
		struct lapic *t = &s->cpu[i];
		bool hit;
		switch (shorthand) {
		case 1: hit = t == l; break;
		case 2: hit = true; break;
		case 3: hit = t != l; break;
		default: hit = match(t, dest, logical); break;
		}
		if (!hit)
			continue;
		/* IPIs are edge messages: TMR stays clear, so no EOI broadcast. */
		accept(t, mode, vector, false);
		if (mode == APIC_DM_LOWEST && shorthand == 0)
			return;
	}
}

static void eoi(struct lapic *l)
{
	int v = vec_highest(l->isr);
	if (v < 0)
		return;
	vec_clear(l->isr, v);
	if (vec_test(l->tmr, v)) {
		vec_clear(l->tmr, v);
		ioapic_eoi(l->vm, (uint8_t)v);
	}
	changed(l);
}

/* ---- timer ---- */

static unsigned timer_mode(const struct lapic *l)
{
	return (l->lvt[LVT_TIMER] >> 17) & 3;
}

static uint64_t timer_divide(const struct lapic *l)
{
	unsigned v = (l->tdcr & 3) | ((l->tdcr >> 1) & 4);
	return v == 7 ? 1 : 2u << v;
}

static uint64_t timer_period_ns(const struct lapic *l)
{
	return clock_muldiv((uint64_t)l->tmict * timer_divide(l), CLOCK_NS_PER_SEC, LAPIC_BUS_HZ);
}

static uint32_t timer_current(const struct lapic *l)
{
	if (!l->tmict || timer_mode(l) == TIMER_TSCDEADLINE)
		return 0;
	uint64_t now = clock_now_ns();
	uint64_t ticks = clock_muldiv(now - l->t_start, LAPIC_BUS_HZ, CLOCK_NS_PER_SEC) /
			 timer_divide(l);
	if (timer_mode(l) == TIMER_PERIODIC)
		return l->tmict - (uint32_t)(ticks % l->tmict);
	return ticks >= l->tmict ? 0 : l->tmict - (uint32_t)ticks;
}

static void timer_raise(struct lapic *l)
{
	uint32_t lvt = l->lvt[LVT_TIMER];
	if (!(lvt & LVT_MASKED)) {
		set_irr(l, lvt & 0xff, false);
		changed(l);
	}
}

static void timer_fire(void *opaque, uint64_t now)
{
	struct lapic *l = opaque;
	switch (timer_mode(l)) {
	case TIMER_TSCDEADLINE:
		if (!l->tsc_deadline)
			return;
		l->tsc_deadline = 0;
		timer_raise(l);
		break;
	case TIMER_PERIODIC: {
		uint64_t p = timer_period_ns(l);
		if (!l->tmict || !p)
			return;
		timer_raise(l);
		/* Next boundary after now: missed periods coalesce (clock.h), and
		 * periods below LAPIC_MIN_PERIOD_NS are stretched, as KVM does. */
		uint64_t k = (now - l->t_start) / p + 1;
		uint64_t next = l->t_start + k * p;
		if (next < now + LAPIC_MIN_PERIOD_NS)
			next = now + LAPIC_MIN_PERIOD_NS;
		clock_timer_arm(&l->timer, next);
		break;
	}
	default:
		if (l->tmict)
			timer_raise(l);
		break;
	}
}

static void timer_start(struct lapic *l)
{
	clock_timer_cancel(&l->timer);
	l->t_start = clock_now_ns();
	if (!l->tmict || timer_mode(l) == TIMER_TSCDEADLINE)
		return;
	uint64_t p = timer_period_ns(l);
	clock_timer_arm(&l->timer, l->t_start + (p ? p : 1));
}

static void tsc_deadline_write(struct lapic *l, uint64_t val)
{
	if (timer_mode(l) != TIMER_TSCDEADLINE)
		return;                 /* the SDM: ignored in the other modes */
	l->tsc_deadline = val;
	clock_timer_cancel(&l->timer);
	if (val) {
		uint64_t now = l->vm->guest_tsc_is_host ? clock_host_tsc() : clock_tsc_now();
		clock_timer_arm(&l->timer, clock_tsc_deadline_ns(val, now));
	}
}

/* ---- registers ---- */

static void lapic_reset(struct lapic *l)
{
	struct clock_timer t = l->timer;
	struct vm *vm = l->vm;
	int cpu = l->cpu;
	clock_timer_cancel(&l->timer);
	memset(l, 0, sizeof(*l));
	l->vm = vm;
	l->cpu = cpu;
	l->timer = t;
	l->id = (uint32_t)cpu;
	l->base = LAPIC_BASE | APIC_BASE_ENABLE | (cpu == 0 ? APIC_BASE_BSP : 0);
	l->svr = 0xff;
	l->dfr = 0xffffffffu;
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = LVT_MASKED;
	/* Firmware leaves the BSP in virtual-wire mode (LINT0 = ExtINT) so the
	 * PIC works before the OS touches the APIC; direct-boot guests rely on it. */
	if (cpu == 0)
		l->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
}

uint32_t lapic_reg_read(struct lapic *l, uint32_t off)
{
	switch (off) {
	case REG_ID:
		return x2apic(l) ? l->id : l->id << 24;
	case REG_VERSION:
		return APIC_VERSION;
	case REG_TPR:
		return l->tpr;
	case REG_APR:
		return 0;
	case REG_PPR:
		return ppr(l);
	case REG_LDR:
		return l->ldr;
	case REG_DFR:
		return l->dfr;
	case REG_SVR:
		return l->svr;
	case REG_ESR:
		return l->esr;
	case REG_ICR_LO:
		return l->icr_lo & ~(1u << 12);         /* delivery is instantaneous */
	case REG_ICR_HI:
		return l->icr_hi;
	case REG_TMICT:
		return l->tmict;
	case REG_TMCCT:
		return timer_current(l);
	case REG_TDCR:
		return l->tdcr;
	}
	if (off >= REG_LVT_TIMER && off <= REG_LVT_ERROR && !(off & 0xf))
		return l->lvt[(off - REG_LVT_TIMER) >> 4];
	if (off >= REG_ISR && off < REG_ISR + 0x80)
		return l->isr[(off - REG_ISR) >> 4];
	if (off >= REG_TMR && off < REG_TMR + 0x80)
		return l->tmr[(off - REG_TMR) >> 4];
	if (off >= REG_IRR && off < REG_IRR + 0x80)
		return l->irr[(off - REG_IRR) >> 4];
	return 0;
}

static const uint32_t lvt_writable[LVT_COUNT] = {
	[LVT_TIMER] = 0x700ff | LVT_MASKED,
	[LVT_THERMAL] = 0x7ff | LVT_MASKED,
	[LVT_PERF] = 0x7ff | LVT_MASKED,
	[LVT_LINT0] = 0xa7ff | LVT_MASKED,
	[LVT_LINT1] = 0xa7ff | LVT_MASKED,
	[LVT_ERROR] = 0xff | LVT_MASKED,
};

static void lvt_write(struct lapic *l, unsigned idx, uint32_t val)
{
	val &= lvt_writable[idx];
	if (!(l->svr & SVR_ENABLE))
		val |= LVT_MASKED;      /* software-disabled: LVTs stay masked */
	if (idx == LVT_TIMER) {
		unsigned old = timer_mode(l);
		if (((val >> 17) & 3) == 3)
			val &= ~(3u << 17);
		l->lvt[idx] = val;
		if (timer_mode(l) != old) {
			/* Changing mode disarms the timer (SDM 10.5.4.1). */
			clock_timer_cancel(&l->timer);
			l->tmict = 0;
			l->tsc_deadline = 0;
		}
		return;
	}
	l->lvt[idx] = val;
	if (idx == LVT_LINT0)
		irq_pic_changed(l->vm);
}

void lapic_reg_write(struct lapic *l, uint32_t off, uint32_t val)
{
	switch (off) {
	case REG_ID:
		if (!x2apic(l))
			l->id = val >> 24;
		return;
	case REG_TPR:
		l->tpr = val & 0xff;
		changed(l);
		return;
	case REG_EOI:
		eoi(l);
		return;
	case REG_LDR:
		if (!x2apic(l))
			l->ldr = val & 0xff000000u;
		return;
	case REG_DFR:
		if (!x2apic(l))
			l->dfr = val | 0x0fffffffu;
		return;
	case REG_SVR:
		l->svr = val & 0x3ff;
		if (!(val & SVR_ENABLE))
			for (int i = 0; i < LVT_COUNT; i++)
				l->lvt[i] |= LVT_MASKED;
		changed(l);
		irq_pic_changed(l->vm);
		return;
	case REG_ESR:
		l->esr = l->esr_latch;
		l->esr_latch = 0;
		return;
	case REG_ICR_HI:
		if (!x2apic(l))
			l->icr_hi = val & 0xff000000u;
		return;
	case REG_ICR_LO:
		l->icr_lo = val & 0xfffff;
		send_ipi(l);
		return;
	case REG_TMICT:
		if (timer_mode(l) == TIMER_TSCDEADLINE)
			return;
		l->tmict = val;
		timer_start(l);
		return;
	case REG_TDCR: {
		/* A new divisor applies from now on: keep the current count. */
		uint32_t cur = timer_current(l);
		bool running = cur && timer_mode(l) != TIMER_TSCDEADLINE;
		l->tdcr = val & 0xb;
		if (running) {
			uint64_t now = clock_now_ns(), p = timer_period_ns(l);
			uint64_t done = clock_muldiv((uint64_t)(l->tmict - cur) * timer_divide(l),
						     CLOCK_NS_PER_SEC, LAPIC_BUS_HZ);
			l->t_start = now - done;
			clock_timer_arm(&l->timer, l->t_start + p);
		}
		return;
	}
	case REG_SELF_IPI:
		if (x2apic(l)) {
			set_irr(l, val & 0xff, false);
			changed(l);
		}
		return;
	}
	if (off >= REG_LVT_TIMER && off <= REG_LVT_ERROR && !(off & 0xf))
		lvt_write(l, (off - REG_LVT_TIMER) >> 4, val);
}

static struct lapic *current_lapic(struct vm *vm)
{
	struct vcpu *v = irq_current();
	return lapic_get(vm, v && v->vm == vm ? v->id : 0);
}

static void lapic_mmio(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct vm *vm = opaque;
	struct lapic *l = current_lapic(vm);
	uint32_t reg = (uint32_t)off & 0xff0;
	unsigned shift = (off & 3) * 8;
	/* In x2APIC mode the MMIO page is gone, and a disabled APIC decodes nothing. */
	if (!l || x2apic(l) || !hw_enabled(l) || (off & 0xf) + size > 4) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	if (!is_write) {
		uint32_t v = lapic_reg_read(l, reg) >> shift;
		for (unsigned i = 0; i < size; i++)
			data[i] = (uint8_t)(v >> (8 * i));
		return;
	}
	if (size != 4)
		return;                 /* the SDM requires aligned 32-bit stores */
	uint32_t v = data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24;
	lapic_reg_write(l, reg, v);
}

/* ---- MSRs ---- */

bool lapic_msr_is_ours(uint32_t msr)
{
	return msr == MSR_APIC_BASE || msr == MSR_TSC_DEADLINE ||
	       (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

static int base_write(struct lapic *l, uint64_t val)
{
	uint64_t old = l->base;
	bool en = val & APIC_BASE_ENABLE, extd = val & APIC_BASE_EXTD;
	if (extd && !en)
		return -1;                      /* invalid state */
	if ((old & APIC_BASE_EXTD) && en && !extd)
		return -1;                      /* x2APIC -> xAPIC needs a disable first */
	if (!en) {
		lapic_reset(l);
		l->base &= ~(APIC_BASE_ENABLE | APIC_BASE_EXTD);
		for (int i = 0; i < LVT_COUNT; i++)
			l->lvt[i] = LVT_MASKED;
		changed(l);
		irq_pic_changed(l->vm);
		return 0;
	}
	/* Relocating the page is not supported: the MMIO window stays at 0xFEE00000. */
	l->base = LAPIC_BASE | (old & APIC_BASE_BSP) | APIC_BASE_ENABLE | (extd ? APIC_BASE_EXTD : 0);
	if (extd && !(old & APIC_BASE_EXTD))
		l->ldr = ((l->id >> 4) << 16) | (1u << (l->id & 0xf));
	changed(l);
	irq_pic_changed(l->vm);
	return 0;
}

static int x2_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	uint32_t off = (msr - MSR_X2APIC_FIRST) << 4;
	if (!x2apic(l))
		return -1;
	switch (off) {
	case REG_EOI: case REG_DFR: case REG_ICR_HI: case REG_SELF_IPI: case REG_RRD:
	case REG_APR:
		return -1;
	case REG_ICR_LO:
		*val = (uint64_t)l->icr_hi << 32 | l->icr_lo;
		return 0;
	}
	if (off > REG_TDCR)
		return -1;
	*val = lapic_reg_read(l, off);
	return 0;
}

static int x2_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	uint32_t off = (msr - MSR_X2APIC_FIRST) << 4;
	if (!x2apic(l))
		return -1;
	switch (off) {
	case REG_ID: case REG_VERSION: case REG_PPR: case REG_LDR: case REG_DFR:
	case REG_ICR_HI: case REG_TMCCT: case REG_APR: case REG_RRD:
		return -1;
	case REG_EOI:
		if (val)
			return -1;
		break;
	case REG_ICR_LO:
		l->icr_hi = (uint32_t)(val >> 32);
		lapic_reg_write(l, REG_ICR_LO, (uint32_t)val);
		return 0;
	}
	if (off > REG_SELF_IPI || (off >= REG_ISR && off < REG_ESR))
		return -1;
	if (val >> 32)
		return -1;
	lapic_reg_write(l, off, (uint32_t)val);
	return 0;
}

int lapic_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	struct lapic *l = lapic_get(vm, v->id);
	int rc = -1;
	if (l) {
		if (msr == MSR_APIC_BASE) {
			*val = l->base;
			rc = 0;
		} else if (msr == MSR_TSC_DEADLINE) {
			*val = timer_mode(l) == TIMER_TSCDEADLINE ? l->tsc_deadline : 0;
			rc = 0;
		} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
			rc = x2_read(l, msr, val);
		}
	}
	pthread_mutex_unlock(&vm->dev_lock);
	return rc;
}

int lapic_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->dev_lock);
	struct lapic *l = lapic_get(vm, v->id);
	int rc = -1;
	if (l) {
		if (msr == MSR_APIC_BASE) {
			rc = base_write(l, val);
		} else if (msr == MSR_TSC_DEADLINE) {
			tsc_deadline_write(l, val);
			rc = 0;
		} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
			rc = x2_write(l, msr, val);
		}
	}
	pthread_mutex_unlock(&vm->dev_lock);
	return rc;
}

/* ---- lifecycle ---- */

int lapic_vm_init(struct vm *vm, int ncpus)
{
	struct lapic_set *s = calloc(1, sizeof(*s) + (size_t)ncpus * sizeof(s->cpu[0]));
	if (!s)
		return err_set("out of memory for %d local APICs", ncpus);
	s->n = ncpus;
	vm->devices[DEV_LAPIC] = s;
	for (int i = 0; i < ncpus; i++) {
		struct lapic *l = &s->cpu[i];
		l->vm = vm;
		l->cpu = i;
		clock_timer_init(vm, &l->timer, timer_fire, l);
		lapic_reset(l);
	}
	if (bus_register(&vm->mmio, LAPIC_BASE, 0x1000, lapic_mmio, vm, "lapic") < 0)
		goto fail;
	/* Tell the engines (the translator's soft MMU) that this page is MMIO. */
	if (!mem_find(&vm->mem, LAPIC_BASE) &&
	    mem_add_region(&vm->mem, LAPIC_BASE, 0x1000, MEM_MMIO, NULL, "lapic") < 0)
		goto fail;
	return 0;
fail:
	lapic_vm_destroy(vm);
	return -1;
}

void lapic_vm_destroy(struct vm *vm)
{
	struct lapic_set *s = vm->devices[DEV_LAPIC];
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		clock_timer_remove(&s->cpu[i].timer);
	vm->devices[DEV_LAPIC] = NULL;
	free(s);
}

static int lapic_dev_init(struct vm *vm)
{
	return lapic_vm_init(vm, vm->cfg && vm->cfg->cpus > 0 ? vm->cfg->cpus : 1);
}

static void lapic_dev_destroy(struct vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
	lapic_vm_destroy(vm);
	pthread_mutex_unlock(&vm->dev_lock);
}

static const struct device_ops lapic_device = {
	.name = "lapic",
	.order = 4,
	.init = lapic_dev_init,
	.destroy = lapic_dev_destroy,
};
DEVICE_REGISTER(lapic_device);
