/* VMI: the lazy-mode queue — explicit flush, implicit drain before other
 * calls, failure and oversize rules (SPEC.md 8). */
#include <string.h>

#include "unit.h"
#include "test_vmi_fake.h"

static struct fake_vcpu f;
static struct vmi_host h;
static struct vmi_ctx c;

#define E(x) ((uint64_t)(int64_t)(x))
#define QPAGE (f.ram + FAKE_VCPU_PAGE)

static uint64_t rdx;

static uint64_t call(uint64_t nr, uint64_t a0)
{
	uint64_t a[6] = { a0, 0, 0, 0, 0, 0 }, r[2] = { 0, 0 };
	CU_ASSERT_EQUAL(vmi_dispatch(&c, nr, a, r), VMI_DONE);
	rdx = r[1];
	return r[0];
}

static void put(unsigned i, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct vmi_queue_entry e = { .call = nr, .args = { a0, a1, a2, 0 }, .result = 99 };
	memcpy(QPAGE + VMI_VCPU_OFF_QUEUE + i * sizeof(e), &e, sizeof(e));
}

static void set_count(uint32_t n)
{
	memcpy(QPAGE + VMI_VCPU_OFF_QUEUE_COUNT, &n, 4);
}

static uint32_t get32(unsigned off)
{
	uint32_t v;
	memcpy(&v, QPAGE + off, 4);
	return v;
}

static int64_t result(unsigned i)
{
	int64_t r;
	memcpy(&r, QPAGE + VMI_VCPU_OFF_QUEUE + i * sizeof(struct vmi_queue_entry) +
	       offsetof(struct vmi_queue_entry, result), 8);
	return r;
}

static uint64_t ram64(uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, f.ram + gpa, 8);
	return v;
}

static void test_vmi_batch_flush(void)
{
	CU_ASSERT_EQUAL_FATAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, true), 0);
	/* Empty queue: nothing to do. */
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), 0);
	CU_ASSERT_EQUAL(rdx, 0);
	/* Entries run in order: the second PTE write to the same slot wins. */
	put(0, VMI_CALL_SET_PXE, 1, 0x5000, 0x1003);
	put(1, VMI_CALL_SET_PXE, 1, 0x5008, 0x2003);
	put(2, VMI_CALL_SET_PXE, 1, 0x5000, 0x3003);
	put(3, VMI_CALL_FLUSH_TLB_ONE, 0xffff888000000000ull, 0, 0);
	set_count(4);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), 0);
	CU_ASSERT_EQUAL(rdx, 4);
	CU_ASSERT_EQUAL(ram64(0x5000), 0x3003);
	CU_ASSERT_EQUAL(ram64(0x5008), 0x2003);
	CU_ASSERT_EQUAL(f.flushes[VMI_FLUSH_ONE], 1);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_COUNT), 0);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_DONE), 4);
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(result(i), 0);
	CU_ASSERT_EQUAL(c.stats.batched, 4);
	CU_ASSERT_EQUAL(c.stats.calls[VMI_CALL_SET_PXE], 3);
	/* A full queue is fine. */
	for (unsigned i = 0; i < VMI_QUEUE_MAX; i++)
		put(i, VMI_CALL_SET_PXE, 1, 0x6000 + 8 * i, i);
	set_count(VMI_QUEUE_MAX);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), 0);
	CU_ASSERT_EQUAL(rdx, VMI_QUEUE_MAX);
	CU_ASSERT_EQUAL(ram64(0x6000 + 8 * 63), 63);
	fake_teardown(&f, &h);
}

