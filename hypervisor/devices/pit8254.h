/* The 8254 PIT (ports 0x40-0x43) and port 0x61 (gate 2 / speaker / OUT2). */
#ifndef VMLITE_PIT8254_H
#define VMLITE_PIT8254_H

#define PIT_HZ 1193182ull

struct vm;

/* Tick policy (channel 0, periodic modes 2 and 3): no lost ticks. Periods
 * the host missed (timer thread late) or that found the previous tick not yet
 * acknowledged are counted and re-injected one per acknowledge, as KVM's PIT
 * does in its default "reinject" mode, so tick-counting guests keep time.
 * The backlog is capped at one second, and dropped if the guest has not
 * acknowledged IRQ0 for 100 ms (it masked or stopped using it). */
#define PIT_MAX_BACKLOG_NS 1000000000ull
#define PIT_ACK_TIMEOUT_NS  100000000ull
#define PIT_MIN_PERIOD_NS       50000ull   /* timer thread wake-ups at most 20 kHz */

int pit_vm_init(struct vm *vm);
/* IRQ0 was acknowledged by a CPU (irq.c); dev_lock held. */
void pit_irq0_acked(struct vm *vm);
void pit_vm_destroy(struct vm *vm);

#endif
