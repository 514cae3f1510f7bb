/* The translator's side of the VMI ABI (vmi-abi/SPEC.md 6.5): VMCALL at
 * CPL 0 reaches vmi_dispatch() from the emulator with the guest registers
 * straight from the vCPU block (no exit to the core), and struct vmi_ops
 * maps the dispatcher's requests onto the block's state.
 *
 * CR2 goes into the page before #PF delivery (bt_except.c). Not done yet
 * (docs/vmi-design.md, "Engine wiring"): the SHARED interrupt flag
 * (CLI/STI/PUSHF/POPF/IRET and delivery acting on irq_enabled while a
 * per-vCPU page is registered; until then vmi_calls.c publishes IRQ 1-4 as
 * NATIVE on BT) and pvclock rewrites. VMCALL in 64-bit code is translated
 * as a call of bt_vmi_direct() (no block exit) for the calls that cannot
 * stop the vCPU or change its mode; the rest go through the emulator. */
#include "bt_cpu.h"
#include "clock.h"
#include "error.h"
#include "vcpu_vmi.h"
#include "vm.h"
#include "vmi/vmi_mem.h"

#define RF_IF (1ull << 9)

static struct bt_cpu *cpu(void *o)
{
	return ((struct vcpu *)o)->priv;
}

/* Guest-memory access for the dispatcher. Direct calls run it with the
 * guest's FP/SIMD state live in host registers, so the copies are the
 * SIMD-free bt_memcpy, never libc's memcpy (vmi_mem.c). */
static bool bt_vmi_in_ram(void *o, uint64_t gpa, uint64_t len)
{
	return vmi_mem_in_ram(&cpu(o)->vm->mem, gpa, len);
}

static int bt_vmi_read(void *o, uint64_t gpa, void *buf, uint64_t len)
{
	const struct guest_memory *m = &cpu(o)->vm->mem;
	if (!vmi_mem_in_ram(m, gpa, len))
		return -1;
	bt_memcpy(buf, mem_gpa_to_hva(m, gpa, len), len);
	return 0;
}

/* Host writes to guest RAM drop translations of the pages they touch
 * (the ABI page holds code). */
static int bt_vmi_write(void *o, uint64_t gpa, const void *buf, uint64_t len)
{
	struct bt_cpu *c = cpu(o);
	if (!vmi_mem_in_ram(&c->vm->mem, gpa, len))
		return -1;
	bt_memcpy(mem_gpa_to_hva(&c->vm->mem, gpa, len), buf, len);
	for (uint64_t p = gpa & ~0xfffull; p < gpa + len; p += 4096)
		bt_invalidate_page(c, p);
	return 0;
}

static int bt_vmi_get_cpl(void *o)
{
	return cpu(o)->cpl;
}

static bool bt_vmi_get_if(void *o)
{
	return (cpu(o)->rflags_sys & RF_IF) != 0;
}

static void bt_vmi_set_if(void *o, bool on)
{
	struct bt_cpu *c = cpu(o);
	c->rflags_sys = on ? c->rflags_sys | RF_IF : c->rflags_sys & ~RF_IF;
}

static int bt_vmi_get_cr(void *o, int cr, uint64_t *val)
{
	return bt_emu_cr_read(cpu(o), cr, val);
}

static int bt_vmi_set_cr(void *o, int cr, uint64_t val)
{
	return bt_emu_cr_write(cpu(o), cr, val);
}

static int bt_vmi_get_msr(void *o, uint32_t msr, uint64_t *val)
{
	return bt_emu_msr_read(cpu(o), msr, val);
}

static int bt_vmi_set_msr(void *o, uint32_t msr, uint64_t val)
{
	return bt_emu_msr_write(cpu(o), msr, val);
}

static int bt_vmi_load_dt(void *o, enum vmi_dt dt, uint64_t base, uint16_t limit)
{
	struct bt_cpu *c = cpu(o);
	struct x86_dtable t = { base, limit };
	if (dt == VMI_DT_GDT)
		c->gdt = t;
	else
		c->idt = t;
	return 0;
}

