/* The guest runner: the same case through an engine, using only the engine
 * interface. One small VM is reused for every case: 4-level paging maps the
 * code page and data buffer at the native addresses (user pages) and a
 * supervisor-only system area in the kernel half. Each case enters through a
 * CPL0 stub that loads the vector registers and iretq's into the test code
 * (at CPL3 by default); every exception, including the int3 trailer, goes
 * through a 64-bit IDT on an IST stack to a stub that saves the vector
 * registers and halts. The halt's exit and the frame on the IST stack give
 * the vector and the final state, with no general-purpose register touched. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difftest.h"
#include "engine.h"
#include "error.h"
#include "guest_layout.h"
#include "vm.h"

extern const uint8_t dt_guest_sys[], dt_guest_sys_end[];
extern const uint8_t dt_guest_sys_setup[], dt_guest_sys_vectors[], dt_guest_sys_halt[];
extern const uint8_t dt_guest_user[], dt_guest_user_end[], dt_guest_user_save_hlt[];

#define STUB_OFF(sym) ((uint64_t)((sym) - dt_guest_sys))
#define SYS(off) (G_SYS_VA + (off))

#define PTE_P  0x1ull
#define PTE_W  0x2ull
#define PTE_U  0x4ull
#define PTE_A  0x20ull
#define PTE_D  0x40ull
#define PTE_NX (1ull << 63)

struct dt_guest {
	struct vm vm;
	struct vm_config cfg;
	const struct engine_ops *eng;
	bool cpl3;
	bool avx;
	uint8_t *ram;
	struct vcpu_state base;
	int timeout_ms;
	pthread_t watchdog;
	bool watchdog_running;
	atomic_bool quit;
	atomic_llong deadline_ns;       /* 0: no case running */
	atomic_bool fired;
	bool vm_live;
	int vec;                        /* VEC_*: how the stubs move xmm/MXCSR */
	bool fresh;                     /* recreate the VM before every case */
	uint64_t runs;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void *watchdog_main(void *arg)
{
	struct dt_guest *g = arg;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	while (!atomic_load(&g->quit)) {
		nanosleep(&ts, NULL);
		long long d = atomic_load(&g->deadline_ns);
		if (d && now_ns() > d) {
			atomic_store(&g->fired, true);
			if (g->eng->kick)
				g->eng->kick(&g->vm.vcpus[0]);
		}
	}
	return NULL;
}

static void kick_signal(int sig)
{
	(void)sig;
}

/* Guest-physical page of data page i (an involution: pairs swapped). */
static uint64_t data_page(uint32_t i)
{
	return G_DATA_PA + 4096ull * (i ^ 1);
}

static void data_fill(struct dt_guest *g, uint64_t seed)
{
	static uint8_t buf[DT_DATA_SIZE];
	dt_fill_data(seed, buf);
	for (uint32_t i = 0; i < DT_DATA_SIZE / 4096; i++)
		memcpy(g->ram + data_page(i), buf + 4096 * i, 4096);
}

