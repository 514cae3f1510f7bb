/* The binary-translation engine behind the engine interface: vCPU blocks,
 * the dispatcher loop, FP-state parking, host-signal -> guest-exception
 * mapping and state conversion. */
#include <asm/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "bt_cpu.h"
#include "bt_group.h"
#include "error.h"
#include "irq.h"
#include "vm.h"

_Static_assert(offsetof(struct bt_cpu, rip) == BT_OFF_RIP, "layout");
_Static_assert(offsetof(struct bt_cpu, gbase) == BT_OFF_GBASE, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp_cf) == BT_OFF_TMPCF, "layout");
_Static_assert(sizeof(((struct bt_cpu *)0)->gbase) == 8 * BT_GROUP_SLOTS, "layout");
_Static_assert(offsetof(struct bt_cpu, flags) == BT_OFF_FLAGS, "layout");
_Static_assert(offsetof(struct bt_cpu, host_rsp) == BT_OFF_HOSTRSP, "layout");
_Static_assert(offsetof(struct bt_cpu, reason) == BT_OFF_REASON, "layout");
_Static_assert(offsetof(struct bt_cpu, self) == BT_OFF_SELF, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp0) == BT_OFF_TMP0, "layout");
_Static_assert(offsetof(struct bt_cpu, slow_info) == BT_OFF_SLOWINFO, "layout");
_Static_assert(offsetof(struct bt_cpu, slow_retry) == BT_OFF_RETRY, "layout");
_Static_assert(offsetof(struct bt_cpu, slow_next) == BT_OFF_NEXT, "layout");
_Static_assert(offsetof(struct bt_cpu, slow_after) == BT_OFF_AFTER, "layout");
_Static_assert(offsetof(struct bt_cpu, slow_host) == BT_OFF_SLOWHOST, "layout");
_Static_assert(offsetof(struct bt_cpu, chain) == BT_OFF_CHAIN, "layout");
_Static_assert(offsetof(struct bt_cpu, jc_ptr) == BT_OFF_JCPTR, "layout");
_Static_assert(offsetof(struct bt_cpu, exit_req) == BT_OFF_EXITREQ, "layout");
_Static_assert(offsetof(struct bt_cpu, seg_base) == BT_OFF_SEGBASE, "layout");
_Static_assert(offsetof(struct bt_cpu, a_exit) == BT_OFF_A_EXIT, "layout");
_Static_assert(offsetof(struct bt_cpu, a_exit_saved) == BT_OFF_A_EXITSAVED, "layout");
_Static_assert(offsetof(struct bt_cpu, a_slow) == BT_OFF_A_SLOW, "layout");
_Static_assert(offsetof(struct bt_cpu, a_commit) == BT_OFF_A_COMMIT, "layout");
_Static_assert(offsetof(struct bt_cpu, a_helper) == BT_OFF_A_HELPER, "layout");
_Static_assert(offsetof(struct bt_cpu, a_vmi) == BT_OFF_A_VMI, "layout");
_Static_assert(offsetof(struct bt_cpu, a_sys) == BT_OFF_A_SYS, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp1) == BT_OFF_TMP1, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp2) == BT_OFF_TMP2, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp3) == BT_OFF_TMP3, "layout");
_Static_assert(offsetof(struct bt_cpu, tlb) == BT_OFF_TLB, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_idx) == BT_OFF_MASKIDX, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_hi) == BT_OFF_MASKHI, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_jc) == BT_OFF_MASKJC, "layout");
_Static_assert(offsetof(struct bt_cpu, tmp_rcx) == BT_OFF_TMPRCX, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_notif) == BT_OFF_MASKNOTIF, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_arith) == BT_OFF_MASKARITH, "layout");
_Static_assert(offsetof(struct bt_cpu, mask_bit) == BT_OFF_MASKBIT, "layout");
_Static_assert(offsetof(struct bt_cpu, ind_site) == BT_OFF_INDSITE, "layout");
_Static_assert(offsetof(struct bt_cpu, ind_delta) == BT_OFF_INDDELTA, "layout");
_Static_assert(offsetof(struct bt_cpu, jc) == BT_OFF_JC, "layout");
_Static_assert(sizeof(struct bt_tlbe) == BT_TLBE_SIZE, "layout");

#define RF_IF (1ull << 9)

static __thread struct bt_cpu *tls_cpu;
void bt_emul_hist_print(void);