/* LLDT / LTR without raising anything: the dispatcher turns -1 into EINVAL. */
static int bt_vmi_load_sel(void *o, enum vmi_sel which, uint16_t sel)
{
	struct bt_cpu *c = cpu(o);
	struct x86_seg *t = which == VMI_SEL_TR ? &c->tr : &c->ldt;
	if (which == VMI_SEL_LDT && (sel & ~3u) == 0) {
		bt_memset(t, 0, sizeof(*t));
		t->unusable = 1;
		return 0;
	}
	uint64_t off = sel & ~7u, d[2], gpa;
	if (off + 15 > c->gdt.limit ||
	    bt_translate_quiet(c, c->gdt.base + off, BT_ACC_R, &gpa) < 0 ||
	    (gpa & 0xfff) > 0xff0 || bt_vmi_read(o, gpa, d, 16))
		return -1;
	struct x86_seg n;
	bt_desc_to_seg(d[0], (uint32_t)d[1], sel, &n);
	if (n.s || n.type != (which == VMI_SEL_TR ? 9 : 2) || !n.present)
		return -1;
	if (which == VMI_SEL_TR) {
		d[0] |= 1ull << 41;             /* busy, as LTR does */
		bt_vmi_write(o, gpa, d, 8);
		n.type |= 2;
	}
	*t = n;
	return 0;
}

/* Linux maps the TSS read-only in its cpu_entry_area (the CPU only reads
 * it), so a write-access walk would fail: walk for read, as the CPU's own
 * TSS accesses do, and never raise anything in the guest from here. */
static void bt_vmi_set_sp0(void *o, uint64_t sp0)
{
	struct bt_cpu *c = cpu(o);
	uint64_t gpa;
	if (!c->tr.unusable && c->tr.limit >= 11 &&
	    bt_translate_quiet(c, c->tr.base + 4, BT_ACC_R, &gpa) == 0 &&
	    (gpa & 0xfff) <= 0xff8)
		bt_vmi_write(o, gpa, &sp0, 8);
}

/* The same soft-TLB work as the instruction each kind replaces. */
static void bt_vmi_flush_tlb(void *o, enum vmi_flush kind, uint64_t va)
{
	switch (kind) {
	case VMI_FLUSH_ONE:
		bt_tlb_invlpg(cpu(o), va);          /* INVLPG */
		break;
	case VMI_FLUSH_USER:
		bt_tlb_flush_cr3(cpu(o));           /* MOV CR3: global entries stay */
		break;
	default:
		bt_tlb_flush(cpu(o));
		break;
	}
}

/* The translated guest's RDTSC is the host TSC (the emulator's RDTSC). */
static void bt_vmi_vcpu_page_set(void *o, uint64_t gpa)
{
	uint32_t lo, hi;
	if (!gpa)
		return;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	vcpu_vmi_clock_fill(o, ((uint64_t)hi << 32) | lo, clock_tsc_hz());
}

const struct vmi_ops bt_vmi_ops = {
	.in_ram = bt_vmi_in_ram,
	.read = bt_vmi_read,
	.write = bt_vmi_write,
	.get_cpl = bt_vmi_get_cpl,
	.get_if = bt_vmi_get_if,
	.set_if = bt_vmi_set_if,
	.get_cr = bt_vmi_get_cr,
	.set_cr = bt_vmi_set_cr,
	.get_msr = bt_vmi_get_msr,
	.set_msr = bt_vmi_set_msr,
	.load_dt = bt_vmi_load_dt,
	.load_sel = bt_vmi_load_sel,
	.set_sp0 = bt_vmi_set_sp0,
	.flush_tlb = bt_vmi_flush_tlb,
	.halt = vcpu_vmi_halt,
	.power = vcpu_vmi_power,
	.console_write = vcpu_vmi_console_write,
	.wallclock = vcpu_vmi_wallclock,
	.set_alarm = vcpu_vmi_set_alarm,
	.vcpu_page_set = bt_vmi_vcpu_page_set,
};

/* Calls whose whole path (dispatcher, bt ops, memory map) is built with
 * -mgeneral-regs-only and never reaches libc: they may run while the
 * guest's FP/SIMD state is live in host registers. A path that needs more
 * parks the state itself (bt_emu_msr_* for LAPIC MSRs does). The others
 * (alarm, wallclock, console, halt, power) reach the core's timers and
 * devices, which are ordinary C. The conformance guest checks that
 * XMM0-15 survive every call. */
static bool vmi_gpr_only(uint64_t nr)
{
	switch (nr) {
	case VMI_CALL_ALARM_SET: case VMI_CALL_WALLCLOCK: case VMI_CALL_CONSOLE_WRITE:
	case VMI_CALL_HALT: case VMI_CALL_SAFE_HALT: case VMI_CALL_SHUTDOWN:
	case VMI_CALL_REBOOT:
		return false;
	default:
		return nr < VMI_NCALLS_V1_0;
	}
}

