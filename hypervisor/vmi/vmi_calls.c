/* The call table: number, group, flags and how each backend wants its call
 * sites treated. Append-only within major 1 (SPEC.md 3.2). */
#include "vmi_internal.h"

#define N VMI_KIND_NATIVE
#define C VMI_KIND_CALL
#define O VMI_KIND_NOP
#define S VMI_KIND_SHARED
#define B VMI_DF_BATCHABLE
#define R VMI_DF_RDX_RESULT
#define D VMI_SPEC_DRAINS

#define G_IRQ 0
#define G_CPU 1
#define G_MMU 2
#define G_TIME 3
#define G_CONSOLE 4
#define G_POWER 5
#define G_BATCH 6

#define CALL(nr, nm, h, g, fl, hw, bt, aux) \
	[nr] = { nm, h, g, fl, 0, hw, bt, aux }

/* The BT column advises what is cheapest under this translator, measured
 * (docs/vmi-design.md, "Kinds under binary translation"): its soft MMU walks
 * the guest's own page tables and never write-protects them, so a PTE store,
 * INVLPG, MOV CR3 and the TSS/GDT stores of a context switch cost less as
 * the native instructions than as calls (SET_PXE + flush ~140-190 ns vs
 * ~75 ns; WRITE_CR3 206 vs 135 ns); ALLOC_PT/RELEASE_PT have nothing to pin.
 * The calls still work through the stubs and thunks, whatever the kind.
 * IRQ 1-4 are NATIVE on BT too: the translator does not yet make CLI, STI,
 * PUSHF, POPF, IRET, gates and interrupt delivery act on the page's
 * irq_enabled byte (SPEC 9), so publishing SHARED split the flag in two: the
 * guest "enabled" interrupts in the byte while RFLAGS.IF, which delivery
 * obeys, stayed 0. Switch back to S once bt_vmi.c implements the protocol. */
