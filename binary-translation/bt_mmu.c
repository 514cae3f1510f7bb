/* Soft MMU: the guest page walker, the inline TLB's refill and slow path,
 * physical access (RAM or the MMIO bus) and self-modifying-code detection. */
#include <stdio.h>
#include <string.h>

#include "bt_cpu.h"
#include "vm.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

enum { WALK_OK, WALK_PF, WALK_GP };

/* Host pointer for a guest-physical address if it is RAM or ROM; NULL for MMIO
 * and holes. *rom is set for read-only regions. */
static uint8_t *gpa_host(struct bt_cpu *c, uint64_t gpa, bool *rom)
{
	const struct guest_memory *m = &c->vm->mem;
	*rom = false;
	uint64_t low = m->ram_size < MEM_LOW_LIMIT ? m->ram_size : MEM_LOW_LIMIT;
	if (gpa < low)
		return m->ram + gpa;
	if (gpa >= MEM_HIGH_BASE && gpa - MEM_HIGH_BASE < m->ram_size - low)
		return m->ram + low + (gpa - MEM_HIGH_BASE);
	for (int i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			if (!r->host || (r->kind != MEM_RAM && r->kind != MEM_ROM))
				return NULL;
			*rom = r->kind == MEM_ROM;
			return r->host + (gpa - r->gpa);
		}
	}
	return NULL;
}

uint8_t *bt_gpa_host(struct bt_cpu *c, uint64_t gpa)
{
	bool rom;
	return gpa_host(c, gpa, &rom);
}

/* Index of a RAM page in the code bitmap, or -1. */
static int64_t ram_page(struct bt_cpu *c, const uint8_t *host)
{
	const struct guest_memory *m = &c->vm->mem;
	if (host < m->ram || host >= m->ram + m->ram_size)
		return -1;
	return (host - m->ram) >> 12;
}

int bt_mmu_init(struct bt_state *s, struct vm *vm)
{
	(void)s;
	(void)vm;
	return 0;
}

static void tlb_kill(struct bt_cpu *c, int t, unsigned i)
{
	c->tlb[t][i].tag_r = bt_tlb_invalid(i);
	c->tlb[t][i].tag_w = bt_tlb_invalid(i);
	c->tlb_g[t][i] = 0;
}

static void tlb_note(struct bt_cpu *c, int t, unsigned i, bool global)
{
	uint16_t *n = global ? &c->tlb_ngfill[t] : &c->tlb_nfill[t];
	if (*n < BT_TLB_SIZE)
		(global ? c->tlb_gfill[t] : c->tlb_fill[t])[(*n)++] = (uint16_t)i;
	else
		c->tlb_ovf[t] = true;
}

/* Walks one fill list, killing the entries that match and keeping the
 * rest listed. */
static void fill_filter(struct bt_cpu *c, int t, uint16_t *list, uint16_t *n, bool keep_global,
			uint64_t lin, uint64_t m)
{
	unsigned keep = 0;
	for (unsigned k = 0; k < *n; k++) {
		unsigned i = list[k];
		struct bt_tlbe *e = &c->tlb[t][i];
		if (bt_tlb_dead(e->tag_r))
			continue;
		if ((keep_global && c->tlb_g[t][i]) || ((e->tag_r ^ lin) & m))
			list[keep++] = (uint16_t)i;
		else
			tlb_kill(c, t, i);
	}
	*n = (uint16_t)keep;
}

void bt_jc_insert(struct bt_cpu *c, int t, uint64_t rip, uint64_t host)
{
	unsigned i = bt_jc_index(rip);
	if (rip == ~0ull)
		return;         /* the empty tag; such a block is found by lookup exits */
	if (t == 0 && rip < 0xffff800000000000ull)
		c->jc_user0 = true;
	unsigned bb = (rip >> 12) & 4095;
	c->jc_bloom[t][bb >> 6] |= 1ull << (bb & 63);
	if (c->jc[t][i].rip == ~0ull) {
		if (c->jc_nfill[t] < BT_JC_FILL)
			c->jc_fill[t][c->jc_nfill[t]++] = (uint16_t)i;
		else
			c->jc_ovf[t] = true;
	}
	c->jc[t][i].rip = rip;
	c->jc[t][i].host = host;
}

