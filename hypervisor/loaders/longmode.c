/* 64-bit entry state shared by the bzImage and ELF64 loaders: identity map of
 * the first 4 GiB with 2 MiB pages (the Linux 64-bit boot protocol asks for
 * the kernel, zero page and command line to be identity mapped; mapping all
 * of the low 4 GiB also covers the initrd and the LAPIC/IOAPIC). */
#include <string.h>

#include "error.h"
#include "loader_priv.h"

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_PS  0x080ull

static int pagetables_write(struct guest_memory *m)
{
	/* PML4 + PDPT + 4 PDs, contiguous in the low-memory map. */
	uint8_t *pt = mem_gpa_to_hva(m, LOADER_PML4, 6 * PAGE_SIZE_4K);
	if (!pt)
		return err_set("guest RAM too small for the boot page tables at 0x%llx; raise --memory",
			       (unsigned long long)LOADER_PML4);
	memset(pt, 0, 6 * PAGE_SIZE_4K);
	wr64(pt, LOADER_PDPT | PTE_P | PTE_RW);
	uint8_t *pdpt = pt + (LOADER_PDPT - LOADER_PML4);
	uint8_t *pd = pt + (LOADER_PD - LOADER_PML4);
	for (uint64_t i = 0; i < 4; i++)
		wr64(pdpt + 8 * i, (LOADER_PD + i * PAGE_SIZE_4K) | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4 * 512; i++)
		wr64(pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

int loader_setup_longmode(struct guest_memory *m, struct vcpu_state *st, uint64_t entry)
{
	if (pagetables_write(m) < 0 || loader_setup_segments(m, st, true) < 0)
		return -1;
	st->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	st->cr3 = LOADER_PML4;
	st->cr4 = X86_CR4_PAE;
	st->efer = X86_EFER_LME | X86_EFER_LMA;
	st->rip = entry;
	return 0;
}
