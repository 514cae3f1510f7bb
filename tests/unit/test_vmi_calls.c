/* VMI: every call's argument validation, error codes and effect. */
#include <string.h>

#include "unit.h"
#include "test_vmi_fake.h"
#include "vmi/vmi_internal.h"

static struct fake_vcpu f;
static struct vmi_host h;
static struct vmi_ctx c;
static uint64_t rdx;

#define E(x) ((uint64_t)(int64_t)(x))

static uint64_t call(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t a[6] = { a0, a1, a2, a3, 0, 0 }, r[2] = { 0, 0 };
	CU_ASSERT_EQUAL(vmi_dispatch(&c, nr, a, r), VMI_DONE);
	rdx = r[1];
	return r[0];
}

static void setup(enum vmi_backend be)
{
	CU_ASSERT_EQUAL_FATAL(fake_setup(&f, &h, &c, be, true), 0);
}

static void test_vmi_cr(void)
{
	setup(VMI_BACKEND_BT);
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR0, 0, 0, 0, 0), 0x80050033);
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR3, 0, 0, 0, 0), 0x10000);
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR4, 0, 0, 0, 0), 0x6b0);
	/* BT with a per-vCPU page: CR2 comes from the page (what SHARED reads). */
	CU_ASSERT_EQUAL(vmi_set_cr2(&c, 0x1234), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR2, 0, 0, 0, 0), 0x1234);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR2, 0xdead000, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.cr[2], 0xdead000);
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR2, 0, 0, 0, 0), 0xdead000);

	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 0x80050033, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 0xe0050033, 0, 0, 0), 0);    /* CD+NW */
	CU_ASSERT_EQUAL(f.cr[0], 0xe0050033);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 0x80050032, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 0x00050033, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 0xa0050033, 0, 0, 0), E(VMI_EINVAL)); /* NW only */
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR0, 1ull << 32 | 0x80050033, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(f.cr[0], 0xe0050033);

	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, 0x20000, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, 1ull << 63 | 0x21005, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.cr[3], 1ull << 63 | 0x21005);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, 1ull << 62 | 0x20000, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, FAKE_RAM_SIZE, 0, 0, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, 0xffffffff000ull, 0, 0, 0), E(VMI_EFAULT));

	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x6f0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.cr[4], 0x6f0);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x690, 0, 0, 0), E(VMI_EINVAL));      /* no PAE */
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x6b0 | 1 << 15, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x6b0 | 1 << 25, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x6b0 | 1 << 13, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR4, 0x6b0 | 1 << 12, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(f.cr[4], 0x6f0);
	fake_teardown(&f, &h);

	/* HW backend: CR2 is the engine's register. */
	setup(VMI_BACKEND_HW);
	f.cr[2] = 0x777;
	CU_ASSERT_EQUAL(call(VMI_CALL_READ_CR2, 0, 0, 0, 0), 0x777);
	fake_teardown(&f, &h);
}