static void data_read(struct dt_guest *g, uint8_t *out)
{
	for (uint32_t i = 0; i < DT_DATA_SIZE / 4096; i++)
		memcpy(out + 4096 * i, g->ram + data_page(i), 4096);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint8_t *sys_host(struct dt_guest *g, uint64_t off)
{
	return g->ram + G_SYS_PA + off;
}

static void build_page_tables(struct dt_guest *g)
{
	uint8_t *m = g->ram;
	const uint64_t tbl = PTE_P | PTE_W | PTE_U | PTE_A;
	put64(m + G_PML4 + 8 * ((DT_CODE_VA >> 39) & 511), G_PDPT_LOW | tbl);
	put64(m + G_PDPT_LOW + 8 * ((DT_CODE_VA >> 30) & 511), G_PD_LOW | tbl);
	put64(m + G_PD_LOW + 8 * ((DT_CODE_VA >> 21) & 511), G_PT_CODE | tbl);
	put64(m + G_PD_LOW + 8 * ((DT_DATA_VA >> 21) & 511), G_PT_DATA | tbl);
	/* Code: user, read-only, executable, like the native PROT_READ|PROT_EXEC. */
	for (uint32_t i = 0; i < DT_CODE_SIZE / 4096; i++)
		put64(m + G_PT_CODE + 8 * (((DT_CODE_VA >> 12) & 511) + i),
		      (G_CODE_PA + 4096ull * i) | PTE_P | PTE_U | PTE_A);
	/* Data: user, writable, no-execute; neighbouring pages swapped in
	 * guest-physical memory (data_page), so an engine that carries one
	 * page's translation into the next reads the wrong bytes. */
	for (uint32_t i = 0; i < DT_DATA_SIZE / 4096; i++)
		put64(m + G_PT_DATA + 8 * (((DT_DATA_VA >> 12) & 511) + i),
		      data_page(i) | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_NX);
	/* User helper page (read-only code) and its data page. */
	put64(m + G_PDPT_LOW + 8 * ((G_USER_VA >> 30) & 511), G_PD_LOW2 | tbl);
	put64(m + G_PD_LOW2 + 8 * ((G_USER_VA >> 21) & 511), G_PT_USER | tbl);
	put64(m + G_PT_USER + 8 * ((G_USER_VA >> 12) & 511), G_USER_PA | PTE_P | PTE_U | PTE_A);
	put64(m + G_PT_USER + 8 * (((G_USER_VA >> 12) & 511) + 1),
	      (G_USER_PA + 4096) | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_NX);
	/* System area: supervisor only. */
	const uint64_t stbl = PTE_P | PTE_W | PTE_A;
	put64(m + G_PML4 + 8 * ((G_SYS_VA >> 39) & 511), G_PDPT_SYS | stbl);
	put64(m + G_PDPT_SYS + 8 * ((G_SYS_VA >> 30) & 511), G_PD_SYS | stbl);
	put64(m + G_PD_SYS + 8 * ((G_SYS_VA >> 21) & 511), G_PT_SYS | stbl);
	for (uint32_t i = 0; i < G_SYS_SIZE / 4096; i++)
		put64(m + G_PT_SYS + 8 * (((G_SYS_VA >> 12) & 511) + i),
		      (G_SYS_PA + 4096ull * i) | PTE_P | PTE_W | PTE_A | PTE_D);
}

static uint64_t gdt_entry(uint32_t type, uint32_t dpl, bool l, bool db)
{
	/* base 0, limit 0xfffff, G=1, P=1, S=1 */
	uint64_t e = 0xffffull | (0xfull << 48);
	e |= (uint64_t)(type & 0xf) << 40;
	e |= 1ull << 44;                        /* S */
	e |= (uint64_t)(dpl & 3) << 45;
	e |= 1ull << 47;                        /* P */
	e |= (uint64_t)l << 53;
	e |= (uint64_t)db << 54;
	e |= 1ull << 55;                        /* G */
	return e;
}

/* Selectors mirror Linux's x86-64 GDT so that pushed CS/SS values match. */
static void build_descriptors(struct dt_guest *g)
{
	uint8_t *gdt = sys_host(g, SYS_GDT);
	put64(gdt + G_SEL_KCODE, gdt_entry(0xb, 0, true, false));
	put64(gdt + G_SEL_KDATA, gdt_entry(0x3, 0, false, true));
	put64(gdt + (G_SEL_UCODE32 & ~3), gdt_entry(0xb, 3, false, true));
	put64(gdt + (G_SEL_UDATA & ~3), gdt_entry(0x3, 3, false, true));
	put64(gdt + (G_SEL_UCODE & ~3), gdt_entry(0xb, 3, true, false));
	uint64_t tss = SYS(SYS_TSS);
	uint64_t lo = 0x67 | ((tss & 0xffffff) << 16) | (0x9ull << 40) | (1ull << 47) |
		      (((tss >> 24) & 0xff) << 56);
	put64(gdt + G_SEL_TSS, lo);
	put64(gdt + G_SEL_TSS + 8, tss >> 32);

	uint8_t *t = sys_host(g, SYS_TSS);
	put64(t + 4, SYS(SYS_STACK0_TOP));      /* RSP0 */
	put64(t + 0x24, SYS(SYS_IST_TOP));      /* IST1 */
	uint16_t iomap = 0x68;                  /* no I/O bitmap */
	memcpy(t + 0x66, &iomap, 2);

	uint8_t *idt = sys_host(g, SYS_IDT);
	for (int v = 0; v < 32; v++) {
		uint64_t h = SYS(SYS_CODE) + STUB_OFF(dt_guest_sys_vectors) + (uint64_t)v * STUB_VEC_SIZE;
		uint64_t dpl = (v == 3 || v == 4) ? 3 : 0;      /* int3/into allowed from CPL3, as Linux */
		uint64_t lo = (h & 0xffff) | ((uint64_t)G_SEL_KCODE << 16) | (1ull << 32) /* IST1 */ |
			      (0xeull << 40) | (dpl << 45) | (1ull << 47) | ((h >> 16 & 0xffff) << 48);
		put64(idt + 16 * v, lo);
		put64(idt + 16 * v + 8, h >> 32);
	}
}

static void seg(struct x86_seg *s, uint16_t sel, uint8_t type, uint8_t dpl, bool l)
{
	memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->s = 1;
	s->dpl = dpl;
	s->present = 1;
	s->g = 1;
	s->l = l;
	s->db = !l;
}

static void build_base_state(struct dt_guest *g)
{
	struct vcpu_state *st = &g->base;
	memset(st, 0, sizeof(*st));
	seg(&st->cs, G_SEL_KCODE, 0xb, 0, true);
	seg(&st->ss, G_SEL_KDATA, 0x3, 0, false);
	/* Kernel data in DS..GS: iretq to CPL3 nulls them, as user space has. */
	st->ds = st->es = st->fs = st->gs = st->ss;
	memset(&st->tr, 0, sizeof(st->tr));
	st->tr.sel = G_SEL_TSS;
	st->tr.base = SYS(SYS_TSS);
	st->tr.limit = 0x67;
	st->tr.type = 0xb;                      /* busy 64-bit TSS */
	st->tr.present = 1;
	st->ldt.unusable = 1;
	st->ldt.type = 2;
	st->gdt = (struct x86_dtable){ SYS(SYS_GDT), 0x4f };
	st->idt = (struct x86_dtable){ SYS(SYS_IDT), 32 * 16 - 1 };
	/* CR0.AM as Linux sets it, so AC=1 gives the same #AC natively and here. */
	st->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP |
		  X86_CR0_AM | X86_CR0_PG;
	st->cr3 = G_PML4;
	st->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	if (g->avx)
		st->cr4 |= X86_CR4_OSXSAVE;
	st->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE;
	st->rflags = X86_RFLAGS_FIXED;
}

/* Runs until the stub halts; returns 0 with *hlt_rip set, or -1 with why. */
static int run_to_halt(struct dt_guest *g, uint64_t *hlt_rip, char *why, size_t whylen,
		       bool *timed_out)
{
	struct vcpu *v = &g->vm.vcpus[0];
	*timed_out = false;
	atomic_store(&g->fired, false);
	atomic_store(&g->deadline_ns, now_ns() + (long long)g->timeout_ms * 1000000ll);
	int rc = -1;
	for (int guard = 0; guard < 1000000; guard++) {
		struct vcpu_exit e;
		memset(&e, 0, sizeof(e));
		if (g->eng->vcpu_run(v, &e) < 0) {
			snprintf(why, whylen, "vcpu_run failed: %s", err_msg());
			break;
		}
		if (e.kind == EXIT_HLT) {
			struct vcpu_state st;
			if (g->eng->get_state(v, &st) < 0) {
				snprintf(why, whylen, "get_state failed: %s", err_msg());
				break;
			}
			*hlt_rip = st.rip;
			rc = 0;
			break;
		}
		if (e.kind == EXIT_INTR) {
			if (atomic_load(&g->fired)) {
				*timed_out = true;
				snprintf(why, whylen, "still running after %d ms", g->timeout_ms);
				break;
			}
			continue;
		}
		if (e.kind == EXIT_PIO && !e.io.is_write) {
			memset(e.io.data, 0xff, (size_t)e.io.size * e.io.count);
			snprintf(why, whylen, "unexpected port read 0x%x", e.io.port);
			break;
		}
		if (e.kind == EXIT_PIO || e.kind == EXIT_MMIO) {
			snprintf(why, whylen, "unexpected %s exit (port/gpa 0x%llx)",
				 exit_kind_name(e.kind),
				 (unsigned long long)(e.kind == EXIT_PIO ? e.io.port : e.mmio.gpa));
			break;
		}
		bool has_why = e.kind == EXIT_INTERNAL || e.kind == EXIT_FAIL_ENTRY ||
			       e.kind == EXIT_OTHER;
		struct vcpu_state st;
		uint64_t at = g->eng->get_state(v, &st) == 0 ? st.rip : 0;
		snprintf(why, whylen, "engine exit %s at rip 0x%llx%s%s", exit_kind_name(e.kind),
			 (unsigned long long)at, has_why ? ": " : "", has_why ? e.fail.why : "");
		break;
	}
	atomic_store(&g->deadline_ns, 0);
	return rc;
}

static bool is_halt(uint64_t rip)
{
	uint64_t h = SYS(SYS_CODE) + STUB_OFF(dt_guest_sys_halt);
	return rip == h || rip == h + 1;
}

/* Enables AVX state in XCR0 with a one-instruction CPL0 run. */
static bool setup_avx(struct dt_guest *g)
{
	struct vcpu_state st = g->base;
	st.cr4 |= X86_CR4_OSXSAVE;
	st.rip = SYS(SYS_CODE) + STUB_OFF(dt_guest_sys_setup);
	st.gpr[GPR_RSP] = SYS(SYS_STACK0_TOP);
	st.gpr[GPR_RAX] = 7;
	if (g->eng->set_state(&g->vm.vcpus[0], &st) < 0)
		return false;
	uint64_t rip;
	char why[160];
	bool to;
	if (run_to_halt(g, &rip, why, sizeof(why), &to) < 0)
		return false;
	uint64_t want = st.rip + 3;             /* xsetbv is 3 bytes; hlt follows */
	return rip == want || rip == want + 1;
}

/* Creates the VM and writes the fixed parts of the guest image. */
static int vm_up(struct dt_guest *g)
{
	config_defaults(&g->cfg);
	g->cfg.mem_size = G_RAM_SIZE;
	g->cfg.cpus = 1;
	g->cfg.serial = SERIAL_NONE;
	g->cfg.engine = g->eng->name;
	if (vm_create(&g->vm, &g->cfg, g->eng) < 0)
		return -1;
	g->vm_live = true;
	g->ram = g->vm.mem.ram;
	size_t blob = (size_t)(dt_guest_sys_end - dt_guest_sys);
	if (blob > SYS_FX_IN - SYS_CODE)
		return err_set("difftest guest stubs are too large");
	memcpy(sys_host(g, SYS_CODE), dt_guest_sys, blob);
	memcpy(g->ram + G_USER_PA, dt_guest_user, (size_t)(dt_guest_user_end - dt_guest_user));
	put64(sys_host(g, SYS_IST_ALT), SYS(SYS_IST_ALT_TOP));
	build_page_tables(g);
	build_descriptors(g);
	bool want_avx = g->avx && g->vec != VEC_NONE;
	g->avx = false;
	build_base_state(g);
	if (want_avx && dt_host_has_avx() && setup_avx(g)) {
		g->avx = true;
		build_base_state(g);
	}
	*sys_host(g, SYS_USE_AVX) = g->avx;
	*sys_host(g, SYS_KLOAD_AVX) = g->avx && !g->cpl3;
	*sys_host(g, SYS_VEC_MODE) = (uint8_t)g->vec;
	return 0;
}

static void vm_down(struct dt_guest *g)
{
	if (g->vm_live)
		vm_destroy(&g->vm);
	g->vm_live = false;
}

/* A nop case must run to the trailer. If it cannot with vector state,
 * the engine probably lacks FXSAVE/FXRSTOR in its CPL0 path: fall back to
 * the stubs without them (vector registers are then not compared). */
static int probe_guest(struct dt_guest *g)
{
	static struct dt_case c;
	static struct dt_result r;
	memset(&c, 0, sizeof(c));
	c.code[0] = 0x90;
	c.code_len = 1;
	c.init.gpr[GPR_RSP] = DT_STACK_TOP;
	c.init.rip = DT_CODE_VA;
	c.init.mxcsr = 0x1f80;
	for (int attempt = 0; attempt < 4; attempt++) {
		if (dt_guest_run(g, &c, &r) == 0 && r.status == DT_EXCEPTION && r.vector == 3 &&
		    r.cpu.rip == DT_CODE_VA + 2)
			return 0;
		if (g->vec == VEC_NONE)
			break;
		const char *what = g->avx ? "AVX state" : g->vec == VEC_FX ? "FXSAVE/FXRSTOR" :
				   "vector state";
		const char *next = g->avx ? "no ymm upper halves (--no-avx)" :
				   g->vec == VEC_FX ? "movdqu instead (MXCSR fixed at 0x1f80)" :
				   "no vector state (--no-vec)";
		fprintf(stderr, "difftest: engine %s cannot run the guest stubs with %s (%s); "
			"retrying with %s\n", g->eng->name, what,
			r.status == DT_EXCEPTION ? dt_vector_name(r.vector) : r.why, next);
		if (g->avx)
			g->avx = false;
		else if (g->vec == VEC_FX)
			g->vec = VEC_MOVDQU;
		else
			g->vec = VEC_NONE;
		vm_down(g);
		if (vm_up(g) < 0)
			return -1;
	}
	char how[240];
	if (r.status == DT_EXCEPTION)
		snprintf(how, sizeof(how), "it stopped with %s at rip 0x%llx", dt_vector_name(r.vector),
			 (unsigned long long)r.cpu.rip);
	else
		snprintf(how, sizeof(how), "%s", r.why);
	return err_set("engine %s cannot run the difftest guest (a nop at CPL%d in 64-bit "
		       "paged mode entered by iretq, exceptions through a 64-bit IDT with IST): %s",
		       g->eng->name, g->cpl3 ? 3 : 0, how);
}

struct dt_guest *dt_guest_start(const struct engine_ops *eng, bool cpl3, bool want_avx)
{
	return dt_guest_start_ex(eng, cpl3, want_avx, DT_VEC_FX);
}

struct dt_guest *dt_guest_start_ex(const struct engine_ops *eng, bool cpl3, bool want_avx,
				   enum dt_vec_mode vec)
{
	if (eng->probe && eng->probe() < 0) {
		err_wrap("engine %s", eng->name);
		return NULL;
	}
	if (!eng->vm_create || !eng->vcpu_run || !eng->set_state || !eng->get_state) {
		err_set("engine %s does not implement the operations difftest needs", eng->name);
		return NULL;
	}
	struct dt_guest *g = calloc(1, sizeof(*g));
	if (!g) {
		err_set("out of memory");
		return NULL;
	}
	g->eng = eng;
	g->cpl3 = cpl3;
	g->timeout_ms = 2000;
	g->avx = want_avx;
	g->vec = (int)vec;
	atomic_init(&g->quit, false);
	atomic_init(&g->deadline_ns, 0);
	atomic_init(&g->fired, false);
	if (vm_up(g) < 0) {
		vm_down(g);
		free(g);
		return NULL;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_signal;
	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&g->watchdog, NULL, watchdog_main, g) == 0)
		g->watchdog_running = true;
	/* An engine that caches translations must hear about the harness
	 * rewriting the code page; without mem_written, use a fresh VM per case.
	 * KVM runs straight from guest memory. */
	g->fresh = !eng->mem_written && strcmp(eng->name, "kvm") != 0;
	if (probe_guest(g) < 0) {
		dt_guest_stop(g);
		return NULL;
	}
	return g;
}

