/* ACPI firmware tables (RSDP, XSDT, FADT, FACS, DSDT, MADT) and the fixed
 * hardware they describe (PM1 event/control blocks, PM timer).
 *
 * Why ACPI rather than MP tables: Linux needs a power-off path for `poweroff`
 * to end the VM with status 0, and only ACPI (FADT + _S5) gives it one; the
 * MADT also replaces the MP table for CPU and IOAPIC enumeration. */
#ifndef VMLITE_ACPI_H
#define VMLITE_ACPI_H

#include <stdint.h>

#include "memory.h"

/* Tables live in the legacy BIOS area, which e820 reports as reserved, so
 * the RSDP is found by the standard 0xE0000-0xFFFFF scan as well. */
#define ACPI_TABLES_BASE   0xe0000ull
#define ACPI_TABLES_SIZE   0x10000ull
#define ACPI_RSDP_ADDR     0xf0000ull

#define ACPI_PM_BASE       0x600        /* PM1a_EVT 0x600 (4), PM1a_CNT 0x604 (2), PM_TMR 0x608 (4) */
#define ACPI_PM1_EVT       (ACPI_PM_BASE + 0)
#define ACPI_PM1_CNT       (ACPI_PM_BASE + 4)
#define ACPI_PM_TMR        (ACPI_PM_BASE + 8)
#define ACPI_SCI_IRQ       9
#define ACPI_S5_TYPE       5            /* SLP_TYP value our DSDT's _S5 package names */
#define ACPI_PM_TIMER_HZ   3579545ull

#define IOAPIC_BASE        0xfec00000ull
#define LAPIC_BASE         0xfee00000ull

/* An MMIO device the DSDT announces (virtio-mmio). */
struct acpi_mmio_dev {
	uint64_t base;
	uint64_t size;
	uint32_t irq;
};

/* Writes all tables for ncpus CPUs into guest memory; returns the RSDP address. */
int acpi_build(struct guest_memory *m, int ncpus, const struct acpi_mmio_dev *devs, int ndevs,
	       uint64_t *rsdp);
/* 8-bit checksum byte that makes the sum of len bytes zero. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