/* ------------------------------------------------------------ FP parking */
void bt_fpu_park(struct bt_cpu *c)
{
	if (c->fpu_parked)
		return;
	uint32_t lo = (uint32_t)c->fpu_mask, hi = (uint32_t)(c->fpu_mask >> 32);
	static const uint32_t mxcsr_default = 0x1f80;
	__asm__ volatile("xsave64 (%0)\n\tfninit\n\tldmxcsr (%3)"
			 : : "r"(c->fpu_area), "a"(lo), "d"(hi), "r"(&mxcsr_default) : "memory");
	c->fpu_parked = true;
}

void bt_fpu_unpark(struct bt_cpu *c)
{
	if (!c->fpu_parked)
		return;
	uint32_t lo = (uint32_t)c->fpu_mask, hi = (uint32_t)(c->fpu_mask >> 32);
	__asm__ volatile("xrstor64 (%0)" : : "r"(c->fpu_area), "a"(lo), "d"(hi) : "memory");
	c->fpu_parked = false;
}

/* ------------------------------------------------------------ flags/mode */
uint64_t bt_get_rflags(const struct bt_cpu *c)
{
	return (c->flags & 0xcd5) | (c->rflags_sys & ~0xcd5ull) | X86_RFLAGS_FIXED;
}

void bt_set_rflags(struct bt_cpu *c, uint64_t f)
{
	c->flags = f & 0xcd5;
	c->rflags_sys = (f & ~0xcd5ull & 0x3f7fffull) | X86_RFLAGS_FIXED;
}

static uint64_t jc_cs_base_seen;

void bt_update_mode(struct bt_cpu *c)
{
	uint32_t old = c->mode;
	uint32_t m = (uint32_t)c->cpl & BT_MODE_CPL_MASK;
	bool pe = c->cr0 & X86_CR0_PE;
	if (pe && !(c->rflags_sys & (1ull << 17)))
		m |= BT_MODE_PE;
	if (pe && (c->efer & X86_EFER_LMA) && c->seg[SEG_CS].l)
		m |= BT_MODE_64;
	else if (pe && c->seg[SEG_CS].db)
		m |= BT_MODE_32;
	if ((m & BT_MODE_64) ||
	    (c->seg[SEG_CS].base == 0 && c->seg[SEG_DS].base == 0 && c->seg[SEG_ES].base == 0 &&
	     c->seg[SEG_SS].base == 0))
		m |= BT_MODE_FLAT;
	/* SS.B means nothing in 64-bit mode; keeping it out of the key stops
	 * every user->kernel interrupt (SS := NULL) from flushing the jump cache. */
	if (c->seg[SEG_SS].db && !(m & BT_MODE_64))
		m |= BT_MODE_SS32;
	c->mode = m;
	for (int i = 0; i < 6; i++)
		c->seg_base[i] = c->seg[i].base;
	c->jc_ptr = (uint64_t)&c->jc[(m & BT_MODE_CPL_MASK) == 3][0];
	if (((old ^ m) & ~BT_MODE_CPL_MASK) || jc_cs_base_seen != c->seg[SEG_CS].base) {
		jc_cs_base_seen = c->seg[SEG_CS].base;
		bt_flush_jc(c);
	}
}

void bt_fail(struct bt_cpu *c, const char *fmt, ...)
{
	if (c->failed)
		return;
	bt_fpu_park(c);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->fail, sizeof(c->fail), fmt, ap);
	va_end(ap);
	c->failed = true;
}

/* ------------------------------------------------------------ signals */
static void bt_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct bt_cpu *c = tls_cpu;
	bool found = false;
	uint16_t borrowed = 0;
	uint64_t hrip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	uint64_t grip = c ? bt_host_to_guest_rip(c, hrip, &found, &borrowed) : 0;
	if (!found) {
		/* Not translated code: a genuine crash of vmlite itself. */
		signal(sig, SIG_DFL);
		return;
	}
	greg_t *g = uc->uc_mcontext.gregs;
	/* Guest GPR -> ucontext slot; RSP, R10 and R11 always live in gpr[],
	 * and so do the registers the faulting block borrowed for its slots. */
	static const int from[16] = {
		[GPR_RAX] = REG_RAX, [GPR_RCX] = REG_RCX, [GPR_RDX] = REG_RDX, [GPR_RBX] = REG_RBX,
		[GPR_RSP] = -1, [GPR_RBP] = REG_RBP, [GPR_RSI] = REG_RSI, [GPR_RDI] = REG_RDI,
		[GPR_R8] = REG_R8, [GPR_R9] = REG_R9, [GPR_R10] = -1, [GPR_R11] = -1,
		[GPR_R12] = REG_R12, [GPR_R13] = REG_R13, [GPR_R14] = REG_R14, [GPR_R15] = REG_R15,
	};
	for (int r = 0; r < 16; r++)
		if (from[r] >= 0 && !(borrowed & (1u << r)))
			c->gpr[r] = (uint64_t)g[from[r]];
	c->flags = (uint64_t)g[REG_EFL] & 0xcd5;
	c->rip = grip;
	if (getenv("VMLITE_BT_DEBUG"))
		fprintf(stderr, "bt: signal %d at host %p -> guest rip 0x%llx\n", sig, (void *)hrip, (unsigned long long)grip);
	int vec = 13;
	bool has_err = true;
	if (sig == SIGFPE) {
		has_err = false;
		vec = (si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF) ? 0 : 19;
	} else if (sig == SIGILL) {
		has_err = false;
		vec = 6;
	}
	bt_raise(c, vec, has_err, 0);
	c->reason = BT_EXIT_HANDLED;
	g[REG_RIP] = (greg_t)(uintptr_t)bt_asm_exit_saved;
}

