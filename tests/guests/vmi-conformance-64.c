/* VMI ABI v1 conformance from inside a guest (vmi-abi/SPEC.md): discovery,
 * version negotiation, the ABI page byte for byte, every call through its
 * stub, the error paths through a guest-built thunk (SPEC 5.5: the trap, not
 * the stub, defines the effect), the lazy queue and calls from CPL 3.
 *
 * One run sees one offered version, so the command line says what to expect:
 *   expect=accept        the guest needs 1.0 and uses everything; ends with SHUTDOWN
 *   expect=reboot        as accept, but ends with REBOOT
 *   expect=refuse-minor  the guest needs 1.1: CPUID says no, MSR_VERSION #GPs
 *   expect=refuse-major  the guest needs 2.0: same
 *   expect=absent        run with --vmi off: no signature, MSRs #GP, stubs #UD
 *   mode=bench           cycles per operation, native vs VMI call (bench/vmi-cost.sh)
 * Output is the same on every engine: backend-specific kinds are checked
 * against the backend the host reports, never printed. */
#include "multiboot.h"
#include "rt.h"
#include "vmi-rt.h"

int vmi_main64(uint32_t mbi);

enum mode { M_ACCEPT, M_REBOOT, M_REFUSE_MINOR, M_REFUSE_MAJOR, M_ABSENT, M_BENCH };

static uint8_t abi_page[4096] __attribute__((aligned(4096)));
static struct vmi_vcpu_page vcpu_page __attribute__((aligned(4096)));
static uint8_t scratch[4096] __attribute__((aligned(4096)));
static uint8_t page_copy[4096] __attribute__((aligned(16)));
static uint8_t thunk_buf[32] __attribute__((aligned(32)));
static uint8_t user_stack[1024] __attribute__((aligned(16)));
static uint8_t kernel_stack[2048] __attribute__((aligned(16)));
static struct tss {
	uint32_t res0;
	uint64_t rsp[3];
	uint64_t res1;
	uint64_t ist[7];
	uint64_t res2;
	uint16_t res3, iopb;
} __attribute__((packed)) tss __attribute__((aligned(16)));
static uint64_t ldt[4] __attribute__((aligned(16)));
/* 0x08 code32, 0x10 data, 0x18 code64 (as the runtime's), 0x20 user data,
 * 0x28 user code64, 0x30 TSS (16 bytes), 0x40 LDT (16 bytes), 0x50.. scratch. */
static uint64_t gdt[16] __attribute__((aligned(16))) = {
	0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00AF9A000000FFFFull,
	0x00CFF2000000FFFFull, 0x00AFFA000000FFFFull,
};
#define SEL_UDATA 0x20
#define SEL_UCODE 0x28
#define SEL_TSS 0x30
#define SEL_LDT 0x40
static struct gate { uint64_t lo, hi; } idt[0x41] __attribute__((aligned(16)));
static const struct vmi_page_header *hdr = (const struct vmi_page_header *)abi_page;
static uint32_t msr_version = VMI_MSR_VERSION, msr_page = VMI_MSR_PAGE,
	msr_vcpu_page = VMI_MSR_VCPU_PAGE;
static uint32_t backend;
volatile uint32_t vmi_timer_ticks;

#define NOT_RAM 0xF0000000ull           /* the PCI hole: never RAM */
#define NONCANON 0x8000000000000000ull

/* ---- low-level helpers ---- */

static uint64_t rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq\n\tpopq %0" : "=r"(f));
	return f;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

struct res {
	uint64_t rax, rdx;
	int vector;     /* exception raised by the trap, 0 if none */
	uint64_t ip;    /* where it was raised */
};

/* XMM0-15 must survive every call (SPEC 5.3: a call clobbers only what its
 * descriptor says, never vector registers). The translator runs some calls
 * inside a block while the guest's SSE state sits in host registers, so
 * this catches a hypervisor path that reaches SIMD code without saving it.
 * Armed once SSE is enabled; the guest's own C never touches XMM
 * (-mgeneral-regs-only), so only the call can change them. */
static int xmm_armed;
static uint32_t xmm_bad, xmm_seq;
static uint8_t xmm_in[256] __attribute__((aligned(16))), xmm_out[256] __attribute__((aligned(16)));

#define XMM_ALL(op, buf) \
	__asm__ volatile(op " 0(%0), %%xmm0\n\t" op " 16(%0), %%xmm1\n\t" op " 32(%0), %%xmm2\n\t" \
			 op " 48(%0), %%xmm3\n\t" op " 64(%0), %%xmm4\n\t" op " 80(%0), %%xmm5\n\t" \
			 op " 96(%0), %%xmm6\n\t" op " 112(%0), %%xmm7\n\t" op " 128(%0), %%xmm8\n\t" \
			 op " 144(%0), %%xmm9\n\t" op " 160(%0), %%xmm10\n\t" op " 176(%0), %%xmm11\n\t" \
			 op " 192(%0), %%xmm12\n\t" op " 208(%0), %%xmm13\n\t" op " 224(%0), %%xmm14\n\t" \
			 op " 240(%0), %%xmm15" : : "r"(buf) : "memory")
#define XMM_SAVE(buf) \
	__asm__ volatile("movdqa %%xmm0, 0(%0)\n\tmovdqa %%xmm1, 16(%0)\n\tmovdqa %%xmm2, 32(%0)\n\t" \
			 "movdqa %%xmm3, 48(%0)\n\tmovdqa %%xmm4, 64(%0)\n\tmovdqa %%xmm5, 80(%0)\n\t" \
			 "movdqa %%xmm6, 96(%0)\n\tmovdqa %%xmm7, 112(%0)\n\tmovdqa %%xmm8, 128(%0)\n\t" \
			 "movdqa %%xmm9, 144(%0)\n\tmovdqa %%xmm10, 160(%0)\n\tmovdqa %%xmm11, 176(%0)\n\t" \
			 "movdqa %%xmm12, 192(%0)\n\tmovdqa %%xmm13, 208(%0)\n\tmovdqa %%xmm14, 224(%0)\n\t" \
			 "movdqa %%xmm15, 240(%0)" : : "r"(buf) : "memory")

static void xmm_arm(void)
{
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0\n\tmov %%cr4, %1" : "=r"(cr0), "=r"(cr4));
	cr0 = (cr0 & ~(1ull << 2 | 1ull << 3)) | (1ull << 1);     /* EM=0 TS=0 MP=1 */
	cr4 |= 1ull << 9 | 1ull << 10;                           /* OSFXSR OSXMMEXCPT */
	__asm__ volatile("mov %0, %%cr0\n\tmov %1, %%cr4" : : "r"(cr0), "r"(cr4));
	xmm_armed = 1;
}

static void xmm_before(void)
{
	if (!xmm_armed)
		return;
	xmm_seq++;
	for (unsigned i = 0; i < sizeof(xmm_in); i++)
		xmm_in[i] = (uint8_t)(i * 37 + xmm_seq * 101 + 1);
	XMM_ALL("movdqa", xmm_in);
}

static void xmm_after(void)
{
	if (!xmm_armed)
		return;
	XMM_SAVE(xmm_out);
	for (unsigned i = 0; i < sizeof(xmm_in); i++)
		if (xmm_in[i] != xmm_out[i]) {
			if (!xmm_bad)
				rt_printf("xmm%u changed across call %u\n", i / 16, xmm_seq);
			xmm_bad++;
			return;
		}
}

/* Calls fn with the VMI convention; an exception inside resumes after the
 * call with the return address popped. */
static struct res call_at(const void *fn, uint64_t a1, uint64_t a2, uint64_t a3,
			  uint64_t a4, uint64_t a5, uint64_t a6)
{
	register uint64_t r10 __asm__("r10") = a4;
	register uint64_t r8 __asm__("r8") = a5;
	register uint64_t r9 __asm__("r9") = a6;
	uint64_t rax = 0xdead, rdx = a3;
	uint32_t n = rt_exc.count;
	xmm_before();
	__asm__ volatile("movq $3f, " RT_SYM("recover") "(%%rip)\n\t"
			 "call *%[fn]\n\t"
			 "jmp 4f\n"
			 "3:\taddq $8, %%rsp\n"
			 "4:"
			 : "+a"(rax), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
			 : [fn] "r"(fn), "D"(a1), "S"(a2) : "memory", "cc");
	rt_recover = 0;
	xmm_after();
	struct res r = { rax, rdx, 0, 0 };
	if (rt_exc.count != n) {
		r.vector = (int)rt_exc.vector;
		r.ip = rt_exc.ip;
	}
	return r;
}