/* Drops jump-cache entries for which drop(rip) holds (all if NULL). */
static void jc_filter(struct bt_cpu *c, int t, bool (*drop)(uint64_t, uint64_t), uint64_t arg)
{
	if (c->jc_ovf[t]) {
		c->jc_nfill[t] = 0;
		c->jc_ovf[t] = false;
		for (unsigned i = 0; i < BT_JC_SIZE; i++) {
			if (c->jc[t][i].rip == ~0ull)
				continue;
			if (!drop || drop(c->jc[t][i].rip, arg))
				bt_jc_clear(&c->jc[t][i]);
			else if (c->jc_nfill[t] < BT_JC_FILL)
				c->jc_fill[t][c->jc_nfill[t]++] = (uint16_t)i;
			else
				c->jc_ovf[t] = true;
		}
		return;
	}
	unsigned keep = 0;
	for (unsigned k = 0; k < c->jc_nfill[t]; k++) {
		unsigned i = c->jc_fill[t][k];
		if (c->jc[t][i].rip == ~0ull)
			continue;
		if (!drop || drop(c->jc[t][i].rip, arg))
			bt_jc_clear(&c->jc[t][i]);
		else
			c->jc_fill[t][keep++] = (uint16_t)i;
	}
	c->jc_nfill[t] = (uint16_t)keep;
}

void bt_flush_jc(struct bt_cpu *c)
{
	for (int t = 0; t < 2; t++) {
		if (c->jc_ovf[t]) {
			for (unsigned i = 0; i < BT_JC_SIZE; i++)
				bt_jc_clear(&c->jc[t][i]);
		} else {
			for (unsigned k = 0; k < c->jc_nfill[t]; k++)
				bt_jc_clear(&c->jc[t][c->jc_fill[t][k]]);
		}
		c->jc_nfill[t] = 0;
		c->jc_ovf[t] = false;
		bt_memset(c->jc_bloom[t], 0, sizeof(c->jc_bloom[t]));
	}
}

/* Kills entries (keeping global ones if asked) whose page lies in the
 * span-aligned region around lin; span 0 means every entry. */
static void tlb_filter(struct bt_cpu *c, bool keep_global, uint64_t lin, uint64_t span)
{
	uint64_t m = span ? ~(span - 1) : 0;
	for (int t = 0; t < 2; t++) {
		if (c->tlb_ovf[t]) {
			c->tlb_nfill[t] = 0;
			c->tlb_ngfill[t] = 0;
			c->tlb_ovf[t] = false;
			for (unsigned i = 0; i < BT_TLB_SIZE; i++) {
				struct bt_tlbe *e = &c->tlb[t][i];
				if (bt_tlb_dead(e->tag_r))
					continue;
				if ((keep_global && c->tlb_g[t][i]) || ((e->tag_r ^ lin) & m))
					tlb_note(c, t, i, c->tlb_g[t][i]);
				else
					tlb_kill(c, t, i);
			}
			continue;
		}
		fill_filter(c, t, c->tlb_fill[t], &c->tlb_nfill[t], keep_global, lin, m);
		/* Global slots all survive a flush that keeps global pages. */
		if (!keep_global)
			fill_filter(c, t, c->tlb_gfill[t], &c->tlb_ngfill[t], false, lin, m);
	}
}

void bt_tlb_flush(struct bt_cpu *c)
{
	c->tlb_gen++;
	c->n.flush_full++;
	tlb_filter(c, false, 0, 0);     /* span 0: every listed slot */
	c->tlb_large = false;
	for (int t = 0; t < 2; t++) {
		c->tlb_nbig[t] = 0;
		c->tlb_big_ovf[t] = false;
	}
	bt_flush_jc(c);
	c->jc_user0 = false;
}

static bool user_half(uint64_t rip, uint64_t arg)
{
	(void)arg;
	return rip < 0xffff800000000000ull;
}

/* MOV CR3 without PCID: entries for global pages survive, and so do the
 * kernel-half jump-cache entries (the kernel half maps the same code in
 * every address space; a change to it needs INVLPG or a global flush, which
 * do clear them). */
void bt_tlb_flush_cr3(struct bt_cpu *c)
{
	c->tlb_gen++;
	c->n.flush_cr3++;
	if (!(c->cr4 & X86_CR4_PGE) || !(c->efer & X86_EFER_LMA)) {
		bt_tlb_flush(c);
		return;
	}
	tlb_filter(c, true, 0, 0);
	if (c->jc_user0) {
		jc_filter(c, 0, user_half, 0);
		c->jc_user0 = false;
	}
	jc_filter(c, 1, NULL, 0);
	bt_memset(c->jc_bloom[1], 0, sizeof(c->jc_bloom[1]));
}

