/* VMI call classes (vmi-abi/SPEC.md) as nanobenchmarks: one representative
 * operation per call group, made the way a paravirtualized kernel makes it,
 * so each is the para counterpart of a native kernel in nano-64.c:
 *   vmi_version    VERSION: a call that does nothing, i.e. the bare call cost
 *   vmi_irq        IRQ_SAVE_FL + IRQ_DISABLE + IRQ_RESTORE_FL (local_irq_save
 *                  and restore), done as the descriptors say: NATIVE keeps
 *                  pushf/cli/popf, SHARED is the inline byte protocol of
 *                  SPEC 9, anything else calls the stubs   (native: irqsave)
 *   vmi_cr3        WRITE_CR3 of the current CR3           (native: cr3wr)
 *   vmi_pte        SET_PXE of a PTE + FLUSH_TLB_ONE       (native: ptemod)
 *   vmi_batch      SET_PXE of 16 PTEs queued in the lazy queue, one
 *                  BATCH_FLUSH; reported per PTE           (native: ptemod)
 *   vmi_wallclock  WALLCLOCK (group TIME): a call that asks the host's clock
 * Apart from the IRQ group, the calls go through their stubs even where the
 * descriptor says NATIVE (the MMU group on the hardware backend): the point
 * is what each class of call costs on each engine; the native kernels give
 * the other side. SAFE_HALT/HALT are left out: they wait for an interrupt,
 * so they would time the interrupt source, not the call. */
#include "benchrt.h"
#include "nano-vmi.h"
#include "vmi-rt.h"

enum { K_VERSION, K_IRQ, K_CR3, K_PTE, K_BATCH, K_WALLCLOCK };
enum irq_mode { IRQ_NATIVE, IRQ_SHARED, IRQ_CALL };

#define BATCH 16

uint64_t nano_irqsave(uint64_t n);      /* nano-isr.S */

static uint8_t abi_page[VMI_PAGE_SIZE] __attribute__((aligned(4096)));
static struct vmi_vcpu_page vcpu_page __attribute__((aligned(4096)));
static int inited;
static const char *absent;      /* why no VMI kernel can run */
static const char *no_vcpu;     /* why the kernels that need the vCPU page cannot */
static enum irq_mode irq_mode;
static uint64_t page_va;
static volatile uint64_t *ptes;
static uint64_t pte_val[BATCH];

static uint64_t phys(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;          /* identity-mapped */
}

static const void *stub(uint32_t nr)
{
	return vmi_stub(abi_page, nr);
}

static unsigned kind(uint32_t nr)
{
	return vmi_page_desc(abi_page, nr)->kind;
}

/* The group rule (SPEC 5.4) treats calls 1-4 alike. A page that mixes kinds
 * in the group gets the stubs, which are correct whatever the kinds. */
static enum irq_mode irq_mode_of_page(void)
{
	unsigned k = kind(VMI_CALL_IRQ_SAVE_FL);
	for (uint32_t nr = VMI_CALL_IRQ_SAVE_FL; nr <= VMI_CALL_IRQ_ENABLE; nr++)
		if (kind(nr) != k)
			return IRQ_CALL;
	return k == VMI_KIND_NATIVE ? IRQ_NATIVE : k == VMI_KIND_SHARED ? IRQ_SHARED : IRQ_CALL;
}

static void init(uint64_t va)
{
	static const char *const modes[] = { "native", "shared", "call" };
	struct vmi_probe p;

	inited = 1;
	page_va = va;
	ptes = bench_pte(va);
	for (unsigned i = 0; i < BATCH; i++)
		pte_val[i] = ptes[i];
	if (vmi_install(&p, VMI_VERSION(1, 0), abi_page) != VMI_CHECK_OK) {
		absent = p.base ? p.why : "no VMI CPUID signature (engine without VMI, or --vmi off)";
		return;
	}
	const struct vmi_page_header *h = (const struct vmi_page_header *)abi_page;
	if (h->ncalls < VMI_NCALLS_V1_0) {
		absent = "the ABI page lacks calls of version 1.0";
		return;
	}
	if (vmi_wrmsr_safe(p.msr_vcpu_page, phys(&vcpu_page) | VMI_MSR_ENABLE))
		no_vcpu = "MSR_VCPU_PAGE write raised an exception";
	irq_mode = irq_mode_of_page();
	if (irq_mode == IRQ_SHARED && no_vcpu)
		irq_mode = IRQ_NATIVE;          /* the byte protocol needs the page */
	rt_printf("NANO vmi %u.%u backend %s transport %s, irq group %s\n", h->major, h->minor,
		  h->backend == VMI_BACKEND_BT ? "bt" : "hw",
		  h->transport == VMI_TRANSPORT_VMCALL ? "vmcall" : "pio", modes[irq_mode]);
}