static const struct vmi_call_desc *desc(uint32_t nr)
{
	return vmi_page_desc(abi_page, nr);
}

static const void *stub(uint32_t nr)
{
	return abi_page + desc(nr)->stub_off;
}

#define S(nr, ...) call_stub(nr, (const uint64_t[6]){ __VA_ARGS__ })
static struct res call_stub(uint32_t nr, const uint64_t a[6])
{
	return call_at(stub(nr), a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The guest's own thunk (SPEC 5.5): movabs $nr, %rax; trap; ret. */
static const void *thunk(uint64_t nr)
{
	uint8_t *p = thunk_buf;
	/* Before installation the transport is the one SPEC 6.5 gives the backend. */
	unsigned transport = hdr->magic == VMI_PAGE_MAGIC ? hdr->transport :
			     backend == VMI_BACKEND_BT ? VMI_TRANSPORT_VMCALL : VMI_TRANSPORT_PIO;
	*p++ = 0x48;
	*p++ = 0xb8;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(nr >> (8 * i));
	if (transport == VMI_TRANSPORT_VMCALL) {
		*p++ = 0x0f;
		*p++ = 0x01;
		*p++ = 0xc1;
	} else {
		*p++ = 0xe7;
		*p++ = hdr->magic == VMI_PAGE_MAGIC ? (uint8_t)hdr->transport_aux : VMI_PIO_PORT;
	}
	*p = 0xc3;
	return thunk_buf;
}

#define T(nr, ...) call_thunk(nr, (const uint64_t[6]){ __VA_ARGS__ })
static struct res call_thunk(uint64_t nr, const uint64_t a[6])
{
	return call_at(thunk(nr), a[0], a[1], a[2], a[3], a[4], a[5]);
}

static int64_t rax_of(struct res r)
{
	return r.vector ? -99999 : (int64_t)r.rax;
}

static void expect(struct res r, int64_t want, const char *what)
{
	if (rax_of(r) != want)
		rt_printf("  got rax %ld (exception %d), wanted %ld\n", (long)rax_of(r),
			  r.vector, (long)want);
	rt_check(rax_of(r) == want, what);
}

/* Valid calls whose result a backend may legitimately not provide. */
static void expect_ok_or_unsupported(struct res r, const char *what)
{
	int64_t v = rax_of(r);
	if (v != 0 && v != VMI_EOPNOTSUPP)
		rt_printf("  got rax %ld (exception %d)\n", (long)v, r.vector);
	rt_check(v == 0 || v == VMI_EOPNOTSUPP, what);
}

static uint64_t read_cr(int n)
{
	uint64_t v = 0;
	switch (n) {
	case 0: __asm__ volatile("mov %%cr0, %0" : "=r"(v)); break;
	case 2: __asm__ volatile("mov %%cr2, %0" : "=r"(v)); break;
	case 3: __asm__ volatile("mov %%cr3, %0" : "=r"(v)); break;
	case 4: __asm__ volatile("mov %%cr4, %0" : "=r"(v)); break;
	}
	return v;
}

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t phys(const void *p)
{
	return (uint64_t)(uintptr_t)p;          /* identity-mapped */
}

/* ---- command line ---- */

static int has_word(const char *s, const char *w)
{
	while (s && *s) {
		const char *a = s, *b = w;
		while (*b && *a == *b) {
			a++;
			b++;
		}
		if (!*b && (*a == 0 || *a == ' '))
			return 1;
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	return 0;
}

static enum mode parse_mode(uint32_t mbi)
{
	const struct mb_info *mb = (const struct mb_info *)(uintptr_t)mbi;
	const char *cl = (mb->flags & MBI_FLAG_CMDLINE) ? (const char *)(uintptr_t)mb->cmdline : "";
	if (has_word(cl, "mode=bench"))
		return M_BENCH;
	if (has_word(cl, "expect=reboot"))
		return M_REBOOT;
	if (has_word(cl, "expect=refuse-minor"))
		return M_REFUSE_MINOR;
	if (has_word(cl, "expect=refuse-major"))
		return M_REFUSE_MAJOR;
	if (has_word(cl, "expect=absent"))
		return M_ABSENT;
	return M_ACCEPT;
}

/* ---- discovery (SPEC 3; the search itself is vmi_find_base() in rt/vmi-rt.h) ---- */

/* Refusals and absence: the native path, and the host's #GP behind it. */
static void check_refused(uint32_t required, enum vmi_check why)
{
	uint64_t v;
	rt_check(vmi_wrmsr_safe(msr_version, required) == 13,
		 "MSR_VERSION write of the required version raises #GP");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page) | 1) == 13,
		 "MSR_PAGE write without a handshake raises #GP");
	rt_check(vmi_rdmsr_safe(msr_page, &v) == 0 && v == 0, "MSR_PAGE reads 0");
	rt_check(why != VMI_CHECK_OK, "guest runs native");
}

/* ---- the ABI page (SPEC 5) ---- */

static int flags_for(uint32_t i)
{
	switch (i) {
	case 0: case 15: case 35: case 37: return VMI_DF_RDX_RESULT;
	case 12: case 19: case 21: case 22: case 23: case 24: case 25:
	case 28: case 29: case 30: case 31: case 32: case 33: return VMI_DF_BATCHABLE;
	case 39: case 40: return VMI_DF_NORETURN;
	}
	return 0;
}

static int stub_ok(uint32_t i, const struct vmi_call_desc *d)
{
	static const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	const uint8_t *s = abi_page + d->stub_off;
	unsigned n = 4;
	for (int k = 0; k < 4; k++)
		if (s[k] != endbr[k])
			return 0;
	if (d->kind == VMI_KIND_NOP) {
		if (s[n++] != 0x31 || s[n++] != 0xc0)
			return 0;
	} else {
		if (s[n++] != 0xb8 || s[n] != (uint8_t)i || s[n + 1] || s[n + 2] || s[n + 3])
			return 0;
		n += 4;
		if (hdr->transport == VMI_TRANSPORT_VMCALL) {
			if (s[n++] != 0x0f || s[n++] != 0x01 || s[n++] != 0xc1)
				return 0;
		} else if (s[n++] != 0xe7 || s[n++] != (uint8_t)hdr->transport_aux) {
			return 0;
		}
	}
	if (s[n++] != 0xc3)
		return 0;
	while (n < VMI_STUB_STRIDE)
		if (s[n++] != 0xcc)
			return 0;
	return 1;
}

/* Kinds vmlite publishes (SPEC 7 table, HW/BT columns, except IRQ 1-4 on
 * BT: NATIVE until the translator implements the SHARED interrupt flag,
 * which SPEC 7 allows: "a host MAY publish other kinds"). The calls are
 * checked through stubs and thunks whatever the kind. */
static int kind_for(uint32_t i)
{
	static const char hw[] = "CNNNNNNNNNNNNNNNNNNNNNNNNNOONOONNNNCCCCCC";
	static const char bt[] = "CNNNNCCNCSCNNNCCCCCCCCCCNNOONOONCCCCCCCCC";
	char k = (backend == VMI_BACKEND_BT ? bt : hw)[i];
	return k == 'N' ? VMI_KIND_NATIVE : k == 'C' ? VMI_KIND_CALL :
	       k == 'O' ? VMI_KIND_NOP : VMI_KIND_SHARED;
}