static bool same_page(uint64_t rip, uint64_t page)
{
	return (rip & ~0xfffull) == page;
}

void bt_tlb_invlpg(struct bt_cpu *c, uint64_t lin)
{
	c->tlb_gen++;
	c->n.invlpg++;
	uint64_t page = lin & ~0xfffull;
	for (int t = 0; t < 2; t++) {
		unsigned i = (lin >> 12) & (BT_TLB_SIZE - 1);
		tlb_kill(c, t, i);
		/* Our entries are 4K pieces of possibly larger pages: drop every
		 * piece of a large page that could contain lin. */
		if (c->tlb_big_ovf[t]) {
			tlb_filter(c, false, page, 1ull << 30);
			c->tlb_big_ovf[0] = c->tlb_big_ovf[1] = false;
			c->tlb_nbig[0] = c->tlb_nbig[1] = 0;
			break;
		}
		unsigned keep = 0;
		for (unsigned k = 0; k < c->tlb_nbig[t]; k++) {
			unsigned j = c->tlb_big[t][k];
			uint64_t tag = c->tlb[t][j].tag_r;
			if (bt_tlb_dead(tag))
				continue;
			if (((tag ^ page) >> 30) == 0)
				tlb_kill(c, t, j);
			else
				c->tlb_big[t][keep++] = (uint16_t)j;
		}
		c->tlb_nbig[t] = (uint8_t)keep;
	}
	unsigned bb = (page >> 12) & 4095;
	bool user = page < 0xffff800000000000ull || !(c->efer & X86_EFER_LMA);
	if ((!user || c->jc_user0) && (c->jc_bloom[0][bb >> 6] >> (bb & 63) & 1))
		jc_filter(c, 0, same_page, page);
	if (user && (c->jc_bloom[1][bb >> 6] >> (bb & 63) & 1))
		jc_filter(c, 1, same_page, page);
}

static uint64_t pt_read(struct bt_cpu *c, uint64_t gpa, bool wide, uint8_t **where)
{
	bool rom;
	uint8_t *h = gpa_host(c, gpa, &rom);
	*where = h;
	if (!h)
		return 0;               /* page tables in MMIO: treat as not present */
	if (wide)
		return __atomic_load_n((uint64_t *)h, __ATOMIC_RELAXED);
	return __atomic_load_n((uint32_t *)h, __ATOMIC_RELAXED);
}

static void pt_setbits(uint8_t *where, bool wide, uint64_t bits)
{
	if (!where)
		return;
	if (wide)
		__atomic_fetch_or((uint64_t *)where, bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or((uint32_t *)where, (uint32_t)bits, __ATOMIC_RELAXED);
}

static bool long_mode(const struct bt_cpu *c)
{
	return c->efer & X86_EFER_LMA;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)(((int64_t)a << 16) >> 16) == a;
}

/* The walker. On success *gpa is the physical address and *wr says whether
 * a write would be allowed right now without touching the walk again (the
 * leaf is writable for this privilege and already dirty). */
