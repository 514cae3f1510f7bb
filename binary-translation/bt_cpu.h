/* The translator's per-vCPU block and internal interfaces. Generated code
 * runs with host RSP at the block and reaches it as [rsp + BT_OFF_*]; the
 * trampolines in bt_entry.S, which move RSP, use the host GS base, which
 * points at the block too. The hot fields sit at fixed offsets shared by both. */
#ifndef VMLITE_BT_CPU_H
#define VMLITE_BT_CPU_H

#define BT_OFF_GPR        0x000   /* 16 guest GPRs; RSP/R10/R11 always live here */
#define BT_OFF_RIP        0x080
#define BT_OFF_FLAGS      0x088   /* arithmetic flags + DF, host format */
#define BT_OFF_HOSTRSP    0x090
#define BT_OFF_REASON     0x098
#define BT_OFF_SELF       0x0a0
#define BT_OFF_TMP0       0x0a8
#define BT_OFF_SLOWINFO   0x0b0
#define BT_OFF_RETRY      0x0b8
#define BT_OFF_NEXT       0x0c0
#define BT_OFF_AFTER      0x0c8
#define BT_OFF_SLOWHOST   0x0d0
#define BT_OFF_CHAIN      0x0d8
#define BT_OFF_JCPTR      0x0e0
#define BT_OFF_EXITREQ    0x0e8
#define BT_OFF_SEGBASE    0x0f0   /* ES CS SS DS FS GS */
#define BT_OFF_A_EXIT     0x120
#define BT_OFF_A_EXITSAVED 0x128
#define BT_OFF_A_SLOW     0x130
#define BT_OFF_A_COMMIT   0x138
#define BT_OFF_A_HELPER   0x140
#define BT_OFF_TMP1       0x148
#define BT_OFF_TMP2       0x150
#define BT_OFF_TMP3       0x158
#define BT_OFF_MASKIDX    0x160   /* pext mask: TLB index bits of a linear address */
#define BT_OFF_MASKHI     0x168   /* pext mask: ~0xfff */
#define BT_OFF_MASKJC     0x170   /* pext mask: jump-cache index bits */
#define BT_OFF_TMPRCX     0x178
#define BT_OFF_MASKNOTIF  0x180   /* ~IF, for flag-free CLI/STI */
#define BT_OFF_MASKARITH  0x188   /* 0xcd5: arithmetic flags + DF */
#define BT_OFF_MASKBIT    0x190   /* 0xf, 0x1f, 0x3f: bit offsets of BT* m16/32/64 */
#define BT_OFF_INDSITE    0x1a8   /* guest RIP of the indirect branch that missed */
#define BT_OFF_INDDELTA   0x1b0   /* RSP change it made (undone if the target is bad) */
/* INDDELTA of a call whose n-byte push is still to come: BT_IND_CALLPUSH + n
 * (far from any real RSP change, which is at most RET imm16 + 8). */
#define BT_IND_CALLPUSH   (-0x40000000)
#define BT_OFF_A_VMI      0x1b8   /* bt_asm_vmi: VMCALL as a direct helper call */
#define BT_OFF_GBASE      0x1c0   /* probe groups: host address of each slot's base at its leader */
#define BT_OFF_TMPCF      0x1e0   /* !CF while a probe that keeps only CF runs */
#define BT_OFF_A_SYS      0x1e8   /* bt_asm_sys: INVLPG / MOV to CR as a direct helper call */
#define BT_OFF_TLB        0x1000

#define BT_TLB_BITS       12
#define BT_TLB_SIZE       (1u << BT_TLB_BITS)
#define BT_TLBE_SIZE      32
#define BT_TLBE_TAG_R     0
#define BT_TLBE_TAG_W     8
#define BT_TLBE_HOST      16
#define BT_TLBE_ADDEND    24
#define BT_JC_BITS        16
#define BT_JC_SIZE        (1u << BT_JC_BITS)
#define BT_OFF_JC         (BT_OFF_TLB + 2 * BT_TLB_SIZE * BT_TLBE_SIZE)
#define BT_JC_FILL        4096    /* fill-list length before a flush scans all */

