/* The flat GDT and TSS every loader installs, and the matching hidden segment
 * state. Kernels reload their own GDT early, but the engines (KVM in
 * particular) check the initial state, so the descriptor tables in guest
 * memory and the cached segment registers must agree and be valid. */
#include <string.h>

#include "error.h"
#include "loader_priv.h"

static uint64_t gdt_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

/* Access byte: present, ring 0, code/data; flags nibble: G, D/B, L, AVL. */
#define ACC_CODE   0x9b
#define ACC_DATA   0x93
#define ACC_TSS    0x8b        /* present, system, busy 32/64-bit TSS (type 11) */
#define FLG_CODE64 0xa         /* G, L (D must be 0 with L) */
#define FLG_FLAT32 0xc         /* G, D/B */

static int gdt_write(struct guest_memory *m, bool long_mode)
{
	uint8_t gdt[LOADER_GDT_LIMIT + 1];
	memset(gdt, 0, sizeof(gdt));
	wr64(gdt + LOADER_SEL_CODE, gdt_desc(0, 0xfffff, ACC_CODE,
					     long_mode ? FLG_CODE64 : FLG_FLAT32));
	wr64(gdt + LOADER_SEL_DATA, gdt_desc(0, 0xfffff, ACC_DATA, FLG_FLAT32));
	/* In long mode the TSS descriptor takes two slots; the upper one holds
	 * base[63:32] = 0, which in 32-bit mode reads as a null descriptor. */
	wr64(gdt + LOADER_SEL_TSS, gdt_desc((uint32_t)LOADER_TSS, LOADER_TSS_LIMIT, ACC_TSS, 0));

	uint8_t tss[LOADER_TSS_LIMIT + 1];
	memset(tss, 0, sizeof(tss));
	/* I/O map base beyond the limit: no I/O permission bitmap. */
	wr16(tss + 0x66, LOADER_TSS_LIMIT + 1);

	if (mem_write(m, LOADER_GDT, gdt, sizeof(gdt)) < 0 ||
	    mem_write(m, LOADER_TSS, tss, sizeof(tss)) < 0)
		return err_wrap("cannot write the boot GDT");
	return 0;
}

/* Resets st and installs the flat segments, TR and an unusable LDT. */
int loader_setup_segments(struct guest_memory *m, struct vcpu_state *st, bool long_mode)
{
	if (gdt_write(m, long_mode) < 0)
		return -1;
	x86_state_reset(st);
	if (long_mode)
		x86_seg_flat_code64(&st->cs, LOADER_SEL_CODE);
	else
		x86_seg_flat_code32(&st->cs, LOADER_SEL_CODE);
	x86_seg_flat_data(&st->ds, LOADER_SEL_DATA);
	x86_seg_flat_data(&st->es, LOADER_SEL_DATA);
	x86_seg_flat_data(&st->fs, LOADER_SEL_DATA);
	x86_seg_flat_data(&st->gs, LOADER_SEL_DATA);
	x86_seg_flat_data(&st->ss, LOADER_SEL_DATA);

	memset(&st->tr, 0, sizeof(st->tr));
	st->tr.sel = LOADER_SEL_TSS;
	st->tr.base = LOADER_TSS;
	st->tr.limit = LOADER_TSS_LIMIT;
	st->tr.type = 11;
	st->tr.present = 1;

	memset(&st->ldt, 0, sizeof(st->ldt));
	st->ldt.type = 2;
	st->ldt.unusable = 1;

	st->gdt.base = LOADER_GDT;
	st->gdt.limit = LOADER_GDT_LIMIT;
	/* No IDT yet: any exception before the kernel installs one is a triple
	 * fault, which the VMM reports clearly. */
	st->idt.base = 0;
	st->idt.limit = 0;
	st->rflags = X86_RFLAGS_FIXED;
	st->gpr[GPR_RSP] = LOADER_STACK_TOP;
	return 0;
}

int loader_setup_protmode32(struct guest_memory *m, struct vcpu_state *st, uint32_t entry)
{
	if (loader_setup_segments(m, st, false) < 0)
		return -1;
	st->cr0 = X86_CR0_PE | X86_CR0_ET;
	st->cr3 = 0;
	st->cr4 = 0;
	st->efer = 0;
	st->rip = entry;
	return 0;
}