static int mmu_walk(struct bt_cpu *c, uint64_t lin, int acc, bool user, uint64_t *gpa,
		    uint32_t *pferr, bool *wr)
{
	c->walk_global = false;
	c->walk_large = false;
	if (!(c->cr0 & X86_CR0_PG)) {
		*gpa = long_mode(c) ? lin : (lin & 0xffffffffull);
		*wr = true;
		return WALK_OK;
	}
	bool nxe = c->efer & X86_EFER_NXE;
	bool write = acc == BT_ACC_W;
	uint64_t ent[5];
	uint8_t *where[5];
	bool wide = true;
	int n = 0;
	uint64_t e, base;
	uint64_t page_mask = 0xfff;
	bool rw = true, us = true, nx = false;

	if (long_mode(c)) {
		if (!canonical(lin))
			return WALK_GP;
		base = c->cr3 & ADDR_MASK;
		for (int level = 3; level >= 0; level--) {
			uint64_t idx = (lin >> (12 + 9 * level)) & 511;
			e = pt_read(c, base + idx * 8, true, &where[n]);
			ent[n++] = e;
			if (!(e & PTE_P))
				goto notpresent;
			rw &= !!(e & PTE_W);
			us &= !!(e & PTE_U);
			nx |= nxe && (e & PTE_NX);
			if (level > 0 && level < 3 && (e & PTE_PS)) {
				page_mask = (1ull << (12 + 9 * level)) - 1;
				base = e & ADDR_MASK & ~page_mask;
				break;
			}
			base = e & ADDR_MASK;
		}
	} else if (c->cr4 & X86_CR4_PAE) {
		lin &= 0xffffffffull;
		e = pt_read(c, (c->cr3 & 0xffffffe0ull) + ((lin >> 30) & 3) * 8, true, &where[n]);
		where[n] = NULL;        /* PDPTEs have no A bit in legacy PAE */
		ent[n++] = e;
		if (!(e & PTE_P))
			goto notpresent;
		base = e & ADDR_MASK;
		for (int level = 1; level >= 0; level--) {
			uint64_t idx = (lin >> (12 + 9 * level)) & 511;
			e = pt_read(c, base + idx * 8, true, &where[n]);
			ent[n++] = e;
			if (!(e & PTE_P))
				goto notpresent;
			rw &= !!(e & PTE_W);
			us &= !!(e & PTE_U);
			nx |= nxe && (e & PTE_NX);
			if (level == 1 && (e & PTE_PS)) {
				page_mask = (1ull << 21) - 1;
				base = e & ADDR_MASK & ~page_mask;
				break;
			}
			base = e & ADDR_MASK;
		}
	} else {
		wide = false;
		lin &= 0xffffffffull;
		e = pt_read(c, (c->cr3 & 0xfffff000ull) + ((lin >> 22) & 1023) * 4, false, &where[n]);
		ent[n++] = e;
		if (!(e & PTE_P))
			goto notpresent;
		rw &= !!(e & PTE_W);
		us &= !!(e & PTE_U);
		if ((e & PTE_PS) && (c->cr4 & X86_CR4_PSE)) {
			page_mask = (1ull << 22) - 1;
			base = (e & 0xffc00000ull) | (((e >> 13) & 0xff) << 32);
		} else {
			base = e & 0xfffff000ull;
			e = pt_read(c, base + ((lin >> 12) & 1023) * 4, false, &where[n]);
			ent[n++] = e;
			if (!(e & PTE_P))
				goto notpresent;
			rw &= !!(e & PTE_W);
			us &= !!(e & PTE_U);
			base = e & 0xfffff000ull;
		}
	}

	/* Permission checks. */
	bool wp = c->cr0 & X86_CR0_WP;
	if ((user && !us) || (write && !rw && (user || wp)) || (acc == BT_ACC_X && nx)) {
		*pferr = 1 | (write ? 2 : 0) | (user ? 4 : 0) |
			 ((acc == BT_ACC_X && nxe) ? 0x10 : 0);
		return WALK_PF;
	}
	/* Accessed on every level, dirty on the leaf for writes. */
	for (int i = 0; i < n; i++) {
		uint64_t bits = PTE_A | ((i == n - 1 && write) ? PTE_D : 0);
		if ((ent[i] & bits) != bits)
			pt_setbits(where[i], wide, bits);
	}
	*gpa = base | (lin & page_mask);
	*wr = (rw || (!user && !wp)) && (write || (ent[n - 1] & PTE_D));
	c->walk_global = (c->cr4 & X86_CR4_PGE) && (ent[n - 1] & (1ull << 8));
	c->walk_large = page_mask != 0xfff;
	return WALK_OK;

notpresent:
	*pferr = (write ? 2 : 0) | (user ? 4 : 0) | ((acc == BT_ACC_X && nxe) ? 0x10 : 0);
	return WALK_PF;
}

/* A supervisor walk for the host's own accesses (VMI calls): never raises
 * an exception in the guest. */
int bt_translate_quiet(struct bt_cpu *c, uint64_t lin, int acc, uint64_t *gpa)
{
	uint32_t err = 0;
	bool wr;
	return mmu_walk(c, lin, acc, false, gpa, &err, &wr) == WALK_OK ? 0 : -1;
}

int bt_translate_lin(struct bt_cpu *c, uint64_t lin, int acc, bool user, uint64_t *gpa)
{
	uint32_t err = 0;
	bool wr;
	int r = mmu_walk(c, lin, acc, user, gpa, &err, &wr);
	if (r == WALK_OK)
		return 0;
	if (r == WALK_GP) {
		bt_raise(c, 13, true, 0);
	} else {
		c->cr2 = lin;
		bt_raise(c, 14, true, err);
	}
	return -1;
}

