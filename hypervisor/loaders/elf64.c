/* Plain ELF64 x86-64 kernels (e.g. a Linux vmlinux): segments go to their
 * physical addresses and the CPU starts in long mode at the entry point with
 * RSI = RDI = a boot_params page carrying the e820 map, command line and
 * initrd, as the Linux 64-bit boot protocol hands them over. */
#include <elf.h>
#include <string.h>

#include "error.h"
#include "loader_priv.h"

#define ELF64_BP_VERSION 0x020c

int elf64_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st)
{
	const struct boot_image *k = &a->kernel;
	if (!k->len)
		return err_set("kernel image is empty; pass a kernel image with --kernel");
	struct elf_kernel ek;
	if (elf_kernel_parse(m, k, 1u << ELFCLASS64, &ek) < 0)
		return -1;

	uint8_t bp[BP_SIZE];
	memset(bp, 0, sizeof(bp));
	wr16(bp + BP_BOOT_FLAG, BP_BOOT_FLAG_MAGIC);
	wr32(bp + BP_HEADER, BP_HDRS_MAGIC);
	wr16(bp + BP_VERSION, ELF64_BP_VERSION);
	bp[BP_TYPE_OF_LOADER] = 0xff;
	bp[BP_LOADFLAGS] = LOADFLAG_LOADED_HIGH;
	wr32(bp + BP_CMD_LINE_PTR, (uint32_t)LOADER_CMDLINE);
	wr32(bp + BP_CMDLINE_SIZE, (uint32_t)(LOADER_CMDLINE_MAX - 1));
	loader_bp_e820(m, bp);

	if (elf_kernel_load(m, k, &ek) < 0 ||
	    loader_put_cmdline(m, a->cmdline, LOADER_CMDLINE_MAX - 1) < 0)
		return -1;
	if (a->initrd.len) {
		uint64_t at;
		if (loader_place_initrd(m, &a->initrd, ek.hi, mem_low_top(m), true, &at) < 0)
			return -1;
		wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)at);
		wr32(bp + BP_RAMDISK_SIZE, (uint32_t)a->initrd.len);
	}
	if (mem_write(m, LOADER_ZERO_PAGE, bp, sizeof(bp)) < 0)
		return err_wrap("cannot write boot_params");
	if (loader_setup_longmode(m, st, ek.entry) < 0)
		return -1;
	st->gpr[GPR_RSI] = LOADER_ZERO_PAGE;
	st->gpr[GPR_RDI] = LOADER_ZERO_PAGE;
	return 0;
}
