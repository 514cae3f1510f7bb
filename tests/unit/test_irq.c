#include <time.h>

#include "null_engine.h"
#include "platform_fixture.h"

#define MS 1000000ull

/* A recording engine for the core-driven delivery path. */
static bool fake_window_open;
static int fake_window_requests, fake_injected, fake_kicks;
static uint8_t fake_vector;

static bool fake_irq_window(struct vcpu *v) { (void)v; return fake_window_open; }
static void fake_want_window(struct vcpu *v, bool on) { (void)v; fake_window_requests += on; }
static void fake_kick(struct vcpu *v) { (void)v; fake_kicks++; }
static int fake_inject(struct vcpu *v, const struct vcpu_event *ev)
{
	(void)v;
	if (ev->kind == EVENT_EXTINT) {
		fake_injected++;
		fake_vector = ev->vector;
	}
	return 0;
}

static const struct engine_ops fake_engine = {
	.name = "fake",
	.inject = fake_inject,
	.irq_window = fake_irq_window,
	.want_irq_window = fake_want_window,
	.kick = fake_kick,
};

static void test_irq_line_pic_vector(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	struct vcpu *v = &vm.vcpus[0];
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfa);
	fx_out(&vm, 0xa1, 0xfe);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));
	irq_pulse(&vm, 0);
	CU_ASSERT_TRUE(atomic_load(&v->irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x30);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));  /* in service now */
	irq_pulse(&vm, 8);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));  /* cascade (IRQ2) ranks below IRQ0 */
	fx_out(&vm, 0x20, 0x20);
	CU_ASSERT_TRUE(atomic_load(&v->irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x38);
	/* The OS masks LINT0 once it uses the IOAPIC: the PIC can no longer reach the CPU. */
	fx_mmio_write(&vm, LAPIC_BASE + 0xf0, 0x1ff);
	fx_mmio_write(&vm, LAPIC_BASE + 0x350, 0x10700);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	irq_pulse(&vm, 0);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	/* With the APIC globally disabled (MSR 0x1B), INTR goes straight to the BSP. */
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_APIC_BASE, LAPIC_BASE | APIC_BASE_BSP), 0);
	CU_ASSERT_TRUE(atomic_load(&v->irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x30);
	fx_destroy(&vm);
}

static void test_irq_line_ioapic_lapic_vector(void)
{
	struct vm vm;
	fx_init(&vm, 2);
	fx_out(&vm, 0x21, 0xff);
	fx_out(&vm, 0xa1, 0xff);
	for (int i = 0; i < 2; i++) {
		irq_set_current(&vm.vcpus[i]);
		fx_mmio_write(&vm, LAPIC_BASE + 0xf0, 0x1ff);
	}
	/* RTC (IRQ 8) to CPU 1, vector 0x28, edge, physical. */
	fx_mmio_write(&vm, IOAPIC_BASE, 0x11 + 16);
	fx_mmio_write(&vm, IOAPIC_BASE + 0x10, 1u << 24);
	fx_mmio_write(&vm, IOAPIC_BASE, 0x10 + 16);
	fx_mmio_write(&vm, IOAPIC_BASE + 0x10, 0x28);
	irq_pulse(&vm, 8);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[0].irq_pending));
	CU_ASSERT_TRUE(atomic_load(&vm.vcpus[1].irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[1]), 0x28);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[1].irq_pending));
	/* ExtINT through an IOAPIC pin: the vector comes from the PIC's INTA. */
	irq_set_current(&vm.vcpus[0]);
	fx_mmio_write(&vm, LAPIC_BASE + 0x350, 0x10700);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fx_mmio_write(&vm, IOAPIC_BASE, 0x11 + 4);
	fx_mmio_write(&vm, IOAPIC_BASE + 0x10, 0);
	fx_mmio_write(&vm, IOAPIC_BASE, 0x10 + 4);
	fx_mmio_write(&vm, IOAPIC_BASE + 0x10, 0x700);
	irq_pulse(&vm, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0x30);
	fx_destroy(&vm);
}

