#include "platform_fixture.h"

#define US 1000ull
#define APIC(off) (LAPIC_BASE + (off))

static void apic_enable(struct vm *vm)
{
	fx_mmio_write(vm, APIC(0xf0), 0x1ff);           /* SVR: enable, spurious 0xff */
}

static void test_lapic_registers(void)
{
	struct vm vm;
	fx_init(&vm, 2);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x30)), 0x00050014);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x20)), 0);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xf0)), 0xff);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x350)), 0x700);        /* BSP virtual wire */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x320)), 0x10000);
	irq_set_current(&vm.vcpus[1]);                  /* the page is per vCPU */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x20)), 1u << 24);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x350)), 0x10000);
	irq_set_current(&vm.vcpus[0]);
	/* Software-disabled: LVT writes stay masked. */
	fx_mmio_write(&vm, APIC(0x320), 0x40);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x320)), 0x10040);
	apic_enable(&vm);
	fx_mmio_write(&vm, APIC(0x320), 0x40);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x320)), 0x40);
	fx_mmio_write(&vm, APIC(0xe0), 0x0fffffff);     /* cluster model */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xe0)), 0x0fffffff);
	fx_mmio_write(&vm, APIC(0xd0), 0x01000000);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xd0)), 0x01000000);
	/* Disabling in SVR masks every LVT. */
	fx_mmio_write(&vm, APIC(0xf0), 0xff);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x320)), 0x10040);
	fx_destroy(&vm);
}

static void test_lapic_oneshot(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	apic_enable(&vm);
	fx_mmio_write(&vm, APIC(0x3e0), 0x0b);          /* divide by 1: 1 count = 1 ns */
	fx_mmio_write(&vm, APIC(0x320), 0x40);
	fx_mmio_write(&vm, APIC(0x380), 1000000);       /* 1 ms */
	fx_advance(&vm, 400 * US);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 600000);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[0].irq_pending));
	fx_advance(&vm, 599 * US);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[0].irq_pending));
	fx_advance(&vm, 1 * US);
	CU_ASSERT_TRUE(atomic_load(&vm.vcpus[0].irq_pending));
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 0);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x200 + 0x20)), 1u);  /* IRR bit 0x40 */
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0x40);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x100 + 0x20)), 1u);  /* ISR */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xa0)), 0x40);        /* PPR */
	fx_mmio_write(&vm, APIC(0xb0), 0);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x100 + 0x20)), 0);
	fx_advance(&vm, 5000 * US);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[0].irq_pending));      /* one-shot */
	/* Divide by 16: 1 ms needs 62500 counts. */
	fx_mmio_write(&vm, APIC(0x3e0), 0x03);
	fx_mmio_write(&vm, APIC(0x380), 62500);
	fx_advance(&vm, 500 * US);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 31250);
	fx_advance(&vm, 500 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0x40);
	fx_destroy(&vm);
}

static void test_lapic_periodic(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	apic_enable(&vm);
	fx_mmio_write(&vm, APIC(0x3e0), 0x0b);
	fx_mmio_write(&vm, APIC(0x320), 0x20000 | 0xec);
	fx_mmio_write(&vm, APIC(0x380), 100000);        /* 100 us */
	int n = 0;
	for (int i = 0; i < 10; i++) {
		fx_advance(&vm, 100 * US);
		if (vcpu_irq_ack(&vm.vcpus[0]) == 0xec) {
			n++;
			fx_mmio_write(&vm, APIC(0xb0), 0);
		}
	}
	CU_ASSERT_EQUAL(n, 10);
	fx_advance(&vm, 30 * US);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 70000);
	/* A new divisor keeps the current count and counts on at the new rate:
	 * 70000 left at divide 1 -> 70000 left at divide 2 = 140 us. */
	fx_mmio_write(&vm, APIC(0x3e0), 0x00);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 70000);
	fx_advance(&vm, 100 * US);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x390)), 20000);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), -1);
	fx_advance(&vm, 40 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0xec);
	fx_mmio_write(&vm, APIC(0xb0), 0);
	/* Masking stops interrupts but not the count. */
	fx_mmio_write(&vm, APIC(0x320), 0x30000 | 0xec);
	fx_advance(&vm, 1000 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), -1);
	fx_destroy(&vm);
}