static void install_signals(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bt_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
}

/* ------------------------------------------------------------ engine ops */
static int bt_probe(void)
{
	return 0;
}

static void *map_zero(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void bt_vm_destroy(struct vm *vm)
{
	struct bt_state *s = vm->engine_priv;
	if (!s)
		return;
	if (s->code)
		munmap(s->code, BT_CODE_SIZE);
	if (s->perfmap)
		fclose(s->perfmap);
	free(s->blocks);
	free(s->hash);
	free(s->page_head);
	free(s->page_code);
	free(s->page_miss);
	free(s->map);
	free(s->map_rip);
	free(s->chains);
	free(s);
	vm->engine_priv = NULL;
}

/* Index of the value of environment variable name in choices[0..n-1], dflt
 * when it is unset or empty, -1 + err_set naming the choices otherwise. */
static int env_choice(const char *name, const char *const *choices, int n, int dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char list[128] = "";
	for (int i = 0; i < n; i++) {
		if (strcmp(v, choices[i]) == 0)
			return i;
		if (*choices[i])
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 *list ? ", " : "", choices[i]);
	}
	return err_set("%s=%s is unknown; use one of: %s (or unset it)", name, v, list);
}

static int bt_vm_create(struct vm *vm)
{
	struct bt_state *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set("out of memory for the translator state");
	vm->engine_priv = s;
	s->code = map_zero(BT_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
	s->npages = (vm->mem.ram_size + 4095) / 4096;
	s->blocks = calloc(BT_MAX_BLOCKS, sizeof(*s->blocks));
	s->hash = malloc(BT_HASH_SIZE * sizeof(*s->hash));
	s->page_head = malloc((s->npages + 1) * sizeof(*s->page_head));
	s->page_code = calloc(s->npages + 1, 1);
	s->page_miss = calloc(s->npages + 1, 1);
	s->map = malloc(BT_MAP_MAX * sizeof(*s->map));
	s->map_rip = malloc(BT_MAP_MAX * sizeof(*s->map_rip));
	s->chains = malloc(BT_CHAIN_MAX * sizeof(*s->chains));
	if (!s->code || !s->blocks || !s->hash || !s->page_head || !s->page_code ||
	    !s->page_miss || !s->map || !s->map_rip || !s->chains) {
		bt_vm_destroy(vm);
		return err_set("cannot allocate the translator's code cache (%u MiB RWX mapping); "
			       "check ulimit -v and that the kernel allows PROT_EXEC anonymous memory",
			       BT_CODE_SIZE >> 20);
	}
	for (int i = 0; i < BT_HASH_SIZE; i++)
		s->hash[i] = -1;
	const char *pf = getenv("VMLITE_BT_PRECISE_FLAGS");
	s->precise_flags = pf && *pf && *pf != '0';
	const char *pm = getenv("VMLITE_BT_PERFMAP");
	if (pm && *pm && *pm != '0') {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		s->perfmap = fopen(path, "w");
	}
	const char *dd = getenv("VMLITE_BT_DUMP");
	s->dumpdir = dd && *dd ? dd : NULL;
	/* Probe groups can be switched off, or made to miss every time so
	 * that tests run the ungrouped copies (docs/binary-translation.md). */
	static const char *const group_modes[] = { [BT_GROUPS_ON] = "on", [BT_GROUPS_OFF] = "off",
						   [BT_GROUPS_MISS] = "miss" };
	s->groups = env_choice("VMLITE_BT_GROUPS", group_modes, 3, BT_GROUPS_ON);
	/* Self-loop unrolling (docs/binary-translation.md): off, or up to 2, 4
	 * or 8 copies of the body per block (the default: 8). */
	static const char *const unroll_modes[] = { "off", "on", "2", "4", "8" };
	static const int unroll_n[] = { 1, 8, 2, 4, 8 };
	int um = env_choice("VMLITE_BT_UNROLL", unroll_modes, 5, 1);
	s->unroll = um < 0 ? -1 : unroll_n[um];
	/* A deliberate translator bug, so the differential harness can show it
	 * catches one in the generated code itself (tests/difftest). */
	static const char *const bugs[] = { [BT_BUG_NONE] = "", [BT_BUG_JL_JLE] = "jl-jle",
					    [BT_BUG_GROUP_SPAN] = "group-span",
					    [BT_BUG_CF_PROBE] = "cf-probe",
					    [BT_BUG_LOOP_EXIT] = "loop-exit" };
	s->inject = env_choice("VMLITE_BT_INJECT_BUG", bugs, 5, BT_BUG_NONE);
	if (s->groups < 0 || s->inject < 0 || s->unroll < 0) {
		bt_vm_destroy(vm);
		return -1;
	}
	for (uint64_t i = 0; i <= s->npages; i++)
		s->page_head[i] = -1;
	install_signals();
	return 0;
}

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* The vCPU block sits on top of its own host stack: translated code runs
 * with RSP at the block, so it reaches the block's fields as [rsp+off].
 * That form, unlike gs:[off], gets the CPU's store-to-load forwarding
 * shortcuts (memory renaming), and guest RSP/R10/R11 round-trip through
 * the block on every push, pop, call and ret. Helpers, the slow paths and
 * signal frames use the stack below; a guard page ends it. */
#define BT_STACK_SIZE (8u << 20)

static struct bt_cpu *cpu_block_alloc(void)
{
	uint8_t *p = map_zero(BT_STACK_SIZE + sizeof(struct bt_cpu), PROT_READ | PROT_WRITE);
	if (!p)
		return NULL;
	mprotect(p, 4096, PROT_NONE);
	return (struct bt_cpu *)(p + BT_STACK_SIZE);
}

static void cpu_block_free(struct bt_cpu *c)
{
	munmap((uint8_t *)c - BT_STACK_SIZE, BT_STACK_SIZE + sizeof(*c));
}

static int bt_vcpu_create(struct vcpu *v)
{
	struct bt_cpu *c = cpu_block_alloc();
	if (!c)
		return err_set("out of memory for a translator vCPU block");
	c->self = c;
	c->vcpu = v;
	c->vm = v->vm;
	c->vm->guest_tsc_is_host = true;        /* RDTSC: rdtsc_host() or native */
	c->bt = v->vm->engine_priv;
	c->a_exit = (uint64_t)(uintptr_t)bt_asm_exit;
	c->a_exit_saved = (uint64_t)(uintptr_t)bt_asm_exit_saved;
	c->a_slow = (uint64_t)(uintptr_t)bt_asm_slow;
	c->a_commit = (uint64_t)(uintptr_t)bt_asm_commit;
	c->a_helper = (uint64_t)(uintptr_t)bt_asm_helper;
	c->a_vmi = (uint64_t)(uintptr_t)bt_asm_vmi;
	c->a_sys = (uint64_t)(uintptr_t)bt_asm_sys;
	c->mask_idx = (uint64_t)(BT_TLB_SIZE - 1) << 12;
	c->mask_hi = ~0xfffull;
	c->mask_jc = BT_JC_SIZE - 1;
	c->mask_notif = ~(1ull << 9);
	c->mask_arith = 0xcd5;
	c->mask_bit[0] = 0xf;
	c->mask_bit[1] = 0x1f;
	c->mask_bit[2] = 0x3f;
	uint32_t r[4];
	host_cpuid(7, 0, r);
	if (!(r[1] & (1u << 8))) {
		cpu_block_free(c);
		return err_set("the host CPU lacks BMI2 (pext/pdep/rorx), which the translator's "
			       "generated code uses; run on a Haswell/Zen or newer CPU or use --engine kvm");
	}
	host_cpuid(1, 0, r);
	if (!(r[2] & (1u << 27))) {
		cpu_block_free(c);
		return err_set("the host CPU/OS does not enable XSAVE; the translator needs it");
	}
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	/* Guest FP state is x87, SSE and AVX only: CPUID hides AVX-512 and EVEX
	 * code never runs natively, so opmask/ZMM state is never the guest's,
	 * and leaving it (and PKRU) out makes each park/unpark ~3x cheaper. */
	c->fpu_mask = (((uint64_t)hi << 32) | lo) & 7;
	host_cpuid(0xd, 0, r);
	size_t area = (r[1] + 4095) & ~4095u;
	c->fpu_area = map_zero(area, PROT_READ | PROT_WRITE);
	if (!c->fpu_area) {
		cpu_block_free(c);
		return err_set("out of memory for the guest FPU area");
	}
	/* All-zero XSTATE_BV = init state; MXCSR and FCW come from the legacy area. */
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;
	memcpy(c->fpu_area, &fcw, 2);
	memcpy(c->fpu_area + 24, &mxcsr, 4);
	c->fpu_parked = true;
	c->xcr0 = 3;
	c->pat = 0x0007040600070406ull;
	c->jc_ovf[0] = c->jc_ovf[1] = true;     /* zeroed memory: clear it all once */
	c->tlb_ovf[0] = c->tlb_ovf[1] = true;
	bt_tlb_flush(c);
	struct vcpu_state st;
	x86_state_reset(&st);
	v->priv = c;
	v->vmi.ops = &bt_vmi_ops;
	/* Power-on state until the loader's state arrives. */
	for (int i = 0; i < GPR_COUNT; i++)
		c->gpr[i] = st.gpr[i];
	c->rip = st.rip;
	bt_set_rflags(c, st.rflags);
	c->seg[SEG_ES] = st.es;
	c->seg[SEG_CS] = st.cs;
	c->seg[SEG_SS] = st.ss;
	c->seg[SEG_DS] = st.ds;
	c->seg[SEG_FS] = st.fs;
	c->seg[SEG_GS] = st.gs;
	c->ldt = st.ldt;
	c->tr = st.tr;
	c->gdt = st.gdt;
	c->idt = st.idt;
	c->cr0 = st.cr0;
	c->apic_base = st.apic_base;
	bt_update_mode(c);
	return 0;
}

static void bt_vcpu_destroy(struct vcpu *v)
{
	struct bt_cpu *c = v->priv;
	if (!c)
		return;
	if (getenv("VMLITE_BT_STATS"))
		fprintf(stderr, "bt stats: enters %llu chain-exits %llu jc-miss %llu emulated %llu "
			"polls %llu helper-exits %llu tlb-slow %llu refills %llu bounce %llu smc %llu "
			"blocks %llu flush(full %llu cr3 %llu invlpg %llu) irqs %llu vmi-direct %llu sys-direct %llu retpolines %llu "
			"unrolled %llu groups %llu grouped-accesses %llu own-probes %llu translate-Mtsc %llu\n",
			(unsigned long long)c->n.enters, (unsigned long long)c->n.chain,
			(unsigned long long)c->n.lookup, (unsigned long long)c->n.emulate,
			(unsigned long long)c->n.poll, (unsigned long long)c->n.handled,
			(unsigned long long)c->n.slow, (unsigned long long)c->n.refill,
			(unsigned long long)c->n.bounce, (unsigned long long)c->n.smc,
			(unsigned long long)c->n.translated, (unsigned long long)c->n.flush_full,
			(unsigned long long)c->n.flush_cr3, (unsigned long long)c->n.invlpg,
			(unsigned long long)c->n.irqs, (unsigned long long)c->n.vmi_direct,
			(unsigned long long)c->n.sys_direct, (unsigned long long)c->n.retpolines,
			(unsigned long long)c->n.unrolled,
			(unsigned long long)c->n.groups, (unsigned long long)c->n.grouped,
			(unsigned long long)c->n.probes,
			(unsigned long long)(c->n.translate_tsc / 1000000));
	if (getenv("VMLITE_BT_STATS"))
		bt_emul_hist_print();
	if (tls_cpu == c)
		tls_cpu = NULL;
	if (c->fpu_area) {
		uint32_t r[4];
		host_cpuid(0xd, 0, r);
		munmap(c->fpu_area, (r[1] + 4095) & ~4095u);
	}
	cpu_block_free(c);
	v->priv = NULL;
}

static int bt_get_state(struct vcpu *v, struct vcpu_state *st)
{
	struct bt_cpu *c = v->priv;
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < GPR_COUNT; i++)
		st->gpr[i] = c->gpr[i];
	st->rip = c->rip;
	st->rflags = bt_get_rflags(c);
	st->es = c->seg[SEG_ES];
	st->cs = c->seg[SEG_CS];
	st->ss = c->seg[SEG_SS];
	st->ds = c->seg[SEG_DS];
	st->fs = c->seg[SEG_FS];
	st->gs = c->seg[SEG_GS];
	st->ldt = c->ldt;
	st->tr = c->tr;
	st->gdt = c->gdt;
	st->idt = c->idt;
	st->cr0 = c->cr0;
	st->cr2 = c->cr2;
	st->cr3 = c->cr3;
	st->cr4 = c->cr4;
	st->cr8 = c->cr8;
	st->efer = c->efer;
	st->apic_base = c->apic_base;
	st->star = c->star;
	st->lstar = c->lstar;
	st->cstar = c->cstar;
	st->sfmask = c->sfmask;
	st->kernel_gs_base = c->kernel_gs_base;
	st->sysenter_cs = c->sysenter_cs;
	st->sysenter_esp = c->sysenter_esp;
	st->sysenter_eip = c->sysenter_eip;
	return 0;
}

