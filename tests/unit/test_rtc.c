#include "platform_fixture.h"

#define MS 1000000ull

static uint8_t cmos(struct vm *vm, uint8_t idx)
{
	fx_out(vm, 0x70, idx);
	return fx_in(vm, 0x71);
}

static void cmos_set(struct vm *vm, uint8_t idx, uint8_t v)
{
	fx_out(vm, 0x70, idx);
	fx_out(vm, 0x71, v);
}

/* FX_REALTIME_S is 2023-11-14 22:13:20 UTC, a Tuesday. */
static void test_rtc_bcd_time(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	CU_ASSERT_EQUAL(cmos(&vm, 0x00), 0x20);
	CU_ASSERT_EQUAL(cmos(&vm, 0x02), 0x13);
	CU_ASSERT_EQUAL(cmos(&vm, 0x04), 0x22);
	CU_ASSERT_EQUAL(cmos(&vm, 0x06), 0x03);
	CU_ASSERT_EQUAL(cmos(&vm, 0x07), 0x14);
	CU_ASSERT_EQUAL(cmos(&vm, 0x08), 0x11);
	CU_ASSERT_EQUAL(cmos(&vm, 0x09), 0x23);
	CU_ASSERT_EQUAL(cmos(&vm, 0x32), 0x20);
	CU_ASSERT_EQUAL(cmos(&vm, 0x0d), 0x80);
	clock_fake_advance(61ull * CLOCK_NS_PER_SEC);
	CU_ASSERT_EQUAL(cmos(&vm, 0x00), 0x21);
	CU_ASSERT_EQUAL(cmos(&vm, 0x02), 0x14);
	fx_destroy(&vm);
}

static void test_rtc_binary_12h(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	cmos_set(&vm, 0x0b, 0x06);                      /* binary, 24h */
	CU_ASSERT_EQUAL(cmos(&vm, 0x00), 20);
	CU_ASSERT_EQUAL(cmos(&vm, 0x04), 22);
	CU_ASSERT_EQUAL(cmos(&vm, 0x09), 23);
	cmos_set(&vm, 0x0b, 0x04);                      /* binary, 12h */
	CU_ASSERT_EQUAL(cmos(&vm, 0x04), 0x80 | 10);
	cmos_set(&vm, 0x0b, 0x00);                      /* BCD, 12h */
	CU_ASSERT_EQUAL(cmos(&vm, 0x04), 0x80 | 0x10);
	fx_destroy(&vm);
}

static void test_rtc_set_time(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	cmos_set(&vm, 0x0b, 0x82);                      /* SET, BCD, 24h */
	cmos_set(&vm, 0x09, 0x30);
	cmos_set(&vm, 0x08, 0x01);
	cmos_set(&vm, 0x07, 0x02);
	cmos_set(&vm, 0x04, 0x03);
	cmos_set(&vm, 0x02, 0x04);
	cmos_set(&vm, 0x00, 0x05);
	clock_fake_advance(10ull * CLOCK_NS_PER_SEC);
	CU_ASSERT_EQUAL(cmos(&vm, 0x00), 0x05);         /* frozen while SET */
	cmos_set(&vm, 0x0b, 0x02);
	clock_fake_advance(3ull * CLOCK_NS_PER_SEC);
	CU_ASSERT_EQUAL(cmos(&vm, 0x00), 0x08);
	CU_ASSERT_EQUAL(cmos(&vm, 0x02), 0x04);
	CU_ASSERT_EQUAL(cmos(&vm, 0x09), 0x30);
	CU_ASSERT_EQUAL(cmos(&vm, 0x08), 0x01);
	CU_ASSERT_EQUAL(cmos(&vm, 0x06), 0x04);         /* 2030-01-02: Wednesday, Sunday = 1 */
	fx_destroy(&vm);
}

static void test_rtc_uip(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	CU_ASSERT_EQUAL(cmos(&vm, 0x0a), 0x26);
	clock_fake_advance(CLOCK_NS_PER_SEC - 100000);  /* 100 us before the update */
	CU_ASSERT_EQUAL(cmos(&vm, 0x0a), 0xa6);
	clock_fake_advance(200000);
	CU_ASSERT_EQUAL(cmos(&vm, 0x0a), 0x26);
	fx_destroy(&vm);
}

