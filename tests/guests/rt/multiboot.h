/* Multiboot v1 information structure (the parts the test guests read). */
#ifndef VMLITE_GUEST_MULTIBOOT_H
#define VMLITE_GUEST_MULTIBOOT_H

#include <stdint.h>

#define MBI_FLAG_MEM        (1u << 0)
#define MBI_FLAG_CMDLINE    (1u << 2)
#define MBI_FLAG_MODS       (1u << 3)
#define MBI_FLAG_MMAP       (1u << 6)
#define MBI_FLAG_LOADER     (1u << 9)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;         /* KiB from 0 */
	uint32_t mem_upper;         /* KiB from 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
} __attribute__((packed));

struct mb_module {
	uint32_t mod_start;
	uint32_t mod_end;           /* exclusive */
	uint32_t string;
	uint32_t reserved;
} __attribute__((packed));

/* Each entry is preceded by its size, which does not count the size field. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

#define MB_MMAP_RAM 1

#endif
