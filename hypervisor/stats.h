/* Exit counters: every exit path increments exactly one counter. */
#ifndef VMLITE_STATS_H
#define VMLITE_STATS_H

#include <stdint.h>
#include <stdio.h>

enum exit_kind {
	EXIT_PIO,
	EXIT_MMIO,
	EXIT_HLT,
	EXIT_SHUTDOWN,          /* triple fault */
	EXIT_INTERNAL,          /* engine could not continue (emulation failure) */
	EXIT_FAIL_ENTRY,        /* hardware refused the state */
	EXIT_INTR,              /* interrupted by a kick or a signal */
	EXIT_IRQ_WINDOW,
	EXIT_HYPERCALL,
	EXIT_MSR,
	EXIT_OTHER,
	EXIT_KIND_MAX
};

const char *exit_kind_name(enum exit_kind k);

struct vm_stats {
	uint64_t exits[EXIT_KIND_MAX];
	uint64_t pio_unhandled;
	uint64_t mmio_unhandled;
	uint64_t irqs_injected;
};

void stats_print(const struct vm_stats *s, FILE *out);

#endif