/* Non-raising variant for the translator's instruction fetch. */
int bt_fetch_probe(struct bt_cpu *c, uint64_t lin, uint64_t *gpa)
{
	uint32_t err;
	bool wr;
	return mmu_walk(c, lin, BT_ACC_X, c->cpl == 3, gpa, &err, &wr) == WALK_OK ? 0 : -1;
}

void bt_pread(struct bt_cpu *c, uint64_t gpa, void *buf, unsigned len)
{
	bool rom;
	uint8_t *h = gpa_host(c, gpa, &rom);
	if (h) {
		bt_memcpy(buf, h, len);
		return;
	}
	uint8_t *out = buf;
	while (len) {
		unsigned n = len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
		struct vcpu_exit e;
		e.kind = EXIT_MMIO;
		e.mmio.gpa = gpa;
		e.mmio.len = (uint8_t)n;
		e.mmio.is_write = false;
		e.mmio.data = out;
		bt_memset(out, 0, n);
		bool parked = c->fpu_parked;
		bt_fpu_park(c);
		vcpu_handle_exit(c->vcpu, &e);
		if (!parked)
			bt_fpu_unpark(c);
		gpa += n;
		out += n;
		len -= n;
	}
}

void bt_pwrite(struct bt_cpu *c, uint64_t gpa, const void *buf, unsigned len)
{
	bool rom;
	uint8_t *h = gpa_host(c, gpa, &rom);
	if (h) {
		if (rom)
			return;
		int64_t pg = ram_page(c, h);
		if (pg >= 0 && c->bt->page_code[pg])
			bt_smc_write(c, gpa, len);
		bt_memcpy(h, buf, len);
		return;
	}
	const uint8_t *in = buf;
	while (len) {
		unsigned n = len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
		uint8_t tmp[8];
		bt_memcpy(tmp, in, n);
		struct vcpu_exit e;
		e.kind = EXIT_MMIO;
		e.mmio.gpa = gpa;
		e.mmio.len = (uint8_t)n;
		e.mmio.is_write = true;
		e.mmio.data = tmp;
		bool parked = c->fpu_parked;
		bt_fpu_park(c);
		vcpu_handle_exit(c->vcpu, &e);
		if (!parked)
			bt_fpu_unpark(c);
		gpa += n;
		in += n;
		len -= n;
	}
}

/* A write hit a page holding translated code: drop the blocks it changes.
 * If any died, the current block (it may be one of them) is left after the
 * writing instruction (bounce_smc_exit). */
void bt_smc_write(struct bt_cpu *c, uint64_t gpa, unsigned len)
{
	uint64_t end = gpa + (len ? len : 1);
	bool killed = false;
	for (uint64_t p = gpa & ~0xfffull; p < end; p += 4096) {
		uint64_t lo = p > gpa ? p : gpa, hi = end < p + 4096 ? end : p + 4096;
		if (bt_smc_range(c, p, (unsigned)(lo - p), (unsigned)(hi - p)))
			killed = true;
	}
	if (killed)
		c->bounce_smc_exit = true;
}

static void code_page_unwrite(struct bt_cpu *c, int t, unsigned i, const uint8_t *h)
{
	if (!bt_tlb_dead(c->tlb[t][i].tag_w) && c->tlb[t][i].host == (uint64_t)h)
		c->tlb[t][i].tag_w = bt_tlb_invalid(i);
}

/* Called by the translator when a block is created on a page: no TLB entry
 * may keep a write tag for it. */
void bt_code_page_mark(struct bt_cpu *c, uint64_t gpa)
{
	bool rom;
	uint8_t *h = gpa_host(c, gpa & ~0xfffull, &rom);
	if (!h)
		return;
	/* Only listed slots can be live (see tlb_note): a few hundred during a
	 * boot against 2 x 4096, and a boot marks thousands of code pages. */
	for (int t = 0; t < 2; t++) {
		if (c->tlb_ovf[t]) {
			for (unsigned i = 0; i < BT_TLB_SIZE; i++)
				code_page_unwrite(c, t, i, h);
			continue;
		}
		for (unsigned k = 0; k < c->tlb_nfill[t]; k++)
			code_page_unwrite(c, t, c->tlb_fill[t][k], h);
		for (unsigned k = 0; k < c->tlb_ngfill[t]; k++)
			code_page_unwrite(c, t, c->tlb_gfill[t][k], h);
	}
}

