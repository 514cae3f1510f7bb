/* The i8042 keyboard controller (ports 0x60/0x64). */
#ifndef VMLITE_I8042_H
#define VMLITE_I8042_H

#include <stdbool.h>

struct vm;

#define I8042_KBD_IRQ   1

/* For the interrupt controllers: fn gets the keyboard interrupt line (IRQ1)
 * level, high while a byte waits in the output buffer and the command byte
 * enables keyboard interrupts. Called now with the current level, then on
 * every change, with vm->dev_lock held. */
void i8042_set_irq(struct vm *vm, void (*fn)(void *opaque, int level), void *opaque);
/* The A20 gate as last set through the output port (0xd1) or 0xdd/0xdf. */
bool i8042_a20(struct vm *vm);

#endif
