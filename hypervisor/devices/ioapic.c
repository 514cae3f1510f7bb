/* The IOAPIC: 24 redirection entries turning pin levels into APIC-bus
 * messages. Level-triggered entries hold remote IRR until the local APIC's
 * EOI broadcast; edge entries fire on rising edges. Pin levels are logical
 * ("asserted"), so the polarity bit is stored but not applied: every device
 * model raises its line active-high, as the firmware tables describe. */
#include "ioapic.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "devices/lapic.h"
#include "error.h"
#include "vm.h"

#define RTE_MASKED      (1ull << 16)
#define RTE_LEVEL       (1ull << 15)
#define RTE_REMOTE_IRR  (1ull << 14)
#define RTE_DELIVS      (1ull << 12)
#define RTE_LOGICAL     (1ull << 11)
/* Guest-writable bits: vector, delivery mode, dest mode, polarity, trigger, mask, dest. */
#define RTE_WRITABLE    ((0xff00000000000000ull | 0x1ffffull) & ~(RTE_REMOTE_IRR | RTE_DELIVS))

struct ioapic {
	struct vm *vm;
	uint32_t sel;
	uint32_t id;
	uint32_t level;         /* pin levels */
	uint32_t pending;       /* edges seen while masked, delivered on unmask */
	uint64_t rte[IOAPIC_PINS];
};

static struct ioapic *ioapic_of(struct vm *vm)
{
	return vm->devices[DEV_IOAPIC];
}

static void deliver(struct ioapic *io, unsigned pin)
{
	uint64_t r = io->rte[pin];
	bool level = r & RTE_LEVEL;
	if (r & RTE_MASKED) {
		if (!level)
			io->pending |= 1u << pin;
		return;
	}
	if (level) {
		if (r & RTE_REMOTE_IRR)
			return;
		io->rte[pin] |= RTE_REMOTE_IRR;
	}
	io->pending &= ~(1u << pin);
	lapic_deliver(io->vm, (uint32_t)(r >> 56), r & RTE_LOGICAL, (enum apic_dm)((r >> 8) & 7),
		      r & 0xff, level);
}

void ioapic_set_irq(struct vm *vm, unsigned pin, bool level)
{
	struct ioapic *io = ioapic_of(vm);
	if (!io || pin >= IOAPIC_PINS)
		return;
	uint32_t m = 1u << pin;
	bool was = io->level & m;
	if (level)
		io->level |= m;
	else
		io->level &= ~m;
	if (!level)
		return;
	if (io->rte[pin] & RTE_LEVEL)
		deliver(io, pin);
	else if (!was)
		deliver(io, pin);
}

int ioapic_pin_vector(struct vm *vm, unsigned pin)
{
	struct ioapic *io = ioapic_of(vm);
	if (!io || pin >= IOAPIC_PINS || (io->rte[pin] & RTE_MASKED))
		return -1;
	return (int)(io->rte[pin] & 0xff);
}

void ioapic_eoi(struct vm *vm, uint8_t vector)
{
	struct ioapic *io = ioapic_of(vm);
	if (!io)
		return;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *r = &io->rte[pin];
		if ((*r & 0xff) != vector || !(*r & RTE_REMOTE_IRR))
			continue;
		*r &= ~RTE_REMOTE_IRR;
		/* Still asserted: the device has more to say. */
		if ((*r & RTE_LEVEL) && (io->level & (1u << pin)))
			deliver(io, pin);
	}
}

static uint32_t reg_read(struct ioapic *io)
{
	uint32_t sel = io->sel & 0xff;
	switch (sel) {
	case 0:
		return io->id << 24;
	case 1:
		return 0x11 | ((IOAPIC_PINS - 1) << 16);
	case 2:
		return io->id << 24;    /* arbitration ID */
	}
	if (sel >= 0x10 && sel < 0x10 + 2 * IOAPIC_PINS) {
		uint64_t r = io->rte[(sel - 0x10) >> 1];
		return (sel & 1) ? (uint32_t)(r >> 32) : (uint32_t)r;
	}
	return 0xffffffffu;
}

static void reg_write(struct ioapic *io, uint32_t val)
{
	uint32_t sel = io->sel & 0xff;
	if (sel == 0) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (sel < 0x10 || sel >= 0x10 + 2 * IOAPIC_PINS)
		return;
	unsigned pin = (sel - 0x10) >> 1;
	uint64_t *r = &io->rte[pin];
	uint64_t old = *r;
	uint64_t nv = (sel & 1) ? ((uint64_t)val << 32) | (old & 0xffffffffull)
				: (old & 0xffffffff00000000ull) | val;
	*r = (nv & (RTE_WRITABLE)) | (old & RTE_REMOTE_IRR);
	/* An edge entry never holds remote IRR. */
	if (!(*r & RTE_LEVEL))
		*r &= ~RTE_REMOTE_IRR;
	if (!(*r & RTE_MASKED)) {
		if ((*r & RTE_LEVEL) && (io->level & (1u << pin)))
			deliver(io, pin);
		else if (!(*r & RTE_LEVEL) && (io->pending & (1u << pin)))
			deliver(io, pin);
	}
}

static void ioapic_mmio(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;
	if (is_write)
		for (unsigned i = 0; i < size && i < 4; i++)
			v |= (uint32_t)data[i] << (8 * i);
	switch (off & ~3ull) {
	case 0x00:
		if (is_write)
			io->sel = v;
		else
			v = io->sel;
		break;
	case 0x10:
		if (is_write)
			reg_write(io, v);
		else
			v = reg_read(io);
		break;
	default:
		v = 0;
		break;
	}
	if (!is_write) {
		unsigned shift = (off & 3) * 8;
		for (unsigned i = 0; i < size; i++)
			data[i] = i < 4 ? (uint8_t)((v >> shift) >> (8 * i)) : 0;
	}
}

int ioapic_vm_init(struct vm *vm)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	if (!io)
		return err_set("out of memory");
	io->vm = vm;
	/* The MADT (acpi.c) gives the IOAPIC the ID after the last CPU. */
	io->id = (uint32_t)(vm->cfg && vm->cfg->cpus > 0 ? vm->cfg->cpus : 1) & 0xf;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASKED;
	vm->devices[DEV_IOAPIC] = io;
	if (bus_register(&vm->mmio, IOAPIC_BASE, 0x1000, ioapic_mmio, io, "ioapic") < 0 ||
	    (!mem_find(&vm->mem, IOAPIC_BASE) &&
	     mem_add_region(&vm->mem, IOAPIC_BASE, 0x1000, MEM_MMIO, NULL, "ioapic") < 0)) {
		vm->devices[DEV_IOAPIC] = NULL;
		free(io);
		return -1;
	}
	return 0;
}

void ioapic_vm_destroy(struct vm *vm)
{
	free(vm->devices[DEV_IOAPIC]);
	vm->devices[DEV_IOAPIC] = NULL;
}

static const struct device_ops ioapic_device = {
	.name = "ioapic",
	.order = 3,
	.init = ioapic_vm_init,
	.destroy = ioapic_vm_destroy,
};
DEVICE_REGISTER(ioapic_device);
