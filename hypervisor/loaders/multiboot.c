/* Multiboot v1 kernels: ELF (via libelf, see elfimg.c) or the a.out kludge
 * (header address fields, flags bit 16). Entered in flat 32-bit protected
 * mode with EAX = 0x2BADB002 and EBX = the multiboot info structure. */
#include <elf.h>
#include <string.h>

#include "error.h"
#include "loader_priv.h"

#define MB_MAGIC            0x1badb002u
#define MB_BOOT_MAGIC       0x2badb002u
#define MB_SEARCH           8192
#define MB_FLAG_PAGE_ALIGN  (1u << 0)
#define MB_FLAG_MEMINFO     (1u << 1)
#define MB_FLAG_VIDEO       (1u << 2)
#define MB_FLAG_AOUT        (1u << 16)

#define MBI_MEM             (1u << 0)
#define MBI_CMDLINE         (1u << 2)
#define MBI_MODS            (1u << 3)
#define MBI_MMAP            (1u << 6)
#define MBI_LOADER_NAME     (1u << 9)
#define MBI_SIZE            0x80

long multiboot_find_header(const struct boot_image *k, long *bad_off)
{
	if (bad_off)
		*bad_off = -1;
	size_t end = k->len < MB_SEARCH ? k->len : MB_SEARCH;
	for (size_t off = 0; off + 12 <= end; off += 4) {
		const uint8_t *p = k->data + off;
		if (rd32(p) != MB_MAGIC)
			continue;
		if ((uint32_t)(rd32(p) + rd32(p + 4) + rd32(p + 8)) == 0)
			return (long)off;
		if (bad_off && *bad_off < 0)
			*bad_off = (long)off;
	}
	return -1;
}

struct mb_image {
	uint32_t entry;
	uint64_t lo, hi;                /* physical extent including bss */
};

/* The a.out kludge: the header says where its own bytes go, so the file
 * offset of load_addr is header offset - (header_addr - load_addr). */
static int aout_load(struct guest_memory *m, const struct boot_image *k, long hoff,
		     struct mb_image *img)
{
	const uint8_t *h = k->data + hoff;
	if ((size_t)hoff + 32 > k->len)
		return err_set("multiboot header at offset 0x%lx is cut off before its address fields; the image is truncated",
			       hoff);
	uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
	uint32_t load_end = rd32(h + 20), bss_end = rd32(h + 24), entry = rd32(h + 28);
	if (load_addr > header_addr)
		return err_set("multiboot a.out kludge: load_addr 0x%x is above header_addr 0x%x; fix the multiboot header",
			       load_addr, header_addr);
	if (header_addr - load_addr > (uint64_t)hoff)
		return err_set("multiboot a.out kludge: header_addr - load_addr (0x%x) exceeds the header's file offset 0x%lx; fix the multiboot header",
			       header_addr - load_addr, hoff);
	uint64_t foff = (uint64_t)hoff - (header_addr - load_addr);
	uint64_t avail = k->len - foff;
	uint64_t size;
	if (load_end == 0) {
		size = avail;   /* spec: 0 means the rest of the file */
	} else {
		if (load_end <= load_addr)
			return err_set("multiboot a.out kludge: load_end_addr 0x%x is not above load_addr 0x%x; fix the multiboot header",
				       load_end, load_addr);
		size = (uint64_t)load_end - load_addr;
		if (size > avail)
			return err_set("multiboot a.out kludge: load_end_addr 0x%x lies beyond the end of the file (needs 0x%llx bytes from offset 0x%llx, file has %zu); the image is truncated or the header is wrong",
				       load_end, (unsigned long long)size, (unsigned long long)foff, k->len);
	}
	uint64_t end = (uint64_t)load_addr + size;
	uint64_t memend = end;
	if (bss_end) {
		if (bss_end < end)
			return err_set("multiboot a.out kludge: bss_end_addr 0x%x is below the load end 0x%llx; fix the multiboot header",
				       bss_end, (unsigned long long)end);
		memend = bss_end;
	}
	if (load_addr < LOADER_KERNEL_MIN)
		return err_set("multiboot a.out kludge: load_addr 0x%x lies below 1 MiB (loader data, ACPI and the VGA/BIOS hole live there); link the kernel at or above 0x100000",
			       load_addr);
	uint64_t top = mem_low_top(m);
	if (memend > top)
		return err_set("multiboot kernel [0x%x-0x%llx) lies outside guest RAM (RAM below 4 GiB ends at 0x%llx); raise --memory",
			       load_addr, (unsigned long long)memend, (unsigned long long)top);
	if ((uint64_t)header_addr + 32 > end)
		return err_set("multiboot a.out kludge: header_addr 0x%x is outside the loaded image [0x%x-0x%llx); fix the multiboot header",
			       header_addr, load_addr, (unsigned long long)end);
	if (entry < load_addr || entry >= end)
		return err_set("multiboot a.out kludge: entry_addr 0x%x is outside the loaded image [0x%x-0x%llx); fix the multiboot header",
			       entry, load_addr, (unsigned long long)end);
	uint8_t *dst = mem_gpa_to_hva(m, load_addr, memend - load_addr);
	if (!dst)
		return err_set("multiboot kernel at 0x%x is not in RAM; raise --memory", load_addr);
	memcpy(dst, k->data + foff, size);
	memset(dst + size, 0, memend - end);
	img->entry = entry;
	img->lo = load_addr;
	img->hi = memend;
	return 0;
}