static void test_vmi_msr(void)
{
	setup(VMI_BACKEND_BT);
	CU_ASSERT_EQUAL(call(VMI_CALL_RDMSR, 0xc0000080, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(rdx, 0xd01);
	CU_ASSERT_EQUAL(call(VMI_CALL_RDMSR, VMI_MSR_VERSION, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(rdx, VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(call(VMI_CALL_RDMSR, 0x10, 0, 55, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(rdx, 55);       /* RDX untouched on failure */
	CU_ASSERT_EQUAL(call(VMI_CALL_RDMSR, 1ull << 32 | 0xc0000080, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRMSR, 0xc0000080, 0x501, 0, 0), 0);
	CU_ASSERT_EQUAL(f.msr_efer, 0x501);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRMSR, 0xc0000080, 0x2, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRMSR, 1ull << 32 | 0xc0000080, 0x501, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRMSR, VMI_MSR_VERSION, VMI_VERSION(2, 0), 0, 0),
			E(VMI_EINVAL));
	fake_teardown(&f, &h);
}

static void test_vmi_descriptor_tables(void)
{
	setup(VMI_BACKEND_BT);
	const uint64_t kva = 0xffff888000003000ull;
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_GDT, kva, 127, 0, 0), 0);
	CU_ASSERT(f.dt_base[VMI_DT_GDT] == kva && f.dt_limit[VMI_DT_GDT] == 127);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_IDT, kva + 0x1000, 4095, 0, 0), 0);
	CU_ASSERT_EQUAL(f.dt_base[VMI_DT_IDT], kva + 0x1000);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_GDT, 0x0000800000000000ull, 127, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_IDT, kva, 0x10000, 0, 0), E(VMI_EINVAL));
	/* 57-bit canonical addresses only with LA57. */
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_GDT, 0xff00000000000000ull, 127, 0, 0), E(VMI_EINVAL));
	f.cr[4] |= 1 << 12;
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_GDT, 0xff00000000000000ull, 127, 0, 0), 0);
	f.cr[4] &= ~(1ull << 12);

	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_LDT, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_LDT, 0x40, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.sel[VMI_SEL_LDT], 0x40);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_LDT, 0x44, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_LDT, 0x10040, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_LDT, 0x80, 0, 0, 0), E(VMI_EINVAL)); /* engine refuses */
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TR, 0x40, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.sel[VMI_SEL_TR], 0x40);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TR, 0, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TR, 3, 0, 0, 0), E(VMI_EINVAL));

	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_GDT_ENTRY, 0x3008, 0x00af9b000000ffffull, 0, 8), 0);
	uint64_t q[2];
	memcpy(q, f.ram + 0x3008, 8);
	CU_ASSERT_EQUAL(q[0], 0x00af9b000000ffffull);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_GDT_ENTRY, 0x3040, 0x1111, 0x2222, 16), 0);
	memcpy(q, f.ram + 0x3040, 16);
	CU_ASSERT(q[0] == 0x1111 && q[1] == 0x2222);
	CU_ASSERT_EQUAL(f.desc_writes, 2);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_GDT_ENTRY, 0x3008, 1, 0, 4), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_GDT_ENTRY, 0x3004, 1, 0, 8), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_GDT_ENTRY, FAKE_RAM_SIZE - 8, 1, 2, 16), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_LDT_ENTRY, ~0ull - 7, 1, 0, 8), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_LDT_ENTRY, 0x3100, 5, 0, 8), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_IDT_ENTRY, 0x3200, 5, 6, 8), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_IDT_ENTRY, 0x3200, 5, 6, 16), 0);
	CU_ASSERT_EQUAL(f.desc_writes, 4);

	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_SP0, 0xffffc90000004000ull, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.sp0, 0xffffc90000004000ull);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_SP0, 0x8000000000000000ull, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(f.sp0, 0xffffc90000004000ull);

	uint64_t tls[3] = { 0xa, 0xb, 0xc };
	memcpy(f.ram + 0x4000, tls, sizeof(tls));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TLS, 0x3060, 0x4000, 3, 0), 0);
	CU_ASSERT_EQUAL(memcmp(f.ram + 0x3060, tls, sizeof(tls)), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TLS, 0x3060, 0x4000, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TLS, 0x3060, 0x4000, 4, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TLS, 0x3061, 0x4000, 1, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_LOAD_TLS, 0x3060, FAKE_RAM_SIZE - 8, 2, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_WBINVD, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_IO_DELAY, 0, 0, 0, 0), 0);
	fake_teardown(&f, &h);
}

static void test_vmi_mmu(void)
{
	setup(VMI_BACKEND_BT);
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, VMI_PT_LEVEL_PTE, 0x5008, 0x7003, 0), 0);
	uint64_t v;
	memcpy(&v, f.ram + 0x5008, 8);
	CU_ASSERT_EQUAL(v, 0x7003);
	CU_ASSERT_EQUAL(f.pt_writes, 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, VMI_PT_LEVEL_P4D, 0x5010, 1, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, 0, 0x5008, 1, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, VMI_PT_LEVEL_PGD, 0x5008, 1, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, 6, 0x5008, 1, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, 1, 0x5004, 1, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, 1, FAKE_RAM_SIZE, 1, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(f.pt_writes, 2);
	f.cr[4] |= 1 << 12;
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, VMI_PT_LEVEL_PGD, 0x5018, 1, 0), 0);
	f.cr[4] &= ~(1ull << 12);

	CU_ASSERT_EQUAL(call(VMI_CALL_ALLOC_PT, 1, 0x6000, 0, 0), 0);
	CU_ASSERT_EQUAL(f.pins, 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_ALLOC_PT, 1, 0x6008, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALLOC_PT, 9, 0x6000, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALLOC_PT, 1, FAKE_RAM_SIZE, 0, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_RELEASE_PT, 1, 0x6000, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_RELEASE_PT, 1, 0x6000, 0, 0), E(VMI_EINVAL));

	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_ONE, 0xffff888000001000ull, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.flushes[VMI_FLUSH_ONE], 1);
	CU_ASSERT_EQUAL(f.last_flush_va, 0xffff888000001000ull);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_ONE, 0x0000900000000000ull, 0, 0, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(f.flushes[VMI_FLUSH_ONE], 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_USER, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_ALL, 0, 0, 0, 0), 0);
	CU_ASSERT(f.flushes[VMI_FLUSH_USER] == 1 && f.flushes[VMI_FLUSH_ALL] == 1);

	uint64_t mask = 6;
	memcpy(f.ram + 0x7000, &mask, 8);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7000, 1, 0, ~0ull), 0);
	CU_ASSERT_EQUAL(f.others, 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7000, 0, 0, ~0ull), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7000, 17, 0, ~0ull), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7000, 1, 2, 1), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7004, 1, 0, 1), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, FAKE_RAM_SIZE - 8, 2, 0, 1), E(VMI_EFAULT));
	c.ops = &fake_ops_min;
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_OTHERS, 0x7000, 1, 0, 1), E(VMI_EOPNOTSUPP));
	/* Optional notifications absent: the calls still work. */
	CU_ASSERT_EQUAL(call(VMI_CALL_SET_PXE, 1, 0x5008, 0x9003, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_ALLOC_PT, 1, 0x6000, 0, 0), 0);
	CU_ASSERT_EQUAL(f.others, 1);
	fake_teardown(&f, &h);
}