/* Why translated code returned to the dispatcher. */
#define BT_EXIT_CHAIN     1       /* direct branch to an unlinked target */
#define BT_EXIT_LOOKUP    2       /* indirect branch missed the jump cache */
#define BT_EXIT_EMULATE   3       /* instruction at RIP needs the C emulator */
#define BT_EXIT_POLL      4       /* exit request seen at block entry */
#define BT_EXIT_HANDLED   5       /* a helper changed state (exception delivered...) */

/* Slow-path site info bits (BT_OFF_SLOWINFO). */
#define BT_SI_SIZE_MASK   0xff
#define BT_SI_WRITE       0x100
#define BT_SI_READ        0x200
#define BT_SI_FLAGSPUSHED 0x400
#define BT_SI_STACK       0x800
#define BT_SI_ALIGN16     0x2000  /* legacy SSE m128: misaligned is #GP before paging */
#define BT_SI_ALIGN32     0x4000  /* VMOVDQA/VMOVAPS... ymm: 32-byte alignment */

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "x86.h"

struct vm;
struct vcpu;

struct bt_tlbe {
	uint64_t tag_r, tag_w;
	uint64_t host;          /* host address of the page */
	uint64_t addend;        /* host - guest linear page, for the flag-free probe */
};

struct bt_jce {
	uint64_t rip;
	uint64_t host;
};

struct bt_block {
	uint64_t rip, cs_base;
	uint64_t page0, page1;  /* guest-physical pages; page1 = ~0 if one page */
	uint32_t mode;
	uint32_t ninsn;
	uint8_t *code;
	uint32_t code_len;
	bool valid;
	bool emulate_first;     /* block is just "emulate the instruction at rip" */
	int32_t hnext;          /* hash chain, block index */
	int32_t pnext0, pnext1; /* per-page lists */
	uint32_t map;           /* index of first (host off, guest rip) pair */
	uint32_t body_off;      /* code offset past the entry poll */
	uint32_t nmap;
	/* Guest code bytes the translation depends on (its instructions and
	 * whatever liveness peeked at): [dlo0, dhi0) of page0, [0, dhi1) of
	 * page1. A write elsewhere on the page leaves the block alone. */
	uint16_t dlo0, dhi0, dhi1;
	uint8_t *dead;          /* where a killed block's entry jumps: its poll exit */
	int32_t in_head;        /* chain records linked to this block, -1 */
	uint16_t borrowed;      /* guest GPRs whose values are in gpr[] while the body runs */
};

struct bt_chainrec {
	int32_t src;            /* block index */
	uint32_t gen;
	uint8_t *field;         /* rel32 field to patch */
	uint8_t *stub;          /* where field jumps while unlinked */
	uint8_t *alt;           /* jump-cache probe for a target it cannot link, or NULL */
	int32_t in_next;        /* next record linked to the same block, -1 */
};

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

