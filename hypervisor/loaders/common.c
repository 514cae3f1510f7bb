/* Pieces several loaders share: command line, initrd placement, e820 table. */
#include <string.h>

#include "error.h"
#include "loader_priv.h"

int loader_put_cmdline(struct guest_memory *m, const char *cmdline, uint64_t max_len)
{
	if (!cmdline)
		cmdline = "";
	size_t len = strlen(cmdline);
	if (max_len > LOADER_CMDLINE_MAX - 1)
		max_len = LOADER_CMDLINE_MAX - 1;
	if (len > max_len)
		return err_set("command line is %zu bytes but this kernel accepts at most %llu; shorten --cmdline",
			       len, (unsigned long long)max_len);
	return mem_write(m, LOADER_CMDLINE, cmdline, len + 1);
}

int loader_place_initrd(struct guest_memory *m, const struct boot_image *initrd,
			uint64_t lo, uint64_t hi, bool high, uint64_t *addr)
{
	uint64_t len = initrd->len;
	lo = (lo + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (len > m->ram_size)
		return err_set("initrd (%llu MiB) does not fit in guest RAM (%llu MiB); raise --memory",
			       MIB_UP(len), MIB(m->ram_size));
	if (lo > hi || hi - lo < len)
		return err_set("initrd (%llu MiB) does not fit in guest RAM (%llu MiB) next to the kernel: only %llu MiB free in [0x%llx-0x%llx); raise --memory",
			       MIB_UP(len), MIB(m->ram_size), lo > hi ? 0 : MIB(hi - lo),
			       (unsigned long long)lo, (unsigned long long)hi);
	uint64_t a = high ? (hi - len) & ~(PAGE_SIZE_4K - 1) : lo;
	if (mem_write(m, a, initrd->data, len) < 0)
		return err_wrap("cannot place the initrd");
	*addr = a;
	return 0;
}

void loader_bp_e820(const struct guest_memory *m, uint8_t *bp)
{
	struct e820_entry e[BP_E820_MAX];
	int n = mem_e820(m, e, BP_E820_MAX);
	for (int i = 0; i < n; i++) {
		uint8_t *p = bp + BP_E820_TABLE + 20 * i;
		wr64(p, e[i].addr);
		wr64(p + 8, e[i].size);
		wr32(p + 16, e[i].type);
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
}