static void test_vmi_time_console_power(void)
{
	setup(VMI_BACKEND_HW);
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, VMI_ALARM_ONESHOT, 123456, 0, 0xf3), 0);
	CU_ASSERT(f.alarm_mode == 1 && f.alarm_deadline == 123456 && f.alarm_vector == 0xf3);
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, VMI_ALARM_PERIODIC, 0, 10000, 0xec), 0);
	CU_ASSERT_EQUAL(f.alarm_period, 10000);
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, VMI_ALARM_PERIODIC, 0, 9999, 0xec), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, 3, 0, 0, 0xec), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, 1, 0, 0, 31), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, 1, 0, 0, 256), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, VMI_ALARM_OFF, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.alarm_mode, 0);

	f.wall_ns = 1790000000123456789ull;
	CU_ASSERT_EQUAL(call(VMI_CALL_WALLCLOCK, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(rdx, 1790000000123456789ull);

	memcpy(f.ram + 0x8000, "hello", 5);
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, 0x8000, 5, 0, 0), 5);
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, 0x8000, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, 0x8000, VMI_CONSOLE_MAX + 1, 0, 0),
			E(VMI_E2BIG));
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, FAKE_RAM_SIZE - 2, 5, 0, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, ~0ull - 1, 5, 0, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(f.console_len, 5);
	CU_ASSERT_EQUAL(memcmp(f.console, "hello", 5), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, FAKE_RAM_SIZE - VMI_CONSOLE_MAX,
			     VMI_CONSOLE_MAX, 0, 0), VMI_CONSOLE_MAX);

	CU_ASSERT_EQUAL(call(VMI_CALL_REBOOT, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.power, VMI_POWER_REBOOT);
	CU_ASSERT_EQUAL(call(VMI_CALL_SHUTDOWN, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.power, VMI_POWER_OFF);

	c.ops = &fake_ops_min;
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, 1, 0, 0, 0xf3), E(VMI_EOPNOTSUPP));
	CU_ASSERT_EQUAL(call(VMI_CALL_WALLCLOCK, 0, 0, 0, 0), E(VMI_EOPNOTSUPP));
	CU_ASSERT_EQUAL(call(VMI_CALL_CONSOLE_WRITE, 0x8000, 5, 0, 0), E(VMI_EOPNOTSUPP));
	/* Bad arguments are still reported as such without the service. */
	CU_ASSERT_EQUAL(call(VMI_CALL_ALARM_SET, 7, 0, 0, 0xf3), E(VMI_EINVAL));
	fake_teardown(&f, &h);
}

