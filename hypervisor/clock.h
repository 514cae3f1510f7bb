/* Guest time: one monotonic source from which the virtual TSC, the PIT, the
 * RTC and the local APIC timers all derive, plus one timer thread per VM that
 * fires the earliest device deadline.
 *
 * Time is "ns since the clock was first used" (CLOCK_MONOTONIC based), so
 * host wall-clock steps never disturb the guest. Tests switch to a fake clock
 * (clock_fake_enable) and drive expirations by hand with clock_run_expired().
 *
 * Lost-tick policy: a timer callback receives the current time and re-arms
 * itself for the next period boundary strictly after it (start + k * period,
 * so periodic timers never drift). If the host was late by several periods
 * they are coalesced into one interrupt: an edge-triggered line or an IRR bit
 * can hold only one pending event anyway, and Linux derives time from the
 * TSC clocksource (jiffies are recomputed from it), not from tick counts. */
#ifndef VMLITE_CLOCK_H
#define VMLITE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

#define CLOCK_NS_PER_SEC 1000000000ull
#define CLOCK_NEVER UINT64_MAX

uint64_t clock_now_ns(void);
/* Host wall-clock time (ns since the Unix epoch) advancing with clock_now_ns. */
uint64_t clock_realtime_ns(void);

/* The translator's guests read the host TSC itself (RDTSC runs natively or
 * returns clock_host_tsc()); struct vm says which TSC its guest sees, and
 * the LAPIC's TSC-deadline MSR converts deadlines relative to that TSC's
 * current value (clock_tsc_deadline_ns), so an offset between the guest's
 * TSC and clock_tsc_now() does not matter. CPUID
 * advertises clock_tsc_hz() in leaf 0x15/0x16 or the hypervisor timing leaf
 * 0x40000010 (EAX TSC kHz, EBX LAPIC bus kHz = 1000000) so Linux skips
 * calibration and gets exact frequencies.
 *
 * Virtual TSC frequency advertised to guests: CPUID 0x15, then the hypervisor
 * timing leaf 0x40000010, then CPUID 0x16, else 2.0 GHz. Fixed for the run. */
uint64_t clock_tsc_hz(void);
/* CPUID leaf 0x15 for engines that synthesise CPUID: TSC = ECX * EBX / EAX
 * with the "crystal" (ECX) equal to the LAPIC bus clock, because Linux also
 * derives lapic_timer_period from the crystal frequency. */
void clock_cpuid_15(uint32_t *eax, uint32_t *ebx, uint32_t *ecx);
uint64_t clock_tsc_now(void);
uint64_t clock_host_tsc(void);
/* The clock_now_ns() time at which a TSC that reads tsc_now at this moment
 * reaches deadline (now, if it already has). */
uint64_t clock_tsc_deadline_ns(uint64_t deadline, uint64_t tsc_now);
uint64_t clock_ns_to_tsc(uint64_t ns);
uint64_t clock_tsc_to_ns(uint64_t tsc);
/* a * b / c without intermediate overflow. */
uint64_t clock_muldiv(uint64_t a, uint64_t b, uint64_t c);

/* Test hooks: a clock that only moves when told to. */
void clock_fake_enable(uint64_t now_ns, uint64_t realtime_s);
void clock_fake_disable(void);
void clock_fake_advance(uint64_t ns);
void clock_fake_set_tsc_hz(uint64_t hz);   /* 0 restores the detected value */

/* A device deadline. fire() runs with vm->dev_lock held, gets the current
 * time and may re-arm the timer. */
struct clock_timer {
	struct vm *vm;
	void (*fire)(void *opaque, uint64_t now);
	void *opaque;
	uint64_t deadline;
	bool armed;
	bool linked;
	struct clock_timer *next;
};

/* Per-VM timer state (vm->devices[DEV_CLOCK]). With start_thread the timer
 * thread starts at the first clock_timer_arm() (so devices register timers
 * while no thread runs); unit tests pass false and call clock_run_expired(). */
int clock_vm_init(struct vm *vm, bool start_thread);
void clock_vm_destroy(struct vm *vm);

/* All of these need vm->dev_lock held (or no timer thread running). */
void clock_timer_init(struct vm *vm, struct clock_timer *t,
		      void (*fire)(void *opaque, uint64_t now), void *opaque);
void clock_timer_remove(struct clock_timer *t);
void clock_timer_arm(struct clock_timer *t, uint64_t deadline_ns);
void clock_timer_cancel(struct clock_timer *t);
/* Fires every timer due at now; returns the earliest remaining deadline. */
uint64_t clock_run_expired(struct vm *vm, uint64_t now);

#endif