const struct vmi_call_spec vmi_calls[VMI_NCALLS_MAX] = {
	CALL(VMI_CALL_VERSION, "version", vmi_h_version, G_CPU, R, C, C, 0),
	CALL(VMI_CALL_IRQ_SAVE_FL, "irq_save_fl", vmi_h_irq_save_fl, G_IRQ, 0, N, N,
	     VMI_VCPU_OFF_IRQ_ENABLED),
	CALL(VMI_CALL_IRQ_RESTORE_FL, "irq_restore_fl", vmi_h_irq_restore_fl, G_IRQ, 0, N, N,
	     VMI_VCPU_OFF_IRQ_ENABLED),
	CALL(VMI_CALL_IRQ_DISABLE, "irq_disable", vmi_h_irq_disable, G_IRQ, 0, N, N,
	     VMI_VCPU_OFF_IRQ_ENABLED),
	CALL(VMI_CALL_IRQ_ENABLE, "irq_enable", vmi_h_irq_enable, G_IRQ, 0, N, N,
	     VMI_VCPU_OFF_IRQ_ENABLED),
	CALL(VMI_CALL_SAFE_HALT, "safe_halt", vmi_h_safe_halt, G_IRQ, D, N, C, 0),
	CALL(VMI_CALL_HALT, "halt", vmi_h_halt, G_IRQ, D, N, C, 0),
	CALL(VMI_CALL_READ_CR0, "read_cr0", vmi_h_read_cr0, G_CPU, D, N, N, 0),
	CALL(VMI_CALL_WRITE_CR0, "write_cr0", vmi_h_write_cr0, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_READ_CR2, "read_cr2", vmi_h_read_cr2, G_CPU, D, N, S, VMI_VCPU_OFF_CR2),
	CALL(VMI_CALL_WRITE_CR2, "write_cr2", vmi_h_write_cr2, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_READ_CR3, "read_cr3", vmi_h_read_cr3, G_CPU, D, N, N, 0),
	CALL(VMI_CALL_WRITE_CR3, "write_cr3", vmi_h_write_cr3, G_MMU, B | D, N, N, 0),
	CALL(VMI_CALL_READ_CR4, "read_cr4", vmi_h_read_cr4, G_CPU, D, N, N, 0),
	CALL(VMI_CALL_WRITE_CR4, "write_cr4", vmi_h_write_cr4, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_RDMSR, "rdmsr", vmi_h_rdmsr, G_CPU, R | D, N, C, 0),
	CALL(VMI_CALL_WRMSR, "wrmsr", vmi_h_wrmsr, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_LOAD_GDT, "load_gdt", vmi_h_load_gdt, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_LOAD_IDT, "load_idt", vmi_h_load_idt, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_LOAD_LDT, "load_ldt", vmi_h_load_ldt, G_CPU, B | D, N, C, 0),
	CALL(VMI_CALL_LOAD_TR, "load_tr", vmi_h_load_tr, G_CPU, D, N, C, 0),
	CALL(VMI_CALL_WRITE_GDT_ENTRY, "write_gdt_entry", vmi_h_write_gdt_entry, G_CPU, B | D,
	     N, C, 0),
	CALL(VMI_CALL_WRITE_LDT_ENTRY, "write_ldt_entry", vmi_h_write_ldt_entry, G_CPU, B | D,
	     N, C, 0),
	CALL(VMI_CALL_WRITE_IDT_ENTRY, "write_idt_entry", vmi_h_write_idt_entry, G_CPU, B | D,
	     N, C, 0),
	CALL(VMI_CALL_LOAD_SP0, "load_sp0", vmi_h_load_sp0, G_CPU, B | D, N, N, 0),
	CALL(VMI_CALL_LOAD_TLS, "load_tls", vmi_h_load_tls, G_CPU, B | D, N, N, 0),
	CALL(VMI_CALL_WBINVD, "wbinvd", vmi_h_nop, G_CPU, D, O, O, 0),
	CALL(VMI_CALL_IO_DELAY, "io_delay", vmi_h_nop, G_CPU, 0, O, O, 0),
	CALL(VMI_CALL_SET_PXE, "set_pxe", vmi_h_set_pxe, G_MMU, B | D, N, N, 0),
	CALL(VMI_CALL_ALLOC_PT, "alloc_pt", vmi_h_alloc_pt, G_MMU, B | D, O, O, 0),
	CALL(VMI_CALL_RELEASE_PT, "release_pt", vmi_h_release_pt, G_MMU, B | D, O, O, 0),
	CALL(VMI_CALL_FLUSH_TLB_ONE, "flush_tlb_one", vmi_h_flush_one, G_MMU, B | D, N, N, 0),
	CALL(VMI_CALL_FLUSH_TLB_USER, "flush_tlb_user", vmi_h_flush_user, G_MMU, B | D, N, C, 0),
	CALL(VMI_CALL_FLUSH_TLB_ALL, "flush_tlb_all", vmi_h_flush_all, G_MMU, B | D, N, C, 0),
	CALL(VMI_CALL_FLUSH_TLB_OTHERS, "flush_tlb_others", vmi_h_flush_others, G_MMU, D, N, C,
	     0),
	CALL(VMI_CALL_BATCH_FLUSH, "batch_flush", vmi_h_batch_flush, G_BATCH, R, C, C, 0),
	CALL(VMI_CALL_ALARM_SET, "alarm_set", vmi_h_alarm_set, G_TIME, D, C, C, 0),
	CALL(VMI_CALL_WALLCLOCK, "wallclock", vmi_h_wallclock, G_TIME, R, C, C, 0),
	CALL(VMI_CALL_CONSOLE_WRITE, "console_write", vmi_h_console_write, G_CONSOLE, 0, C, C,
	     0),
	CALL(VMI_CALL_SHUTDOWN, "shutdown", vmi_h_shutdown, G_POWER, D | VMI_DF_NORETURN, C, C,
	     0),
	CALL(VMI_CALL_REBOOT, "reboot", vmi_h_reboot, G_POWER, D | VMI_DF_NORETURN, C, C, 0),
};

/* With --vmi-kinds calls, the operations the BT column leaves native only
 * because the instruction is cheaper there are published as CALL again, so
 * a guest's paravirtual MMU and context-switch paths can be exercised and
 * measured (tests/integration/linux-vmi.suite, vmlite-bench --vmi-on-args). */
unsigned vmi_call_kind(unsigned nr, enum vmi_backend backend, bool all_calls)
{
	static const uint8_t pv[] = { VMI_CALL_WRITE_CR3, VMI_CALL_LOAD_SP0, VMI_CALL_LOAD_TLS,
				      VMI_CALL_SET_PXE, VMI_CALL_ALLOC_PT, VMI_CALL_RELEASE_PT,
				      VMI_CALL_FLUSH_TLB_ONE };
	if (all_calls)
		for (unsigned i = 0; i < sizeof(pv); i++)
			if (pv[i] == nr)
				return VMI_KIND_CALL;
	return backend == VMI_BACKEND_BT ? vmi_calls[nr].kind_bt : vmi_calls[nr].kind_hw;
}

unsigned vmi_ncalls_for(uint32_t version)
{
	unsigned n = 0;
	for (unsigned i = 0; i < VMI_NCALLS_MAX; i++)
		if (vmi_calls[i].fn && vmi_calls[i].since_minor <= VMI_VERSION_MIN(version))
			n = i + 1;
	return n;
}

const struct vmi_call_spec *vmi_spec(const struct vmi_ctx *ctx, uint64_t call)
{
	if (call >= ctx->host->ncalls || !vmi_calls[call].fn)
		return NULL;
	return &vmi_calls[call];
}

const char *vmi_call_name(uint64_t call)
{
	if (call >= VMI_NCALLS_MAX || !vmi_calls[call].fn)
		return "unknown";
	return vmi_calls[call].name;
}