static void test_vmi_batch_errors(void)
{
	CU_ASSERT_EQUAL_FATAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, true), 0);
	/* The first failing entry stops the flush; later ones are cancelled. */
	put(0, VMI_CALL_SET_PXE, 1, 0x5000, 0x1003);
	put(1, VMI_CALL_SET_PXE, 1, FAKE_RAM_SIZE, 0x2003);
	put(2, VMI_CALL_SET_PXE, 1, 0x5008, 0x3003);
	set_count(3);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_EFAULT));
	CU_ASSERT_EQUAL(rdx, 1);
	CU_ASSERT_EQUAL(result(0), 0);
	CU_ASSERT_EQUAL(result(1), VMI_EFAULT);
	CU_ASSERT_EQUAL(result(2), VMI_ECANCELED);
	CU_ASSERT_EQUAL(ram64(0x5000), 0x1003);
	CU_ASSERT_EQUAL(ram64(0x5008), 0);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_COUNT), 0);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_DONE), 1);

	/* Calls that are not batchable, or unknown, are refused in the queue. */
	put(0, VMI_CALL_SHUTDOWN, 0, 0, 0);
	put(1, VMI_CALL_SET_PXE, 1, 0x5008, 0x3003);
	set_count(2);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_EINVAL));
	CU_ASSERT_EQUAL(f.power, -1);
	CU_ASSERT_EQUAL(result(0), VMI_EINVAL);
	CU_ASSERT_EQUAL(result(1), VMI_ECANCELED);
	put(0, VMI_CALL_BATCH_FLUSH, 0, 0, 0);
	put(1, 5000, 0, 0, 0);
	set_count(1);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_EINVAL));
	put(0, 5000, 0, 0, 0);
	set_count(1);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_EINVAL));

	/* Oversized: nothing runs, the queue is discarded. */
	for (unsigned i = 0; i < VMI_QUEUE_MAX; i++)
		put(i, VMI_CALL_SET_PXE, 1, 0x7000 + 8 * i, 0x55);
	set_count(VMI_QUEUE_MAX + 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_E2BIG));
	CU_ASSERT_EQUAL(ram64(0x7000), 0);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_COUNT), 0);
	set_count(0xffffffffu);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_E2BIG));
	CU_ASSERT_EQUAL(ram64(0x7000), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), 0);   /* not stuck */

	/* No per-vCPU page, no queue. */
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, 0), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(call(VMI_CALL_BATCH_FLUSH, 0), E(VMI_ENODEV));
	fake_teardown(&f, &h);
}

static void test_vmi_batch_implicit(void)
{
	CU_ASSERT_EQUAL_FATAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, true), 0);
	/* A synchronous MMU call sees the queued PTE writes already applied. */
	put(0, VMI_CALL_SET_PXE, 1, 0x5000, 0x1003);
	set_count(1);
	CU_ASSERT_EQUAL(call(VMI_CALL_WRITE_CR3, 0x20000), 0);
	CU_ASSERT_EQUAL(ram64(0x5000), 0x1003);
	CU_ASSERT_EQUAL(f.cr[3], 0x20000);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_COUNT), 0);
	/* Calls that do not drain leave the queue alone. */
	put(0, VMI_CALL_SET_PXE, 1, 0x5008, 0x2003);
	set_count(1);
	CU_ASSERT_EQUAL(call(VMI_CALL_IRQ_DISABLE, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_IO_DELAY, 0), 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_VERSION, 0), VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(ram64(0x5008), 0);
	CU_ASSERT_EQUAL(get32(VMI_VCPU_OFF_QUEUE_COUNT), 1);
	/* Halting drains: queued work is visible before the vCPU sleeps. */
	CU_ASSERT_EQUAL(call(VMI_CALL_HALT, 0), 0);
	CU_ASSERT_EQUAL(ram64(0x5008), 0x2003);
	/* A failed drain cancels the triggering call. */
	put(0, VMI_CALL_SET_PXE, 7, 0x5000, 0);
	set_count(1);
	CU_ASSERT_EQUAL(call(VMI_CALL_SHUTDOWN, 0), E(VMI_ECANCELED));
	CU_ASSERT_EQUAL(f.power, -1);
	CU_ASSERT_EQUAL(result(0), VMI_EINVAL);
	CU_ASSERT_EQUAL(call(VMI_CALL_SHUTDOWN, 0), 0);
	CU_ASSERT_EQUAL(f.power, VMI_POWER_OFF);
	/* Oversized queue before a draining call: E2BIG surfaces as ECANCELED. */
	set_count(VMI_QUEUE_MAX + 1);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_ALL, 0), E(VMI_ECANCELED));
	CU_ASSERT_EQUAL(f.flushes[VMI_FLUSH_ALL], 0);
	CU_ASSERT_EQUAL(call(VMI_CALL_FLUSH_TLB_ALL, 0), 0);
	CU_ASSERT_EQUAL(f.flushes[VMI_FLUSH_ALL], 1);
	fake_teardown(&f, &h);
}

UNIT_SUITE(vmi_batch,
	UNIT_CASE(test_vmi_batch_flush),
	UNIT_CASE(test_vmi_batch_errors),
	UNIT_CASE(test_vmi_batch_implicit))