int bt_vmi_call(struct bt_cpu *c, uint64_t next_rip, struct vcpu_exit *x)
{
	uint64_t a[6] = { c->gpr[GPR_RDI], c->gpr[GPR_RSI], c->gpr[GPR_RDX],
			  c->gpr[GPR_R10], c->gpr[GPR_R8], c->gpr[GPR_R9] };
	uint64_t ret[2];
	if (!vmi_gpr_only(c->gpr[GPR_RAX]))
		bt_fpu_park(c);
	if (vmi_dispatch(&c->vcpu->vmi, c->gpr[GPR_RAX], a, ret) == VMI_TRAP_UD) {
		bt_raise(c, 6, false, 0);
		return 0;
	}
	c->gpr[GPR_RAX] = ret[0];
	c->gpr[GPR_RDX] = ret[1];
	c->rip = next_rip;
	/* SHUTDOWN/REBOOT: the vCPU stops at the call. */
	if (vm_stopping(c->vm)) {
		x->kind = EXIT_INTR;
		return 1;
	}
	return 0;
}

/* 0 handled, -1 #GP, 1 not a VMI MSR. */
int bt_vmi_msr(struct bt_cpu *c, bool write, uint32_t msr, uint64_t *val)
{
	if (msr < VMI_MSR_VERSION || msr > VMI_MSR_VCPU_PAGE)
		return 1;
	bt_fpu_park(c);
	int r = write ? vmi_msr_write(&c->vcpu->vmi, msr, *val)
		      : vmi_msr_read(&c->vcpu->vmi, msr, val);
	if (r == VMI_MSR_UNHANDLED)
		return 1;
	return r == VMI_MSR_HANDLED ? 0 : -1;
}

/* Calls that may run inside a block: they neither stop nor block the vCPU,
 * nor change its mode or interrupt state. */
static bool vmi_direct_ok(uint64_t nr)
{
	switch (nr) {
	case VMI_CALL_VERSION:
	case VMI_CALL_READ_CR0: case VMI_CALL_READ_CR2: case VMI_CALL_WRITE_CR2:
	case VMI_CALL_READ_CR3: case VMI_CALL_WRITE_CR3: case VMI_CALL_READ_CR4:
	case VMI_CALL_RDMSR: case VMI_CALL_WRITE_GDT_ENTRY: case VMI_CALL_WRITE_LDT_ENTRY:
	case VMI_CALL_WRITE_IDT_ENTRY: case VMI_CALL_LOAD_SP0: case VMI_CALL_LOAD_TLS:
	case VMI_CALL_WBINVD: case VMI_CALL_IO_DELAY:
	case VMI_CALL_SET_PXE: case VMI_CALL_ALLOC_PT: case VMI_CALL_RELEASE_PT:
	case VMI_CALL_FLUSH_TLB_ONE: case VMI_CALL_FLUSH_TLB_USER: case VMI_CALL_FLUSH_TLB_ALL:
	case VMI_CALL_FLUSH_TLB_OTHERS: case VMI_CALL_BATCH_FLUSH:
	case VMI_CALL_ALARM_SET: case VMI_CALL_WALLCLOCK:
		return true;
	default:
		return false;
	}
}

uint64_t bt_vmi_direct(struct bt_cpu *c)
{
	/* c->rip is the VMCALL, c->slow_next the instruction after it. */
	if (c->cpl != 0 || !vmi_direct_ok(c->gpr[GPR_RAX])) {
		c->reason = BT_EXIT_EMULATE;
		return 1;
	}
	uint64_t killed = c->n.killed;
	uint32_t gen = c->bt->gen;
	struct vcpu_exit x;
	int r = bt_vmi_call(c, c->slow_next, &x);
	c->n.vmi_direct++;
	/* Leave for the dispatcher when the rest of this block may be stale
	 * (a write dropped translations, a full flush) or the call raised an
	 * exception (RIP is the handler's). */
	if (r != 0 || c->rip != c->slow_next || c->n.killed != killed || c->bt->gen != gen ||
	    c->failed || c->triple) {
		c->reason = BT_EXIT_HANDLED;
		return 1;
	}
	bt_fpu_unpark(c);
	return 0;
}