static void test_vmi_irq(void)
{
	/* BT with a per-vCPU page: the byte is the virtual IF. */
	setup(VMI_BACKEND_BT);
	uint8_t *pg = f.ram + FAKE_VCPU_PAGE;
	f.rflags_if = true;
	pg[VMI_VCPU_OFF_IRQ_ENABLED] = 1;
	if (vmi_calls[VMI_CALL_IRQ_DISABLE].kind_bt != VMI_KIND_SHARED) {
		/* IRQ published NATIVE on BT: the calls act on RFLAGS.IF and
		 * leave the byte alone. */
		CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0x200);
		CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_DISABLE, 0, 0, 0, 0), 0);
		CU_ASSERT_FALSE(f.rflags_if);
		CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_ENABLED], 1);
		CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0);
		CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_RESTORE_FL, 0x202, 0, 0, 0), 0);
		CU_ASSERT_TRUE(f.rflags_if);
		CU_ASSERT_EQUAL(f.windows, 1);
		fake_teardown(&f, &h);
		return;
	}
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0x200);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_DISABLE, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_ENABLED], 0);
	CU_ASSERT_TRUE(f.rflags_if);            /* the real flag is not the ABI's */
	CU_ASSERT_FALSE(vmi_irq_enabled(&c));
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_RESTORE_FL, 0x202, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_ENABLED], 1);
	CU_ASSERT_EQUAL(f.windows, 1);          /* 0 -> 1 opens a window */
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_RESTORE_FL, 0x202, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.windows, 1);          /* 1 -> 1 does not */
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_RESTORE_FL, 0x2, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_ENABLED], 0);
	/* Inline enable found irq_pending: IRQ_ENABLE always opens a window. */
	CU_ASSERT_EQUAL(vmi_set_irq_pending(&c, true), 0);
	CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_PENDING], 1);
	pg[VMI_VCPU_OFF_IRQ_ENABLED] = 1;
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_ENABLE, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.windows, 2);
	pg[VMI_VCPU_OFF_IRQ_ENABLED] = 0;
	CU_ASSERT_EQUAL(call(VMI_CALL_SAFE_HALT, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(pg[VMI_VCPU_OFF_IRQ_ENABLED], 1);
	CU_ASSERT_EQUAL(f.halts, 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_HALT, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(f.halts, 2);
	fake_teardown(&f, &h);

	/* HW backend: the calls act on RFLAGS.IF. */
	setup(VMI_BACKEND_HW);
	f.rflags_if = true;
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_DISABLE, 0, 0, 0, 0), 0);
	CU_ASSERT_FALSE(f.rflags_if);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_ENABLE, 0, 0, 0, 0), 0);
	CU_ASSERT_TRUE(f.rflags_if);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_SAVE_FL, 0, 0, 0, 0), 0x200);
	fake_teardown(&f, &h);
}

static void test_vmi_pvclock(void)
{
	setup(VMI_BACKEND_BT);
	struct vmi_pvclock in = { .tsc_timestamp = 1000, .system_time = 5000,
				  .tsc_to_system_mul = 0x80000000u, .tsc_shift = -1, .flags = 1 };
	struct vmi_pvclock out;
	for (int i = 1; i <= 3; i++) {
		CU_ASSERT_EQUAL(vmi_pvclock_update(&c, &in), 0);
		memcpy(&out, f.ram + FAKE_VCPU_PAGE + VMI_VCPU_OFF_CLOCK, sizeof(out));
		CU_ASSERT_EQUAL(out.version, 2u * i);   /* even, advancing */
	}
	CU_ASSERT(out.tsc_timestamp == 1000 && out.system_time == 5000 &&
		  out.tsc_to_system_mul == 0x80000000u && out.tsc_shift == -1 && out.flags == 1);
	/* A guest that scribbled an odd version still sees an even one after. */
	uint32_t odd = 7;
	memcpy(f.ram + FAKE_VCPU_PAGE + VMI_VCPU_OFF_CLOCK, &odd, 4);
	CU_ASSERT_EQUAL(vmi_pvclock_update(&c, &in), 0);
	memcpy(&out, f.ram + FAKE_VCPU_PAGE + VMI_VCPU_OFF_CLOCK, sizeof(out));
	CU_ASSERT_EQUAL(out.version, 8);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, 0), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(vmi_pvclock_update(&c, &in), -1);
	CU_ASSERT_EQUAL(vmi_set_cr2(&c, 1), -1);
	CU_ASSERT_EQUAL(vmi_set_irq_pending(&c, true), -1);
	fake_teardown(&f, &h);
}

UNIT_SUITE(vmi_calls,
	UNIT_CASE(test_vmi_cr),
	UNIT_CASE(test_vmi_msr),
	UNIT_CASE(test_vmi_descriptor_tables),
	UNIT_CASE(test_vmi_mmu),
	UNIT_CASE(test_vmi_time_console_power),
	UNIT_CASE(test_vmi_irq),
	UNIT_CASE(test_vmi_pvclock))
