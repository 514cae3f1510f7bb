/* Guest time source and the per-VM device timer thread (see clock.h). */
#include "clock.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "device.h"
#include "error.h"
#include "vm.h"

static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static uint64_t base_mono, base_real;

static atomic_bool fake_on;
static _Atomic uint64_t fake_ns;
static uint64_t fake_real_base;
static uint64_t fake_tsc_hz;

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * CLOCK_NS_PER_SEC + (uint64_t)ts->tv_nsec;
}

static void base_init(void)
{
	struct timespec m, r;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	base_mono = ts_ns(&m);
	base_real = ts_ns(&r);
}

uint64_t clock_muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 r = (unsigned __int128)a * b / c;
	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

uint64_t clock_now_ns(void)
{
	if (atomic_load(&fake_on))
		return atomic_load(&fake_ns);
	pthread_once(&base_once, base_init);
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ts_ns(&m) - base_mono;
}

uint64_t clock_realtime_ns(void)
{
	if (atomic_load(&fake_on))
		return fake_real_base + atomic_load(&fake_ns);
	uint64_t now = clock_now_ns();
	return base_real + now;
}

static uint64_t detected_hz;
static pthread_once_t hz_once = PTHREAD_ONCE_INIT;

static uint64_t rdtsc_now(void)
{
	unsigned lo, hi;
	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t mono_raw_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (uint64_t)t.tv_sec * CLOCK_NS_PER_SEC + (uint64_t)t.tv_nsec;
}

/* 10 ms against the raw monotonic clock: an error of ~1e-5 from the two
 * clock reads, paid once per process. */
static uint64_t tsc_measure_hz(void)
{
	uint64_t n0 = mono_raw_ns(), c0 = rdtsc_now(), n1, c1;
	do {
		c1 = rdtsc_now();
		n1 = mono_raw_ns();
	} while (n1 - n0 < 10000000ull);
	uint64_t hz = clock_muldiv(c1 - c0, CLOCK_NS_PER_SEC, n1 - n0);
	/* Round to 10 kHz: the value is also what CPUID and the pvclock publish. */
	hz = (hz + 5000) / 10000 * 10000;
	return hz ? hz : 2000000000ull;
}

static void hz_detect(void)
{
	unsigned a, b, c, d;
	unsigned max = __get_cpuid_max(0, NULL);
	if (max >= 0x15) {
		__cpuid_count(0x15, 0, a, b, c, d);
		if (a && b && c) {
			detected_hz = (uint64_t)c * b / a;
			return;
		}
	}
	__cpuid(1, a, b, c, d);
	if (c & (1u << 31)) {           /* running under a hypervisor */
		__cpuid(0x40000000, a, b, c, d);
		if (a >= 0x40000010) {
			__cpuid(0x40000010, a, b, c, d);
			if (a) {
				detected_hz = (uint64_t)a * 1000;
				return;
			}
		}
	}
	/* Leaf 0x16 is the nominal core clock, not the TSC, and AMD hosts have
	 * neither leaf: measure the TSC against CLOCK_MONOTONIC_RAW. A wrong
	 * rate here makes every guest clock derived from it (the VMI pvclock,
	 * TSC-deadline timers) run fast or slow by the same factor. */
	detected_hz = tsc_measure_hz();
}

uint64_t clock_tsc_hz(void)
{
	if (fake_tsc_hz)
		return fake_tsc_hz;
	pthread_once(&hz_once, hz_detect);
	return detected_hz;
}

void clock_cpuid_15(uint32_t *eax, uint32_t *ebx, uint32_t *ecx)
{
	*ecx = 1000000000u;                             /* LAPIC_BUS_HZ (lapic.h) */
	*eax = 1000000u;
	*ebx = (uint32_t)(clock_tsc_hz() / 1000);       /* TSC in kHz over 1 GHz / 1e6 */
}

uint64_t clock_ns_to_tsc(uint64_t ns)
{
	return clock_muldiv(ns, clock_tsc_hz(), CLOCK_NS_PER_SEC);
}

uint64_t clock_tsc_to_ns(uint64_t tsc)
{
	return clock_muldiv(tsc, CLOCK_NS_PER_SEC, clock_tsc_hz());
}

uint64_t clock_tsc_now(void)
{
	return clock_ns_to_tsc(clock_now_ns());
}

uint64_t clock_host_tsc(void)
{
	return rdtsc_now();
}

uint64_t clock_tsc_deadline_ns(uint64_t deadline, uint64_t tsc_now)
{
	uint64_t now = clock_now_ns();
	return deadline > tsc_now ? now + clock_tsc_to_ns(deadline - tsc_now) : now;
}

void clock_fake_enable(uint64_t now_ns, uint64_t realtime_s)
{
	atomic_store(&fake_ns, now_ns);
	fake_real_base = realtime_s * CLOCK_NS_PER_SEC - now_ns;
	atomic_store(&fake_on, true);
}

void clock_fake_disable(void)
{
	atomic_store(&fake_on, false);
}

void clock_fake_advance(uint64_t ns)
{
	atomic_fetch_add(&fake_ns, ns);
}

void clock_fake_set_tsc_hz(uint64_t hz)
{
	fake_tsc_hz = hz;
}

/* ---- per-VM timers ---- */