static int bt_set_state(struct vcpu *v, const struct vcpu_state *st)
{
	struct bt_cpu *c = v->priv;
	for (int i = 0; i < GPR_COUNT; i++)
		c->gpr[i] = st->gpr[i];
	c->rip = st->rip;
	bt_set_rflags(c, st->rflags);
	c->seg[SEG_ES] = st->es;
	c->seg[SEG_CS] = st->cs;
	c->seg[SEG_SS] = st->ss;
	c->seg[SEG_DS] = st->ds;
	c->seg[SEG_FS] = st->fs;
	c->seg[SEG_GS] = st->gs;
	c->ldt = st->ldt;
	c->tr = st->tr;
	c->gdt = st->gdt;
	c->idt = st->idt;
	c->cr0 = st->cr0 | X86_CR0_ET;
	c->cr2 = st->cr2;
	c->cr3 = st->cr3;
	c->cr4 = st->cr4;
	c->cr8 = st->cr8;
	c->efer = st->efer;
	if ((c->efer & X86_EFER_LME) && (c->cr0 & X86_CR0_PG))
		c->efer |= X86_EFER_LMA;
	c->apic_base = st->apic_base;
	c->star = st->star;
	c->lstar = st->lstar;
	c->cstar = st->cstar;
	c->sfmask = st->sfmask;
	c->kernel_gs_base = st->kernel_gs_base;
	c->sysenter_cs = st->sysenter_cs;
	c->sysenter_esp = st->sysenter_esp;
	c->sysenter_eip = st->sysenter_eip;
	c->cpl = (c->cr0 & X86_CR0_PE) ? (st->cs.sel & 3) : 0;
	c->io_pending = 0;
	c->shadow = false;
	bt_tlb_flush(c);
	bt_update_mode(c);
	return 0;
}

