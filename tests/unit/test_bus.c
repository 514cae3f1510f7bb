#include <string.h>

#include "bus.h"
#include "memory.h"
#include "unit.h"

static int hits;
static uint64_t last_off;

static void dev_rw(void *opaque, uint64_t off, unsigned size, bool is_write, uint8_t *data)
{
	(void)opaque;
	hits++;
	last_off = off;
	if (!is_write)
		memset(data, 0x5a, size);
}

static void test_bus_dispatch(void)
{
	struct io_bus b;
	bus_init(&b, "pio");
	CU_ASSERT_EQUAL(bus_register(&b, 0x3f8, 8, dev_rw, NULL, "uart"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x80, 1, dev_rw, NULL, "post"), 0);
	hits = 0;
	uint8_t d[4] = { 0 };
	CU_ASSERT_TRUE(bus_access(&b, 0x3fd, 1, false, d));
	CU_ASSERT_EQUAL(d[0], 0x5a);
	CU_ASSERT_EQUAL(last_off, 5);
	CU_ASSERT_TRUE(bus_access(&b, 0x80, 1, true, d));
	CU_ASSERT_EQUAL(hits, 2);
	/* Unclaimed: reads float high, nothing dispatched, counted. */
	CU_ASSERT_FALSE(bus_access(&b, 0x3f7, 2, false, d));
	CU_ASSERT_EQUAL(d[0], 0xff);
	CU_ASSERT_EQUAL(d[1], 0xff);
	CU_ASSERT_EQUAL(hits, 2);
	CU_ASSERT_EQUAL(b.unhandled, 1);
	CU_ASSERT_PTR_NULL(bus_lookup(&b, 0x400));
	CU_ASSERT_PTR_NOT_NULL(bus_lookup(&b, 0x3ff));
	bus_destroy(&b);
}

static void test_bus_overlap(void)
{
	struct io_bus b;
	bus_init(&b, "mmio");
	CU_ASSERT_EQUAL(bus_register(&b, 0x1000, 0x100, dev_rw, NULL, "a"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x10ff, 1, dev_rw, NULL, "b"), -1);
	CU_ASSERT_EQUAL(bus_register(&b, 0xf00, 0x101, dev_rw, NULL, "c"), -1);
	CU_ASSERT_EQUAL(bus_register(&b, 0x800, 0x1000, dev_rw, NULL, "d"), -1);
	CU_ASSERT_EQUAL(bus_register(&b, 0x1100, 0x100, dev_rw, NULL, "e"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0xf00, 0x100, dev_rw, NULL, "f"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x5000, 0, dev_rw, NULL, "empty"), -1);
	CU_ASSERT_EQUAL(bus_register(&b, ~0ull - 1, 4, dev_rw, NULL, "wrap"), -1);
	CU_ASSERT_EQUAL(b.n, 3);
	CU_ASSERT_STRING_EQUAL(bus_lookup(&b, 0x1150)->name, "e");
	CU_ASSERT_STRING_EQUAL(bus_lookup(&b, 0xfff)->name, "f");
	bus_destroy(&b);
}

static void test_size_parse(void)
{
	uint64_t v;
	CU_ASSERT_EQUAL(size_parse("256M", &v), 0);
	CU_ASSERT_EQUAL(v, 256ull << 20);
	CU_ASSERT_EQUAL(size_parse("2G", &v), 0);
	CU_ASSERT_EQUAL(v, 2ull << 30);
	CU_ASSERT_EQUAL(size_parse("64k", &v), 0);
	CU_ASSERT_EQUAL(v, 64ull << 10);
	CU_ASSERT_EQUAL(size_parse("512MiB", &v), 0);
	CU_ASSERT_EQUAL(v, 512ull << 20);
	CU_ASSERT_EQUAL(size_parse("4096", &v), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(size_parse("", &v), -1);
	CU_ASSERT_EQUAL(size_parse("12Q", &v), -1);
	CU_ASSERT_EQUAL(size_parse("-1G", &v), -1);
	CU_ASSERT_EQUAL(size_parse("0M", &v), -1);
	CU_ASSERT_EQUAL(size_parse("1GG", &v), -1);
	CU_ASSERT_EQUAL(size_parse("99999999999999999999G", &v), -1);
	CU_ASSERT_EQUAL(size_parse("17179869184T", &v), -1);
}

static void test_mem_map(void)
{
	struct guest_memory m;
	CU_ASSERT_EQUAL(mem_init(&m, 1ull << 20), -1);  /* below the minimum */
	CU_ASSERT_EQUAL(mem_init(&m, 64ull << 20), 0);
	CU_ASSERT_PTR_NOT_NULL(mem_gpa_to_hva(&m, 0, 64ull << 20));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, (64ull << 20) - 4, 8));
	CU_ASSERT_EQUAL(mem_add_region(&m, 0xfee00000, 0x1000, MEM_MMIO, NULL, "lapic"), 0);
	CU_ASSERT_EQUAL(mem_add_region(&m, 0x1000, 0x1000, MEM_ROM, NULL, "overlap"), -1);
	struct e820_entry e[8];
	int n = mem_e820(&m, e, 8);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(e[0].type, E820_RAM);
	CU_ASSERT_EQUAL(e[3].addr, 0x100000);
	CU_ASSERT_EQUAL(e[3].addr + e[3].size, 64ull << 20);
	uint32_t x = 0xdeadbeef;
	CU_ASSERT_EQUAL(mem_write(&m, 0x2000, &x, 4), 0);
	CU_ASSERT_EQUAL(*(uint32_t *)(m.ram + 0x2000), 0xdeadbeef);
	CU_ASSERT_EQUAL(mem_write(&m, 0xfee00000, &x, 4), -1);
	mem_destroy(&m);
}

static void test_mem_high(void)
{
	struct guest_memory m;
	CU_ASSERT_EQUAL(mem_init(&m, 4ull << 30), 0);
	CU_ASSERT_EQUAL(mem_low_top(&m), MEM_LOW_LIMIT);
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 0xd0000000, 1));
	uint8_t *hi = mem_gpa_to_hva(&m, MEM_HIGH_BASE, 1);
	CU_ASSERT_PTR_EQUAL(hi, m.ram + MEM_LOW_LIMIT);
	struct e820_entry e[8];
	int n = mem_e820(&m, e, 8);
	CU_ASSERT_EQUAL(e[n - 1].addr, MEM_HIGH_BASE);
	CU_ASSERT_EQUAL(e[n - 1].size, (4ull << 30) - MEM_LOW_LIMIT);
	mem_destroy(&m);
}

UNIT_SUITE(bus,
	UNIT_CASE(test_bus_dispatch),
	UNIT_CASE(test_bus_overlap),
	UNIT_CASE(test_size_parse),
	UNIT_CASE(test_mem_map),
	UNIT_CASE(test_mem_high))