struct clock_state {
	struct vm *vm;
	struct clock_timer *timers;
	pthread_cond_t cond;            /* waits on vm->dev_lock */
	pthread_t thread;
	bool want_thread;
	bool thread_running;
	bool stop;
};

static struct clock_state *clock_of(struct vm *vm)
{
	return vm->devices[DEV_CLOCK];
}

static void clock_poke(struct vm *vm)
{
	struct clock_state *c = clock_of(vm);
	if (c && c->thread_running)
		pthread_cond_signal(&c->cond);
}

void clock_timer_init(struct vm *vm, struct clock_timer *t,
		      void (*fire)(void *opaque, uint64_t now), void *opaque)
{
	struct clock_state *c = clock_of(vm);
	*t = (struct clock_timer){ .vm = vm, .fire = fire, .opaque = opaque };
	if (!c)
		return;
	t->next = c->timers;
	c->timers = t;
	t->linked = true;
}

void clock_timer_remove(struct clock_timer *t)
{
	struct clock_state *c = t->vm ? clock_of(t->vm) : NULL;
	t->armed = false;
	if (!c || !t->linked)
		return;
	for (struct clock_timer **p = &c->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->linked = false;
}

static int clock_thread_start(struct clock_state *c);

void clock_timer_arm(struct clock_timer *t, uint64_t deadline_ns)
{
	t->deadline = deadline_ns;
	t->armed = true;
	struct clock_state *c = t->vm ? clock_of(t->vm) : NULL;
	/* The thread starts with the first deadline, i.e. once the guest runs and
	 * every device has registered its timers (the list is then fixed). */
	if (c && c->want_thread && !c->thread_running)
		clock_thread_start(c);
	clock_poke(t->vm);
}

void clock_timer_cancel(struct clock_timer *t)
{
	t->armed = false;
}

uint64_t clock_run_expired(struct vm *vm, uint64_t now)
{
	struct clock_state *c = clock_of(vm);
	if (!c)
		return CLOCK_NEVER;
	/* A callback may arm or cancel any timer, so rescan after each one;
	 * each pass fires at least one timer and re-arms go into the future. */
	for (int guard = 0; guard < 1000; guard++) {
		struct clock_timer *due = NULL;
		for (struct clock_timer *t = c->timers; t; t = t->next)
			if (t->armed && t->deadline <= now && (!due || t->deadline < due->deadline))
				due = t;
		if (!due)
			break;
		due->armed = false;
		due->fire(due->opaque, now);
	}
	uint64_t next = CLOCK_NEVER;
	for (struct clock_timer *t = c->timers; t; t = t->next)
		if (t->armed && t->deadline < next)
			next = t->deadline;
	return next;
}

static void *clock_thread(void *arg)
{
	struct clock_state *c = arg;
	struct vm *vm = c->vm;
	/* Default 50 us slack would skew 1 kHz ticks; ask for tight wake-ups. */
	prctl(PR_SET_TIMERSLACK, 1000ul, 0, 0, 0);
	pthread_once(&base_once, base_init);
	pthread_mutex_lock(&vm->dev_lock);
	while (!c->stop) {
		uint64_t next = CLOCK_NEVER;
		/* After a stop request vCPUs are being torn down: fire nothing. */
		if (!vm_stopping(vm))
			next = clock_run_expired(vm, clock_now_ns());
		if (next == CLOCK_NEVER || vm_stopping(vm)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->cond, &vm->dev_lock, &ts);
			continue;
		}
		uint64_t abs = base_mono + next;
		struct timespec ts = { (time_t)(abs / CLOCK_NS_PER_SEC),
				       (long)(abs % CLOCK_NS_PER_SEC) };
		pthread_cond_timedwait(&c->cond, &vm->dev_lock, &ts);
	}
	pthread_mutex_unlock(&vm->dev_lock);
	return NULL;
}

int clock_vm_init(struct vm *vm, bool start_thread)
{
	struct clock_state *c = calloc(1, sizeof(*c));
	if (!c)
		return err_set("out of memory for the guest clock");
	c->vm = vm;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	vm->devices[DEV_CLOCK] = c;
	c->want_thread = start_thread;
	return 0;
}

/* Called with dev_lock held; the new thread waits for it. If the thread
 * cannot be created, timers fire only when clock_run_expired() is called,
 * and the guest notices missing ticks: say so once. */
static int clock_thread_start(struct clock_state *c)
{
	/* The timer thread must not take signals meant for vCPUs or main. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&c->thread, NULL, clock_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		c->want_thread = false;
		fprintf(stderr, "vmlite: cannot start the timer thread (%s): guest timers stop\n",
			strerror(rc));
		return -1;
	}
	c->thread_running = true;
	return 0;
}

void clock_vm_destroy(struct vm *vm)
{
	struct clock_state *c = clock_of(vm);
	if (!c)
		return;
	if (c->thread_running) {
		pthread_mutex_lock(&vm->dev_lock);
		c->stop = true;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&vm->dev_lock);
		pthread_join(c->thread, NULL);
	}
	pthread_cond_destroy(&c->cond);
	vm->devices[DEV_CLOCK] = NULL;
	free(c);
}

static int clock_dev_init(struct vm *vm)
{
	return clock_vm_init(vm, true);
}

static const struct device_ops clock_device = {
	.name = "clock",
	.order = 1,
	.init = clock_dev_init,
	.destroy = clock_vm_destroy,
};
DEVICE_REGISTER(clock_device);