static int bt_inject(struct vcpu *v, const struct vcpu_event *ev)
{
	struct bt_cpu *c = v->priv;
	if (c->ev_pending)
		return err_set("an event is already queued on vCPU %d", v->id);
	c->ev = *ev;
	c->ev_pending = true;
	return 0;
}

static bool bt_irq_window(struct vcpu *v)
{
	struct bt_cpu *c = v->priv;
	return (c->rflags_sys & RF_IF) && !c->shadow && !c->ev_pending;
}

static void bt_kick(struct vcpu *v)
{
	struct bt_cpu *c = v->priv;
	if (c)
		__atomic_store_n(&c->exit_req, 1, __ATOMIC_RELEASE);
}

static void deliver_events(struct bt_cpu *c)
{
	struct vcpu *v = c->vcpu;
	bool can_irq = (c->rflags_sys & RF_IF) && !c->shadow;
	if (c->ev_pending) {
		if (c->ev.kind == EVENT_EXCEPTION) {
			c->ev_pending = false;
			bt_raise(c, c->ev.vector, c->ev.has_error, c->ev.error);
		} else if (c->ev.kind == EVENT_NMI) {
			c->ev_pending = false;
			bt_deliver(c, 2, false, 0, false, c->rip);
		} else if (can_irq) {
			c->ev_pending = false;
			bt_deliver(c, c->ev.vector, false, 0, false, c->rip);
			v->stats.irqs_injected++;
			can_irq = false;
		}
	}
	if (atomic_load_explicit(&v->irq_pending, memory_order_acquire)) {
		/* The interrupt controllers run ordinary (SIMD-using) C. */
		bt_fpu_park(c);
		if (vcpu_nmi_ack(v)) {
			bt_deliver(c, 2, false, 0, false, c->rip);
		} else if (can_irq) {
			int vec = vcpu_irq_ack(v);
			if (vec >= 0) {
				bt_deliver(c, vec, false, 0, false, c->rip);
				v->stats.irqs_injected++;
				c->n.irqs++;
			}
		}
	}
	if (c->shadow && atomic_load_explicit(&v->irq_pending, memory_order_relaxed))
		c->shadow_pending = true;
	c->shadow = false;
}

