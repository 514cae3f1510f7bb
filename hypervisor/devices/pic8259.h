/* The 8259A master/slave pair (ports 0x20/0x21, 0xA0/0xA1, ELCR 0x4D0/0x4D1). */
#ifndef VMLITE_PIC8259_H
#define VMLITE_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

int pic_vm_init(struct vm *vm);
void pic_vm_destroy(struct vm *vm);
/* Input n (0-15) of the pair; dev_lock held. */
void pic_set_irq(struct vm *vm, unsigned irq, bool level);
/* The master's INTR output. */
bool pic_output(struct vm *vm);
/* INTA cycle: the vector, with IRQ7/IRQ15 spurious vectors when nothing is left. */
int pic_intack(struct vm *vm);

#endif
