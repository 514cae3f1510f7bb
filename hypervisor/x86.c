#include "x86.h"

#include <string.h>

static void seg_flat(struct x86_seg *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
	s->g = 1;
	s->db = 1;
}

void x86_seg_flat_code32(struct x86_seg *s, uint16_t sel)
{
	seg_flat(s, sel, 0xb);          /* execute/read, accessed */
}

void x86_seg_flat_code64(struct x86_seg *s, uint16_t sel)
{
	seg_flat(s, sel, 0xb);
	s->l = 1;
	s->db = 0;                      /* L=1 requires D=0 */
}

void x86_seg_flat_data(struct x86_seg *s, uint16_t sel)
{
	seg_flat(s, sel, 0x3);          /* read/write, accessed */
}

void x86_seg_real(struct x86_seg *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
	s->type = type;
	s->s = 1;
	s->present = 1;
}

void x86_state_reset(struct vcpu_state *st)
{
	memset(st, 0, sizeof(*st));
	st->rip = 0xfff0;
	st->rflags = X86_RFLAGS_FIXED;
	x86_seg_real(&st->cs, 0xf000, 0xb);
	st->cs.base = 0xffff0000;       /* reset vector alias at the top of 4 GiB */
	x86_seg_real(&st->ds, 0, 0x3);
	x86_seg_real(&st->es, 0, 0x3);
	x86_seg_real(&st->fs, 0, 0x3);
	x86_seg_real(&st->gs, 0, 0x3);
	x86_seg_real(&st->ss, 0, 0x3);
	st->ldt.limit = 0xffff;
	st->ldt.type = 2;
	st->ldt.present = 1;
	st->tr.limit = 0xffff;
	st->tr.type = 3;
	st->tr.present = 1;
	st->gdt.limit = 0xffff;
	st->idt.limit = 0xffff;
	st->cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	st->apic_base = 0xfee00000 | (1u << 11) | (1u << 8);
}