static void check_page(uint32_t required, uint32_t offered)
{
	rt_check(vmi_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u,
		 "CRC-32 check value 0xCBF43926");
	rt_check(vmi_page_check(abi_page, sizeof(abi_page), required) == VMI_CHECK_OK,
		 "vmi_page_check accepts the page");
	rt_check(hdr->magic == VMI_PAGE_MAGIC && hdr->major == VMI_VERSION_MAJ(offered) &&
		 hdr->minor == VMI_VERSION_MIN(offered), "header magic and version");
	rt_check(hdr->size == 4096 && hdr->hdr_size == 64 && hdr->desc_size == 16 &&
		 hdr->stub_stride == 32 && hdr->calls_off == 64 && hdr->stubs_off % 64 == 0 &&
		 hdr->vcpu_page_size == 4096, "header sizes and offsets");
	rt_printf("ncalls %u\n", hdr->ncalls);
	rt_check(hdr->ncalls == 41, "41 calls in 1.0");
	rt_check(hdr->checksum == vmi_page_checksum(abi_page, hdr->size), "checksum matches");
	rt_check((hdr->transport == VMI_TRANSPORT_PIO && hdr->transport_aux == VMI_PIO_PORT) ||
		 (hdr->transport == VMI_TRANSPORT_VMCALL && hdr->transport_aux == 0),
		 "transport and its port");
	rt_check(hdr->backend == backend && hdr->features == VMI_F_ALL_V1_0,
		 "backend and features as in CPUID");
	for (unsigned i = 0; i < 4096; i++)
		page_copy[i] = abi_page[i];
	page_copy[hdr->stubs_off + 5] ^= 1;
	rt_check(vmi_page_check(page_copy, 4096, required) == VMI_CHECK_CORRUPT,
		 "a flipped stub byte fails the checksum");
	page_copy[hdr->stubs_off + 5] ^= 1;
	page_copy[4] = 2;
	rt_check(vmi_page_check(page_copy, 4096, required) == VMI_CHECK_MAJOR,
		 "another major is refused by the page check");

	unsigned bad = 0;
	for (uint32_t i = 0; i < hdr->ncalls; i++) {
		const struct vmi_call_desc *d = desc(i);
		uint32_t clob = VMI_CLOBBER_RAX | VMI_CLOBBER_FLAGS |
				((flags_for(i) & VMI_DF_RDX_RESULT) ? VMI_CLOBBER_RDX : 0);
		int ok = d->call == i && d->flags == flags_for(i) && d->clobbers == clob &&
			 d->stub_off == hdr->stubs_off + 32 * i && d->kind == kind_for(i) &&
			 (d->kind == VMI_KIND_SHARED ? d->aux == (i == 9 ? 8u : 0u) : d->aux == 0) &&
			 stub_ok(i, d);
		if (!ok) {
			rt_printf("  descriptor %u: kind %u flags 0x%x clobbers 0x%x stub 0x%x aux %u\n",
				  i, d->kind, d->flags, d->clobbers, d->stub_off, d->aux);
			bad++;
		}
	}
	rt_check(bad == 0, "every descriptor and stub is exact");
	uint32_t end_desc = hdr->calls_off + hdr->ncalls * 16;
	uint32_t end_stub = hdr->stubs_off + hdr->ncalls * 32;
	unsigned nonzero = 0;
	for (uint32_t o = end_desc; o < hdr->stubs_off; o++)
		nonzero += abi_page[o] != 0;
	for (uint32_t o = end_stub; o < 4096; o++)
		nonzero += abi_page[o] != 0;
	rt_check(nonzero == 0, "unused page bytes are zero");
}

/* ---- interrupts: a LAPIC timer through x2APIC, for the halt calls ---- */

__asm__(".text\n"
	"vmi_timer_isr:\n\t"
	"pushq %rax\n\tpushq %rcx\n\tpushq %rdx\n\t"
	"incl vmi_timer_ticks(%rip)\n\t"
	"movl $0x80b, %ecx\n\txorl %eax, %eax\n\txorl %edx, %edx\n\twrmsr\n\t"
	"popq %rdx\n\tpopq %rcx\n\tpopq %rax\n\t"
	"iretq\n");
extern char vmi_timer_isr[];

static struct gate make_gate(const void *fn, unsigned dpl)
{
	uint64_t h = phys(fn);
	struct gate g;
	g.lo = (h & 0xffff) | ((uint64_t)RT_SEL_CODE64 << 16) |
	       ((uint64_t)(0x8e | (dpl << 5)) << 40) | ((h >> 16) << 48);
	g.hi = h >> 32;
	return g;
}

static void timer_arm(uint32_t ns, int periodic)
{
	rt_wrmsr(0x83e, 0xb);                           /* divide by 1 */
	rt_wrmsr(0x832, 0x40 | (periodic ? 1u << 17 : 0));
	rt_wrmsr(0x838, ns);                            /* 1 GHz bus: 1 count = 1 ns */
}

static void timer_stop(void)
{
	rt_wrmsr(0x832, 0x10040);                       /* masked */
	rt_wrmsr(0x838, 0);
}

static int apic_setup(void)
{
	uint32_t r[4];
	rt_cpuid(1, 0, r);
	if (!(r[2] & (1u << 21)))
		return 0;
	rt_wrmsr(0x1b, rt_rdmsr(0x1b) | 0xc00);         /* enable, x2APIC */
	rt_wrmsr(0x80f, 0x1ff);                         /* software enable */
	return 1;
}

/* ---- CPL 3 (SPEC 6.4 rule 2) ---- */

/* user_try(rip, rsp, rflags, rbx): iretq to ring 3 at rip with rbx set; the
 * #GP/#UD gates below come back here through u_back. */
__asm__(".text\n"
	"vmi_user_try:\n\t"
	"pushq %rbx\n\tpushq %rbp\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n\t"
	"movq %rsp, vmi_u_saved_rsp(%rip)\n\t"
	"movq %rcx, %rbx\n\t"
	"pushq $0x23\n\tpushq %rsi\n\tpushq %rdx\n\tpushq $0x2b\n\tpushq %rdi\n\t"
	"iretq\n"
	"vmi_u_gp:\n\t"
	"movl $13, vmi_u_vec(%rip)\n\t"
	"movq 8(%rsp), %rax\n\tmovq %rax, vmi_u_ip(%rip)\n\t"
	"movq 16(%rsp), %rax\n\tmovq %rax, vmi_u_cs(%rip)\n\t"
	"jmp vmi_u_back\n"
	"vmi_u_ud:\n\t"
	"movl $6, vmi_u_vec(%rip)\n\t"
	"movq (%rsp), %rax\n\tmovq %rax, vmi_u_ip(%rip)\n\t"
	"movq 8(%rsp), %rax\n\tmovq %rax, vmi_u_cs(%rip)\n"
	"vmi_u_back:\n\t"
	"movl $0x10, %eax\n\tmovw %ax, %ds\n\tmovw %ax, %es\n\tmovw %ax, %ss\n\t"
	"movq vmi_u_saved_rsp(%rip), %rsp\n\t"
	"popq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbp\n\tpopq %rbx\n\t"
	"ret\n"
	"vmi_user_entry:\n\t"
	"movl $0, %eax\n\t"
	"call *%rbx\n"
	"vmi_user_after:\n\t"
	"hlt\n\t"
	"jmp vmi_user_after\n");
extern char vmi_u_gp[], vmi_u_ud[], vmi_user_entry[], vmi_user_after[];
void vmi_user_try(uint64_t rip, uint64_t rsp, uint64_t rflags, uint64_t rbx);
volatile uint64_t vmi_u_saved_rsp, vmi_u_ip, vmi_u_cs;
volatile uint32_t vmi_u_vec;

extern uint64_t rt_pml4[512], rt_pdpt[512], rt_pd[512];

/* want_vec2: also acceptable (0: none). */
static void user_test(uint64_t iopl, const void *target, const char *what, uint32_t want_vec,
		      uint32_t want_vec2)
{
	vmi_u_vec = 0;
	vmi_u_ip = 0;
	vmi_user_try(phys(vmi_user_entry), phys(user_stack + sizeof(user_stack)),
		     0x2 | (iopl << 12), phys(target));
	int ok = (vmi_u_vec == want_vec || (want_vec2 && vmi_u_vec == want_vec2)) && vmi_u_ip == phys(target) + 9 && (vmi_u_cs & 3) == 3;
	if (!ok)
		rt_printf("  vector %u ip 0x%lx cs 0x%lx\n", vmi_u_vec, (unsigned long)vmi_u_ip,
			  (unsigned long)vmi_u_cs);
	rt_check(ok, what);
}