static void test_lapic_tsc_deadline(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	struct vcpu *v = &vm.vcpus[0];
	apic_enable(&vm);
	uint64_t val;
	/* In one-shot mode the deadline MSR ignores writes. */
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_TSC_DEADLINE, clock_tsc_now() + 10), 0);
	CU_ASSERT_EQUAL(lapic_msr_read(v, MSR_TSC_DEADLINE, &val), 0);
	CU_ASSERT_EQUAL(val, 0);
	fx_mmio_write(&vm, APIC(0x320), 0x40000 | 0xef);
	uint64_t dl = clock_tsc_now() + 5000;            /* 5 us at the fake 1 GHz TSC */
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_TSC_DEADLINE, dl), 0);
	CU_ASSERT_EQUAL(lapic_msr_read(v, MSR_TSC_DEADLINE, &val), 0);
	CU_ASSERT_EQUAL(val, dl);
	fx_advance(&vm, 4 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	fx_advance(&vm, 1 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0xef);
	CU_ASSERT_EQUAL(lapic_msr_read(v, MSR_TSC_DEADLINE, &val), 0);
	CU_ASSERT_EQUAL(val, 0);                        /* disarmed after firing */
	fx_mmio_write(&vm, APIC(0xb0), 0);
	/* A deadline in the past fires at once; writing 0 disarms. */
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_TSC_DEADLINE, 1), 0);
	fx_advance(&vm, 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0xef);
	fx_mmio_write(&vm, APIC(0xb0), 0);
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_TSC_DEADLINE, clock_tsc_now() + 100), 0);
	CU_ASSERT_EQUAL(lapic_msr_write(v, MSR_TSC_DEADLINE, 0), 0);
	fx_advance(&vm, 1000 * US);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	fx_destroy(&vm);
}

static void test_lapic_priority_eoi(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	struct vcpu *v = &vm.vcpus[0];
	/* Not yet software-enabled: fixed interrupts are held in IRR. */
	lapic_deliver(&vm, 0, false, APIC_DM_FIXED, 0x45, false);
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));
	apic_enable(&vm);
	CU_ASSERT_TRUE(atomic_load(&v->irq_pending));
	fx_mmio_write(&vm, APIC(0x80), 0x50);           /* TPR blocks class 4 */
	CU_ASSERT_FALSE(atomic_load(&v->irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);
	lapic_deliver(&vm, 0, false, APIC_DM_FIXED, 0x61, false);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x61);
	lapic_deliver(&vm, 0, false, APIC_DM_FIXED, 0x62, false);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), -1);           /* same class as in service */
	lapic_deliver(&vm, 0, false, APIC_DM_FIXED, 0x91, false);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x91);         /* nests */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xa0)), 0x90);
	fx_mmio_write(&vm, APIC(0xb0), 0);              /* EOI 0x91 */
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0xa0)), 0x60);
	fx_mmio_write(&vm, APIC(0xb0), 0);              /* EOI 0x61 */
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x62);
	fx_mmio_write(&vm, APIC(0xb0), 0);
	fx_mmio_write(&vm, APIC(0x80), 0x00);
	CU_ASSERT_EQUAL(vcpu_irq_ack(v), 0x45);
	fx_destroy(&vm);
}

static void test_lapic_ipi(void)
{
	struct vm vm;
	fx_init(&vm, 2);
	apic_enable(&vm);
	irq_set_current(&vm.vcpus[1]);
	apic_enable(&vm);
	irq_set_current(&vm.vcpus[0]);
	/* Fixed IPI to APIC ID 1. */
	fx_mmio_write(&vm, APIC(0x310), 1u << 24);
	fx_mmio_write(&vm, APIC(0x300), 0x4000 | 0x50);
	CU_ASSERT_FALSE(atomic_load(&vm.vcpus[0].irq_pending));
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[1]), 0x50);
	/* Self IPI by shorthand. */
	fx_mmio_write(&vm, APIC(0x300), 0x40000 | 0x51);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0x51);
	/* All-but-self NMI. */
	fx_mmio_write(&vm, APIC(0x300), 0xc0000 | 0x400);
	CU_ASSERT_TRUE(vcpu_nmi_ack(&vm.vcpus[1]));
	CU_ASSERT_FALSE(vcpu_nmi_ack(&vm.vcpus[0]));
	/* INIT and SIPI are stored for AP start-up. */
	fx_mmio_write(&vm, APIC(0x310), 1u << 24);
	fx_mmio_write(&vm, APIC(0x300), 0x4500);
	fx_mmio_write(&vm, APIC(0x300), 0x4600 | 0x9a);
	struct lapic *l1 = lapic_get(&vm, 1);
	uint8_t vec = 0;
	CU_ASSERT_TRUE(lapic_take_init(l1));
	CU_ASSERT_TRUE(lapic_take_sipi(l1, &vec));
	CU_ASSERT_EQUAL(vec, 0x9a);
	CU_ASSERT_FALSE(lapic_take_sipi(l1, &vec));
	/* Illegal vector sets the send-illegal bit once ESR is written. */
	fx_mmio_write(&vm, APIC(0x300), 0x40000 | 0x05);
	fx_mmio_write(&vm, APIC(0x280), 0);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x280)), 0x20);
	/* Logical flat destination: CPU 1 has LDR bit 1. */
	irq_set_current(&vm.vcpus[1]);
	fx_mmio_write(&vm, APIC(0xd0), 0x02000000);
	irq_set_current(&vm.vcpus[0]);
	fx_mmio_write(&vm, APIC(0x310), 0x02000000);
	fx_mmio_write(&vm, APIC(0x300), 0x800 | 0x77);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[1]), 0x77);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), -1);
	fx_destroy(&vm);
}

