/* ACPI fixed hardware: PM1a event and control blocks and the PM timer, plus
 * building the firmware tables that describe them. A write of SLP_TYP=5 with
 * SLP_EN is the guest's `poweroff`: the VM ends with status 0. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acpi.h"
#include "device.h"
#include "error.h"
#include "vm.h"

#define PM1_SCI_EN      (1u << 0)
#define PM1_SLP_TYP(v)  (((v) >> 10) & 7)
#define PM1_SLP_EN      (1u << 13)

struct acpi_pm {
	struct vm *vm;
	uint16_t sts, en, cnt;
};

/* 3.579545 MHz from the host's monotonic clock: Linux calibrates against it. */
static uint32_t pm_timer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned __int128 ns = (unsigned __int128)ts.tv_sec * 1000000000u + ts.tv_nsec;
	return (uint32_t)(ns * ACPI_PM_TIMER_HZ / 1000000000u);
}

static void pm_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	struct acpi_pm *pm = opaque;
	uint32_t v = 0;
	if (is_write)
		memcpy(&v, data, size < 4 ? size : 4);
	switch (off) {
	case 0:         /* PM1_STS: write-one-to-clear */
		if (is_write)
			pm->sts &= (uint16_t)~v;
		else
			memcpy(data, &pm->sts, size < 2 ? size : 2);
		break;
	case 2:         /* PM1_EN */
		if (is_write)
			pm->en = (uint16_t)v;
		else
			memcpy(data, &pm->en, size < 2 ? size : 2);
		break;
	case 4:         /* PM1_CNT; SCI_EN stays set: there is no legacy (SMI) mode */
		if (is_write) {
			pm->cnt = (uint16_t)((v & ~PM1_SLP_EN) | PM1_SCI_EN);
			if ((v & PM1_SLP_EN) && PM1_SLP_TYP(v) == ACPI_S5_TYPE)
				vm_request_stop(pm->vm, STOP_POWEROFF, VMLITE_EXIT_POWEROFF);
		} else {
			memcpy(data, &pm->cnt, size < 2 ? size : 2);
		}
		break;
	case 8:         /* PM_TMR, read-only */
		if (!is_write) {
			uint32_t t = pm_timer_now();
			memcpy(data, &t, size < 4 ? size : 4);
		}
		break;
	default:
		if (!is_write)
			memset(data, 0xff, size);
		break;
	}
}

static int acpi_pm_init(struct vm *vm)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return err_set("out of memory");
	vm->devices[DEV_ACPI_PM] = pm;
	pm->vm = vm;
	pm->cnt = PM1_SCI_EN;
	uint64_t rsdp;
	/* Runs after the virtio devices (order 90) so the DSDT can list them. */
	struct acpi_mmio_dev devs[8];
	int n = vm->nvirtio < 8 ? vm->nvirtio : 8;
	for (int i = 0; i < n; i++)
		devs[i] = (struct acpi_mmio_dev){ vm->virtio[i].base, 0x1000, vm->virtio[i].irq };
	if (acpi_build(&vm->mem, vm->cfg->cpus, devs, n, &rsdp) < 0)
		return -1;
	return bus_register(&vm->pio, ACPI_PM_BASE, 12, pm_io, pm, "acpi-pm");
}

static void acpi_pm_destroy(struct vm *vm)
{
	free(vm->devices[DEV_ACPI_PM]);
	vm->devices[DEV_ACPI_PM] = NULL;
}

static const struct device_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.order = 90,
	.init = acpi_pm_init,
	.destroy = acpi_pm_destroy,
};
DEVICE_REGISTER(acpi_pm_ops)