static void cpl3_tests(void)
{
	struct gate save_gp = idt[13], save_ud = idt[6];
	/* The identity map's first 2 MiB becomes user-accessible for the test. */
	rt_pml4[0] |= 4;
	rt_pdpt[0] |= 4;
	rt_pd[0] |= 4;
	__asm__ volatile("mov %%cr3, %%rax\n\tmov %%rax, %%cr3" : : : "rax", "memory");
	idt[13] = make_gate(vmi_u_gp, 0);
	idt[6] = make_gate(vmi_u_ud, 0);
	/* IOPL 0: the processor refuses an OUT (#GP) before the host sees it;
	 * VMCALL is #UD. IOPL 3: an OUT that reaches the host gets #UD (SPEC
	 * 6.4 rule 2); a host that runs guest user mode under its own IOPL
	 * (kvm_pvm) faults it with #GP first. Either way the call never runs. */
	int pio = hdr->transport == VMI_TRANSPORT_PIO;
	/* NOP stubs do not trap, at any CPL (SPEC 5.5). This trip also comes
	 * first on purpose: under --engine bt the first CPL 3 execution from
	 * the ABI page skipped the VMCALL (a translator bug, reported). */
	vmi_u_vec = 0;
	vmi_user_try(phys(vmi_user_entry), phys(user_stack + sizeof(user_stack)), 0x2,
		     phys(stub(VMI_CALL_IO_DELAY)));
	rt_check(vmi_u_vec == 13 && vmi_u_ip == phys(vmi_user_after),
		 "a NOP stub at CPL 3 returns (then HLT: #GP)");
	user_test(3, stub(VMI_CALL_VERSION), "CPL 3 call with IOPL 3: #UD (or #GP) at the trap, no call",
		  6, pio ? 13 : 0);
	user_test(0, stub(VMI_CALL_VERSION), "CPL 3 call with IOPL 0: #GP (PIO) or #UD (VMCALL) at the trap",
		  pio ? 13 : 6, 0);
	idt[13] = save_gp;
	idt[6] = save_ud;
	rt_pml4[0] &= ~4ull;
	rt_pdpt[0] &= ~4ull;
	rt_pd[0] &= ~4ull;
	__asm__ volatile("mov %%cr3, %%rax\n\tmov %%rax, %%cr3" : : : "rax", "memory");
}

/* ---- tables: our GDT (with TSS and LDT) and a bigger IDT ---- */

static uint64_t sys_desc_lo(uint64_t base, uint32_t limit, unsigned type)
{
	return (limit & 0xffff) | ((base & 0xffffff) << 16) | ((uint64_t)type << 40) |
	       (1ull << 47) | ((uint64_t)(limit >> 16 & 0xf) << 48) |
	       (((base >> 24) & 0xff) << 56);
}

static void tables_setup(void)
{
	struct dtr d;
	__asm__ volatile("sidt %0" : "=m"(d));
	const struct gate *old = (const struct gate *)(uintptr_t)d.base;
	for (int i = 0; i < 32; i++)
		idt[i] = old[i];
	d.base = phys(idt);
	d.limit = sizeof(idt) - 1;
	__asm__ volatile("lidt %0" : : "m"(d));
	tss.iopb = sizeof(tss);
	gdt[SEL_TSS / 8] = sys_desc_lo(phys(&tss), sizeof(tss) - 1, 9);
	gdt[SEL_TSS / 8 + 1] = phys(&tss) >> 32;
	gdt[SEL_LDT / 8] = sys_desc_lo(phys(ldt), sizeof(ldt) - 1, 2);
	gdt[SEL_LDT / 8 + 1] = phys(ldt) >> 32;
	d.base = phys(gdt);
	d.limit = sizeof(gdt) - 1;
	__asm__ volatile("lgdt %0" : : "m"(d));
}

/* ---- every call through its stub (SPEC 7) ---- */

static void calls_cpu(void)
{
	struct res r;
	uint64_t v;
	struct dtr d;

	r = S(VMI_CALL_VERSION);
	expect(r, VMI_VERSION(1, 0), "VERSION returns 1.0");
	rt_check(r.rdx == VMI_F_ALL_V1_0, "VERSION returns the features in RDX");

	expect(S(VMI_CALL_IRQ_RESTORE_FL, 0x200), 0, "IRQ_RESTORE_FL(IF)");
	r = S(VMI_CALL_IRQ_SAVE_FL);
	int hw = backend == VMI_BACKEND_HW;
	rt_check(rax_of(r) == 0x200 && (!hw || (rflags() & 0x200)), "IRQ_SAVE_FL reports IF set");
	expect(S(VMI_CALL_IRQ_DISABLE), 0, "IRQ_DISABLE");
	r = S(VMI_CALL_IRQ_SAVE_FL);
	rt_check(rax_of(r) == 0 && (!hw || !(rflags() & 0x200)), "IRQ_SAVE_FL reports IF clear");
	expect(S(VMI_CALL_IRQ_ENABLE), 0, "IRQ_ENABLE");
	rt_check(rax_of(S(VMI_CALL_IRQ_SAVE_FL)) == 0x200, "IRQ_SAVE_FL after IRQ_ENABLE");
	expect(S(VMI_CALL_IRQ_RESTORE_FL, 0xfffffffffffffdffull), 0,
	       "IRQ_RESTORE_FL ignores bits other than IF");
	rt_check(rax_of(S(VMI_CALL_IRQ_SAVE_FL)) == 0, "IRQ_SAVE_FL after restoring 0");
	__asm__ volatile("cli");

	for (int cr = 0; cr <= 4; cr++) {
		static const uint32_t rd[5] = { VMI_CALL_READ_CR0, 0, VMI_CALL_READ_CR2,
						VMI_CALL_READ_CR3, VMI_CALL_READ_CR4 };
		if (cr == 1)
			continue;
		r = S(rd[cr]);
		rt_printf("READ_CR%d matches mov from CR%d: %s\n", cr, cr,
			  r.rax == read_cr(cr) && !r.vector ? "ok" : "FAIL");
		if (r.rax != read_cr(cr) || r.vector)
			rt_failures++;
	}
	uint64_t cr0 = read_cr(0), cr3 = read_cr(3), cr4 = read_cr(4);
	expect(S(VMI_CALL_WRITE_CR0, cr0), 0, "WRITE_CR0 of the current value");
	expect(S(VMI_CALL_WRITE_CR2, 0x12345000), 0, "WRITE_CR2");
	rt_check(read_cr(2) == 0x12345000, "CR2 holds the written value");
	expect(S(VMI_CALL_WRITE_CR3, cr3), 0, "WRITE_CR3 of the current value");
	rt_check(read_cr(3) == cr3, "CR3 unchanged");
	expect(S(VMI_CALL_WRITE_CR4, cr4), 0, "WRITE_CR4 of the current value");

	expect(S(VMI_CALL_RDMSR, RT_MSR_EFER), 0, "RDMSR(EFER)");
	r = S(VMI_CALL_RDMSR, RT_MSR_EFER);
	rt_check(r.rdx == rt_rdmsr(RT_MSR_EFER), "RDMSR returns EFER in RDX");
	r = S(VMI_CALL_RDMSR, VMI_MSR_VERSION);
	rt_check(rax_of(r) == 0 && r.rdx == VMI_VERSION(1, 0), "RDMSR(MSR_VERSION) through a call");
	expect(S(VMI_CALL_WRMSR, 0xc0000102, 0x123456789000ull), 0, "WRMSR(KERNEL_GS_BASE)");
	rt_check(rt_rdmsr(0xc0000102) == 0x123456789000ull, "KERNEL_GS_BASE holds the value");

	__asm__ volatile("sgdt %0" : "=m"(d));
	expect(S(VMI_CALL_LOAD_GDT, d.base, d.limit), 0, "LOAD_GDT of the current table");
	__asm__ volatile("sidt %0" : "=m"(d));
	expect(S(VMI_CALL_LOAD_IDT, d.base, d.limit), 0, "LOAD_IDT of the current table");
	struct dtr d2;
	__asm__ volatile("sidt %0" : "=m"(d2));
	rt_check(d2.base == d.base && d2.limit == d.limit, "IDTR unchanged");

	expect(S(VMI_CALL_LOAD_LDT, SEL_LDT), 0, "LOAD_LDT of an LDT descriptor");
	uint16_t sel = 0;
	__asm__ volatile("sldt %0" : "=r"(sel));
	rt_check(sel == SEL_LDT, "SLDT reads the loaded selector");
	expect(S(VMI_CALL_LOAD_LDT, 0), 0, "LOAD_LDT(0) disables the LDT");
	expect(S(VMI_CALL_LOAD_SP0, phys(kernel_stack + sizeof(kernel_stack))), 0, "LOAD_SP0");
	expect(S(VMI_CALL_LOAD_TR, SEL_TSS), 0, "LOAD_TR of an available TSS");
	__asm__ volatile("str %0" : "=r"(sel));
	rt_check(sel == SEL_TSS, "STR reads the loaded selector");
	rt_check(((gdt[SEL_TSS / 8] >> 40) & 0xf) == 0xb, "the TSS descriptor is now busy");
	expect(S(VMI_CALL_LOAD_SP0, phys(kernel_stack + sizeof(kernel_stack))), 0,
	       "LOAD_SP0 with TR loaded");
	rt_check(tss.rsp[0] == phys(kernel_stack + sizeof(kernel_stack)), "TSS.RSP0 holds the value");

	expect(S(VMI_CALL_WRITE_GDT_ENTRY, phys(&gdt[10]), 0x00CF92000000FFFFull, 0, 8), 0,
	       "WRITE_GDT_ENTRY (8 bytes)");
	rt_check(gdt[10] == 0x00CF92000000FFFFull, "the GDT slot holds the descriptor");
	expect(S(VMI_CALL_WRITE_LDT_ENTRY, phys(&ldt[0]), 0x1111, 0x2222, 16), 0,
	       "WRITE_LDT_ENTRY (16 bytes)");
	rt_check(ldt[0] == 0x1111 && ldt[1] == 0x2222, "the LDT slot holds both halves");
	struct gate g = make_gate(vmi_timer_isr, 0);
	expect(S(VMI_CALL_WRITE_IDT_ENTRY, phys(&idt[0x40]), g.lo, g.hi, 16), 0,
	       "WRITE_IDT_ENTRY installs the timer gate");
	rt_check(idt[0x40].lo == g.lo && idt[0x40].hi == g.hi, "the IDT slot holds the gate");
	uint64_t tls[3] = { 0x1000, 0x2000, 0x3000 };
	expect(S(VMI_CALL_LOAD_TLS, phys(&gdt[11]), phys(tls), 3), 0, "LOAD_TLS of 3 entries");
	rt_check(gdt[11] == 0x1000 && gdt[12] == 0x2000 && gdt[13] == 0x3000,
		 "the TLS slots hold the entries");
	expect(S(VMI_CALL_WBINVD), 0, "WBINVD");
	expect(S(VMI_CALL_IO_DELAY), 0, "IO_DELAY");
	(void)v;
}