static bool chainable(struct bt_block *src, struct bt_block *dst)
{
	return src->valid && dst->valid && !dst->emulate_first && src->page0 == dst->page0 &&
	       src->mode == dst->mode &&
	       (dst->page1 == ~0ull || dst->page1 == src->page1);
}

static int bt_vcpu_run(struct vcpu *v, struct vcpu_exit *exit)
{
	struct bt_cpu *c = v->priv;
	struct bt_state *s = c->bt;
	if (tls_cpu != c) {
		if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)c) < 0)
			return err_set("arch_prctl(ARCH_SET_GS) failed; the translator needs it");
		tls_cpu = c;
		irq_set_current(v);
	}
	if (c->io_pending)
		bt_io_complete(c);
	struct bt_chainrec *pend = NULL;
	uint64_t pend_rip = 0;
	int ret = 0;
	for (;;) {
		if (c->failed) {
			exit->kind = EXIT_INTERNAL;
			exit->fail.code = 1;
			snprintf(exit->fail.why, sizeof(exit->fail.why), "%s", c->fail);
			c->failed = false;
			break;
		}
		if (c->triple) {
			c->triple = false;
			exit->kind = EXIT_SHUTDOWN;
			break;
		}
		if (__atomic_load_n(&c->exit_req, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&c->exit_req, 0, __ATOMIC_RELAXED);
			if (c->poll_is_shadow) {
				/* Our own request: just come back for the interrupt. */
				c->poll_is_shadow = false;
			} else {
				exit->kind = EXIT_INTR;
				break;
			}
		}
		deliver_events(c);
		if (c->triple || c->failed)
			continue;
		if (!(c->mode & (BT_MODE_64 | BT_MODE_32))) {
			/* 16-bit code is interpreted, never translated. One
			 * instruction per iteration already honours an STI/MOV
			 * SS shadow, so no poll trick is needed for it. */
			c->shadow_pending = false;
			c->n.emulate++;
			if (bt_real_step(c, exit))
				break;
			continue;
		}
		int err;
		struct bt_block *b = bt_lookup(c, exit, &err);
		if (!b) {
			pend = NULL;
			continue;
		}
		if (pend) {
			/* Only if we are really at the branch target (an interrupt
			 * delivered in between moves RIP elsewhere). */
			if (pend->gen == s->gen && pend->src >= 0 && pend->src < s->nblocks &&
			    b->rip == pend_rip) {
				if (chainable(&s->blocks[pend->src], b))
					bt_chain_link(c, pend, b);
				else if (pend->alt && !b->emulate_first && s->blocks[pend->src].valid)
					bt_chain_probe(pend);
			}
			pend = NULL;
		}
		if (b->emulate_first) {
			c->n.emulate++;
			if (bt_emulate(c, exit)) {
				break;
			}
			continue;
		}
		int jt = (c->mode & BT_MODE_CPL_MASK) == 3;
		bt_jc_insert(c, jt, b->rip, (uint64_t)b->code);
		c->jc_blk[jt][bt_jc_index(b->rip)] = (int32_t)(b - s->blocks);
		bt_fpu_unpark(c);
		c->reason = 0;
		c->n.enters++;
		/* An interrupt is waiting behind an STI/MOV SS shadow: run this
		 * block without its entry poll and leave at the next one. */
		const uint8_t *entry = b->code;
		if (c->shadow_pending) {
			c->shadow_pending = false;
			__atomic_store_n(&c->exit_req, 1, __ATOMIC_RELAXED);
			c->poll_is_shadow = true;
			entry += b->body_off;
		}
		bt_enter(c, entry);
		switch (c->reason) {
		case BT_EXIT_CHAIN:
			c->n.chain++;
			pend = (struct bt_chainrec *)c->chain;
			pend_rip = c->rip;
			break;
		case BT_EXIT_EMULATE:
			c->n.emulate++;
			if (bt_emulate(c, exit))
				goto out;
			break;
		case BT_EXIT_LOOKUP:
			c->n.lookup++;
			/* RET/JMP/CALL to a non-canonical address faults on the
			 * branch itself, with RSP as it was. */
			if ((c->mode & BT_MODE_64) &&
			    (uint64_t)(((int64_t)c->rip << 16) >> 16) != c->rip) {
				c->rip = c->ind_site;
				int64_t d = (int64_t)c->ind_delta;
				if (d >= BT_IND_CALLPUSH && d < BT_IND_CALLPUSH + 64) {
					/* A call: a fault on its push (#SS, #PF) comes
					 * before the #GP for the target. */
					unsigned n = (unsigned)(d - BT_IND_CALLPUSH);
					c->ss_access = true;
					int r = bt_vprobe_write(c, c->gpr[GPR_RSP] - n, n, false);
					c->ss_access = false;
					if (r < 0)
						break;
				} else {
					c->gpr[GPR_RSP] -= d;
				}
				bt_raise(c, 13, true, 0);
			}
			break;
		case BT_EXIT_POLL:
			c->n.poll++;
			break;
		default:
			c->n.handled++;
			break;
		}
	}
