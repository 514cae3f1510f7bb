/* Shared internals of the kernel loaders: the guest low-memory map they all
 * use and helpers for ELF images, command lines, initrds and boot_params.
 *
 * Low-memory map (guest-physical) written by the loaders. Only one loader runs
 * per boot, so the GDT/TSS slot is shared by the 32-bit and 64-bit layouts.
 *
 *   0x00000-0x004ff  real-mode IVT and BDA: left zero, never written
 *   0x00500-0x0052f  GDT: null, null, code 0x10, data 0x18, TSS 0x20 (16 bytes)
 *   0x00600-0x00667  TSS (104 bytes, no I/O bitmap); TR must be usable for VMX
 *   0x01000-0x01fff  multiboot v1 info: struct at 0x1000, module list 0x1080,
 *                    loader name 0x10c0, module string 0x10d0, mmap 0x1100..
 *   0x07000-0x07fff  Linux boot_params ("zero page"), bzImage and ELF64
 *   0x08000-0x0dfff  long-mode page tables: PML4 0x8000, PDPT 0x9000,
 *                    4 page directories 0xa000-0xdfff (2 MiB pages, 0-4 GiB)
 *   0x0e000-0x1ffff  initial stack (RSP/ESP = 0x20000, grows down)
 *   0x20000-0x2ffff  kernel command line (NUL terminated, <= 64 KiB)
 *   0x30000-0x9fbff  free
 *   0x9fc00-0xfffff  EBDA, VGA and BIOS holes (reserved in e820)
 *   0x100000-        kernel images (all loaders refuse anything lower), then
 *                    the initrd (multiboot: page-aligned after the kernel;
 *                    Linux: as high as allowed below the RAM top under 4 GiB)
 */
#ifndef VMLITE_LOADER_PRIV_H
#define VMLITE_LOADER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

#define LOADER_GDT          0x500ull
#define LOADER_GDT_LIMIT    0x2f
#define LOADER_TSS          0x600ull
#define LOADER_TSS_LIMIT    0x67
#define LOADER_SEL_CODE     0x10
#define LOADER_SEL_DATA     0x18
#define LOADER_SEL_TSS      0x20
#define LOADER_MBI          0x1000ull
#define LOADER_MBI_MODS     0x1080ull
#define LOADER_MBI_NAME     0x10c0ull
#define LOADER_MBI_MODSTR   0x10d0ull
#define LOADER_MBI_MMAP     0x1100ull
#define LOADER_MBI_END      0x2000ull
#define LOADER_ZERO_PAGE    0x7000ull
#define LOADER_PML4         0x8000ull
#define LOADER_PDPT         0x9000ull
#define LOADER_PD           0xa000ull
#define LOADER_STACK_TOP    0x20000ull
#define LOADER_CMDLINE      0x20000ull
#define LOADER_CMDLINE_MAX  0x10000ull      /* bytes including the NUL */
#define LOADER_KERNEL_MIN   0x100000ull     /* lowest address a kernel may use */

#define PAGE_SIZE_4K        0x1000ull
#define MIB(x)              ((unsigned long long)(x) >> 20)
/* Rounded up so "does not fit" messages never show a size that would fit. */
#define MIB_UP(x)           (((unsigned long long)(x) + (1ull << 20) - 1) >> 20)

/* Linux boot_params (zero page) offsets used by bzImage and ELF64 loaders. */
#define BP_E820_ENTRIES     0x1e8
#define BP_SETUP_SECTS      0x1f1
#define BP_SYSSIZE          0x1f4
#define BP_BOOT_FLAG        0x1fe
#define BP_JUMP             0x200
#define BP_HEADER           0x202
#define BP_VERSION          0x206
#define BP_TYPE_OF_LOADER   0x210
#define BP_LOADFLAGS        0x211
#define BP_RAMDISK_IMAGE    0x218
#define BP_RAMDISK_SIZE     0x21c
#define BP_HEAP_END_PTR     0x224
#define BP_CMD_LINE_PTR     0x228
#define BP_INITRD_ADDR_MAX  0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_RELOCATABLE      0x234
#define BP_XLOADFLAGS       0x236
#define BP_CMDLINE_SIZE     0x238
#define BP_PREF_ADDRESS     0x258
#define BP_INIT_SIZE        0x260
#define BP_HDR_MAX_END      0x290       /* edd_mbr_sig_buffer follows the header */
#define BP_E820_TABLE       0x2d0
#define BP_E820_MAX         128
#define BP_SIZE             0x1000

#define BP_HDRS_MAGIC       0x53726448u /* "HdrS" */
#define BP_BOOT_FLAG_MAGIC  0xaa55u
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64       0x01

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static inline void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

/* ELF kernels (elfimg.c). Segment rules, shared by multiboot ELF and ELF64:
 * PT_LOAD entries with p_memsz 0 are ignored; every other one must have
 * p_filesz <= p_memsz, its file bytes inside the file, its physical range
 * (p_paddr) at or above 1 MiB and below the RAM top under 4 GiB (so it is
 * clear of the loaders' low-memory area and the VGA/BIOS hole and covered by
 * the identity map), and must not overlap another segment. The entry must lie
 * in the file-backed part of a segment, by virtual or physical address; a
 * virtual entry is translated to the physical one (only identity mappings
 * exist at entry). */
#define ELF_MAX_SEGS 64

struct elf_seg {
	uint64_t paddr, vaddr, offset, filesz, memsz;
};

struct elf_kernel {
	int elf_class;                  /* ELFCLASS32 or ELFCLASS64 */
	uint64_t entry;                 /* physical */
	uint64_t lo, hi;                /* physical extent of all segments */
	int nsegs;
	struct elf_seg segs[ELF_MAX_SEGS];
};

bool elf_is_elf(const struct boot_image *k);
/* classes: bit mask (1 << ELFCLASS32) | (1 << ELFCLASS64) of accepted classes;
 * the machine must be EM_386 for ELF32 and EM_X86_64 for ELF64. */
int elf_kernel_parse(const struct guest_memory *m, const struct boot_image *k,
		     unsigned classes, struct elf_kernel *out);
/* Copies file bytes and zeroes the rest of each segment (bss). */
int elf_kernel_load(struct guest_memory *m, const struct boot_image *k,
		    const struct elf_kernel *ek);

/* Multiboot header search (multiboot.c): offset of the first valid header in
 * the first 8 KiB, or -1. If a magic with a bad checksum was seen first,
 * *bad_off (when non-NULL) receives its offset, else -1. */
long multiboot_find_header(const struct boot_image *k, long *bad_off);

/* Command line at LOADER_CMDLINE; max_len excludes the NUL. */
int loader_put_cmdline(struct guest_memory *m, const char *cmdline, uint64_t max_len);
/* Places the initrd page-aligned inside [lo, hi): as high as possible when
 * high is true, else at the lowest address. */
int loader_place_initrd(struct guest_memory *m, const struct boot_image *initrd,
			uint64_t lo, uint64_t hi, bool high, uint64_t *addr);
/* Writes the e820 table of a boot_params page being built in bp. */
void loader_bp_e820(const struct guest_memory *m, uint8_t *bp);
/* Writes the boot GDT/TSS and resets st to flat segments (gdt.c). */
int loader_setup_segments(struct guest_memory *m, struct vcpu_state *st, bool long_mode);
/* 32-bit flat protected-mode GDT/TSS and segment state (multiboot). */
int loader_setup_protmode32(struct guest_memory *m, struct vcpu_state *st, uint32_t entry);

#endif