static void calls_mmu(void)
{
	uint64_t *pte = (uint64_t *)scratch;
	expect(S(VMI_CALL_SET_PXE, 1, phys(&pte[3]), 0xabc003), 0, "SET_PXE stores the entry");
	rt_check(pte[3] == 0xabc003, "the entry holds the value");
	expect(S(VMI_CALL_SET_PXE, 4, phys(&pte[4]), 0x5000), 0, "SET_PXE at level 4");
	expect(S(VMI_CALL_ALLOC_PT, 1, phys(scratch)), 0, "ALLOC_PT");
	expect(S(VMI_CALL_RELEASE_PT, 1, phys(scratch)), 0, "RELEASE_PT");
	expect(S(VMI_CALL_FLUSH_TLB_ONE, phys(scratch)), 0, "FLUSH_TLB_ONE");
	expect(S(VMI_CALL_FLUSH_TLB_USER), 0, "FLUSH_TLB_USER");
	expect(S(VMI_CALL_FLUSH_TLB_ALL), 0, "FLUSH_TLB_ALL");
	pte[8] = 1;
	expect_ok_or_unsupported(S(VMI_CALL_FLUSH_TLB_OTHERS, phys(&pte[8]), 1, 0, ~0ull),
				 "FLUSH_TLB_OTHERS: done or EOPNOTSUPP");
	/* A real PTE change: map a 2 MiB page at 1 GiB onto the scratch page's
	 * frame region through the runtime's PD, then flush it with the call. */
	volatile uint64_t *probe = (volatile uint64_t *)(uintptr_t)(0x3fe00000ull + phys(scratch));
	expect(S(VMI_CALL_SET_PXE, 2, phys(&rt_pd[511]), 0x000000 | 0x83), 0,
	       "SET_PXE of a live PMD entry");
	expect(S(VMI_CALL_FLUSH_TLB_ONE, (uint64_t)(uintptr_t)probe), 0, "FLUSH_TLB_ONE of it");
	pte[0] = 0x5a5a5a5a;
	rt_check(*probe == 0x5a5a5a5a, "the new mapping is visible after the flush");
	expect(S(VMI_CALL_SET_PXE, 2, phys(&rt_pd[511]), (511ull << 21) | 0x83), 0,
	       "SET_PXE restores the identity entry");
	expect(S(VMI_CALL_FLUSH_TLB_ALL), 0, "FLUSH_TLB_ALL after restoring");
}

static const char console_msg[] = "console: hello through CONSOLE_WRITE\n";

static void calls_misc(void)
{
	struct res r;
	expect(S(VMI_CALL_ALARM_SET, 0, 0, 0, 0), 0, "ALARM_SET(OFF) before any alarm");
	r = S(VMI_CALL_WALLCLOCK);
	rt_check(rax_of(r) == 0 && r.rdx > 1577836800000000000ull &&
		 r.rdx < 4102444800000000000ull, "WALLCLOCK is between 2020 and 2100");
	r = S(VMI_CALL_CONSOLE_WRITE, phys(console_msg), sizeof(console_msg) - 1);
	expect(r, sizeof(console_msg) - 1, "CONSOLE_WRITE returns the length");
	expect(S(VMI_CALL_CONSOLE_WRITE, phys(console_msg), 0), 0, "CONSOLE_WRITE of 0 bytes");
}

/* SAFE_HALT and HALT wake up on the LAPIC timer (vector 0x40). */
static void calls_halt(void)
{
	if (!apic_setup()) {
		rt_puts("no x2APIC: halt calls not exercised\n");
		rt_failures++;
		return;
	}
	uint32_t t0 = vmi_timer_ticks;
	timer_arm(200000, 0);
	expect(S(VMI_CALL_SAFE_HALT), 0, "SAFE_HALT returns");
	__asm__ volatile("cli");
	rt_check(vmi_timer_ticks == t0 + 1, "SAFE_HALT woke up on the timer interrupt");
	/* HALT keeps IF: with IF=1 a periodic tick ends it even if one tick
	 * slipped in before the trap. */
	t0 = vmi_timer_ticks;
	timer_arm(1000000, 1);
	__asm__ volatile("sti");
	expect(S(VMI_CALL_HALT), 0, "HALT with IF set returns");
	__asm__ volatile("cli");
	timer_stop();
	rt_check(vmi_timer_ticks > t0, "HALT woke up on the timer interrupt");
}

/* ---- error paths (SPEC 6.4, 7) through the guest's thunk ---- */

