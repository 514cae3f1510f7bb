#include "platform_fixture.h"

#define US 1000ull
#define MS 1000000ull

static uint16_t read_ch2(struct vm *vm)
{
	uint8_t lo = fx_in(vm, 0x42);
	return (uint16_t)(lo | fx_in(vm, 0x42) << 8);
}

/* Linux's pit_calibrate_tsc(): gate high, speaker off, ch2 mode 0, poll OUT2. */
static void test_pit_mode0_out2(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_out(&vm, 0x61, (fx_in(&vm, 0x61) & ~0x02) | 0x01);
	fx_out(&vm, 0x43, 0xb0);
	fx_out(&vm, 0x42, 11932 & 0xff);                /* 10 ms */
	fx_out(&vm, 0x42, 11932 >> 8);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0);
	CU_ASSERT_EQUAL(read_ch2(&vm), 11932);
	clock_fake_advance(5 * MS);
	uint16_t half = read_ch2(&vm);
	CU_ASSERT(half >= 11932 / 2 - 2 && half <= 11932 / 2 + 2);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0);
	clock_fake_advance(4990 * US);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0);
	clock_fake_advance(20 * US);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0x20);
	/* Past terminal count the counter keeps wrapping downwards. */
	uint16_t after = read_ch2(&vm);
	CU_ASSERT(after > 60000);
	fx_destroy(&vm);
}

static void test_pit_gate_and_latch(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_out(&vm, 0x61, 0x00);                        /* gate 2 low */
	fx_out(&vm, 0x43, 0xb0);
	fx_out(&vm, 0x42, 0x00);
	fx_out(&vm, 0x42, 0x10);                        /* 4096 */
	clock_fake_advance(1 * MS);
	CU_ASSERT_EQUAL(read_ch2(&vm), 4096);           /* gate low: not counting */
	fx_out(&vm, 0x61, 0x01);
	clock_fake_advance(1 * MS);                     /* 1193 ticks */
	uint16_t v = read_ch2(&vm);
	CU_ASSERT(v >= 4096 - 1194 && v <= 4096 - 1192);
	fx_out(&vm, 0x61, 0x00);
	clock_fake_advance(2 * MS);
	CU_ASSERT_EQUAL(read_ch2(&vm), v);              /* suspended */
	fx_out(&vm, 0x61, 0x01);
	/* Counter latch: the value is frozen until both bytes are read. */
	fx_out(&vm, 0x43, 0x80);
	clock_fake_advance(1 * MS);
	CU_ASSERT_EQUAL(read_ch2(&vm), v);
	CU_ASSERT(read_ch2(&vm) < v - 1000);
	/* Read-back status of ch2: OUT low, mode 0, lobyte/hibyte. */
	fx_out(&vm, 0x43, 0xe8);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x42), 0x30);
	fx_destroy(&vm);
}

static int drain_irq0(struct vm *vm)
{
	int n = 0;
	while (pic_output(vm)) {
		CU_ASSERT_EQUAL(pic_intack(vm), 0x30);
		fx_out(vm, 0x20, 0x20);
		n++;
	}
	return n;
}

static void test_pit_periodic_irq0(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fx_out(&vm, 0x43, 0x34);                        /* ch0 mode 2, lo/hi */
	fx_out(&vm, 0x40, 1193 & 0xff);                 /* ~1000 Hz */
	fx_out(&vm, 0x40, 1193 >> 8);
	int total = 0;
	for (int i = 0; i < 10; i++) {
		fx_advance(&vm, 1 * MS);
		int n = drain_irq0(&vm);
		CU_ASSERT_EQUAL(n, 1);
		total += n;
	}
	CU_ASSERT_EQUAL(total, 10);
	/* A late host loses no ticks: the 5 periods it missed are re-injected
	 * one per acknowledge, and the next tick stays on the period grid. */
	fx_advance(&vm, 5 * MS);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 5);
	fx_advance(&vm, 900 * US);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 0);
	fx_advance(&vm, 200 * US);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 1);
	/* Reprogramming to mode 0 gives exactly one interrupt. */
	fx_out(&vm, 0x43, 0x30);
	fx_out(&vm, 0x40, 0xa9);
	fx_out(&vm, 0x40, 0x04);                        /* 1193 */
	fx_advance(&vm, 2 * MS);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 1);
	fx_advance(&vm, 10 * MS);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 0);
	fx_destroy(&vm);
}