static int elf_load(struct guest_memory *m, const struct boot_image *k, struct mb_image *img)
{
	if (!elf_is_elf(k))
		return err_set("multiboot header has no address fields (flags bit 16) and the image is not ELF; link the kernel as ELF or set the a.out kludge fields");
	/* ELF64 multiboot kernels exist (GRUB loads them by p_paddr and still
	 * enters in 32-bit mode); the segment rules keep them below 4 GiB. */
	struct elf_kernel ek;
	if (elf_kernel_parse(m, k, (1u << ELFCLASS32) | (1u << ELFCLASS64), &ek) < 0 ||
	    elf_kernel_load(m, k, &ek) < 0)
		return -1;
	img->entry = (uint32_t)ek.entry;
	img->lo = ek.lo;
	img->hi = ek.hi;
	return 0;
}

static void mbi_put_mmap(const struct guest_memory *m, uint8_t *mbi, uint8_t *mmap)
{
	struct e820_entry e[128];
	int n = mem_e820(m, e, 128);
	_Static_assert(LOADER_MBI_MMAP + 128 * 24 <= LOADER_MBI_END, "mmap overflows its slot");
	for (int i = 0; i < n; i++) {
		uint8_t *p = mmap + 24 * i;
		wr32(p, 20);            /* size of the entry, not counting this field */
		wr64(p + 4, e[i].addr);
		wr64(p + 12, e[i].size);
		wr32(p + 20, e[i].type);
	}
	wr32(mbi + 44, (uint32_t)(24 * n));
	wr32(mbi + 48, (uint32_t)LOADER_MBI_MMAP);
}

static int mbi_build(struct guest_memory *m, const struct boot_args *a, const struct mb_image *img)
{
	uint8_t *low = mem_gpa_to_hva(m, LOADER_MBI, LOADER_MBI_END - LOADER_MBI);
	if (!low)
		return err_set("guest RAM too small for the multiboot info; raise --memory");
	memset(low, 0, LOADER_MBI_END - LOADER_MBI);
	uint8_t *mbi = low;
	uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;

	/* mem_upper is the contiguous RAM from 1 MiB up to the first hole. */
	uint64_t top = mem_low_top(m);
	wr32(mbi + 4, 0x9fc00 / 1024);
	wr32(mbi + 8, (uint32_t)((top - 0x100000) / 1024));
	wr32(mbi + 16, (uint32_t)LOADER_CMDLINE);
	if (loader_put_cmdline(m, a->cmdline, LOADER_CMDLINE_MAX - 1) < 0)
		return -1;

	wr32(mbi + 20, 0);
	wr32(mbi + 24, (uint32_t)LOADER_MBI_MODS);
	if (a->initrd.len) {
		uint64_t at;
		if (loader_place_initrd(m, &a->initrd, img->hi, top, false, &at) < 0)
			return -1;
		uint8_t *mod = low + (LOADER_MBI_MODS - LOADER_MBI);
		wr32(mod, (uint32_t)at);
		wr32(mod + 4, (uint32_t)(at + a->initrd.len));
		wr32(mod + 8, (uint32_t)LOADER_MBI_MODSTR);
		memcpy(low + (LOADER_MBI_MODSTR - LOADER_MBI), "initrd", 7);
		wr32(mbi + 20, 1);
	}
	mbi_put_mmap(m, mbi, low + (LOADER_MBI_MMAP - LOADER_MBI));
	memcpy(low + (LOADER_MBI_NAME - LOADER_MBI), "vmlite", 7);
	wr32(mbi + 64, (uint32_t)LOADER_MBI_NAME);
	wr32(mbi, flags);
	return 0;
}

int multiboot_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st)
{
	const struct boot_image *k = &a->kernel;
	if (!k->len)
		return err_set("kernel image is empty; pass a kernel image with --kernel");
	long bad;
	long hoff = multiboot_find_header(k, &bad);
	if (hoff < 0) {
		if (bad >= 0)
			return err_set("multiboot header at offset 0x%lx has a bad checksum (magic + flags + checksum must be 0 mod 2^32); fix the kernel's multiboot header",
				       bad);
		return err_set("no multiboot header (magic 0x1BADB002) in the first 8 KiB; pass a multiboot kernel");
	}
	uint32_t flags = rd32(k->data + hoff + 4);
	/* Bits 0-15 are requirements: refuse what cannot be honoured. Bit 0
	 * (page-aligned modules) and bit 1 (memory info) are always met. */
	if (flags & MB_FLAG_VIDEO)
		return err_set("multiboot header requests a video mode (flags bit 2), which vmlite cannot provide; rebuild the kernel without MULTIBOOT_VIDEO_MODE");
	uint32_t unknown = flags & 0xfff8u;
	if (unknown)
		return err_set("multiboot header requires unsupported features (flags 0x%x); rebuild the kernel without them",
			       unknown);

	struct mb_image img;
	int rc = (flags & MB_FLAG_AOUT) ? aout_load(m, k, hoff, &img) : elf_load(m, k, &img);
	if (rc < 0)
		return -1;
	if (mbi_build(m, a, &img) < 0 || loader_setup_protmode32(m, st, img.entry) < 0)
		return -1;
	st->gpr[GPR_RAX] = MB_BOOT_MAGIC;
	st->gpr[GPR_RBX] = LOADER_MBI;
	return 0;
}
