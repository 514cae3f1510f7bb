/* Per-call counters for --stats. Each vCPU counts into its own vmi_ctx;
 * the VM sums them at exit with vmi_stats_add(). */
#include "vmi_internal.h"

void vmi_stats_add(struct vmi_stats *total, const struct vmi_stats *s)
{
	for (int i = 0; i < VMI_NCALLS_MAX; i++) {
		total->calls[i] += s->calls[i];
		total->errors[i] += s->errors[i];
	}
	total->unknown += s->unknown;
	total->traps += s->traps;
	total->batched += s->batched;
}

void vmi_stats_print(const struct vmi_stats *s, FILE *out)
{
	uint64_t all = 0;
	for (int i = 0; i < VMI_NCALLS_MAX; i++)
		all += s->calls[i];
	fprintf(out, "vmi: %llu calls (%llu from the lazy queue), %llu unknown, %llu #UD\n",
		(unsigned long long)all, (unsigned long long)s->batched,
		(unsigned long long)s->unknown, (unsigned long long)s->traps);
	for (int i = 0; i < VMI_NCALLS_MAX; i++)
		if (s->calls[i] || s->errors[i])
			fprintf(out, "  vmi %-18s %12llu  errors %llu\n", vmi_call_name(i),
				(unsigned long long)s->calls[i],
				(unsigned long long)s->errors[i]);
}
