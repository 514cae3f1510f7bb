#include "platform_fixture.h"

static uint32_t io_read(struct vm *vm, uint32_t reg)
{
	fx_mmio_write(vm, IOAPIC_BASE, reg);
	return fx_mmio_read(vm, IOAPIC_BASE + 0x10);
}

static void io_write(struct vm *vm, uint32_t reg, uint32_t v)
{
	fx_mmio_write(vm, IOAPIC_BASE, reg);
	fx_mmio_write(vm, IOAPIC_BASE + 0x10, v);
}

/* As an OS does when it switches to the IOAPIC: mask both 8259s. */
static void pic_off(struct vm *vm)
{
	fx_out(vm, 0x21, 0xff);
	fx_out(vm, 0xa1, 0xff);
}

static void route(struct vm *vm, unsigned pin, uint32_t lo, uint8_t dest)
{
	io_write(vm, 0x11 + 2 * pin, (uint32_t)dest << 24);
	io_write(vm, 0x10 + 2 * pin, lo);
}

static void test_ioapic_registers(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	CU_ASSERT_EQUAL(io_read(&vm, 1), 0x00170011);
	CU_ASSERT_EQUAL(io_read(&vm, 0), 1u << 24);     /* ID after the CPUs, as the MADT says */
	CU_ASSERT_EQUAL(io_read(&vm, 0x10 + 2 * 5), 0x10000);     /* masked at reset */
	route(&vm, 5, 0xa000 | 0x200 | 0x41, 0x0f);     /* level, low polarity, lowest prio */
	CU_ASSERT_EQUAL(io_read(&vm, 0x10 + 2 * 5), 0xa241);
	CU_ASSERT_EQUAL(io_read(&vm, 0x11 + 2 * 5), 0x0f000000);
	io_write(&vm, 0x10 + 2 * 5, 0x5000 | 0x41);     /* remote IRR and delivery status are RO */
	CU_ASSERT_EQUAL(io_read(&vm, 0x10 + 2 * 5), 0x41);
	fx_mmio_write(&vm, IOAPIC_BASE, 0x10 + 2 * 23);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, IOAPIC_BASE), 0x10 + 2 * 23);
	fx_destroy(&vm);
}

static void test_ioapic_edge_and_mask(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	struct vcpu *v = &vm.vcpus[0];
	fx_mmio_write(&vm, LAPIC_BASE + 0xf0, 0x1ff);
	fx_mmio_write(&vm, LAPIC_BASE + 0x350, 0x10700);        /* LINT0 masked: PIC off */
	irq_pulse(&vm, 4);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));          /* pin 4 still masked */
	route(&vm, 4, 0x34, 0);
	/* The edge that arrived while masked is delivered on unmask. */
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x34);
	fx_mmio_write(&vm, LAPIC_BASE + 0xb0, 0);
	irq_line_set(&vm, 4, true);
	irq_line_set(&vm, 4, true);                             /* no second edge */
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x34);
	fx_mmio_write(&vm, LAPIC_BASE + 0xb0, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	irq_line_set(&vm, 4, false);
	/* IRQ0 arrives on pin 2 (interrupt source override), not pin 0. */
	route(&vm, 0, 0x30, 0);
	route(&vm, 2, 0x31, 0);
	irq_pulse(&vm, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x31);
	fx_mmio_write(&vm, LAPIC_BASE + 0xb0, 0);
	/* Masking again stops delivery. */
	route(&vm, 2, 0x10000 | 0x31, 0);
	fx_mmio_write(&vm, LAPIC_BASE + 0x350, 0x10700);
	irq_pulse(&vm, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	fx_destroy(&vm);
}

static void test_ioapic_level_remote_irr(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	struct vcpu *v = &vm.vcpus[0];
	pic_off(&vm);
	fx_mmio_write(&vm, LAPIC_BASE + 0xf0, 0x1ff);
	route(&vm, 9, 0x8000 | 0x49, 0);
	irq_line_set(&vm, 9, true);
	CU_ASSERT_EQUAL(io_read(&vm, 0x10 + 18) & 0x4000, 0x4000);       /* remote IRR */
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x49);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, LAPIC_BASE + 0x180 + 0x20) & (1u << 9), 1u << 9); /* TMR */
	irq_line_set(&vm, 9, true);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);           /* held by remote IRR */
	/* EOI broadcast while the line is still asserted: delivered again. */
	fx_mmio_write(&vm, LAPIC_BASE + 0xb0, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x49);
	irq_line_set(&vm, 9, false);
	fx_mmio_write(&vm, LAPIC_BASE + 0xb0, 0);
	CU_ASSERT_EQUAL(io_read(&vm, 0x10 + 18) & 0x4000, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	fx_destroy(&vm);
}

static void test_ioapic_logical_dest(void)
{
	struct vm vm;
	fx_init(&vm, 2);
	pic_off(&vm);
	for (int i = 0; i < 2; i++) {
		irq_set_current(&vm.vcpus[i]);
		fx_mmio_write(&vm, LAPIC_BASE + 0xf0, 0x1ff);
		fx_mmio_write(&vm, LAPIC_BASE + 0xd0, (1u << i) << 24);
	}
	irq_set_current(&vm.vcpus[0]);
	route(&vm, 11, 0x800 | 0x5b, 0x02);             /* logical, to LDR bit 1 */
	irq_pulse(&vm, 11);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), -1);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[1]), 0x5b);
	route(&vm, 12, 0x800 | 0x100 | 0x5c, 0x03);     /* lowest priority: one CPU only */
	irq_pulse(&vm, 12);
	int got = (vcpu_irq_ack(&vm.vcpus[0]) == 0x5c) + (vcpu_irq_ack(&vm.vcpus[1]) == 0x5c);
	CU_ASSERT_EQUAL(got, 1);
	route(&vm, 13, 0x400, 0xff);                    /* NMI, physical broadcast */
	irq_pulse(&vm, 13);
	CU_ASSERT_TRUE(vcpu_nmi_ack(&vm.vcpus[0]));
	CU_ASSERT_TRUE(vcpu_nmi_ack(&vm.vcpus[1]));
	fx_destroy(&vm);
}

UNIT_SUITE(ioapic,
	UNIT_CASE(test_ioapic_registers),
	UNIT_CASE(test_ioapic_edge_and_mask),
	UNIT_CASE(test_ioapic_level_remote_irr),
	UNIT_CASE(test_ioapic_logical_dest))