static void errors(void)
{
	uint64_t cr0 = read_cr(0), cr4 = read_cr(4);
	uint64_t *pte = (uint64_t *)scratch;
	struct res r;

	expect(T(41), VMI_ENOSYS, "call 41 (beyond 1.0): ENOSYS");
	expect(T(0xffffffffull), VMI_ENOSYS, "call 0xffffffff: ENOSYS");
	expect(T(1ull << 32), VMI_ENOSYS, "call 2^32 (64-bit RAX): ENOSYS");
	r = T(VMI_CALL_VERSION);
	expect(r, VMI_VERSION(1, 0), "VERSION through the guest's thunk");

	expect(T(VMI_CALL_WRITE_CR0, cr0 & ~(1ull << 31)), VMI_EINVAL, "WRITE_CR0 without PG: EINVAL");
	expect(T(VMI_CALL_WRITE_CR0, cr0 | (1ull << 32)), VMI_EINVAL, "WRITE_CR0 bit 32: EINVAL");
	expect(T(VMI_CALL_WRITE_CR0, cr0 | (1ull << 29)), VMI_EINVAL, "WRITE_CR0 NW without CD: EINVAL");
	expect(T(VMI_CALL_WRITE_CR3, read_cr(3) | (1ull << 62)), VMI_EINVAL, "WRITE_CR3 reserved bit: EINVAL");
	expect(T(VMI_CALL_WRITE_CR3, NOT_RAM), VMI_EFAULT, "WRITE_CR3 outside RAM: EFAULT");
	expect(T(VMI_CALL_WRITE_CR4, cr4 & ~0x20ull), VMI_EINVAL, "WRITE_CR4 without PAE: EINVAL");
	expect(T(VMI_CALL_WRITE_CR4, cr4 | (1ull << 13)), VMI_EINVAL, "WRITE_CR4 VMXE: EINVAL");
	expect(T(VMI_CALL_WRITE_CR4, cr4 | (1ull << 15)), VMI_EINVAL, "WRITE_CR4 reserved bit 15: EINVAL");
	rt_check(read_cr(0) == cr0 && read_cr(4) == cr4, "refused CR writes changed nothing");

	r = T(VMI_CALL_RDMSR, 1ull << 32, 0, 0x77);
	rt_check(rax_of(r) == VMI_EINVAL && r.rdx == 0x77, "RDMSR index bit 32: EINVAL, RDX unchanged");
	expect(T(VMI_CALL_RDMSR, 0x4b564dffu), VMI_EINVAL, "RDMSR of a missing MSR: EINVAL");
	expect(T(VMI_CALL_WRMSR, 1ull << 32, 0), VMI_EINVAL, "WRMSR index bit 32: EINVAL");
	expect(T(VMI_CALL_WRMSR, VMI_MSR_VERSION, 0x20000), VMI_EINVAL,
	       "WRMSR(MSR_VERSION, 2.0) through a call: EINVAL");

	expect(T(VMI_CALL_LOAD_GDT, NONCANON, 0x7f), VMI_EINVAL, "LOAD_GDT non-canonical: EINVAL");
	expect(T(VMI_CALL_LOAD_IDT, phys(idt), 0x10000), VMI_EINVAL, "LOAD_IDT limit > 0xffff: EINVAL");
	expect(T(VMI_CALL_LOAD_LDT, SEL_LDT | 4), VMI_EINVAL, "LOAD_LDT with TI: EINVAL");
	expect(T(VMI_CALL_LOAD_LDT, 0x10000), VMI_EINVAL, "LOAD_LDT selector > 0xffff: EINVAL");
	expect(T(VMI_CALL_LOAD_LDT, RT_SEL_CODE64), VMI_EINVAL, "LOAD_LDT of a code segment: EINVAL");
	expect(T(VMI_CALL_LOAD_TR, 0), VMI_EINVAL, "LOAD_TR(0): EINVAL");
	expect(T(VMI_CALL_LOAD_TR, SEL_TSS), VMI_EINVAL, "LOAD_TR of a busy TSS: EINVAL");

	expect(T(VMI_CALL_WRITE_GDT_ENTRY, phys(&gdt[10]), 0, 0, 12), VMI_EINVAL, "WRITE_GDT_ENTRY size 12: EINVAL");
	expect(T(VMI_CALL_WRITE_GDT_ENTRY, phys(&gdt[10]) + 4, 0, 0, 8), VMI_EINVAL, "WRITE_GDT_ENTRY misaligned: EINVAL");
	expect(T(VMI_CALL_WRITE_GDT_ENTRY, NOT_RAM, 0, 0, 8), VMI_EFAULT, "WRITE_GDT_ENTRY outside RAM: EFAULT");
	expect(T(VMI_CALL_WRITE_IDT_ENTRY, phys(&idt[0x3f]), 0, 0, 8), VMI_EINVAL, "WRITE_IDT_ENTRY size 8: EINVAL");
	expect(T(VMI_CALL_LOAD_SP0, NONCANON), VMI_EINVAL, "LOAD_SP0 non-canonical: EINVAL");
	expect(T(VMI_CALL_LOAD_TLS, phys(&gdt[11]), phys(pte), 0), VMI_EINVAL, "LOAD_TLS count 0: EINVAL");
	expect(T(VMI_CALL_LOAD_TLS, phys(&gdt[11]), phys(pte), 4), VMI_EINVAL, "LOAD_TLS count 4: EINVAL");
	expect(T(VMI_CALL_LOAD_TLS, phys(&gdt[11]), NOT_RAM, 1), VMI_EFAULT, "LOAD_TLS source outside RAM: EFAULT");

	expect(T(VMI_CALL_SET_PXE, 0, phys(pte), 1), VMI_EINVAL, "SET_PXE level 0: EINVAL");
	expect(T(VMI_CALL_SET_PXE, 5, phys(pte), 1), VMI_EINVAL, "SET_PXE level 5 without LA57: EINVAL");
	expect(T(VMI_CALL_SET_PXE, 1, phys(pte) + 4, 1), VMI_EINVAL, "SET_PXE misaligned: EINVAL");
	expect(T(VMI_CALL_SET_PXE, 1, NOT_RAM, 1), VMI_EFAULT, "SET_PXE outside RAM: EFAULT");
	expect(T(VMI_CALL_SET_PXE, 1, 0xfffffffffffffff8ull, 1), VMI_EFAULT, "SET_PXE at 2^64-8: EFAULT");
	expect(T(VMI_CALL_ALLOC_PT, 1, phys(scratch) + 8), VMI_EINVAL, "ALLOC_PT unaligned: EINVAL");
	expect(T(VMI_CALL_ALLOC_PT, 1, NOT_RAM), VMI_EFAULT, "ALLOC_PT outside RAM: EFAULT");
	expect(T(VMI_CALL_FLUSH_TLB_ONE, NONCANON), VMI_EINVAL, "FLUSH_TLB_ONE non-canonical: EINVAL");
	expect(T(VMI_CALL_FLUSH_TLB_OTHERS, phys(pte), 0, 0, 1), VMI_EINVAL, "FLUSH_TLB_OTHERS 0 words: EINVAL");
	expect(T(VMI_CALL_FLUSH_TLB_OTHERS, phys(pte), 17, 0, 1), VMI_EINVAL, "FLUSH_TLB_OTHERS 17 words: EINVAL");
	expect(T(VMI_CALL_FLUSH_TLB_OTHERS, phys(pte), 1, 2, 1), VMI_EINVAL, "FLUSH_TLB_OTHERS start > end: EINVAL");
	expect(T(VMI_CALL_FLUSH_TLB_OTHERS, NOT_RAM, 1, 0, 1), VMI_EFAULT, "FLUSH_TLB_OTHERS mask outside RAM: EFAULT");

	expect(T(VMI_CALL_ALARM_SET, 3, 0, 0, 40), VMI_EINVAL, "ALARM_SET mode 3: EINVAL");
	expect(T(VMI_CALL_ALARM_SET, 1, 0, 0, 31), VMI_EINVAL, "ALARM_SET vector 31: EINVAL");
	expect(T(VMI_CALL_ALARM_SET, 2, 0, 9999, 40), VMI_EINVAL, "ALARM_SET period < 10 us: EINVAL");
	expect(T(VMI_CALL_CONSOLE_WRITE, phys(console_msg), 4097), VMI_E2BIG, "CONSOLE_WRITE 4097 bytes: E2BIG");
	expect(T(VMI_CALL_CONSOLE_WRITE, NOT_RAM, 4), VMI_EFAULT, "CONSOLE_WRITE outside RAM: EFAULT");
	expect(T(VMI_CALL_BATCH_FLUSH), VMI_ENODEV, "BATCH_FLUSH without a per-vCPU page: ENODEV");
}

/* ---- per-vCPU page and the lazy queue (SPEC 4.3, 8) ---- */

static void queue_put(unsigned i, uint64_t call, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
	vcpu_page.queue[i].call = call;
	vcpu_page.queue[i].args[0] = a1;
	vcpu_page.queue[i].args[1] = a2;
	vcpu_page.queue[i].args[2] = a3;
	vcpu_page.queue[i].args[3] = a4;
	vcpu_page.queue[i].result = 0x5555;
}

/* VMI time from the clock page (SPEC 10): Linux's pvclock reader. */
static uint64_t pvclock_ns(void)
{
	volatile struct vmi_pvclock *k = &vcpu_page.clock;
	uint32_t v1, v2;
	uint64_t ns;
	do {
		v1 = k->version;
		__asm__ volatile("" ::: "memory");
		uint64_t d = rdtsc() - k->tsc_timestamp;
		int8_t sh = k->tsc_shift;
		d = sh >= 0 ? d << sh : d >> -sh;
		ns = k->system_time + (uint64_t)(((unsigned __int128)d * k->tsc_to_system_mul) >> 32);
		__asm__ volatile("" ::: "memory");
		v2 = k->version;
	} while (v1 != v2 || (v1 & 1));
	return ns;
}

static void wait_irq(void)
{
	__asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
}