void dt_guest_stop(struct dt_guest *g)
{
	if (!g)
		return;
	if (g->watchdog_running) {
		atomic_store(&g->quit, true);
		pthread_join(g->watchdog, NULL);
	}
	vm_down(g);
	free(g);
}

void dt_guest_set_fresh(struct dt_guest *g, bool fresh)
{
	g->fresh = fresh;
}

bool dt_guest_fresh_vms(const struct dt_guest *g)
{
	return g->fresh;
}

void dt_guest_set_timeout(struct dt_guest *g, int ms)
{
	g->timeout_ms = ms;
}

bool dt_guest_has_avx(const struct dt_guest *g)
{
	return g->avx;
}

bool dt_guest_has_mxcsr(const struct dt_guest *g)
{
	return g->vec == VEC_FX;
}

bool dt_guest_has_vec(const struct dt_guest *g)
{
	return g->vec != VEC_NONE;
}

uint8_t *dt_guest_frame_slot(uint8_t *ram, int slot)
{
	uint64_t rsp = get64(ram + G_SYS_PA + SYS_SAVED_RSP);
	if (rsp < SYS(SYS_STACK0_TOP) || rsp > SYS(SYS_IST_TOP) - 6 * 8)
		return NULL;
	uint8_t *f = ram + G_SYS_PA + (rsp - G_SYS_VA);
	uint64_t ret = get64(f);
	uint64_t vec0 = SYS(SYS_CODE) + STUB_OFF(dt_guest_sys_vectors) + 5;
	if (ret < vec0 || (ret - vec0) / STUB_VEC_SIZE >= 32)
		return NULL;
	f += 8;
	if (dt_vector_has_error((int)((ret - vec0) / STUB_VEC_SIZE)))
		f += 8;
	return f + 8 * slot;
}