static void test_lapic_x2apic(void)
{
	struct vm vm;
	fx_init(&vm, 2);
	struct vcpu *v1 = &vm.vcpus[1];
	uint64_t val;
	CU_ASSERT_EQUAL(lapic_msr_read(v1, 0x802, &val), -1);   /* xAPIC mode: #GP */
	CU_ASSERT_EQUAL(lapic_msr_read(v1, MSR_APIC_BASE, &val), 0);
	CU_ASSERT_EQUAL(val, LAPIC_BASE | APIC_BASE_ENABLE);    /* AP: no BSP bit */
	CU_ASSERT_EQUAL(lapic_msr_write(v1, MSR_APIC_BASE, LAPIC_BASE | APIC_BASE_EXTD), -1);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, MSR_APIC_BASE,
					LAPIC_BASE | APIC_BASE_ENABLE | APIC_BASE_EXTD), 0);
	CU_ASSERT_EQUAL(lapic_msr_read(v1, 0x802, &val), 0);
	CU_ASSERT_EQUAL(val, 1);
	CU_ASSERT_EQUAL(lapic_msr_read(v1, 0x80d, &val), 0);
	CU_ASSERT_EQUAL(val, 0x2);                      /* cluster 0, bit 1 */
	CU_ASSERT_EQUAL(lapic_msr_read(v1, 0x803, &val), 0);
	CU_ASSERT_EQUAL(val, 0x00050014);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, 0x80f, 0x1ff), 0);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, 0x83f, 0x66), 0);   /* self IPI */
	CU_ASSERT_EQUAL(vcpu_irq_ack(v1), 0x66);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, 0x80b, 1), -1);     /* EOI must write 0 */
	CU_ASSERT_EQUAL(lapic_msr_write(v1, 0x80b, 0), 0);
	CU_ASSERT_EQUAL(lapic_msr_read(v1, 0x810 + 3, &val), 0);
	CU_ASSERT_EQUAL(val, 0);
	/* ICR is one 64-bit MSR with a 32-bit destination: send to APIC ID 0. */
	irq_set_current(&vm.vcpus[0]);
	apic_enable(&vm);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, 0x830, (0ull << 32) | 0x4000 | 0x55), 0);
	CU_ASSERT_EQUAL(vcpu_irq_ack(&vm.vcpus[0]), 0x55);
	/* The MMIO page does not reach an x2APIC. */
	irq_set_current(v1);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x30)), 0xffffffffu);
	/* Back to xAPIC only through disabled. */
	CU_ASSERT_EQUAL(lapic_msr_write(v1, MSR_APIC_BASE, LAPIC_BASE | APIC_BASE_ENABLE), -1);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, MSR_APIC_BASE, LAPIC_BASE), 0);
	CU_ASSERT_EQUAL(lapic_msr_write(v1, MSR_APIC_BASE, LAPIC_BASE | APIC_BASE_ENABLE), 0);
	CU_ASSERT_EQUAL(fx_mmio_read(&vm, APIC(0x30)), 0x00050014);
	CU_ASSERT_FALSE(lapic_msr_is_ours(0x10));
	CU_ASSERT_TRUE(lapic_msr_is_ours(0x8ff));
	fx_destroy(&vm);
}

UNIT_SUITE(lapic,
	UNIT_CASE(test_lapic_registers),
	UNIT_CASE(test_lapic_oneshot),
	UNIT_CASE(test_lapic_periodic),
	UNIT_CASE(test_lapic_tsc_deadline),
	UNIT_CASE(test_lapic_priority_eoi),
	UNIT_CASE(test_lapic_ipi),
	UNIT_CASE(test_lapic_x2apic))