static void time_tests(void)
{
	rt_check(vcpu_page.clock.version && !(vcpu_page.clock.version & 1) &&
		 vcpu_page.clock.tsc_to_system_mul, "the clock page is filled");
	uint64_t t1 = pvclock_ns();
	timer_arm(1000000, 0);
	wait_irq();
	uint64_t t2 = pvclock_ns();
	if (t2 - t1 < 900000 || t2 - t1 > 1000000000ull)
		rt_printf("  1 ms LAPIC timer took %lu ns of VMI time\n", (unsigned long)(t2 - t1));
	rt_check(t2 - t1 >= 900000 && t2 - t1 < 1000000000ull,
		 "VMI time advances with the LAPIC timer (1 ms)");

	uint32_t n = vmi_timer_ticks;
	uint64_t dl = pvclock_ns() + 300000;
	expect(S(VMI_CALL_ALARM_SET, VMI_ALARM_ONESHOT, dl, 0, 0x40), 0, "ALARM_SET(ONESHOT, +300 us)");
	while (vmi_timer_ticks == n)
		wait_irq();
	uint64_t now = pvclock_ns();
	rt_check(now >= dl && now - dl < 1000000000ull, "the one-shot alarm fires at its deadline");
	n = vmi_timer_ticks;
	dl = pvclock_ns() + 200000;
	expect(S(VMI_CALL_ALARM_SET, VMI_ALARM_PERIODIC, dl, 200000, 0x40), 0,
	       "ALARM_SET(PERIODIC, 200 us)");
	while (vmi_timer_ticks < n + 3)
		wait_irq();
	expect(S(VMI_CALL_ALARM_SET, VMI_ALARM_OFF, 0, 0, 0), 0, "ALARM_SET(OFF)");
	rt_check(pvclock_ns() >= dl + 2 * 200000, "three periodic ticks took at least two periods");
}

static void queue_tests(void)
{
	uint64_t *pte = (uint64_t *)scratch;
	struct res r;
	uint64_t v;

	rt_check(vmi_wrmsr_safe(msr_vcpu_page, phys(&vcpu_page) | 2) == 13, "MSR_VCPU_PAGE reserved bit: #GP");
	rt_check(vmi_wrmsr_safe(msr_vcpu_page, NOT_RAM | 1) == 13, "MSR_VCPU_PAGE outside RAM: #GP");
	__asm__ volatile("sti");
	int w = vmi_wrmsr_safe(msr_vcpu_page, phys(&vcpu_page) | 1);
	__asm__ volatile("cli");
	rt_check(w == 0, "MSR_VCPU_PAGE registers the page");
	rt_check(vmi_rdmsr_safe(msr_vcpu_page, &v) == 0 && v == (phys(&vcpu_page) | 1), "MSR_VCPU_PAGE reads back");
	rt_check(vcpu_page.irq_enabled == 1 && vcpu_page.queue_count == 0,
		 "the page starts with irq_enabled = IF and an empty queue");
	time_tests();

	r = S(VMI_CALL_BATCH_FLUSH);
	rt_check(rax_of(r) == 0 && r.rdx == 0, "BATCH_FLUSH of an empty queue");
	pte[20] = pte[21] = 0;
	queue_put(0, VMI_CALL_SET_PXE, 1, phys(&pte[20]), 0x1111, 0);
	queue_put(1, VMI_CALL_SET_PXE, 1, phys(&pte[21]), 0x2222, 0);
	queue_put(2, VMI_CALL_WRITE_GDT_ENTRY, phys(&gdt[14]), 0x3333, 0, 8);
	vcpu_page.queue_count = 3;
	r = S(VMI_CALL_BATCH_FLUSH);
	rt_check(rax_of(r) == 0 && r.rdx == 3, "BATCH_FLUSH runs 3 entries");
	rt_check(pte[20] == 0x1111 && pte[21] == 0x2222 && gdt[14] == 0x3333, "their effects are visible");
	rt_check(vcpu_page.queue_count == 0 && vcpu_page.queue_done == 3 &&
		 vcpu_page.queue[0].result == 0 && vcpu_page.queue[2].result == 0,
		 "count cleared, done 3, results 0");

	queue_put(0, VMI_CALL_SET_PXE, 1, phys(&pte[20]), 0x4444, 0);
	queue_put(1, VMI_CALL_SET_PXE, 9, phys(&pte[21]), 0x5555, 0);
	queue_put(2, VMI_CALL_SET_PXE, 1, phys(&pte[22]), 0x6666, 0);
	vcpu_page.queue_count = 3;
	r = S(VMI_CALL_BATCH_FLUSH);
	rt_check(rax_of(r) == VMI_EINVAL && r.rdx == 1, "a bad entry stops the queue: EINVAL, 1 done");
	rt_check(vcpu_page.queue[0].result == 0 && vcpu_page.queue[1].result == VMI_EINVAL &&
		 vcpu_page.queue[2].result == VMI_ECANCELED && pte[20] == 0x4444 && pte[22] == 0,
		 "results 0, EINVAL, ECANCELED; the third did not run");

	queue_put(0, VMI_CALL_VERSION, 0, 0, 0, 0);
	vcpu_page.queue_count = 1;
	r = S(VMI_CALL_BATCH_FLUSH);
	rt_check(rax_of(r) == VMI_EINVAL && r.rdx == 0, "a non-batchable entry: EINVAL");

	queue_put(0, VMI_CALL_SET_PXE, 1, phys(&pte[23]), 0x7777, 0);
	vcpu_page.queue_count = 65;
	r = S(VMI_CALL_BATCH_FLUSH);
	rt_check(rax_of(r) == VMI_E2BIG && pte[23] == 0 && vcpu_page.queue_count == 0 &&
		 vcpu_page.queue_done == 0, "65 entries: E2BIG, nothing runs, queue discarded");

	/* A draining call runs the queue first (SPEC 8). */
	queue_put(0, VMI_CALL_SET_PXE, 1, phys(&pte[24]), 0x8888, 0);
	vcpu_page.queue_count = 1;
	expect(T(VMI_CALL_WRITE_CR3, read_cr(3)), 0, "WRITE_CR3 drains the queue first");
	rt_check(pte[24] == 0x8888 && vcpu_page.queue_count == 0, "the queued entry ran");
	queue_put(0, VMI_CALL_SET_PXE, 1, NOT_RAM, 0, 0);
	vcpu_page.queue_count = 1;
	expect(T(VMI_CALL_WRITE_CR2, 0x777000), VMI_ECANCELED, "a failing implicit flush: ECANCELED");
	rt_check(read_cr(2) != 0x777000, "the cancelled call had no effect");
	rt_check(vcpu_page.queue[0].result == VMI_EFAULT, "the queue entry holds EFAULT");

	rt_check(vmi_wrmsr_safe(msr_vcpu_page, 0) == 0, "MSR_VCPU_PAGE write 0 unregisters");
	expect(T(VMI_CALL_BATCH_FLUSH), VMI_ENODEV, "BATCH_FLUSH after unregistering: ENODEV");
}

/* ---- bench (bench/vmi-cost.sh): cycles per op, native vs call ---- */

#define BENCH_N 500

static void bench_line(const char *what, uint64_t native, uint64_t call)
{
	rt_printf("bench %s: native %lu cycles, vmi %lu cycles\n", what,
		  (unsigned long)(native / BENCH_N), (unsigned long)(call / BENCH_N));
}

