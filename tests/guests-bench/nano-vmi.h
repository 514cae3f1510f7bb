/* VMI call classes for the nanobenchmarks (nano-vmi.c): one kernel per
 * class, numbered in the order of NANO_VMI_NAMES. */
#ifndef VMLITE_NANO_VMI_H
#define VMLITE_NANO_VMI_H

#include <stdint.h>

#define NANO_VMI_NAMES "vmi_version", "vmi_irq", "vmi_cr3", "vmi_pte", "vmi_batch", \
	"vmi_wallclock"
#define NANO_VMI_COUNT 6
/* Starting operation counts per 10 units of scale, in the same order:
 * vmi_batch stays a multiple of its batch size. */
#define NANO_VMI_PER_SCALE 200, 200, 200, 100, 320, 200

/* 1 if kernel k can run; otherwise prints its n/a marker line (as `name`)
 * and returns 0. The first call discovers and installs the VMI page; va is
 * the 4 KiB-mapped page the paging kernels rewrite the PTE of. */
int nano_vmi_ready(unsigned k, const char *name, uint64_t va);
/* n operations of kernel k; 0 if every call succeeded, else an error value. */
uint64_t nano_vmi_run(unsigned k, uint64_t n);

#endif