static void test_irq_core_delivery(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	vm.engine = &fake_engine;
	struct vcpu *v = &vm.vcpus[0];
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fake_window_open = false;
	fake_window_requests = fake_injected = fake_kicks = 0;
	irq_set_current(NULL);                          /* raised from another thread */
	irq_pulse(&vm, 0);
	CU_ASSERT_EQUAL(fake_kicks, 1);
	irq_set_current(v);
	vcpu_irq_deliver(v);
	CU_ASSERT_EQUAL(fake_window_requests, 1);       /* IF=0: wait for the window */
	CU_ASSERT_EQUAL(fake_injected, 0);
	CU_ASSERT_TRUE(atomic_load(&v->irq_pending));
	fake_window_open = true;
	vcpu_irq_deliver(v);
	CU_ASSERT_EQUAL(fake_injected, 1);
	CU_ASSERT_EQUAL(fake_vector, 0x30);
	CU_ASSERT_EQUAL(v->stats.irqs_injected, 1);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));
	vcpu_irq_deliver(v);
	CU_ASSERT_EQUAL(fake_injected, 1);
	/* Raised on the vCPU's own thread (e.g. by its port write): no kick. */
	fx_out(&vm, 0x20, 0x20);
	irq_pulse(&vm, 0);
	CU_ASSERT_EQUAL(fake_kicks, 1);
	fx_destroy(&vm);
}

struct waiter {
	struct vcpu *v;
	atomic_int done;
};

static void *hlt_thread(void *arg)
{
	struct waiter *w = arg;
	vcpu_irq_wait(w->v);
	atomic_store(&w->done, 1);
	return NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Real clock and timer thread: a halted vCPU is woken by the PIT, on time. */
static void test_irq_hlt_woken_by_timer_thread(void)
{
	struct vm vm;
	memset(&vm, 0, sizeof(vm));
	struct vm_config cfg;
	CU_ASSERT_EQUAL_FATAL(null_vm_create_default(&vm, &cfg), 0);
	struct vcpu *v = &vm.vcpus[0];
	irq_set_current(v);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fx_out(&vm, 0x43, 0x30);                        /* ch0 mode 0: one IRQ0 after 20 ms */
	fx_out(&vm, 0x40, 23864 & 0xff);
	uint64_t t0 = mono_ns();
	pthread_mutex_lock(&vm.dev_lock);
	bus_access(&vm.pio, 0x40, 1, true, &(uint8_t){ 23864 >> 8 });
	pthread_mutex_unlock(&vm.dev_lock);
	struct waiter w = { v, 0 };
	pthread_t th;
	pthread_create(&th, NULL, hlt_thread, &w);
	for (int i = 0; i < 500 && !atomic_load(&w.done); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	uint64_t dt = mono_ns() - t0;
	CU_ASSERT_TRUE(atomic_load(&w.done));
	CU_ASSERT(dt >= 19 * MS);
	CU_ASSERT(dt < 200 * MS);
	if (!atomic_load(&w.done))
		vm_request_stop(&vm, STOP_SIGNAL, VMLITE_EXIT_SIGNAL);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x30);
	/* The platform pages are MMIO regions in the memory map. */
	const struct mem_region *r = mem_find(&vm.mem, LAPIC_BASE);
	CU_ASSERT_TRUE(r && r->kind == MEM_MMIO);
	r = mem_find(&vm.mem, IOAPIC_BASE + 0x10);
	CU_ASSERT_TRUE(r && r->kind == MEM_MMIO);
	irq_set_current(NULL);
	vm_destroy(&vm);
}

struct consumer {
	struct vm *vm;
	uint64_t until;
	int ticks;
};

/* A vCPU stand-in: sleep in HLT, take the interrupt, EOI the PIC. */
static void *consumer_thread(void *arg)
{
	struct consumer *c = arg;
	struct vcpu *v = &c->vm->vcpus[0];
	irq_set_current(v);
	while (mono_ns() < c->until) {
		vcpu_irq_wait(v);
		if (vcpu_irq_ack(v) != 0x30)
			continue;
		c->ticks++;
		pthread_mutex_lock(&c->vm->dev_lock);
		bus_access(&c->vm->pio, 0x20, 1, true, &(uint8_t){ 0x20 });
		pthread_mutex_unlock(&c->vm->dev_lock);
	}
	return NULL;
}

/* Real clock, timer thread and a consumer thread: 1 kHz for 300 ms. */
static void test_irq_pit_rate_real_time(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_EQUAL_FATAL(null_vm_create_default(&vm, &cfg), 0);
	irq_set_current(&vm.vcpus[0]);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	irq_set_current(NULL);
	struct consumer c = { &vm, mono_ns() + 300 * MS, 0 };
	pthread_t th;
	pthread_create(&th, NULL, consumer_thread, &c);
	pthread_mutex_lock(&vm.dev_lock);
	bus_access(&vm.pio, 0x43, 1, true, &(uint8_t){ 0x34 });
	bus_access(&vm.pio, 0x40, 1, true, &(uint8_t){ 0xa9 });
	bus_access(&vm.pio, 0x40, 1, true, &(uint8_t){ 0x04 });
	pthread_mutex_unlock(&vm.dev_lock);
	pthread_join(th, NULL);
	if (getenv("VMLITE_TEST_VERBOSE"))
		printf("[%d ticks in 300 ms] ", c.ticks);
	/* 300 expected; coalescing under heavy host load may lose a few. */
	CU_ASSERT(c.ticks >= 250 && c.ticks <= 301);
	vm_request_stop(&vm, STOP_SIGNAL, VMLITE_EXIT_SIGNAL);
	vm_destroy(&vm);
}

/* The legacy devices' interrupt callbacks reach the controllers. */
static void test_irq_device_wiring(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_EQUAL_FATAL(null_vm_create_default(&vm, &cfg), 0);
	irq_set_current(&vm.vcpus[0]);
	pthread_mutex_lock(&vm.dev_lock);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xed);                        /* IRQ 1 and 4 */
	CU_ASSERT_FALSE(pic_output(&vm));
	fx_out(&vm, 0x3f9, 0x02);                       /* COM1 IER: THR empty */
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x34);
	fx_out(&vm, 0x20, 0x20);
	fx_out(&vm, 0x3f9, 0x00);
	fx_out(&vm, 0x64, 0x60);                        /* i8042: command byte ... */
	fx_out(&vm, 0x60, 0x01);                        /* ... keyboard interrupt on */
	fx_out(&vm, 0x64, 0xd2);                        /* write keyboard output buffer */
	fx_out(&vm, 0x60, 0x1c);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x31);
	pthread_mutex_unlock(&vm.dev_lock);
	irq_set_current(NULL);
	vm_destroy(&vm);
}

