/* Local APIC per vCPU: xAPIC MMIO at 0xFEE00000 and x2APIC MSRs 0x800-0x8FF.
 *
 * Timer clock: a 1 GHz bus clock, so one count at divide-by-1 lasts 1 ns
 * (the value QEMU uses too). Linux calibrates it against the PIT and gets
 * the same answer every boot; in TSC-deadline mode (MSR 0x6E0) deadlines are
 * in virtual TSC cycles (clock_tsc_hz). */
#ifndef VMLITE_LAPIC_H
#define VMLITE_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_BASE         0xfee00000ull
#define LAPIC_BUS_HZ    1000000000ull
#define LAPIC_MIN_PERIOD_NS 50000ull    /* shortest periodic timer period honoured */
#define MSR_APIC_BASE   0x1B
#define MSR_TSC_DEADLINE 0x6E0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST  0x8FF

#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

/* ICR / LVT / IOAPIC delivery modes. */
enum apic_dm { APIC_DM_FIXED = 0, APIC_DM_LOWEST = 1, APIC_DM_SMI = 2, APIC_DM_NMI = 4,
	       APIC_DM_INIT = 5, APIC_DM_SIPI = 6, APIC_DM_EXTINT = 7 };

struct vm;
struct vcpu;
struct lapic;

int lapic_vm_init(struct vm *vm, int ncpus);
void lapic_vm_destroy(struct vm *vm);
struct lapic *lapic_get(struct vm *vm, int cpu);

/* The rest need dev_lock held. */
bool lapic_has_irq(struct lapic *l);            /* highest IRR above PPR, enabled */
int lapic_ack(struct lapic *l);                 /* IRR -> ISR; -1 if none */
/* LINT0 ExtINT open, APIC off (BSP), or an IOAPIC ExtINT message pending. */
bool lapic_accepts_pic(struct lapic *l);
bool lapic_nmi_pending(struct lapic *l);
bool lapic_take_nmi(struct lapic *l);
bool lapic_take_extint(struct lapic *l);        /* IOAPIC ExtINT delivery seen */
/* An APIC-bus message (from the IOAPIC or an IPI). dest is an APIC ID
 * (0xFF / 0xFFFFFFFF broadcast) or a logical destination. */
void lapic_deliver(struct vm *vm, uint32_t dest, bool logical, enum apic_dm mode,
		   uint8_t vector, bool level_trig);
/* INIT/SIPI received, for AP start-up: returns true once per SIPI. */
bool lapic_take_sipi(struct lapic *l, uint8_t *vector);
bool lapic_take_init(struct lapic *l);
uint32_t lapic_reg_read(struct lapic *l, uint32_t off);
void lapic_reg_write(struct lapic *l, uint32_t off, uint32_t val);

/* Engine hooks for RDMSR/WRMSR of 0x1B, 0x6E0 and 0x800-0x8FF (take dev_lock
 * themselves). 0 when handled, -1 when the guest must get #GP. */
int lapic_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
bool lapic_msr_is_ours(uint32_t msr);

#endif
