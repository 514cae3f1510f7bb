/* VMI discovery and installation for the freestanding guests
 * (vmi-abi/SPEC.md 3-4). Shared by tests/guests/vmi-conformance-64.c, which
 * checks every step on its own, and tests/guests-bench/nano-64.c, which only
 * needs a working page. Header-only so that neither guest's link line changes.
 * Long mode only: the ABI is not defined for other modes (SPEC 1). Pages are
 * passed by pointer and must be identity-mapped (the runtime's map is). */
#ifndef VMLITE_GUEST_VMI_RT_H
#define VMLITE_GUEST_VMI_RT_H

#ifndef __x86_64__
#error "the VMI ABI is defined for long mode only"
#endif

#include "rt.h"
#include "vmi_guest.h"

/* 0, or the vector of the exception the access raised: without vmlite the
 * VMI MSRs #GP (SPEC 4.4), and that must mean "run native", not a crash. */
static inline int vmi_wrmsr_safe(uint32_t msr, uint64_t v)
{
	uint32_t n = rt_exc.count;
	__asm__ volatile(RT_TRY("wrmsr") : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
	rt_recover = 0;
	return rt_exc.count != n ? (int)rt_exc.vector : 0;
}

static inline int vmi_rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t n = rt_exc.count, lo = 0, hi = 0;
	__asm__ volatile(RT_TRY("rdmsr") : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	rt_recover = 0;
	*v = ((uint64_t)hi << 32) | lo;
	return rt_exc.count != n ? (int)rt_exc.vector : 0;
}

/* The CPUID base of the VMI leaves, or 0 (SPEC 3.1). The hypervisor bit
 * comes first: on bare hardware the 0x4000xxxx leaves echo other leaves. */
static inline uint32_t vmi_find_base(void)
{
	uint32_t r[4];
	rt_cpuid(1, 0, r);
	if (!(r[2] >> 31))
		return 0;
	for (uint32_t k = 0; k < 256; k++) {
		uint32_t base = VMI_CPUID_BASE_FIRST + k * VMI_CPUID_BASE_STEP;
		rt_cpuid(base, 0, r);
		if (vmi_cpuid_sig_ok(r[1], r[2], r[3]))
			return r[0] >= base + 2 ? base : 0;
	}
	return 0;
}

struct vmi_probe {
	uint32_t base;          /* 0: no signature */
	uint32_t offered;       /* CPUID base+1 EAX */
	uint32_t backend;       /* enum vmi_backend */
	uint32_t msr_version, msr_page, msr_vcpu_page;
	const char *why;        /* after a refusal: which step refused */
};

/* SPEC 4.6 up to the per-vCPU page, which a guest registers on each vCPU
 * itself (p->msr_vcpu_page): discovery, handshake, ABI page, page check.
 * VMI_CHECK_OK, or why the guest must run native (p->why names the step); a
 * page that fails its check is uninstalled again, as SPEC 4.5 requires. */
static inline enum vmi_check vmi_install(struct vmi_probe *p, uint32_t required, void *page)
{
	uint32_t r[4];
	enum vmi_check c;

	p->why = "no VMI signature in CPUID 0x40000000-0x4000ff00";
	p->base = vmi_find_base();
	if (!p->base)
		return VMI_CHECK_ABSENT;
	rt_cpuid(p->base + 1, 0, r);
	p->offered = r[0];
	p->backend = r[3];
	rt_cpuid(p->base + 2, 0, r);
	p->msr_version = r[1];
	p->msr_page = r[2];
	p->msr_vcpu_page = r[3];
	p->why = "offered version refused";
	c = vmi_negotiate(p->offered, required);
	if (c != VMI_CHECK_OK)
		return c;
	p->why = "MSR_VERSION write raised an exception";
	if (vmi_wrmsr_safe(p->msr_version, required))
		return VMI_CHECK_ABSENT;
	p->why = "MSR_PAGE write raised an exception";
	if (vmi_wrmsr_safe(p->msr_page, (uint64_t)(uintptr_t)page | VMI_MSR_ENABLE))
		return VMI_CHECK_ABSENT;
	p->why = "the ABI page failed its check";
	c = vmi_page_check(page, VMI_PAGE_SIZE, required);
	if (c != VMI_CHECK_OK) {
		vmi_wrmsr_safe(p->msr_page, 0);
		return c;
	}
	p->why = 0;
	return VMI_CHECK_OK;
}

/* Stub of call nr, or null if the page does not have the call. */
static inline const void *vmi_stub(const void *page, uint32_t nr)
{
	const struct vmi_call_desc *d = vmi_page_desc(page, nr);
	return d ? (const uint8_t *)page + d->stub_off : 0;
}

/* A call with up to three arguments (SPEC 6.1) and no exception recovery:
 * the stub changes only RAX, RDX and the arithmetic flags (6.3), so the
 * compiler may keep everything else live across it; no red zone to step on
 * (-mno-red-zone). Returns RAX; RDX (a second result) is dropped. */
static inline uint64_t vmi_call3(const void *fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t rax, rdx = a3;
	__asm__ volatile("call *%[fn]"
			 : "=a"(rax), "+d"(rdx)
			 : [fn] "r"(fn), "D"(a1), "S"(a2)
			 : "memory", "cc");
	return rax;
}

#endif