static void test_clock_tsc(void)
{
	clock_fake_enable(0, FX_REALTIME_S);
	clock_fake_set_tsc_hz(2500000000ull);
	CU_ASSERT_EQUAL(clock_ns_to_tsc(CLOCK_NS_PER_SEC), 2500000000ull);
	CU_ASSERT_EQUAL(clock_tsc_to_ns(2500), 1000);
	clock_fake_advance(4 * MS);
	CU_ASSERT_EQUAL(clock_tsc_now(), 10000000ull);
	CU_ASSERT_EQUAL(clock_realtime_ns() / CLOCK_NS_PER_SEC, FX_REALTIME_S);
	CU_ASSERT_EQUAL(clock_muldiv(UINT64_MAX, 4, 2), UINT64_MAX);  /* saturates */
	uint32_t a15, b15, c15;
	clock_cpuid_15(&a15, &b15, &c15);
	CU_ASSERT_EQUAL((uint64_t)c15 * b15 / a15, 2500000000ull);
	CU_ASSERT_EQUAL(c15, LAPIC_BUS_HZ);
	clock_fake_set_tsc_hz(0);
	clock_fake_disable();
	CU_ASSERT(clock_tsc_hz() >= 100000000ull);
	uint64_t a = clock_now_ns();
	nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	CU_ASSERT(clock_now_ns() - a >= 2 * MS);
}

UNIT_SUITE(irq,
	UNIT_CASE(test_irq_line_pic_vector),
	UNIT_CASE(test_irq_line_ioapic_lapic_vector),
	UNIT_CASE(test_irq_core_delivery),
	UNIT_CASE(test_irq_hlt_woken_by_timer_thread),
	UNIT_CASE(test_irq_pit_rate_real_time),
	UNIT_CASE(test_irq_device_wiring),
	UNIT_CASE(test_clock_tsc))
