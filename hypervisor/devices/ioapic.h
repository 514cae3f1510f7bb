/* The IOAPIC (82093AA-like, version 0x11, 24 pins) at 0xFEC00000. */
#ifndef VMLITE_IOAPIC_H
#define VMLITE_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_BASE        0xfec00000ull
#define IOAPIC_PINS 24

struct vm;

int ioapic_vm_init(struct vm *vm);
void ioapic_vm_destroy(struct vm *vm);
void ioapic_set_irq(struct vm *vm, unsigned pin, bool level);
/* The vector an unmasked pin delivers, or -1. */
int ioapic_pin_vector(struct vm *vm, unsigned pin);
/* EOI broadcast from a local APIC for a level-triggered vector. */
void ioapic_eoi(struct vm *vm, uint8_t vector);

#endif
