#include "platform_fixture.h"

/* OCW3 read-register commands. */
static uint8_t pic_isr(struct vm *vm, uint16_t base)
{
	fx_out(vm, base, 0x0b);
	uint8_t v = fx_in(vm, base);
	fx_out(vm, base, 0x0a);
	return v;
}

static uint8_t pic_irr(struct vm *vm, uint16_t base)
{
	fx_out(vm, base, 0x0a);
	return fx_in(vm, base);
}

static void test_pic_linux_init_irq0(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x21), 0x00);        /* ICW1 clears the IMR */
	fx_out(&vm, 0x21, 0xff);                        /* Linux restores its cached masks */
	CU_ASSERT_EQUAL(fx_in(&vm, 0x21), 0xff);
	irq_pulse(&vm, 0);
	CU_ASSERT_FALSE(pic_output(&vm));               /* masked */
	CU_ASSERT_EQUAL(pic_irr(&vm, 0x20), 0x01);
	fx_out(&vm, 0x21, 0xfa);                        /* unmask IRQ0 and the cascade */
	CU_ASSERT_EQUAL(fx_in(&vm, 0x21), 0xfa);
	CU_ASSERT_TRUE(pic_output(&vm));
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x30);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x01);
	CU_ASSERT_EQUAL(pic_irr(&vm, 0x20), 0x00);      /* edge consumed by INTA */
	CU_ASSERT_FALSE(pic_output(&vm));
	irq_pulse(&vm, 0);
	CU_ASSERT_FALSE(pic_output(&vm));               /* same IRQ in service blocks */
	fx_out(&vm, 0x20, 0x20);                        /* non-specific EOI */
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x00);
	CU_ASSERT_TRUE(pic_output(&vm));
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x30);
	fx_destroy(&vm);
}

static void test_pic_cascade_irq8(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfb);
	fx_out(&vm, 0xa1, 0xfe);
	irq_line_set(&vm, 8, true);
	CU_ASSERT_TRUE(pic_output(&vm));
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x38);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0xa0), 0x01);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x04);
	irq_line_set(&vm, 8, false);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x62);                        /* specific EOI for IRQ2 */
	CU_ASSERT_EQUAL(pic_isr(&vm, 0xa0), 0x00);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x00);
	CU_ASSERT_FALSE(pic_output(&vm));
	fx_destroy(&vm);
}

static void test_pic_priority(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0x00);
	irq_pulse(&vm, 3);
	irq_pulse(&vm, 1);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x31);         /* IRQ1 beats IRQ3 */
	CU_ASSERT_FALSE(pic_output(&vm));               /* IRQ3 waits for IRQ1's EOI */
	irq_pulse(&vm, 0);
	CU_ASSERT_TRUE(pic_output(&vm));                /* IRQ0 nests over IRQ1 */
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x30);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x03);
	fx_out(&vm, 0x20, 0x20);                        /* EOI clears the highest: IRQ0 */
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x02);
	fx_out(&vm, 0x20, 0x20);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x33);
	fx_destroy(&vm);
}

static void test_pic_spurious(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0x00);
	fx_out(&vm, 0xa1, 0x00);
	/* A level request that drops before INTA leaves a spurious IRQ7. */
	fx_out(&vm, 0x4d0, 0x20);                       /* IRQ5 level */
	CU_ASSERT_EQUAL(fx_in(&vm, 0x4d0), 0x20);
	irq_line_set(&vm, 5, true);
	CU_ASSERT_TRUE(pic_output(&vm));
	irq_line_set(&vm, 5, false);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x37);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x00);      /* spurious sets no ISR bit */
	/* ELCR bits for IRQ0-2 cannot be set. */
	fx_out(&vm, 0x4d0, 0xff);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x4d0), 0xf8);
	fx_destroy(&vm);
}

static void test_pic_level_elcr(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfb);
	fx_out(&vm, 0xa1, 0x00);
	fx_out(&vm, 0x4d1, 0x02);                       /* IRQ9 level (ACPI SCI) */
	irq_line_set(&vm, 9, true);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x39);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	CU_ASSERT_TRUE(pic_output(&vm));                /* still asserted: again */
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x39);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	irq_line_set(&vm, 9, false);
	CU_ASSERT_FALSE(pic_output(&vm));
	/* Edge input: holding the line high gives one interrupt only. */
	irq_line_set(&vm, 10, true);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x3a);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	irq_line_set(&vm, 10, true);
	CU_ASSERT_FALSE(pic_output(&vm));
	fx_destroy(&vm);
}

static void test_pic_auto_eoi_and_poll(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, true);
	fx_out(&vm, 0x21, 0x00);
	irq_pulse(&vm, 4);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x34);
	CU_ASSERT_EQUAL(pic_isr(&vm, 0x20), 0x00);      /* auto-EOI */
	irq_pulse(&vm, 4);
	CU_ASSERT_TRUE(pic_output(&vm));
	/* Poll command: the read acknowledges and reports 0x80 | level. */
	fx_out(&vm, 0x20, 0x0c);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x20), 0x84);
	CU_ASSERT_FALSE(pic_output(&vm));
	fx_out(&vm, 0x20, 0x0c);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x20), 0x00);
	fx_destroy(&vm);
}

static void test_pic_rotation(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0x00);
	fx_out(&vm, 0x20, 0xc4);                        /* set priority: IRQ4 lowest */
	irq_pulse(&vm, 1);
	irq_pulse(&vm, 6);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x36);         /* IRQ5 is now the highest */
	fx_out(&vm, 0x20, 0x66);                        /* specific EOI IRQ6 */
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x31);
	fx_destroy(&vm);
}

UNIT_SUITE(pic,
	UNIT_CASE(test_pic_linux_init_irq0),
	UNIT_CASE(test_pic_cascade_irq8),
	UNIT_CASE(test_pic_priority),
	UNIT_CASE(test_pic_spurious),
	UNIT_CASE(test_pic_level_elcr),
	UNIT_CASE(test_pic_auto_eoi_and_poll),
	UNIT_CASE(test_pic_rotation))
