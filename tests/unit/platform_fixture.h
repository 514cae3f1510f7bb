/* A bare struct vm holding only the platform devices, on the fake clock, so
 * the PIC/PIT/RTC/IOAPIC/LAPIC tests drive them through their buses and
 * fire timers by advancing time explicitly. */
#ifndef VMLITE_TEST_PLATFORM_FIXTURE_H
#define VMLITE_TEST_PLATFORM_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/rtc_cmos.h"
#include "irq.h"
#include "unit.h"
#include "vm.h"

#define FX_T0_NS        1000000000ull   /* fake clock starts 1 s in */
#define FX_REALTIME_S   1700000000ull   /* 2023-11-14 22:13:20 UTC, a Tuesday */

static struct vm_config fx_cfg;

static inline void fx_init_mem(struct vm *vm, int ncpus, uint64_t ram)
{
	memset(vm, 0, sizeof(*vm));
	memset(&fx_cfg, 0, sizeof(fx_cfg));
	fx_cfg.cpus = ncpus;
	vm->cfg = &fx_cfg;
	vm->mem.ram_size = ram;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	pthread_mutex_init(&vm->dev_lock, NULL);
	clock_fake_enable(FX_T0_NS, FX_REALTIME_S);
	clock_fake_set_tsc_hz(1000000000ull);
	CU_ASSERT_EQUAL(clock_vm_init(vm, false), 0);
	CU_ASSERT_EQUAL(pic_vm_init(vm), 0);
	CU_ASSERT_EQUAL(ioapic_vm_init(vm), 0);
	CU_ASSERT_EQUAL(lapic_vm_init(vm, ncpus), 0);
	CU_ASSERT_EQUAL(pit_vm_init(vm), 0);
	CU_ASSERT_EQUAL(rtc_vm_init(vm), 0);
	vm->vcpus = calloc((size_t)ncpus, sizeof(*vm->vcpus));
	vm->ncpus = ncpus;
	for (int i = 0; i < ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
	}
	irq_set_current(&vm->vcpus[0]);
}

static inline void fx_init(struct vm *vm, int ncpus)
{
	fx_init_mem(vm, ncpus, 256ull << 20);
}

static inline void fx_destroy(struct vm *vm)
{
	irq_set_current(NULL);
	rtc_vm_destroy(vm);
	pit_vm_destroy(vm);
	lapic_vm_destroy(vm);
	ioapic_vm_destroy(vm);
	pic_vm_destroy(vm);
	clock_vm_destroy(vm);
	free(vm->vcpus);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->dev_lock);
	clock_fake_set_tsc_hz(0);
	clock_fake_disable();
}

static inline void fx_out(struct vm *vm, uint16_t port, uint8_t v)
{
	bus_access(&vm->pio, port, 1, true, &v);
}

static inline uint8_t fx_in(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&vm->pio, port, 1, false, &v);
	return v;
}

static inline void fx_mmio_write(struct vm *vm, uint64_t gpa, uint32_t v)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	bus_access(&vm->mmio, gpa, 4, true, d);
}

static inline uint32_t fx_mmio_read(struct vm *vm, uint64_t gpa)
{
	uint8_t d[4];
	bus_access(&vm->mmio, gpa, 4, false, d);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

/* Moves the fake clock and fires whatever fell due, as the timer thread would. */
static inline void fx_advance(struct vm *vm, uint64_t ns)
{
	clock_fake_advance(ns);
	clock_run_expired(vm, clock_now_ns());
}

/* Linux's init_8259A(): vectors 0x30/0x38, cascade on IRQ2, normal EOI. */
static inline void fx_pic_linux_init(struct vm *vm, bool auto_eoi)
{
	fx_out(vm, 0x21, 0xff);
	fx_out(vm, 0xa1, 0xff);
	fx_out(vm, 0x20, 0x11);
	fx_out(vm, 0x21, 0x30);
	fx_out(vm, 0x21, 0x04);
	fx_out(vm, 0x21, auto_eoi ? 0x03 : 0x01);
	fx_out(vm, 0xa0, 0x11);
	fx_out(vm, 0xa1, 0x38);
	fx_out(vm, 0xa1, 0x02);
	fx_out(vm, 0xa1, 0x01);
}

#endif