struct bt_cpu {
	/* ---- fixed layout: generated code and bt_entry.S ---- */
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t flags;
	uint64_t host_rsp;
	uint64_t reason;
	struct bt_cpu *self;
	uint64_t tmp0;
	uint64_t slow_info;
	uint64_t slow_retry;
	uint64_t slow_next;
	uint64_t slow_after;
	uint64_t slow_host;
	uint64_t chain;
	uint64_t jc_ptr;
	uint8_t exit_req;
	uint8_t pad0[7];
	uint64_t seg_base[6];
	uint64_t a_exit, a_exit_saved, a_slow, a_commit, a_helper;
	uint64_t tmp1, tmp2, tmp3;
	uint64_t mask_idx, mask_hi, mask_jc, tmp_rcx;
	uint64_t mask_notif, mask_arith;
	uint64_t mask_bit[3];
	uint64_t ind_site, ind_delta;
	uint64_t a_vmi;
	uint64_t gbase[4];
	uint64_t tmp_cf;
	uint64_t a_sys;
	uint8_t pad1[BT_OFF_TLB - 0x1f0];
	struct bt_tlbe tlb[2][BT_TLB_SIZE];     /* [0] CPL0-2, [1] CPL3 */
	struct bt_jce jc[2][BT_JC_SIZE];
	/* ---- C-only state ---- */
	struct vcpu *vcpu;
	struct vm *vm;
	struct bt_state *bt;    /* shared translation state (per VM) */
	uint64_t rflags_sys;    /* IF, IOPL, TF, NT, AC, ID... (virtual) */
	struct x86_seg seg[6];
	struct x86_seg ldt, tr;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t tsc_aux, pat, misc_enable;
	uint64_t nb_cfg;                /* AMD NB_CFG: Linux sets bit 46 (ECS) */
	uint64_t xcr0;
	int cpl;
	uint32_t mode;
	bool shadow;            /* STI / MOV SS interrupt shadow for one instruction */
	bool ss_access;         /* emulator access is SS-relative: non-canonical -> #SS */
	bool shadow_pending;    /* an interrupt waits for the shadow to end */
	bool poll_is_shadow;    /* exit_req was set by us for that */
	bool halted;
	/* Pending IN: the core writes data to io_buf; we finish the instruction. */
	int io_pending;         /* 0 none, 1 IN to AL/AX/EAX, 2 INS string */
	uint8_t io_size;
	uint32_t io_count;
	uint64_t io_next_rip;
	bool io_rep;
	uint8_t io_asz;
	uint8_t io_buf[4096];
	/* Event queue from inject(). */
	bool ev_pending;
	struct vcpu_event ev;
	/* MMIO bounce */
	uint8_t bounce[64] __attribute__((aligned(64)));
	uint64_t bounce_gpa[2];
	uint32_t bounce_len[2];
	bool bounce_write;
	bool bounce_smc_exit;
	int bounce_kind;        /* 0 none, 1 mmio, 2 split RAM */
	/* Exception delivery bookkeeping. */
	int exc_depth;
	bool triple;
	/* FPU parking: guest FP/SIMD state lives in host registers unless parked. */
	bool fpu_parked;
	uint8_t *fpu_area;      /* XSAVE area, 64-byte aligned */
	uint64_t fpu_mask;
	/* Error text for EXIT_INTERNAL. */
	char fail[160];
	bool failed;
	uint64_t insns_emulated;
	/* The emulator's last instruction page per CPL class (0: CPL0-2, 1:
	 * CPL3), valid while tlb_gen (bumped by every TLB flush) is unchanged:
	 * SYSCALL and SYSRET are fetched from the same two pages every time. */
	uint64_t tlb_gen;
	uint64_t fetch_page[2], fetch_gen[2];
	uint32_t fetch_mode[2];
	uint8_t *fetch_host[2];
	/* Which TLB / jump-cache slots were filled since the last flush, so a
	 * flush touches only those (a full clear costs ~10k stores). */
	uint16_t tlb_fill[2][BT_TLB_SIZE];
	uint16_t tlb_nfill[2];
	/* Slots filled with global pages go to a list of their own, which
	 * MOV CR3 (keeping global pages) never has to walk. */
	uint16_t tlb_gfill[2][BT_TLB_SIZE];
	uint16_t tlb_ngfill[2];
	bool tlb_ovf[2];
	uint8_t tlb_g[2][BT_TLB_SIZE];  /* entry maps a global page */
	bool tlb_large;                 /* some entry came from a 2M/4M/1G page */
	bool walk_global, walk_large;   /* attributes of the last successful walk */
	struct {
		uint64_t enters, chain, lookup, emulate, poll, handled, slow, refill, bounce, smc;
		uint64_t translated, flush_full, flush_cr3, invlpg, irqs;
		uint64_t groups, grouped;        /* probe groups formed, accesses in them */
		uint64_t probes;                 /* accesses translated with their own probe */
		uint64_t killed, vmi_direct;   /* blocks invalidated; VMI calls without an exit */
		uint64_t sys_direct;             /* INVLPG / MOV to CR without an exit */
		uint64_t retpolines;             /* retpoline thunks translated as one jump */
		uint64_t unrolled;               /* self-loop blocks translated with copies of the body */
		uint64_t translate_tsc;          /* host TSC ticks spent translating */
	} n;
	int32_t jc_blk[2][BT_JC_SIZE];  /* block index of each jump-cache entry */
	uint16_t jc_fill[2][BT_JC_FILL];
	uint16_t jc_nfill[2];
	bool jc_ovf[2];
	bool jc_user0;                  /* the CPL0 table holds user-half RIPs */
	uint64_t jc_bloom[2][64];       /* pages that may have jump-cache entries */
	uint16_t tlb_big[2][64];        /* entries that came from large pages */
	uint8_t tlb_nbig[2];
	bool tlb_big_ovf[2];
};

