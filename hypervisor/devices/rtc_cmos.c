/* MC146818 real-time clock and CMOS RAM. Guest time is the host's UTC wall
 * clock at start plus guest-clock time since (so it never jumps with the
 * host), plus whatever offset the guest sets by writing the clock. Periodic,
 * alarm and update-ended interrupts raise IRQ 8 until register C is read. */
#include "rtc_cmos.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "device.h"
#include "error.h"
#include "irq.h"
#include "vm.h"

enum {
	RTC_SEC = 0, RTC_SEC_ALARM = 1, RTC_MIN = 2, RTC_MIN_ALARM = 3, RTC_HOUR = 4,
	RTC_HOUR_ALARM = 5, RTC_WDAY = 6, RTC_MDAY = 7, RTC_MONTH = 8, RTC_YEAR = 9,
	RTC_REG_A = 0x0A, RTC_REG_B = 0x0B, RTC_REG_C = 0x0C, RTC_REG_D = 0x0D,
	RTC_CENTURY = 0x32,
};

#define A_UIP   0x80
#define B_SET   0x80
#define B_PIE   0x40
#define B_AIE   0x20
#define B_UIE   0x10
#define B_DM    0x04    /* binary (1) or BCD (0) */
#define B_24H   0x02
#define C_IRQF  0x80
#define C_PF    0x40
#define C_AF    0x20
#define C_UF    0x10
#define UIP_NS  244000ull       /* UIP is set this long before each update */

struct rtc {
	struct vm *vm;
	uint8_t index;
	bool nmi_masked;
	uint8_t cmos[128];
	int64_t offset_s;               /* guest time minus host time */
	bool irq_high;
	struct clock_timer periodic, update;
};

static uint64_t guest_ns(const struct rtc *r)
{
	return clock_realtime_ns() + (uint64_t)(r->offset_s * (int64_t)CLOCK_NS_PER_SEC);
}

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t enc(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & B_DM) ? (uint8_t)v : to_bcd(v);
}

static unsigned dec(const struct rtc *r, uint8_t v)
{
	return (r->cmos[RTC_REG_B] & B_DM) ? v : from_bcd(v);
}

static uint8_t enc_hour(const struct rtc *r, unsigned h)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return enc(r, h);
	unsigned h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return dec(r, v);
	unsigned h = dec(r, v & 0x7f) % 12;
	return (v & 0x80) ? h + 12 : h;
}