static int access_fault(struct bt_cpu *c, int r, uint64_t lin, uint32_t err, bool stack)
{
	if (r == WALK_GP) {
		bt_raise(c, stack ? 12 : 13, true, 0);
	} else {
		c->cr2 = lin;
		bt_raise(c, 14, true, err);
	}
	return -1;
}

static int translate_for(struct bt_cpu *c, uint64_t lin, bool write, bool stack,
			 uint64_t *gpa, bool *wr)
{
	uint32_t err = 0;
	int r = mmu_walk(c, lin, write ? BT_ACC_W : BT_ACC_R, c->cpl == 3, gpa, &err, wr);
	if (r != WALK_OK)
		return access_fault(c, r, lin, err, stack);
	return 0;
}

/* The soft-TLB slow path. Returns 0: TLB refilled, retry the probe;
 * 1: run the instruction against c->slow_host, then commit; 2: leave
 * translated code (an exception was delivered). */
uint64_t bt_slow_access(struct bt_cpu *c, uint64_t lin)
{
	uint64_t info = c->slow_info;
	unsigned size = info & BT_SI_SIZE_MASK;
	bool write = info & BT_SI_WRITE;
	bool read = info & BT_SI_READ;
	bool stack = info & BT_SI_STACK;
	if (size == 0)
		size = 1;
	c->n.slow++;
	c->bounce_kind = 0;
	c->bounce_write = write;
	c->bounce_smc_exit = false;
	c->reason = BT_EXIT_HANDLED;

	/* Misalignment (#GP) wins over a non-canonical SS-relative address
	 * (#SS), as measured on the host. */
	if (((info & BT_SI_ALIGN16) && (lin & 15)) || ((info & BT_SI_ALIGN32) && (lin & 31))) {
		bt_raise(c, 13, true, 0);
		return 2;
	}
	if (long_mode(c) && (c->mode & BT_MODE_64) &&
	    (!canonical(lin) || !canonical(lin + size - 1))) {
		bt_raise(c, stack ? 12 : 13, true, 0);
		return 2;
	}
	if (!(c->mode & BT_MODE_64))
		lin &= 0xffffffffull;
	unsigned off = lin & 0xfff;
	uint64_t gpa0, gpa1;
	bool wr0, wr1, rom;
	if (translate_for(c, lin, write, stack, &gpa0, &wr0) < 0)
		return 2;
	if (off + size <= 4096) {
		uint8_t *h = gpa_host(c, gpa0, &rom);
		if (!h || (rom && write)) {
			c->n.bounce++;
			c->bounce_kind = 1;
			c->bounce_gpa[0] = gpa0;
			c->bounce_len[0] = size;
			c->bounce_len[1] = 0;
			if (read || !write)
				bt_pread(c, gpa0, c->bounce, size);
			c->slow_host = (uint64_t)c->bounce;
			return 1;
		}
		int64_t pg = ram_page(c, h);
		bool code = pg >= 0 && c->bt->page_code[pg];
		if (write && code) {
			c->n.smc++;
			bt_smc_write(c, gpa0, size);
			c->slow_host = (uint64_t)h;
			return 1;
		}
		/* Refill. */
		int tn = c->cpl == 3;
		unsigned ti = (lin >> 12) & (BT_TLB_SIZE - 1);
		struct bt_tlbe *t = &c->tlb[tn][ti];
		uint64_t page = lin & ~0xfffull;
		/* A slot must be on the non-global list once it holds a
		 * non-global page, wherever its earlier page was listed. */
		if (bt_tlb_dead(t->tag_r) || (c->tlb_g[tn][ti] && !c->walk_global))
			tlb_note(c, tn, ti, c->walk_global);
		c->n.refill++;
		c->tlb_g[tn][ti] = c->walk_global;
		if (c->walk_large) {
			c->tlb_large = true;
			if (c->tlb_nbig[tn] < 64)
				c->tlb_big[tn][c->tlb_nbig[tn]++] = (uint16_t)ti;
			else
				c->tlb_big_ovf[tn] = true;
		}
		t->tag_r = page;
		t->tag_w = (wr0 && !code && !rom) ? page : bt_tlb_invalid(ti);
		t->host = (uint64_t)(h - off);
		t->addend = t->host - page;
		return 0;
	}
	/* The access crosses a page boundary: check both pages before anything
	 * is written, then use the host memory directly if contiguous. */
	uint64_t lin1 = (lin + 4096) & ~0xfffull;
	if (!(c->mode & BT_MODE_64))
		lin1 &= 0xffffffffull;
	if (translate_for(c, lin1, write, stack, &gpa1, &wr1) < 0)
		return 2;
	bool rom1;
	uint8_t *h0 = gpa_host(c, gpa0, &rom);
	uint8_t *h1 = gpa_host(c, gpa1, &rom1);
	unsigned n0 = 4096 - off;
	if (h0 && h1 && !rom && !rom1 && h1 == h0 + n0) {
		if (write) {
			int64_t p0 = ram_page(c, h0), p1 = ram_page(c, h1);
			if ((p0 >= 0 && c->bt->page_code[p0]) || (p1 >= 0 && c->bt->page_code[p1])) {
				bt_smc_write(c, gpa0, n0);
				bt_smc_write(c, gpa1, size - n0);
			}
		}
		c->slow_host = (uint64_t)h0;
		return 1;
	}
	c->bounce_kind = 2;
	c->bounce_gpa[0] = gpa0;
	c->bounce_len[0] = n0;
	c->bounce_gpa[1] = gpa1;
	c->bounce_len[1] = size - n0;
	bt_pread(c, gpa0, c->bounce, n0);
	bt_pread(c, gpa1, c->bounce + n0, size - n0);
	c->slow_host = (uint64_t)c->bounce;
	return 1;
}