static uint64_t err_of(uint64_t rax)
{
	return VMI_IS_ERROR(rax) ? rax : 0;
}

static uint64_t irq_pairs(uint64_t n)
{
	uint64_t err = 0;
	if (irq_mode == IRQ_NATIVE) {
		nano_irqsave(n);
		return 0;
	}
	if (irq_mode == IRQ_SHARED) {
		volatile uint8_t *page = (volatile uint8_t *)&vcpu_page;
		volatile uint8_t *save = page + vmi_page_desc(abi_page, VMI_CALL_IRQ_SAVE_FL)->aux;
		volatile uint8_t *flag = page + vmi_page_desc(abi_page, VMI_CALL_IRQ_DISABLE)->aux;
		const void *enable = stub(VMI_CALL_IRQ_ENABLE);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t fl = (uint64_t)*save << 9;
			*flag = 0;
			if (fl & 0x200) {
				*flag = 1;
				if (vcpu_page.irq_pending)
					err |= err_of(vmi_call3(enable, 0, 0, 0));
			} else {
				*flag = 0;
			}
		}
		return err;
	}
	const void *save = stub(VMI_CALL_IRQ_SAVE_FL), *dis = stub(VMI_CALL_IRQ_DISABLE),
		   *restore = stub(VMI_CALL_IRQ_RESTORE_FL);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t fl = vmi_call3(save, 0, 0, 0);
		err |= err_of(vmi_call3(dis, 0, 0, 0));
		err |= err_of(vmi_call3(restore, fl, 0, 0));
	}
	return err;
}

/* In batches of up to BATCH entries, so exactly n PTEs are written. */
static uint64_t batch(uint64_t n)
{
	const void *flush = stub(VMI_CALL_BATCH_FLUSH);
	uint64_t err = 0;
	while (n) {
		unsigned m = n < BATCH ? (unsigned)n : BATCH;
		for (unsigned i = 0; i < m; i++) {
			struct vmi_queue_entry *e = &vcpu_page.queue[i];
			e->call = VMI_CALL_SET_PXE;
			e->args[0] = VMI_PT_LEVEL_PTE;
			e->args[1] = phys(&ptes[i]);
			e->args[2] = pte_val[i];
		}
		vcpu_page.queue_count = m;
		err |= err_of(vmi_call3(flush, 0, 0, 0));
		n -= m;
	}
	return err;
}

uint64_t nano_vmi_run(unsigned k, uint64_t n)
{
	uint64_t err = 0, cr3;
	const void *s, *t;
	switch (k) {
	case K_VERSION:
		s = stub(VMI_CALL_VERSION);
		for (uint64_t i = 0; i < n; i++)
			err |= err_of(vmi_call3(s, 0, 0, 0));
		return err;
	case K_IRQ:
		return irq_pairs(n);
	case K_CR3:
		s = stub(VMI_CALL_WRITE_CR3);
		__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
		for (uint64_t i = 0; i < n; i++)
			err |= vmi_call3(s, cr3, 0, 0);
		return err;
	case K_PTE:
		s = stub(VMI_CALL_SET_PXE);
		t = stub(VMI_CALL_FLUSH_TLB_ONE);
		for (uint64_t i = 0; i < n; i++) {
			err |= vmi_call3(s, VMI_PT_LEVEL_PTE, phys(ptes), pte_val[0]);
			err |= vmi_call3(t, page_va, 0, 0);
		}
		return err;
	case K_BATCH:
		return batch(n);
	case K_WALLCLOCK:
		s = stub(VMI_CALL_WALLCLOCK);
		for (uint64_t i = 0; i < n; i++)
			err |= vmi_call3(s, 0, 0, 0);
		return err;
	}
	return 0;
}

int nano_vmi_ready(unsigned k, const char *name, uint64_t va)
{
	if (!inited)
		init(va);
	if (absent) {
		bench_mark_na("NANO", name, "no VMI page: %s", absent);
		return 0;
	}
	if (no_vcpu && k == K_BATCH) {
		bench_mark_na("NANO", name, "%s", no_vcpu);
		return 0;
	}
	/* One call that must succeed: an engine that refuses the operation
	 * reports that instead of a time for a failing call. */
	uint64_t err = nano_vmi_run(k, 1);
	if (err) {
		bench_mark_na("NANO", name, "the call returned %ld", (long)err);
		return 0;
	}
	return 1;
}