/* Per-VM translation state: code cache, blocks, hash, page lists. */
#define BT_MAX_BLOCKS   (1 << 17)
#define BT_HASH_SIZE    (1 << 16)
#define BT_CODE_SIZE    (128u << 20)
#define BT_MAP_MAX      (1 << 22)
#define BT_CHAIN_MAX    (1 << 18)
#define BT_SMC_MISS_MAX 64      /* block-missing writes before a code page is dropped whole */

struct bt_state {
	uint8_t *code;
	uint32_t code_used;
	struct bt_block *blocks;
	int32_t nblocks;
	int32_t *hash;
	int32_t *page_head;     /* per RAM page: first block index or -1 */
	uint8_t *page_code;     /* per RAM page: nonzero if blocks exist */
	uint8_t *page_miss;     /* per RAM page: code-page writes that hit no block */
	uint64_t npages;
	uint32_t *map;          /* pairs: host offset in block, guest rip low 32 */
	uint64_t *map_rip;
	uint32_t nmap;
	struct bt_chainrec *chains;
	uint32_t nchains;
	uint32_t gen;           /* bumped on full flush */
	bool precise_flags;     /* VMLITE_BT_PRECISE_FLAGS=1: exact flags in fault frames */
	FILE *perfmap;          /* VMLITE_BT_PERFMAP=1: /tmp/perf-PID.map for perf report */
	const char *dumpdir;    /* VMLITE_BT_DUMP=DIR: each block's host code as DIR/RIP-N.bin */
	int inject;             /* VMLITE_BT_INJECT_BUG: BT_BUG_* (difftest's proof it catches one) */
	int groups;             /* VMLITE_BT_GROUPS: BT_GROUPS_ON, _OFF, _MISS (every probe misses) */
	int unroll;             /* VMLITE_BT_UNROLL: copies of a self-loop body per block (1: off) */
	uint64_t flushes;
};

enum { BT_GROUPS_ON, BT_GROUPS_OFF, BT_GROUPS_MISS };
/* Deliberate translator bugs: JL translated as JLE; group probes check one
 * byte of their span; CF-keeping probes save CF inverted. */
enum { BT_BUG_NONE, BT_BUG_JL_JLE, BT_BUG_GROUP_SPAN, BT_BUG_CF_PROBE, BT_BUG_LOOP_EXIT };

/* Mode key bits. */
#define BT_MODE_CPL_MASK 3u
#define BT_MODE_64       (1u << 2)
#define BT_MODE_32       (1u << 3)
#define BT_MODE_FLAT     (1u << 4)
#define BT_MODE_SS32     (1u << 5)
#define BT_MODE_PE       (1u << 6)

/* bt_entry.S */
void bt_enter(struct bt_cpu *c, const void *code);
void bt_asm_exit(void);
void bt_asm_jc_empty(void);

/* An empty jump-cache slot: its tag is ~0 (a RIP no block is cached for) and
 * its host target leaves through a lookup exit, so an indirect branch that
 * really goes to 0xffffffffffffffff matches the slot harmlessly. */
static inline void bt_jc_clear(struct bt_jce *j)
{
	j->rip = ~0ull;
	j->host = (uint64_t)(uintptr_t)bt_asm_jc_empty;
}