static void test_rtc_irq8(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfb);
	fx_out(&vm, 0xa1, 0xfe);
	cmos_set(&vm, 0x0b, 0x42);                      /* PIE, 1024 Hz */
	fx_advance(&vm, 2 * MS);
	CU_ASSERT_TRUE(pic_output(&vm));
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x38);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	fx_advance(&vm, 2 * MS);
	CU_ASSERT_FALSE(pic_output(&vm));               /* no new edge until C is read */
	CU_ASSERT_EQUAL(cmos(&vm, 0x0c), 0xc0);         /* IRQF | PF */
	CU_ASSERT_EQUAL(cmos(&vm, 0x0c), 0x00);         /* reading cleared it */
	fx_advance(&vm, 1 * MS);
	CU_ASSERT_TRUE(pic_output(&vm));
	pic_intack(&vm);
	fx_out(&vm, 0xa0, 0x20);
	fx_out(&vm, 0x20, 0x20);
	cmos(&vm, 0x0c);
	/* Update-ended and alarm: alarm 2 s ahead (22:13:22), don't-care hours. */
	cmos_set(&vm, 0x0b, 0x32);                      /* AIE | UIE */
	cmos_set(&vm, 0x01, 0x22);
	cmos_set(&vm, 0x03, 0x13);
	cmos_set(&vm, 0x05, 0xc0);
	fx_advance(&vm, CLOCK_NS_PER_SEC);
	CU_ASSERT_EQUAL(cmos(&vm, 0x0c), 0x90);         /* IRQF | UF */
	fx_advance(&vm, CLOCK_NS_PER_SEC);
	CU_ASSERT_EQUAL(cmos(&vm, 0x0c), 0xb0);         /* IRQF | AF | UF */
	fx_destroy(&vm);
}

static void test_rtc_cmos_memory(void)
{
	struct vm vm;
	fx_init_mem(&vm, 4, 4ull << 30);                /* 3 GiB low + 1 GiB high */
	CU_ASSERT_EQUAL(cmos(&vm, 0x15) | cmos(&vm, 0x16) << 8, 640);
	CU_ASSERT_EQUAL(cmos(&vm, 0x30) | cmos(&vm, 0x31) << 8, 0xffff);
	unsigned above16 = cmos(&vm, 0x34) | cmos(&vm, 0x35) << 8;
	CU_ASSERT_EQUAL(above16, ((3u << 30) - (16u << 20)) >> 16);
	unsigned above4g = cmos(&vm, 0x5b) | cmos(&vm, 0x5c) << 8 | cmos(&vm, 0x5d) << 16;
	CU_ASSERT_EQUAL(above4g, (1u << 30) >> 16);
	CU_ASSERT_EQUAL(cmos(&vm, 0x5f), 3);
	fx_destroy(&vm);
	fx_init_mem(&vm, 1, 64ull << 20);
	CU_ASSERT_EQUAL(cmos(&vm, 0x30) | cmos(&vm, 0x31) << 8, 63 * 1024);
	CU_ASSERT_EQUAL(cmos(&vm, 0x34) | cmos(&vm, 0x35) << 8, (48u << 20) >> 16);
	CU_ASSERT_EQUAL(cmos(&vm, 0x5b) | cmos(&vm, 0x5c) | cmos(&vm, 0x5d), 0);
	/* Plain CMOS RAM keeps what is written; bit 7 of 0x70 is the NMI mask. */
	fx_out(&vm, 0x70, 0x80 | 0x40);
	fx_out(&vm, 0x71, 0x5a);
	CU_ASSERT_EQUAL(cmos(&vm, 0x40), 0x5a);
	fx_destroy(&vm);
}

UNIT_SUITE(rtc,
	UNIT_CASE(test_rtc_bcd_time),
	UNIT_CASE(test_rtc_binary_12h),
	UNIT_CASE(test_rtc_set_time),
	UNIT_CASE(test_rtc_uip),
	UNIT_CASE(test_rtc_irq8),
	UNIT_CASE(test_rtc_cmos_memory))