/* Writes the current guest time into the time registers. */
static void snapshot(struct rtc *r)
{
	time_t t = (time_t)(guest_ns(r) / CLOCK_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	r->cmos[RTC_SEC] = enc(r, tm.tm_sec);
	r->cmos[RTC_MIN] = enc(r, tm.tm_min);
	r->cmos[RTC_HOUR] = enc_hour(r, tm.tm_hour);
	r->cmos[RTC_WDAY] = enc(r, tm.tm_wday + 1);
	r->cmos[RTC_MDAY] = enc(r, tm.tm_mday);
	r->cmos[RTC_MONTH] = enc(r, tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = enc(r, tm.tm_year % 100);
	r->cmos[RTC_CENTURY] = enc(r, (tm.tm_year + 1900) / 100);
}

/* The guest set the clock: keep the difference from host time. */
static void adopt(struct rtc *r)
{
	struct tm tm = { 0 };
	tm.tm_sec = (int)dec(r, r->cmos[RTC_SEC]);
	tm.tm_min = (int)dec(r, r->cmos[RTC_MIN]);
	tm.tm_hour = (int)dec_hour(r, r->cmos[RTC_HOUR]);
	tm.tm_mday = (int)dec(r, r->cmos[RTC_MDAY]);
	tm.tm_mon = (int)dec(r, r->cmos[RTC_MONTH]) - 1;
	tm.tm_year = (int)(dec(r, r->cmos[RTC_CENTURY]) * 100 + dec(r, r->cmos[RTC_YEAR])) - 1900;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return;
	r->offset_s = (int64_t)t - (int64_t)(clock_realtime_ns() / CLOCK_NS_PER_SEC);
}

static void update_irq(struct rtc *r)
{
	uint8_t b = r->cmos[RTC_REG_B], c = r->cmos[RTC_REG_C] & 0x70;
	if ((c & C_PF && b & B_PIE) || (c & C_AF && b & B_AIE) || (c & C_UF && b & B_UIE))
		c |= C_IRQF;
	r->cmos[RTC_REG_C] = c;
	bool high = c & C_IRQF;
	if (high != r->irq_high) {
		r->irq_high = high;
		irq_line_set(r->vm, 8, high);
	}
}

static bool oscillator_on(const struct rtc *r)
{
	return ((r->cmos[RTC_REG_A] >> 4) & 7) == 2;
}

static uint64_t periodic_ns(const struct rtc *r)
{
	unsigned rs = r->cmos[RTC_REG_A] & 0xf;
	if (!rs)
		return 0;
	if (rs < 3)
		rs += 7;                /* rates 1 and 2 alias 8 and 9 */
	return clock_muldiv(1ull << (rs - 1), CLOCK_NS_PER_SEC, 32768);
}

/* PF is only tracked while PIE is set; nothing polls it otherwise. */
static void schedule(struct rtc *r)
{
	uint64_t now = clock_now_ns();
	clock_timer_cancel(&r->periodic);
	clock_timer_cancel(&r->update);
	if (!oscillator_on(r))
		return;
	uint64_t p = periodic_ns(r);
	if ((r->cmos[RTC_REG_B] & B_PIE) && p)
		clock_timer_arm(&r->periodic, (now / p + 1) * p);
	if (r->cmos[RTC_REG_B] & (B_UIE | B_AIE)) {
		uint64_t frac = guest_ns(r) % CLOCK_NS_PER_SEC;
		clock_timer_arm(&r->update, now + CLOCK_NS_PER_SEC - frac);
	}
}

static void periodic_fire(void *opaque, uint64_t now)
{
	struct rtc *r = opaque;
	uint64_t p = periodic_ns(r);
	r->cmos[RTC_REG_C] |= C_PF;
	update_irq(r);
	if (p)
		clock_timer_arm(&r->periodic, (now / p + 1) * p);
}

static bool alarm_field(uint8_t alarm, uint8_t now)
{
	return (alarm & 0xc0) == 0xc0 || alarm == now;
}

static void update_fire(void *opaque, uint64_t now)
{
	struct rtc *r = opaque;
	(void)now;
	if (r->cmos[RTC_REG_B] & B_SET)
		return;
	snapshot(r);
	r->cmos[RTC_REG_C] |= C_UF;
	if (alarm_field(r->cmos[RTC_SEC_ALARM], r->cmos[RTC_SEC]) &&
	    alarm_field(r->cmos[RTC_MIN_ALARM], r->cmos[RTC_MIN]) &&
	    alarm_field(r->cmos[RTC_HOUR_ALARM], r->cmos[RTC_HOUR]))
		r->cmos[RTC_REG_C] |= C_AF;
	update_irq(r);
	schedule(r);
}

static bool is_time_reg(uint8_t i)
{
	return i == RTC_SEC || i == RTC_MIN || i == RTC_HOUR ||
	       (i >= RTC_WDAY && i <= RTC_YEAR) || i == RTC_CENTURY;
}

static uint8_t rtc_read(struct rtc *r, uint8_t i)
{
	if (is_time_reg(i)) {
		if (!(r->cmos[RTC_REG_B] & B_SET))
			snapshot(r);
		return r->cmos[i];
	}
	switch (i) {
	case RTC_REG_A: {
		uint8_t a = r->cmos[RTC_REG_A] & 0x7f;
		if (oscillator_on(r) && !(r->cmos[RTC_REG_B] & B_SET) &&
		    guest_ns(r) % CLOCK_NS_PER_SEC >= CLOCK_NS_PER_SEC - UIP_NS)
			a |= A_UIP;
		return a;
	}
	case RTC_REG_C: {
		uint8_t c = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		update_irq(r);
		return c;
	}
	case RTC_REG_D:
		return 0x80;            /* battery good */
	}
	return r->cmos[i];
}

static void rtc_write(struct rtc *r, uint8_t i, uint8_t val)
{
	if (is_time_reg(i)) {
		bool set = r->cmos[RTC_REG_B] & B_SET;
		if (!set)
			snapshot(r);
		r->cmos[i] = val;
		if (!set)
			adopt(r);
		return;
	}
	switch (i) {
	case RTC_REG_A:
		r->cmos[i] = val & 0x7f;
		schedule(r);
		return;
	case RTC_REG_B: {
		uint8_t old = r->cmos[i];
		if (!(old & B_SET) && (val & B_SET))
			snapshot(r);    /* freeze what the guest will edit */
		if (val & B_SET)
			val &= ~B_UIE;
		if ((old ^ val) & (B_DM | B_24H) && !(val & B_SET)) {
			r->cmos[i] = val;
			snapshot(r);
		}
		r->cmos[i] = val;
		if ((old & B_SET) && !(val & B_SET))
			adopt(r);
		update_irq(r);
		schedule(r);
		return;
	}
	case RTC_REG_C:
	case RTC_REG_D:
		return;                 /* read-only */
	}
	r->cmos[i] = val;
}

static void rtc_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct rtc *r = opaque;
	for (unsigned k = 0; k < size; k++) {
		if (((off + k) & 1) == 0) {
			if (is_write) {
				r->index = data[k] & 0x7f;
				r->nmi_masked = data[k] & 0x80;
			} else {
				data[k] = r->index | (r->nmi_masked ? 0x80 : 0);
			}
		} else if (is_write) {
			rtc_write(r, r->index, data[k]);
		} else {
			data[k] = rtc_read(r, r->index);
		}
	}
}

/* What PC firmware (SeaBIOS) reads to size memory and count CPUs. */
static void fill_config(struct rtc *r, struct vm *vm)
{
	uint8_t *c = r->cmos;
	uint64_t low = mem_low_top(&vm->mem);
	uint64_t high = vm->mem.ram_size > low ? vm->mem.ram_size - low : 0;
	c[0x15] = 0x80;                 /* 640 KiB base memory */
	c[0x16] = 0x02;
	uint64_t ext_kb = low > (1ull << 20) ? (low - (1ull << 20)) >> 10 : 0;
	if (ext_kb > 0xffff)
		ext_kb = 0xffff;
	c[0x17] = c[0x30] = (uint8_t)ext_kb;
	c[0x18] = c[0x31] = (uint8_t)(ext_kb >> 8);
	uint64_t above16 = low > (16ull << 20) ? (low - (16ull << 20)) >> 16 : 0;
	if (above16 > 0xffff)
		above16 = 0xffff;
	c[0x34] = (uint8_t)above16;
	c[0x35] = (uint8_t)(above16 >> 8);
	uint64_t above4g = high >> 16;
	c[0x5b] = (uint8_t)above4g;
	c[0x5c] = (uint8_t)(above4g >> 8);
	c[0x5d] = (uint8_t)(above4g >> 16);
	int cpus = vm->cfg && vm->cfg->cpus > 0 ? vm->cfg->cpus : 1;
	c[0x5f] = (uint8_t)(cpus - 1);
	c[0x14] = 0x06;                 /* equipment: FPU, PS/2 mouse port; no floppy */
}

int rtc_vm_init(struct vm *vm)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set("out of memory");
	r->vm = vm;
	r->cmos[RTC_REG_A] = 0x26;      /* 32.768 kHz oscillator, 1024 Hz periodic rate */
	r->cmos[RTC_REG_B] = B_24H;
	r->cmos[RTC_REG_D] = 0x80;
	fill_config(r, vm);
	clock_timer_init(vm, &r->periodic, periodic_fire, r);
	clock_timer_init(vm, &r->update, update_fire, r);
	vm->devices[DEV_RTC] = r;
	if (bus_register(&vm->pio, 0x70, 2, rtc_io, r, "rtc-cmos") < 0) {
		rtc_vm_destroy(vm);
		return -1;
	}
	return 0;
}

void rtc_vm_destroy(struct vm *vm)
{
	struct rtc *r = vm->devices[DEV_RTC];
	if (!r)
		return;
	clock_timer_remove(&r->periodic);
	clock_timer_remove(&r->update);
	vm->devices[DEV_RTC] = NULL;
	free(r);
}

static void rtc_dev_destroy(struct vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
	rtc_vm_destroy(vm);
	pthread_mutex_unlock(&vm->dev_lock);
}

static const struct device_ops rtc_device = {
	.name = "rtc-cmos",
	.order = 6,
	.init = rtc_vm_init,
	.destroy = rtc_dev_destroy,
};
DEVICE_REGISTER(rtc_device);