out:
	bt_fpu_park(c);
	return ret;
}

/* The core wrote guest RAM behind our back (loader, DMA): drop translations
 * of every code page in the range. vCPUs are stopped. */
static void bt_mem_written(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!vm->vcpus || vm->ncpus == 0 || !vm->vcpus[0].priv || len == 0)
		return;
	struct bt_cpu *c = vm->vcpus[0].priv;
	for (uint64_t p = gpa & ~0xfffull; p < gpa + len; p += 4096) {
		uint8_t *h = bt_gpa_host(c, p);
		const struct guest_memory *m = &vm->mem;
		if (h && h >= m->ram && h < m->ram + m->ram_size && c->bt->page_code[(h - m->ram) >> 12])
			bt_invalidate_page(c, p);
	}
}

/* FP state from the parked XSAVE area (standard format). Components in
 * their init state (XSTATE_BV bit clear) read as architectural init values. */
static uint32_t avx_offset(void)
{
	uint32_t r[4];
	host_cpuid(0xd, 2, r);
	return r[1];
}

static int bt_get_fpu(struct vcpu *v, struct vcpu_fpu *f)
{
	struct bt_cpu *c = v->priv;
	bt_fpu_park(c);
	const uint8_t *a = c->fpu_area;
	uint64_t bv;
	memcpy(&bv, a + 512, 8);
	memset(f, 0, sizeof(*f));
	f->fcw = 0x37f;
	if (bv & 1) {
		memcpy(&f->fcw, a, 2);
		memcpy(&f->fsw, a + 2, 2);
		f->ftw = a[4];
		memcpy(&f->fop, a + 6, 2);
		memcpy(&f->fip, a + 8, 8);
		memcpy(&f->fdp, a + 16, 8);
		memcpy(f->st, a + 32, sizeof(f->st));
	}
	memcpy(&f->mxcsr, a + 24, 4);
	if (bv & 2)
		memcpy(f->xmm, a + 160, sizeof(f->xmm));
	if ((bv & 4) && (c->fpu_mask & 4))
		memcpy(f->ymmh, a + avx_offset(), sizeof(f->ymmh));
	f->xcr0 = c->xcr0;
	return 0;
}

