#include "stats.h"

static const char *const exit_names[EXIT_KIND_MAX] = {
	[EXIT_PIO] = "pio",
	[EXIT_MMIO] = "mmio",
	[EXIT_HLT] = "hlt",
	[EXIT_SHUTDOWN] = "shutdown",
	[EXIT_INTERNAL] = "internal-error",
	[EXIT_FAIL_ENTRY] = "fail-entry",
	[EXIT_INTR] = "interrupted",
	[EXIT_IRQ_WINDOW] = "irq-window",
	[EXIT_HYPERCALL] = "hypercall",
	[EXIT_MSR] = "msr",
	[EXIT_OTHER] = "other",
};

const char *exit_kind_name(enum exit_kind k)
{
	return (unsigned)k < EXIT_KIND_MAX ? exit_names[k] : "?";
}

void stats_print(const struct vm_stats *s, FILE *out)
{
	uint64_t total = 0;
	for (int k = 0; k < EXIT_KIND_MAX; k++)
		total += s->exits[k];
	fprintf(out, "vmlite stats: %llu exits\n", (unsigned long long)total);
	for (int k = 0; k < EXIT_KIND_MAX; k++)
		fprintf(out, "  exit.%-16s %12llu\n", exit_names[k], (unsigned long long)s->exits[k]);
	fprintf(out, "  pio.unhandled         %12llu\n", (unsigned long long)s->pio_unhandled);
	fprintf(out, "  mmio.unhandled        %12llu\n", (unsigned long long)s->mmio_unhandled);
	fprintf(out, "  irq.injected          %12llu\n", (unsigned long long)s->irqs_injected);
}