static void test_pit_mode3_and_lsb_only(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_out(&vm, 0x61, 0x01);
	fx_out(&vm, 0x43, 0x96);                        /* ch2, LSB only, mode 3 */
	fx_out(&vm, 0x42, 100);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0x20); /* first half: high */
	clock_fake_advance(clock_muldiv(60, CLOCK_NS_PER_SEC, PIT_HZ));
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0);    /* second half: low */
	clock_fake_advance(clock_muldiv(45, CLOCK_NS_PER_SEC, PIT_HZ));
	CU_ASSERT_EQUAL(fx_in(&vm, 0x61) & 0x20, 0x20);
	uint8_t v = fx_in(&vm, 0x42);                   /* LSB-only reads one byte */
	CU_ASSERT(v <= 100);
	fx_destroy(&vm);
}

/* Linux's PIT clockevent in one-shot mode: mode 4, a new count per event. */
static void test_pit_mode4_oneshot(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fx_out(&vm, 0x43, 0x38);
	for (int i = 0; i < 3; i++) {
		fx_out(&vm, 0x40, 0x9c);
		fx_out(&vm, 0x40, 0x2e);                /* 11932: 10 ms */
		fx_advance(&vm, 9 * MS);
		CU_ASSERT_EQUAL(drain_irq0(&vm), 0);
		fx_advance(&vm, 2 * MS);
		CU_ASSERT_EQUAL(drain_irq0(&vm), 1);
		fx_advance(&vm, 50 * MS);
		CU_ASSERT_EQUAL(drain_irq0(&vm), 0);    /* one event per count */
	}
	/* Read-back of ch0's count and status together: status first. */
	fx_out(&vm, 0x40, 0x10);
	fx_out(&vm, 0x40, 0x00);
	fx_out(&vm, 0x43, 0xc2);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x40), 0x80 | 0x30 | (4 << 1));
	CU_ASSERT_EQUAL(fx_in(&vm, 0x40), 0x10);
	CU_ASSERT_EQUAL(fx_in(&vm, 0x40), 0x00);
	fx_destroy(&vm);
}

/* Ticks that arrive while the previous one is still in service are owed,
 * not lost; a guest that stops acknowledging does not build a backlog. */
static void test_pit_reinject(void)
{
	struct vm vm;
	fx_init(&vm, 1);
	fx_pic_linux_init(&vm, false);
	fx_out(&vm, 0x21, 0xfe);
	fx_out(&vm, 0x43, 0x34);
	fx_out(&vm, 0x40, 0xa9);
	fx_out(&vm, 0x40, 0x04);
	fx_advance(&vm, 1 * MS);
	CU_ASSERT_EQUAL(pic_intack(&vm), 0x30);         /* handler "runs" for 3 ticks */
	fx_advance(&vm, 1 * MS);
	fx_advance(&vm, 1 * MS);
	fx_advance(&vm, 1 * MS);
	fx_out(&vm, 0x20, 0x20);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 3);
	/* IRQ0 masked for a long time: at most the latched tick and one more. */
	fx_out(&vm, 0x21, 0xff);
	for (int i = 0; i < 500; i++)
		fx_advance(&vm, 1 * MS);
	fx_out(&vm, 0x21, 0xfe);
	CU_ASSERT(drain_irq0(&vm) <= 2);
	fx_advance(&vm, 1 * MS);
	CU_ASSERT_EQUAL(drain_irq0(&vm), 1);
	fx_destroy(&vm);
}

UNIT_SUITE(pit,
	UNIT_CASE(test_pit_reinject),
	UNIT_CASE(test_pit_mode4_oneshot),
	UNIT_CASE(test_pit_mode0_out2),
	UNIT_CASE(test_pit_gate_and_latch),
	UNIT_CASE(test_pit_periodic_irq0),
	UNIT_CASE(test_pit_mode3_and_lsb_only))