static int bt_set_fpu(struct vcpu *v, const struct vcpu_fpu *f)
{
	struct bt_cpu *c = v->priv;
	bt_fpu_park(c);
	uint8_t *a = c->fpu_area;
	uint64_t bv;
	memcpy(&bv, a + 512, 8);
	memcpy(a, &f->fcw, 2);
	memcpy(a + 2, &f->fsw, 2);
	a[4] = f->ftw;
	memcpy(a + 6, &f->fop, 2);
	memcpy(a + 8, &f->fip, 8);
	memcpy(a + 16, &f->fdp, 8);
	memcpy(a + 24, &f->mxcsr, 4);
	memcpy(a + 32, f->st, sizeof(f->st));
	memcpy(a + 160, f->xmm, sizeof(f->xmm));
	bv |= 3;
	if (c->fpu_mask & 4) {
		memcpy(a + avx_offset(), f->ymmh, sizeof(f->ymmh));
		bv |= 4;
	}
	memcpy(a + 512, &bv, 8);
	return 0;
}

const struct engine_ops engine_bt = {
	.name = "bt",
	.probe = bt_probe,
	.vm_create = bt_vm_create,
	.vm_destroy = bt_vm_destroy,
	.vcpu_create = bt_vcpu_create,
	.vcpu_destroy = bt_vcpu_destroy,
	.vcpu_run = bt_vcpu_run,
	.get_state = bt_get_state,
	.set_state = bt_set_state,
	.inject = bt_inject,
	.irq_window = bt_irq_window,
	.kick = bt_kick,
	.mem_written = bt_mem_written,
	.get_fpu = bt_get_fpu,
	.set_fpu = bt_set_fpu,
};
