/* Interrupt routing: device lines -> 8259 PIC pair and IOAPIC -> local APICs
 * -> vCPUs, shared by every engine (vmlite never uses KVM_CREATE_IRQCHIP).
 *
 * DEVICE SIDE. Devices call irq_line_set() with vm->dev_lock held. The
 * number is the ISA IRQ (0-15) or a GSI (16-23). Every line goes to both
 * controllers, as on a PC: ISA IRQ n to PIC input n and IOAPIC pin n, except
 * IRQ0 (PIT) which reaches IOAPIC pin 2 (the MADT "interrupt source
 * override" every PC firmware publishes). Edge devices pulse (1 then 0:
 * irq_pulse); level devices hold the line until the guest clears the cause.
 * Whichever controller the guest has unmasked decides: at boot the PIC's
 * output reaches the BSP through LAPIC LINT0 (ExtINT, "virtual wire"); once
 * the OS programs the IOAPIC it masks the PIC.
 *
 * VCPU SIDE (the protocol every engine follows).
 *  - v->irq_pending is exact, not a hint: it is 1 iff the vCPU has an NMI or
 *    an interrupt it would accept if IF were 1 (APIC: highest IRR above PPR;
 *    PIC: INTR raised and LINT0 accepting ExtINT). vcpu_irq_update()
 *    recomputes it under dev_lock; on a 0 -> 1 change it wakes the vCPU from
 *    HLT (futex) and, if called from another thread, engine->kick()s it.
 *  - Engines whose guest can run long without exiting poll it cheaply:
 *    atomic_load(&v->irq_pending).
 *  - When the guest can take an interrupt (IF=1, no STI/MOV-SS shadow, at an
 *    instruction boundary) the engine calls vcpu_irq_ack(v): it performs the
 *    interrupt acknowledge (APIC: IRR -> ISR; PIC: INTA cycle) and returns the
 *    vector, or -1 if the interrupt went away (masked meanwhile). The vector
 *    must then be delivered through the IDT exactly as hardware does; after
 *    an ack the interrupt is the engine's to deliver (it cannot be returned).
 *    vcpu_nmi_ack(v) likewise takes a pending NMI (delivered regardless of IF).
 *  - Two ways to do that:
 *    a) core-driven (KVM): the engine implements irq_window(), inject() and
 *       want_irq_window(); vcpu_irq_deliver() (called at the end of
 *       vcpu_handle_exit(), i.e. before every re-entry) injects when the
 *       window is open, else asks the engine to exit with EXIT_IRQ_WINDOW as
 *       soon as it opens.
 *    b) engine-driven (translator): leave want_irq_window NULL; check the flag
 *       at block boundaries (and after STI/POPF/IRET make IF=1), call
 *       vcpu_irq_ack() and deliver through the IDT inline; also at the start
 *       of every vcpu_run (after a HLT wake-up). kick() must make a running
 *       vcpu_run() notice the flag within one block.
 *  - HLT: return EXIT_HLT; the core sleeps in vcpu_irq_wait() (no polling)
 *    until irq_pending or a stop, then resumes after the HLT.
 *
 * CR8: MOV to/from CR8 is the LAPIC TPR bits 7:4; an engine emulating it
 * reads/writes lapic_reg_read/write(l, 0x80, ...) under dev_lock.
 *
 * MSRs: RDMSR/WRMSR of 0x1B, 0x6E0 and 0x800-0x8FF go to lapic_msr_read/
 * lapic_msr_write (lapic.h); -1 means inject #GP. The KVM engine gets them
 * as user-space MSR exits.
 *
 * MMIO: the LAPIC page is per vCPU, so the device must know which vCPU is
 * accessing it. vcpu_handle_exit() records it; an engine that calls
 * bus_access() itself (bypassing EXIT_MMIO) calls irq_set_current(v) once on
 * each vCPU thread first.
 *
 * LOCKING. irq_line_set, vcpu_irq_update and all device internals: dev_lock
 * held. vcpu_irq_ack, vcpu_nmi_ack, vcpu_irq_deliver, vcpu_irq_wait and the
 * lapic_msr_* hooks (lapic.h): called WITHOUT dev_lock (they take it). */
#ifndef VMLITE_IRQ_H
#define VMLITE_IRQ_H

#include <stdbool.h>

struct vm;
struct vcpu;

#define IRQ_ISA_COUNT  16
#define IRQ_GSI_COUNT  24

void irq_line_set(struct vm *vm, unsigned irq, bool level);
static inline void irq_pulse(struct vm *vm, unsigned irq)
{
	irq_line_set(vm, irq, true);
	irq_line_set(vm, irq, false);
}
/* IOAPIC pin an ISA IRQ arrives on (the override above). */
unsigned irq_isa_to_gsi(unsigned irq);

/* Controllers report that what vCPU cpu (or, for the PIC, every vCPU whose
 * LINT0 listens) could accept may have changed. dev_lock held. */
void irq_cpu_changed(struct vm *vm, int cpu);
void irq_pic_changed(struct vm *vm);
/* A CPU acknowledged ISA IRQ n (PIC INTA or, via the IOAPIC, the LAPIC
 * accepting its vector). The PIT uses it to re-inject missed ticks. */
void irq_isa_acked(struct vm *vm, unsigned irq);

void vcpu_irq_update(struct vcpu *v);
int vcpu_irq_ack(struct vcpu *v);
bool vcpu_nmi_ack(struct vcpu *v);
void vcpu_irq_deliver(struct vcpu *v);
void vcpu_irq_wait(struct vcpu *v);

/* The vCPU whose thread is running (for the per-CPU LAPIC MMIO page);
 * set by the core before it dispatches an exit. NULL outside vCPU threads. */
void irq_set_current(struct vcpu *v);
struct vcpu *irq_current(void);

#endif