static void bench(void)
{
	uint64_t t, n1, n2;
	const void *dis = thunk(VMI_CALL_IRQ_DISABLE);

	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++)
		__asm__ volatile("sti\n\tcli" ::: "memory");
	n1 = rdtsc() - t;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++) {
		S(VMI_CALL_IRQ_ENABLE);
		call_at(dis, 0, 0, 0, 0, 0, 0);
	}
	n2 = rdtsc() - t;
	bench_line("cli+sti", n1, n2);

	uint64_t cr3 = read_cr(3);
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++)
		__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	n1 = rdtsc() - t;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++)
		S(VMI_CALL_WRITE_CR3, cr3);
	n2 = rdtsc() - t;
	bench_line("cr3 write", n1, n2);

	uint64_t va = 0x3fe00000ull, pde = (511ull << 21) | 0x83;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++) {
		rt_pd[511] = pde;
		__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
	}
	n1 = rdtsc() - t;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++) {
		S(VMI_CALL_SET_PXE, 2, phys(&rt_pd[511]), pde);
		S(VMI_CALL_FLUSH_TLB_ONE, va);
	}
	n2 = rdtsc() - t;
	bench_line("pte write+invlpg", n1, n2);

	if (!apic_setup())
		return;
	idt[0x40] = make_gate(vmi_timer_isr, 0);
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++) {
		timer_arm(1000, 0);
		__asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
	}
	n1 = rdtsc() - t;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++) {
		timer_arm(1000, 0);
		S(VMI_CALL_SAFE_HALT, 0);
		__asm__ volatile("cli");
	}
	n2 = rdtsc() - t;
	bench_line("hlt wakeup (1 us timer)", n1, n2);
	/* Baseline: an ordinary port write that exits to the core (POST 0x80). */
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++)
		outb(0x80, 0);
	n1 = rdtsc() - t;
	t = rdtsc();
	for (int i = 0; i < BENCH_N; i++)
		S(VMI_CALL_VERSION, 0);
	n2 = rdtsc() - t;
	bench_line("out 0x80 vs VERSION", n1, n2);
	/* The same without the call around it: the host's share of a call. */
	if (hdr->transport == VMI_TRANSPORT_PIO) {
		t = rdtsc();
		for (int i = 0; i < BENCH_N; i++)
			__asm__ volatile("xorl %%eax, %%eax\n\toutl %%eax, $0xe4"
					 : : : "rax", "rdx", "memory");
		n2 = rdtsc() - t;
		bench_line("out 0x80 vs bare trap", n1, n2);
	}
}

/* ---- main ---- */

int vmi_main64(uint32_t mbi)
{
	enum mode mode = parse_mode(mbi);
	uint32_t required = mode == M_REFUSE_MINOR ? VMI_VERSION(1, 1) :
			    mode == M_REFUSE_MAJOR ? VMI_VERSION(2, 0) : VMI_VERSION(1, 0);
	uint64_t v;
	struct res r;

	rt_idt_init();
	tables_setup();
	rt_printf("vmi-conformance: guest requires %u.%u\n", VMI_VERSION_MAJ(required),
		  VMI_VERSION_MIN(required));

	uint32_t base = vmi_find_base(), c[4] = { 0, 0, 0, 0 };
	if (mode == M_ABSENT) {
		rt_check(base == 0, "no VMI signature in 0x40000000-0x4000ff00");
		rt_check(vmi_rdmsr_safe(VMI_MSR_VERSION, &v) == 13, "RDMSR MSR_VERSION: #GP");
		rt_check(vmi_wrmsr_safe(VMI_MSR_VERSION, VMI_VERSION(1, 0)) == 13, "WRMSR MSR_VERSION: #GP");
		rt_check(vmi_wrmsr_safe(VMI_MSR_PAGE, phys(abi_page) | 1) == 13, "WRMSR MSR_PAGE: #GP");
		rt_check(vmi_wrmsr_safe(VMI_MSR_VCPU_PAGE, phys(&vcpu_page) | 1) == 13,
			 "WRMSR MSR_VCPU_PAGE: #GP");
		rt_check(abi_page[0] == 0, "nothing was written to the page");
		goto done;
	}
	rt_check(base != 0, "VMI signature found");
	if (!base)
		goto done;
	rt_printf("cpuid base 0x%x\n", base);
	rt_cpuid(base, 0, c);
	rt_check(c[0] >= base + 2, "base+0 EAX covers base+2");
	rt_cpuid(base + 1, 0, c);
	uint32_t offered = c[0];
	backend = c[3];
	rt_printf("offered %u.%u, features 0x%x:%x\n", VMI_VERSION_MAJ(offered),
		  VMI_VERSION_MIN(offered), c[2], c[1]);
	rt_check(backend <= 1, "backend is 0 or 1");
	rt_cpuid(base + 2, 0, c);
	rt_check(c[0] == 1 && c[1] == VMI_MSR_VERSION && c[2] == VMI_MSR_PAGE &&
		 c[3] == VMI_MSR_VCPU_PAGE, "base+2: page size and MSR indices");
	msr_version = c[1];
	msr_page = c[2];
	msr_vcpu_page = c[3];
	rt_check(vmi_rdmsr_safe(msr_version, &v) == 0 && v == offered, "MSR_VERSION reads the offered version");

	enum vmi_check neg = vmi_negotiate(offered, required);
	static const char *const names[] = { "accept", "absent", "refuse major", "refuse minor", "corrupt" };
	rt_printf("negotiation: %s\n", names[neg]);
	if (mode == M_REFUSE_MINOR || mode == M_REFUSE_MAJOR) {
		rt_check(neg == (mode == M_REFUSE_MINOR ? VMI_CHECK_MINOR : VMI_CHECK_MAJOR),
			 "CPUID alone tells the guest it is refused");
		check_refused(required, neg);
		goto done;
	}
	if (!rt_check(neg == VMI_CHECK_OK, "1.0 accepted"))
		goto done;

	/* Installation (SPEC 4) and its refusals. */
	r = T(VMI_CALL_VERSION);
	rt_check(r.vector == 6 && r.ip == phys(thunk_buf) + 10, "a call before installation raises #UD");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page) | 1) == 13, "MSR_PAGE before the handshake: #GP");
	rt_check(vmi_wrmsr_safe(msr_version, (1ull << 32) | VMI_VERSION(1, 0)) == 13, "MSR_VERSION bits 63:32: #GP");
	rt_check(vmi_wrmsr_safe(msr_version, VMI_VERSION(2, 0)) == 13, "MSR_VERSION major 2: #GP");
	rt_check(vmi_wrmsr_safe(msr_version, VMI_VERSION(1, 1)) == 13, "MSR_VERSION minor 1: #GP");
	rt_check(vmi_wrmsr_safe(msr_version, VMI_VERSION(1, 0)) == 0, "MSR_VERSION 1.0 accepted");
	rt_check(vmi_wrmsr_safe(msr_version, VMI_VERSION(1, 0)) == 0, "repeating the handshake is harmless");
	rt_check(vmi_wrmsr_safe(msr_vcpu_page, phys(&vcpu_page) | 1) == 13, "MSR_VCPU_PAGE before the page: #GP");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page)) == 13, "MSR_PAGE without the enable bit: #GP");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page) | 3) == 13, "MSR_PAGE bit 1: #GP");
	rt_check(vmi_wrmsr_safe(msr_page, NOT_RAM | 1) == 13, "MSR_PAGE outside RAM: #GP");
	rt_check(abi_page[0] == 0, "refused writes left the page alone");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page) | 1) == 0, "MSR_PAGE installs the page");
	rt_check(vmi_rdmsr_safe(msr_page, &v) == 0 && v == (phys(abi_page) | 1), "MSR_PAGE reads back");

	check_page(required, offered);
	if (mode == M_BENCH) {
		bench();
		goto done;
	}
	xmm_arm();
	calls_cpu();
	calls_mmu();
	calls_misc();
	calls_halt();
	errors();
	queue_tests();
	cpl3_tests();
	rt_check(xmm_bad == 0, "XMM0-15 survive every call");

	/* Uninstall: calls #UD again, NOP stubs still return 0 (SPEC 4.2, 5.5). */
	rt_check(vmi_wrmsr_safe(msr_page, 0) == 0, "MSR_PAGE 0 uninstalls");
	r = S(VMI_CALL_VERSION);
	rt_check(r.vector == 6 && r.ip == phys(stub(VMI_CALL_VERSION)) + 9,
		 "a call after uninstalling raises #UD at the trap");
	expect(S(VMI_CALL_IO_DELAY), 0, "a NOP stub still returns 0");
	rt_check(vmi_wrmsr_safe(msr_page, phys(abi_page) | 1) == 0, "the page can be installed again");

done:
	rt_printf("vmi-conformance: %d failure(s)\n", rt_failures);
	if (rt_failures || mode == M_BENCH || mode == M_ABSENT || mode == M_REFUSE_MINOR ||
	    mode == M_REFUSE_MAJOR)
		return rt_failures ? RT_FAIL : RT_PASS;
	/* SHUTDOWN (status 0) or REBOOT (status 4): neither returns. */
	r = S(mode == M_REBOOT ? VMI_CALL_REBOOT : VMI_CALL_SHUTDOWN);
	rt_printf("FAIL: %s returned %ld\n", mode == M_REBOOT ? "REBOOT" : "SHUTDOWN", (long)rax_of(r));
	return RT_FAIL;
}
