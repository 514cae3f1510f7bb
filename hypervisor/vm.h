/* A virtual machine: memory, the two buses, devices, vCPUs and the engine. */
#ifndef VMLITE_VM_H
#define VMLITE_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus.h"
#include "config.h"
#include "console_log.h"
#include "engine.h"
#include "memory.h"
#include "stats.h"
#include "vmi/vmi_host.h"
#include "x86.h"

/* Process exit statuses. Odd values belong to the guest's debug-exit port
 * ((v << 1) | 1, as QEMU's isa-debug-exit); vmlite's own outcomes are even. */
#define VMLITE_EXIT_POWEROFF    0   /* guest powered off cleanly */
#define VMLITE_EXIT_USAGE       2   /* bad command line or input file */
#define VMLITE_EXIT_RESET       4   /* guest asked for a reset/reboot */
#define VMLITE_EXIT_TRIPLE      6   /* triple fault (shutdown) */
#define VMLITE_EXIT_HALTED      8   /* HLT with interrupts off: nothing can wake it */
#define VMLITE_EXIT_INTERNAL   10   /* engine or emulation failure */
#define VMLITE_EXIT_NOENGINE   12   /* the requested engine cannot run on this host */
#define VMLITE_EXIT_PANIC      14   /* the guest kernel panicked (seen on its console) */
#define VMLITE_EXIT_SIGNAL    130   /* stopped by SIGINT/SIGTERM */


enum vm_stop_reason {
	STOP_NONE, STOP_DEBUG_EXIT, STOP_POWEROFF, STOP_RESET, STOP_TRIPLE,
	STOP_HALTED, STOP_INTERNAL, STOP_SIGNAL, STOP_PANIC
};

struct vcpu {
	struct vm *vm;
	int id;
	pthread_t thread;
	void *priv;                     /* engine-owned */
	struct vm_stats stats;          /* written only by this vCPU's thread */
	/* 1 iff an interrupt/NMI awaits this vCPU (irq.h); an int so HLT can futex-wait on it. */
	atomic_int irq_pending;
	atomic_bool halted;             /* asleep in vcpu_irq_wait(): waking needs no kick */
	uint8_t irq_vector;
	struct vmi_ctx vmi;             /* VMI ABI state of this vCPU (vcpu_vmi.h) */
	struct vmi_alarm *vmi_alarm;    /* ALARM_SET timer, allocated on first use */
};

struct vm {
	const struct vm_config *cfg;
	const struct engine_ops *engine;
	void *engine_priv;
	struct guest_memory mem;
	struct io_bus pio;
	struct io_bus mmio;
	pthread_mutex_t dev_lock;       /* device models run under one lock */
	struct vcpu *vcpus;
	int ncpus;
	struct vcpu_state boot_state;   /* filled by the loader for the BSP */
	atomic_int stop_reason;
	atomic_int stop_claimed;
	int exit_status;
	void *devices[16];              /* per-device state, indexed by device id */
	void *blk[CONFIG_MAX_DISKS];    /* virtio-blk devices, one per --disk */
	struct virtio_slot { uint64_t base; unsigned irq; } virtio[8];
	int nvirtio;                    /* virtio-mmio slots in use; ACPI describes them */
	struct vm_stats dev_stats;
	struct console_log console;     /* last lines of COM1 output */
	struct vmi_host vmi;            /* VMI ABI: offered version, ABI page */
	/* The guest's TSC is the host TSC (the translator) rather than
	 * clock_tsc_now() (clock.h): TSC deadlines convert from it. */
	bool guest_tsc_is_host;
};

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct engine_ops *eng);
void vm_destroy(struct vm *vm);
/* Runs all vCPUs until the VM stops; returns the process exit status. */
int vm_run(struct vm *vm);
/* First caller wins; later requests are ignored so the first cause is reported. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status);
bool vm_stopping(const struct vm *vm);
/* True once SIGINT/SIGTERM/SIGHUP reached any VM of this process. */
bool vm_signalled(void);
void vm_stats_total(const struct vm *vm, struct vm_stats *out);
/* Handles one exit in the core (bus dispatch, HLT, shutdown). */
void vcpu_handle_exit(struct vcpu *v, struct vcpu_exit *exit);
void vcpu_dump_state(struct vcpu *v, FILE *out);

#endif