/* An empty soft-TLB slot's tag. The probe compares the accessed page with
 * the tag, so the tag must not equal any address that indexes this slot,
 * non-canonical ones included: it is non-canonical (no valid tag is) and
 * carries the index of the opposite slot. */
static inline uint64_t bt_tlb_invalid(unsigned slot)
{
	return 0x8000000000000000ull |
	       ((uint64_t)((slot + BT_TLB_SIZE / 2) & (BT_TLB_SIZE - 1)) << 12);
}

static inline bool bt_tlb_dead(uint64_t tag)
{
	return ((tag + (1ull << 47)) >> 48) != 0;
}
void bt_asm_exit_saved(void);
void bt_asm_slow(void);
void bt_asm_commit(void);
void bt_asm_helper(void);
void bt_asm_vmi(void);
void bt_asm_sys(void);
/* VMCALL from translated code (bt_asm_vmi): 0 = continue after the call,
 * 1 = leave for the dispatcher (RIP/REASON set). */
uint64_t bt_vmi_direct(struct bt_cpu *c);

/* Jump-cache slot of a guest RIP: rip + ror(rip, 4), low bits. Function
 * entries are 16-byte aligned, so the plain low bits would crowd them into
 * a sixteenth of the slots. Generated code computes the same with rorx/lea/pext. */
static inline unsigned bt_jc_index(uint64_t rip)
{
	return (unsigned)((rip + ((rip >> 4) | (rip << 60))) & (BT_JC_SIZE - 1));
}