static void fail(struct dt_result *r, const char *why)
{
	r->status = DT_RUNNER_ERROR;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

int dt_guest_run(struct dt_guest *g, const struct dt_case *c, struct dt_result *r)
{
	memset(r, 0, offsetof(struct dt_result, data));
	if (g->fresh && g->runs++) {
		vm_down(g);
		if (vm_up(g) < 0)
			return err_wrap("recreating the difftest VM");
	}
	dt_code_page(c, g->ram + G_CODE_PA);
	data_fill(g, c->data_seed);
	if (g->eng->mem_written) {
		g->eng->mem_written(&g->vm, G_CODE_PA, DT_CODE_SIZE);
		g->eng->mem_written(&g->vm, G_DATA_PA, DT_DATA_SIZE);
	}

	uint8_t *fx = sys_host(g, SYS_FX_IN);
	memset(fx, 0, 512);
	uint16_t fcw = 0x37f;
	memcpy(fx, &fcw, 2);
	memcpy(fx + 24, &c->init.mxcsr, 4);
	memcpy(fx + 160, c->init.xmm, 256);
	memcpy(sys_host(g, SYS_YMMH_IN), c->init.ymmh, 256);
	memset(sys_host(g, SYS_FX_OUT), 0, 512);

	uint8_t *iret = sys_host(g, SYS_IRET);
	bool user_load = g->avx && g->cpl3;
	put64(iret + 0, user_load ? G_USER_VA : c->init.rip);
	put64(iret + 8, g->cpl3 ? G_SEL_UCODE : G_SEL_KCODE);
	put64(iret + 16, (c->init.rflags & DT_FLAGS_CMP) | DT_FLAGS_FIXED);
	put64(iret + 24, c->init.gpr[GPR_RSP]);
	put64(iret + 32, g->cpl3 ? G_SEL_UDATA : G_SEL_KDATA);
	uint8_t *udata = g->ram + G_USER_PA + UDATA;
	memcpy(udata + (UDATA_YMMH_IN - UDATA), c->init.ymmh, 256);
	memset(udata + (UDATA_YMMH_OUT - UDATA), 0, 256);
	put64(udata + (UDATA_TARGET - UDATA), c->init.rip);
	*sys_host(g, SYS_STAGE) = 0;
	put64(sys_host(g, SYS_SAVED_RSP), 0);
	put64(sys_host(g, SYS_TSS_IST1), SYS(SYS_IST_TOP));

	struct vcpu_state st = g->base;
	memcpy(st.gpr, c->init.gpr, sizeof(st.gpr));
	st.gpr[GPR_RSP] = SYS(SYS_IRET);
	st.rip = SYS(SYS_CODE);
	struct vcpu *v = &g->vm.vcpus[0];
	if (g->eng->set_state(v, &st) < 0) {
		char why[200];
		snprintf(why, sizeof(why), "set_state failed: %s", err_msg());
		fail(r, why);
		return 0;
	}
	uint64_t rip;
	bool timed_out;
	if (run_to_halt(g, &rip, r->why, sizeof(r->why), &timed_out) < 0) {
		r->status = timed_out ? DT_TIMEOUT : DT_RUNNER_ERROR;
		data_read(g, r->data);
		return 0;
	}
	if (g->eng->get_state(v, &st) < 0) {
		char why[200];
		snprintf(why, sizeof(why), "get_state failed: %s", err_msg());
		fail(r, why);
		return 0;
	}
	if (!is_halt(rip)) {
		char why[200];
		snprintf(why, sizeof(why), "halted at 0x%llx, not in the exception stub",
			 (unsigned long long)rip);
		fail(r, why);
		return 0;
	}
	/* With AVX the stub went through the user save stub, whose hlt must be
	 * what brought it back (a #GP on the alternate exception stack). */
	uint8_t stage = *sys_host(g, SYS_STAGE);
	if (stage != (g->avx ? 1 : 0)) {
		fail(r, "the exception stub did not run to its end");
		return 0;
	}
	if (stage) {
		uint64_t alt = st.gpr[GPR_RSP];
		uint64_t want = G_USER_VA + (uint64_t)(dt_guest_user_save_hlt - dt_guest_user);
		if (alt < SYS(SYS_IST_TOP) || alt > SYS(SYS_IST_ALT_TOP) - 7 * 8 ||
		    get64(sys_host(g, alt - G_SYS_VA) + 16) != want) {
			fail(r, "the ymm save stub at CPL3 did not end with its own #GP");
			return 0;
		}
	}
	/* The test's IST frame: return address of the vector stub's call,
	 * [error code], RIP, CS, RFLAGS, RSP, SS. */
	uint64_t rsp = get64(sys_host(g, SYS_SAVED_RSP));
	if (rsp < SYS(SYS_STACK0_TOP) || rsp > SYS(SYS_IST_TOP) - 6 * 8) {
		char why[200];
		snprintf(why, sizeof(why), "exception stack pointer 0x%llx is off the IST stack",
			 (unsigned long long)rsp);
		fail(r, why);
		return 0;
	}
	const uint8_t *f = sys_host(g, rsp - G_SYS_VA);
	uint64_t ret = get64(f);
	uint64_t vec0 = SYS(SYS_CODE) + STUB_OFF(dt_guest_sys_vectors) + 5;
	if (ret < vec0 || (ret - vec0) % STUB_VEC_SIZE || (ret - vec0) / STUB_VEC_SIZE >= 32) {
		fail(r, "the exception stub was entered without a vector");
		return 0;
	}
	r->status = DT_EXCEPTION;
	r->vector = (int)((ret - vec0) / STUB_VEC_SIZE);
	f += 8;
	if (dt_vector_has_error(r->vector)) {
		r->error_code = (uint32_t)get64(f);
		f += 8;
	}
	memcpy(r->cpu.gpr, st.gpr, sizeof(st.gpr));
	r->cpu.rip = get64(f);
	r->cpu.rflags = get64(f + 16);
	r->cpu.gpr[GPR_RSP] = get64(f + 24);
	r->cr2 = r->vector == 14 ? st.cr2 : 0;
	const uint8_t *fo = sys_host(g, SYS_FX_OUT);
	memcpy(&r->cpu.mxcsr, fo + 24, 4);
	memcpy(r->cpu.xmm, fo + 160, 256);
	memcpy(r->cpu.ymmh, udata + (UDATA_YMMH_OUT - UDATA), 256);
	r->has_vec = g->vec != VEC_NONE;
	data_read(g, r->data);
	return 0;
}
