/* Memory: the multiboot memory information, then pattern tests over a
 * window of RAM. Run with --memory 64M.
 *
 * Printed summary (identical for any correct loader given 64 MiB):
 *   usable RAM below 1 MiB in KiB (from the memory map),
 *   usable RAM above 1 MiB rounded to the nearest MiB (from the memory map),
 *   mem_upper rounded to the nearest MiB.
 * vmlite reports [0, 0x9fc00) and [1 MiB, 64 MiB): 639 KiB and 63 MiB. QEMU
 * keeps the top 128 KiB for firmware (62.875 MiB), which also rounds to 63. */
#include "multiboot.h"
#include "rt.h"

#define WINDOW_START    (8u << 20)
#define WINDOW_SIZE     (4u << 20)
#define STRIDE          1024u   /* bytes between tested words */

static uint32_t round_mib(uint64_t bytes)
{
	return (uint32_t)((bytes + (1u << 19)) >> 20);
}

/* True if [start, end) lies inside one usable memory-map entry. */
static int usable(const struct mb_info *mb, uint64_t start, uint64_t end)
{
	uint32_t off = 0;
	while (off + 4 <= mb->mmap_length) {
		const struct mb_mmap_entry *e = (const void *)(uintptr_t)(mb->mmap_addr + off);
		if (e->type == MB_MMAP_RAM && start >= e->addr && end <= e->addr + e->len)
			return 1;
		off += e->size + 4;
	}
	return 0;
}

static uint32_t pattern(uint32_t addr)
{
	return addr ^ 0x5a5aa5a5u ^ (addr << 13);
}

int guest_main(uint32_t mbi)
{
	const struct mb_info *mb = (const void *)(uintptr_t)mbi;

	rt_check(mb->flags & MBI_FLAG_MEM, "multiboot flags: mem_lower/mem_upper present");
	if (!rt_check(mb->flags & MBI_FLAG_MMAP, "multiboot flags: memory map present"))
		return RT_FAIL;

	uint64_t low = 0, high = 0, top = 0;
	int entries = 0;
	for (uint32_t off = 0; off + 4 <= mb->mmap_length; entries++) {
		const struct mb_mmap_entry *e = (const void *)(uintptr_t)(mb->mmap_addr + off);
		if (e->size < 20 || entries > 64)
			break;
		if (e->type == MB_MMAP_RAM) {
			uint64_t s = e->addr, end = e->addr + e->len;
			if (s < 0x100000)
				low += (end < 0x100000 ? end : 0x100000) - s;
			if (end > 0x100000)
				high += end - (s > 0x100000 ? s : 0x100000);
			if (end <= (1ull << 32) && end > top)
				top = end;
		}
		off += e->size + 4;
	}
#ifdef MEMTEST_VERBOSE
	for (uint32_t off = 0; off + 4 <= mb->mmap_length;) {
		const struct mb_mmap_entry *e = (const void *)(uintptr_t)(mb->mmap_addr + off);
		rt_printf("  mmap 0x%llx+0x%llx type %u\n", e->addr, e->len, e->type);
		off += e->size + 4;
	}
	rt_printf("  mem_lower %u mem_upper %u\n", mb->mem_lower, mb->mem_upper);
#endif
	rt_check(entries >= 2, "memory map has at least two entries");
	rt_printf("usable below 1 MiB: %u KiB\n", (uint32_t)(low >> 10));
	rt_printf("usable above 1 MiB: %u MiB\n", round_mib(high));
	rt_printf("mem_lower: %u KiB\n", mb->mem_lower);
	rt_printf("mem_upper: %u MiB\n", round_mib((uint64_t)mb->mem_upper << 10));

	if (!rt_check(usable(mb, WINDOW_START, WINDOW_START + WINDOW_SIZE),
		      "test window [8 MiB, 12 MiB) is usable RAM"))
		return RT_FAIL;

	/* Address-derived values, then their complement: catches aliasing
	 * (two addresses backed by the same host page) and stuck bits. */
	volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)WINDOW_START;
	uint32_t n = WINDOW_SIZE / STRIDE, bad = 0;
	for (int inv = 0; inv < 2; inv++) {
		uint32_t x = inv ? 0xffffffffu : 0;
		for (uint32_t i = 0; i < n; i++)
			w[i * (STRIDE / 4)] = pattern(WINDOW_START + i * STRIDE) ^ x;
		for (uint32_t i = 0; i < n; i++)
			bad += w[i * (STRIDE / 4)] != (pattern(WINDOW_START + i * STRIDE) ^ x);
	}
	rt_printf("address patterns over %u words: %u mismatches\n", n, bad);
	rt_check(bad == 0, "address patterns");

	/* Walking ones at a few spread-out words (each bit on its own). */
	bad = 0;
	for (uint32_t i = 0; i < 16; i++) {
		volatile uint32_t *p = w + i * (WINDOW_SIZE / 16 / 4) + i;
		for (int bit = 0; bit < 32; bit++) {
			*p = 1u << bit;
			bad += *p != (1u << bit);
		}
	}
	rt_check(bad == 0, "walking ones");

	/* Sub-word writes must merge into the containing word. */
	volatile uint8_t *b = (volatile uint8_t *)w;
	w[0] = 0;
	b[1] = 0x11;
	b[3] = 0x33;
	*(volatile uint16_t *)(b + 4) = 0x5544;
	rt_check(w[0] == 0x33001100u && (w[1] & 0xffff) == 0x5544, "byte and word writes");

	/* The last words of RAM below 4 GiB exist and hold what is written. */
	volatile uint32_t *last = (volatile uint32_t *)(uintptr_t)(top - 4);
	volatile uint32_t *lastpage = (volatile uint32_t *)(uintptr_t)(top - 4096);
	*last = 0xdeadbeef;
	*lastpage = 0xcafef00d;
	rt_check(top > WINDOW_START + WINDOW_SIZE && *last == 0xdeadbeef &&
		 *lastpage == 0xcafef00d, "top of RAM is writable");

	rt_printf("memtest: %d failure(s)\n", rt_failures);
	return rt_failures ? RT_FAIL : RT_PASS;
}
