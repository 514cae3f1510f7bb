/* Architectural x86 state shared by every engine and loader. Our own layout,
 * so engines translate to and from it (KVM structs, translator vCPU block). */
#ifndef VMLITE_X86_H
#define VMLITE_X86_H

#include <stdbool.h>
#include <stdint.h>

enum x86_gpr {
	GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
	GPR_COUNT
};

struct x86_seg {
	uint64_t base;
	uint32_t limit;         /* byte granular, already scaled by G */
	uint16_t sel;
	uint8_t type;           /* 4-bit descriptor type */
	uint8_t s, dpl, present, avl, l, db, g;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct vcpu_state {
	uint64_t gpr[GPR_COUNT];
	uint64_t rip;
	uint64_t rflags;
	struct x86_seg es, cs, ss, ds, fs, gs, ldt, tr;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
	/* System-call and segment-base MSRs that loaders and engines must carry. */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
};

/* Floating-point and vector state (engine_ops get_fpu/set_fpu). The x87
 * part uses the FXSAVE layout's meaning; ymmh are the upper halves of
 * ymm0-15 (zero and ignored when the guest has no AVX). */
struct vcpu_fpu {
	uint16_t fcw, fsw;
	uint8_t ftw;                    /* abridged tag word, as in FXSAVE */
	uint16_t fop;
	uint64_t fip, fdp;
	uint8_t st[8][16];              /* st0-7 / mm0-7, 80-bit values in the low 10 bytes */
	uint8_t xmm[16][16];
	uint8_t ymmh[16][16];
	uint32_t mxcsr;
	uint64_t xcr0;
};

#define X86_CR0_PE  (1ull << 0)
#define X86_CR0_MP  (1ull << 1)
#define X86_CR0_EM  (1ull << 2)
#define X86_CR0_TS  (1ull << 3)
#define X86_CR0_ET  (1ull << 4)
#define X86_CR0_NE  (1ull << 5)
#define X86_CR0_WP  (1ull << 16)
#define X86_CR0_AM  (1ull << 18)
#define X86_CR0_NW  (1ull << 29)
#define X86_CR0_CD  (1ull << 30)
#define X86_CR0_PG  (1ull << 31)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_CR4_OSXSAVE (1ull << 18)
#define X86_CR4_SMEP (1ull << 20)
#define X86_CR4_SMAP (1ull << 21)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)
#define X86_RFLAGS_FIXED (1ull << 1)
#define X86_RFLAGS_IF (1ull << 9)

/* Flat segment helpers used by loaders to build initial states. */
void x86_seg_flat_code32(struct x86_seg *s, uint16_t sel);
void x86_seg_flat_code64(struct x86_seg *s, uint16_t sel);
void x86_seg_flat_data(struct x86_seg *s, uint16_t sel);
/* A real-mode segment: base sel << 4, 64 KiB limit, the given type. */
void x86_seg_real(struct x86_seg *s, uint16_t sel, uint8_t type);
void x86_state_reset(struct vcpu_state *st);    /* power-on state, CS:IP=F000:FFF0 */

#endif
