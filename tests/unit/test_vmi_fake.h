/* A fake engine for the VMI dispatcher: flat RAM plus recorded side
 * effects. Shared by the unit tests and the fuzz harness (no CUnit here). */
#ifndef VMLITE_TEST_VMI_FAKE_H
#define VMLITE_TEST_VMI_FAKE_H

#include "vmi/vmi_host.h"

#define FAKE_RAM_SIZE (1u << 20)        /* RAM is [0, 1 MiB); the rest is not */

struct fake_vcpu {
	uint8_t *ram;
	int cpl;
	bool rflags_if;
	uint64_t cr[5];
	uint64_t msr_efer;              /* the only "real" MSR: 0xc0000080 */
	uint64_t dt_base[2];
	uint16_t dt_limit[2];
	uint16_t sel[2];
	uint64_t sp0;
	unsigned flushes[3];
	uint64_t last_flush_va;
	unsigned halts, windows, pins, unpins, pt_writes, desc_writes, others;
	int power;                      /* -1 none, else enum vmi_power */
	unsigned alarm_mode;
	uint64_t alarm_deadline, alarm_period;
	uint8_t alarm_vector;
	char console[8192];
	unsigned console_len;
	uint64_t wall_ns;
	uint64_t vcpu_page_gpa;          /* last vcpu_page_set() */
	unsigned vcpu_page_sets;
};

extern const struct vmi_ops fake_ops;       /* every op implemented */
extern const struct vmi_ops fake_ops_min;   /* optional ops NULL */

/* Sets up host+ctx on a zeroed fake with the given backend and (if
 * install) negotiates 1.0, installs the ABI page at 0x1000 and the per-vCPU
 * page at 0x2000. Returns 0 or -1. */
int fake_setup(struct fake_vcpu *f, struct vmi_host *h, struct vmi_ctx *c,
	       enum vmi_backend backend, bool install);
void fake_teardown(struct fake_vcpu *f, struct vmi_host *h);

#define FAKE_ABI_PAGE  0x1000ull
#define FAKE_VCPU_PAGE 0x2000ull

#endif