/* Small helpers that never use SIMD (the guest's FP state may be live). */
static inline void bt_memcpy(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
static inline void bt_memset(void *d, int v, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* bt_engine.c */
void bt_fpu_park(struct bt_cpu *c);
void bt_fpu_unpark(struct bt_cpu *c);
void bt_update_mode(struct bt_cpu *c);
void bt_fail(struct bt_cpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t bt_get_rflags(const struct bt_cpu *c);
void bt_set_rflags(struct bt_cpu *c, uint64_t f);
void bt_flush_jc(struct bt_cpu *c);

/* bt_mmu.c */
#define BT_ACC_R   0
#define BT_ACC_W   1
#define BT_ACC_X   2
int bt_mmu_init(struct bt_state *s, struct vm *vm);
void bt_tlb_flush(struct bt_cpu *c);
void bt_tlb_flush_cr3(struct bt_cpu *c);        /* keeps global entries */
void bt_tlb_invlpg(struct bt_cpu *c, uint64_t lin);
void bt_chain_probe(struct bt_chainrec *cr);
void bt_jc_insert(struct bt_cpu *c, int t, uint64_t rip, uint64_t host);
/* Linear -> physical. Returns 0, or -1 after delivering #PF/#GP (c->reason). */
int bt_fetch_probe(struct bt_cpu *c, uint64_t lin, uint64_t *gpa);
int bt_translate_lin(struct bt_cpu *c, uint64_t lin, int acc, bool user, uint64_t *gpa);
int bt_translate_quiet(struct bt_cpu *c, uint64_t lin, int acc, uint64_t *gpa);
/* Guest-virtual access from C at the current CPL (supervisor if sys). -1 on fault
 * (the fault has been delivered). */
int bt_vread(struct bt_cpu *c, uint64_t lin, void *buf, unsigned len, bool sys);
int bt_vwrite(struct bt_cpu *c, uint64_t lin, const void *buf, unsigned len, bool sys);
int bt_vprobe_write(struct bt_cpu *c, uint64_t lin, unsigned len, bool sys);
/* Physical access (RAM or the MMIO bus). */
void bt_pread(struct bt_cpu *c, uint64_t gpa, void *buf, unsigned len);
void bt_pwrite(struct bt_cpu *c, uint64_t gpa, const void *buf, unsigned len);
uint8_t *bt_gpa_host(struct bt_cpu *c, uint64_t gpa);
uint64_t bt_slow_access(struct bt_cpu *c, uint64_t lin);
uint64_t bt_slow_commit(struct bt_cpu *c);
void bt_smc_write(struct bt_cpu *c, uint64_t gpa, unsigned len);
void bt_code_page_mark(struct bt_cpu *c, uint64_t gpa);

/* bt_except.c */
/* Delivers an exception/interrupt through the IDT. soft: INT n (DPL check,
 * return past the instruction). Never fails: escalates to #DF / shutdown. */
void bt_raise(struct bt_cpu *c, int vec, bool has_err, uint32_t err);
void bt_deliver(struct bt_cpu *c, int vec, bool has_err, uint32_t err, bool soft,
		uint64_t ret_rip);
int bt_load_seg(struct bt_cpu *c, int seg, uint16_t sel);
int bt_read_desc(struct bt_cpu *c, uint16_t sel, uint64_t *desc);
void bt_desc_to_seg(uint64_t d, uint32_t hi3, uint16_t sel, struct x86_seg *s);
int bt_iret(struct bt_cpu *c, int opsize);
void bt_syscall_segs(struct bt_cpu *c, bool to_user, bool user64);
int bt_far_transfer(struct bt_cpu *c, uint16_t sel, uint64_t off, bool call, int opsize,
		    uint64_t ret_rip);

/* bt_emulate.c: executes the instruction at c->rip in C. Returns 0 to keep
 * running, 1 when *exit was filled for the core. */
int bt_emulate(struct bt_cpu *c, struct vcpu_exit *exit);
int bt_io_complete(struct bt_cpu *c);
/* REP MOVS/STOS called from translated code (bt_asm_helper): 0 = continue
 * after the instruction, nonzero = leave translated code (c->rip set). */
uint64_t bt_helper_string(struct bt_cpu *c);
#define BT_STR_MOVS   1
#define BT_STR_STOS   2
#define BT_STR_REP    0x100
#define BT_STR_A32    0x200
/* INVLPG (linear address in TMP3) and MOV to CR0/2/3/4 from a GPR at CPL 0 in
 * 64-bit code, called from translated code (bt_asm_sys) without a decode or a
 * block exit. SLOWINFO: BT_SYS_* | CR number << 8 | GPR number << 16. Returns
 * as bt_helper_string. */
uint64_t bt_helper_sys(struct bt_cpu *c);
#define BT_SYS_INVLPG 1
#define BT_SYS_WRCR   2

/* Wrappers of the emulator's CR/MSR paths for bt_vmi.c (0 or -1). */
int bt_emu_cr_read(struct bt_cpu *c, int n, uint64_t *v);
int bt_emu_cr_write(struct bt_cpu *c, int n, uint64_t v);
int bt_emu_msr_read(struct bt_cpu *c, uint32_t msr, uint64_t *v);
int bt_emu_msr_write(struct bt_cpu *c, uint32_t msr, uint64_t v);

/* bt_real.c: one instruction of 16-bit code (real mode or a 16-bit
 * protected-mode segment). 1 when *exit was filled for the core. */
int bt_real_step(struct bt_cpu *c, struct vcpu_exit *exit);

/* bt_vmi.c: the VMI ABI (VMCALL callout, MSRs, struct vmi_ops). */
struct vmi_ops;
extern const struct vmi_ops bt_vmi_ops;
int bt_vmi_call(struct bt_cpu *c, uint64_t next_rip, struct vcpu_exit *x);
int bt_vmi_msr(struct bt_cpu *c, bool write, uint32_t msr, uint64_t *val);

/* bt_translate.c */
int bt_translate(struct bt_cpu *c, struct bt_block *b);
struct bt_block *bt_lookup(struct bt_cpu *c, struct vcpu_exit *exit, int *err);
void bt_invalidate_page(struct bt_cpu *c, uint64_t page);
bool bt_smc_range(struct bt_cpu *c, uint64_t page, unsigned lo, unsigned hi);
void bt_chain_link(struct bt_cpu *c, struct bt_chainrec *cr, struct bt_block *dst);
void bt_flush_all(struct bt_cpu *c);
uint64_t bt_host_to_guest_rip(struct bt_cpu *c, uint64_t host_rip, bool *found,
			      uint16_t *borrowed);

#endif
#endif
