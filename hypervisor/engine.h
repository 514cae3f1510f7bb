/* The engine interface: everything that runs guest instructions (KVM, the
 * binary translator) implements these operations, and nothing above this
 * layer knows which engine is underneath. */
#ifndef VMLITE_ENGINE_H
#define VMLITE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "x86.h"

struct vm;
struct vcpu;

/* Why vcpu_run() returned. Data for IN and MMIO reads is written by the
 * core into the buffer the engine points at; the engine completes the
 * instruction on the next vcpu_run(). */
struct vcpu_exit {
	enum exit_kind kind;
	union {
		struct {
			uint16_t port;
			uint8_t size;           /* 1, 2 or 4 */
			bool is_write;
			uint32_t count;         /* >1 for string I/O: count items of size */
			uint8_t *data;
		} io;
		struct {
			uint64_t gpa;
			uint8_t len;
			bool is_write;
			uint8_t *data;
		} mmio;
		/* EXIT_HYPERCALL: a VMI call stub trapped (vmi-abi/SPEC.md 6.5).
		 * The core runs vmi_dispatch() and stores the outcome (VMI_DONE
		 * or VMI_TRAP_UD) and RAX/RDX through the engine-owned pointers;
		 * the engine applies them on the next vcpu_run(). */
		struct {
			uint64_t nr;            /* RAX: the call number */
			uint64_t args[6];       /* RDI, RSI, RDX, R10, R8, R9 */
			uint64_t *ret;          /* [2]: RAX, RDX */
			int *outcome;
		} hcall;
		struct {
			uint64_t code;          /* engine-specific reason code */
			char why[160];
		} fail;                         /* EXIT_INTERNAL, EXIT_FAIL_ENTRY */
	};
};

enum vcpu_event_kind { EVENT_EXTINT, EVENT_EXCEPTION, EVENT_NMI };

struct vcpu_event {
	enum vcpu_event_kind kind;
	uint8_t vector;
	bool has_error;
	uint32_t error;
};

struct engine_ops {
	const char *name;
	/* 0 when usable on this host; otherwise -1 with err_set() naming the fix. */
	int (*probe)(void);
	int (*vm_create)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);
	int (*vcpu_create)(struct vcpu *v);
	void (*vcpu_destroy)(struct vcpu *v);
	/* Runs the vCPU until something needs the core. -1 only on engine failure. */
	int (*vcpu_run)(struct vcpu *v, struct vcpu_exit *exit);
	int (*get_state)(struct vcpu *v, struct vcpu_state *st);
	int (*set_state)(struct vcpu *v, const struct vcpu_state *st);
	/* Queues an event for delivery at the next instruction boundary where the
	 * guest can take it; returns -1 if the engine cannot queue it now. */
	int (*inject)(struct vcpu *v, const struct vcpu_event *ev);
	/* True if the guest can accept an external interrupt now (IF=1, no shadow). */
	bool (*irq_window)(struct vcpu *v);
	/* Core-driven delivery (irq.h): make vcpu_run() return EXIT_IRQ_WINDOW as
	 * soon as the guest can take an interrupt (on) or stop asking (off).
	 * NULL for engines that deliver interrupts themselves. */
	void (*want_irq_window)(struct vcpu *v, bool on);
	/* Called from another thread: make vcpu_run() return EXIT_INTR soon. */
	void (*kick)(struct vcpu *v);
	/* Optional (may be NULL). The core wrote guest RAM [gpa, gpa+len)
	 * behind the engine's back (loader, device DMA, test harness): an
	 * engine that caches anything derived from guest memory (translated
	 * code) must drop it. Called with the vCPUs stopped. */
	void (*mem_written)(struct vm *vm, uint64_t gpa, uint64_t len);
	/* Optional (may be NULL): x87/SSE/AVX register state. */
	int (*get_fpu)(struct vcpu *v, struct vcpu_fpu *f);
	int (*set_fpu)(struct vcpu *v, const struct vcpu_fpu *f);
};

extern const struct engine_ops engine_kvm;
/* Defined by binary-translation/; NULL-free: the translator always links. */
extern const struct engine_ops engine_bt;

/* Resolves "bt", "kvm" or "auto". For auto, *why says what was picked and why. */
const struct engine_ops *engine_select(const char *name, char *why, size_t whylen);
/* True when /dev/kvm is backed by VT-x/AMD-V rather than an emulating module. */
bool kvm_is_hardware(char *why, size_t whylen);

#endif
