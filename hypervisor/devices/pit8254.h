/* The 8254 PIT (ports 0x40-0x43) and port 0x61 (gate 2 / speaker / OUT2). */
#ifndef VMLITE_PIT8254_H
#define VMLITE_PIT8254_H

#define PIT_HZ 1193182ull

struct vm;

int pit_vm_init(struct vm *vm);
void pit_vm_destroy(struct vm *vm);

#endif
