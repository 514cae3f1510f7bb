/* Linux bzImage via the x86 boot protocol (Documentation/arch/x86/boot.rst),
 * 64-bit entry: the protected-mode kernel goes to 1 MiB, boot_params to the
 * zero page, and the CPU starts in long mode at load address + 0x200 with
 * RSI = boot_params. Protocol 2.12 is the minimum because the 64-bit entry
 * is only advertised through xloadflags (XLF_KERNEL_64), new in 2.12. */
#include <string.h>

#include "error.h"
#include "loader_priv.h"

#define BZ_MIN_VERSION  0x020c
#define BZ_LOAD_ADDR    0x100000ull
#define BZ_ENTRY64_OFF  0x200

struct bz_info {
	size_t setup_len;               /* real-mode part: (setup_sects + 1) * 512 */
	size_t hdr_end;                 /* end offset of the setup header */
	uint64_t kernel_len;            /* protected-mode part, rest of the file */
	uint64_t work_end;              /* highest address the kernel may use early */
	uint32_t cmdline_size, initrd_addr_max;
};

static int bz_check(const struct guest_memory *m, const struct boot_image *k, struct bz_info *bi)
{
	const uint8_t *d = k->data;
	if (k->len < BP_HEADER + 4 || rd32(d + BP_HEADER) != BP_HDRS_MAGIC ||
	    rd16(d + BP_BOOT_FLAG) != BP_BOOT_FLAG_MAGIC)
		return err_set("not a bzImage (no \"HdrS\" at 0x202 and 0xAA55 at 0x1fe); pass a Linux bzImage");
	if (k->len < BP_VERSION + 2)
		return err_set("bzImage is truncated inside its setup header (%zu bytes); re-copy the kernel image",
			       k->len);
	uint16_t ver = rd16(d + BP_VERSION);
	if (ver < BZ_MIN_VERSION)
		return err_set("bzImage boot protocol %u.%02u is too old; vmlite needs 2.12 or newer (Linux 3.8+) for the 64-bit entry",
			       ver >> 8, ver & 0xff);
	/* 2.12 headers reach at least init_size; the jump at 0x200 skips them. */
	bi->hdr_end = BP_HEADER + d[BP_JUMP + 1];
	if (bi->hdr_end < BP_INIT_SIZE + 4 || bi->hdr_end > BP_HDR_MAX_END)
		return err_set("bzImage setup header length 0x%zx is implausible; the image is corrupt",
			       bi->hdr_end - BP_HEADER);
	if (k->len < bi->hdr_end)
		return err_set("bzImage is truncated inside its setup header (%zu bytes); re-copy the kernel image",
			       k->len);
	if (!(d[BP_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return err_set("kernel is a zImage (loaded below 1 MiB); rebuild it as a bzImage");
	if (!(rd16(d + BP_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set("bzImage has no 64-bit entry point (xloadflags XLF_KERNEL_64 clear); use a 64-bit (x86_64) kernel");

	unsigned sects = d[BP_SETUP_SECTS] ? d[BP_SETUP_SECTS] : 4;  /* 0 means 4 */
	bi->setup_len = (size_t)(sects + 1) * 512;
	if (k->len <= bi->setup_len)
		return err_set("bzImage is truncated: file is %zu bytes but the setup code alone takes %zu; re-copy the kernel image",
			       k->len, bi->setup_len);
	uint64_t sys = (uint64_t)rd32(d + BP_SYSSIZE) * 16;
	bi->kernel_len = k->len - bi->setup_len;
	if (sys == 0 || sys > bi->kernel_len)
		return err_set("bzImage is truncated: setup plus protected-mode kernel need %llu bytes but the file has %zu; re-copy the kernel image",
			       (unsigned long long)(bi->setup_len + sys), k->len);

	/* The kernel decompresses itself in [max(load, pref_address), +init_size);
	 * a relocatable kernel moves to an aligned address at or above both. */
	uint64_t init_size = rd32(d + BP_INIT_SIZE);
	uint64_t pref = rd64(d + BP_PREF_ADDRESS);
	uint64_t align = rd32(d + BP_KERNEL_ALIGNMENT);
	uint64_t base = pref > BZ_LOAD_ADDR ? pref : BZ_LOAD_ADDR;
	if (d[BP_RELOCATABLE] && align > 1) {
		if (align & (align - 1))
			return err_set("bzImage kernel_alignment 0x%llx is not a power of two; the image is corrupt",
				       (unsigned long long)align);
		base = (base + align - 1) & ~(align - 1);
	}
	uint64_t need = init_size > bi->kernel_len ? init_size : bi->kernel_len;
	bi->work_end = base + need;
	uint64_t top = mem_low_top(m);
	if (bi->work_end > top || BZ_LOAD_ADDR + bi->kernel_len > top)
		return err_set("kernel needs %llu MiB of RAM to decompress (init_size 0x%llx at 0x%llx) but the guest has %llu MiB; raise --memory",
			       MIB_UP(bi->work_end), (unsigned long long)init_size,
			       (unsigned long long)base, MIB(m->ram_size));
	bi->cmdline_size = rd32(d + BP_CMDLINE_SIZE);
	bi->initrd_addr_max = rd32(d + BP_INITRD_ADDR_MAX);
	return 0;
}

int bzimage_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st)
{
	const struct boot_image *k = &a->kernel;
	struct bz_info bi = { 0 };
	if (!k->len)
		return err_set("kernel image is empty; pass a kernel image with --kernel");
	if (bz_check(m, k, &bi) < 0)
		return -1;

	uint8_t bp[BP_SIZE];
	memset(bp, 0, sizeof(bp));
	memcpy(bp + BP_SETUP_SECTS, k->data + BP_SETUP_SECTS, bi.hdr_end - BP_SETUP_SECTS);
	bp[BP_TYPE_OF_LOADER] = 0xff;   /* undefined/unregistered boot loader */
	bp[BP_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	wr16(bp + BP_HEAP_END_PTR, 0xfe00);
	wr32(bp + BP_CMD_LINE_PTR, (uint32_t)LOADER_CMDLINE);
	loader_bp_e820(m, bp);

	if (loader_put_cmdline(m, a->cmdline, bi.cmdline_size) < 0)
		return -1;
	if (mem_write(m, BZ_LOAD_ADDR, k->data + bi.setup_len, bi.kernel_len) < 0)
		return err_wrap("cannot load the kernel");
	if (a->initrd.len) {
		uint64_t hi = mem_low_top(m), at;
		if ((uint64_t)bi.initrd_addr_max + 1 < hi)
			hi = (uint64_t)bi.initrd_addr_max + 1;
		if (loader_place_initrd(m, &a->initrd, bi.work_end, hi, true, &at) < 0)
			return -1;
		wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)at);
		wr32(bp + BP_RAMDISK_SIZE, (uint32_t)a->initrd.len);
	}
	if (mem_write(m, LOADER_ZERO_PAGE, bp, sizeof(bp)) < 0)
		return err_wrap("cannot write boot_params");
	if (loader_setup_longmode(m, st, BZ_LOAD_ADDR + BZ_ENTRY64_OFF) < 0)
		return -1;
	st->gpr[GPR_RSI] = LOADER_ZERO_PAGE;
	return 0;
}