uint64_t bt_slow_commit(struct bt_cpu *c)
{
	if (c->bounce_kind && c->bounce_write) {
		bt_pwrite(c, c->bounce_gpa[0], c->bounce, c->bounce_len[0]);
		if (c->bounce_kind == 2)
			bt_pwrite(c, c->bounce_gpa[1], c->bounce + c->bounce_len[0],
				  c->bounce_len[1]);
	}
	c->bounce_kind = 0;
	if (c->bounce_smc_exit) {
		c->bounce_smc_exit = false;
		c->rip = c->slow_next;
		c->reason = BT_EXIT_HANDLED;
		return 2;
	}
	return 0;
}

/* Guest-virtual access from C. sys: supervisor access regardless of CPL
 * (descriptor tables, TSS, exception frames). */
static int vaccess(struct bt_cpu *c, uint64_t lin, void *buf, unsigned len, bool sys,
		   bool write)
{
	uint8_t *p = buf;
	bool user = sys ? false : c->cpl == 3;
	while (len) {
		if (!(c->mode & BT_MODE_64) && !long_mode(c))
			lin &= 0xffffffffull;
		unsigned n = 4096 - (lin & 0xfff);
		if (n > len)
			n = len;
		uint64_t gpa;
		uint32_t err = 0;
		bool wr;
		int r = mmu_walk(c, lin, write ? BT_ACC_W : BT_ACC_R, user, &gpa, &err, &wr);
		if (r != WALK_OK)
			return access_fault(c, r, lin, err, c->ss_access);
		if (write)
			bt_pwrite(c, gpa, p, n);
		else
			bt_pread(c, gpa, p, n);
		lin += n;
		p += n;
		len -= n;
	}
	return 0;
}

int bt_vread(struct bt_cpu *c, uint64_t lin, void *buf, unsigned len, bool sys)
{
	return vaccess(c, lin, buf, len, sys, false);
}

/* Raises the fault a write of [lin, lin+len) would take, writing nothing. */
int bt_vprobe_write(struct bt_cpu *c, uint64_t lin, unsigned len, bool sys)
{
	uint64_t l = lin;
	unsigned left = len;
	bool user = sys ? false : c->cpl == 3;
	while (left) {
		unsigned n = 4096 - (l & 0xfff);
		if (n > left)
			n = left;
		uint64_t gpa;
		uint32_t err = 0;
		bool wr;
		int r = mmu_walk(c, l, BT_ACC_W, user, &gpa, &err, &wr);
		if (r != WALK_OK)
			return access_fault(c, r, l, err, c->ss_access);
		l += n;
		left -= n;
	}
	return 0;
}

int bt_vwrite(struct bt_cpu *c, uint64_t lin, const void *buf, unsigned len, bool sys)
{
	/* Check every page first so a faulting write changes nothing. */
	if (bt_vprobe_write(c, lin, len, sys) < 0)
		return -1;
	return vaccess(c, lin, (void *)buf, len, sys, true);
}
