/* Guest-physical memory: one memfd-backed RAM allocation, a region map
 * (RAM, ROM, MMIO holes, reserved) and the e820 view derived from it. */
#ifndef VMLITE_MEMORY_H
#define VMLITE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RAM above this guest-physical address is relocated above 4 GiB, leaving
 * the PCI/MMIO hole (LAPIC, IOAPIC, firmware) free, as on a real PC. */
#define MEM_LOW_LIMIT   0xC0000000ull
#define MEM_HIGH_BASE   0x100000000ull
#define MEM_MIN_SIZE    (2ull << 20)
#define MEM_MAX_SIZE    (64ull << 30)

enum mem_kind { MEM_RAM, MEM_ROM, MEM_MMIO, MEM_RESERVED };

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	enum mem_kind kind;
	uint8_t *host;          /* NULL for MMIO/reserved */
	const char *name;
};

#define MEM_MAX_REGIONS 32

struct guest_memory {
	int fd;                 /* memfd backing all RAM; the translator may map it again */
	uint8_t *ram;           /* host view of RAM, ram_size bytes */
	uint64_t ram_size;
	struct mem_region regions[MEM_MAX_REGIONS];
	int nregions;
};

/* e820 types as the Linux boot protocol and multiboot define them. */
#define E820_RAM        1
#define E820_RESERVED   2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

int mem_init(struct guest_memory *m, uint64_t ram_size);
void mem_destroy(struct guest_memory *m);
/* Adds a non-RAM region; overlapping an existing region is an error. */
int mem_add_region(struct guest_memory *m, uint64_t gpa, uint64_t size,
		   enum mem_kind kind, uint8_t *host, const char *name);
/* Host pointer for [gpa, gpa+len) if it lies wholly in one RAM/ROM region. */
void *mem_gpa_to_hva(const struct guest_memory *m, uint64_t gpa, uint64_t len);
const struct mem_region *mem_find(const struct guest_memory *m, uint64_t gpa);
/* Highest RAM address below 4 GiB (exclusive). */
uint64_t mem_low_top(const struct guest_memory *m);
/* Fills at most max entries, sorted by address; returns the count. */
int mem_e820(const struct guest_memory *m, struct e820_entry *out, int max);
/* Copies into guest RAM; fails with a message if the range is not RAM. */
int mem_write(struct guest_memory *m, uint64_t gpa, const void *src, uint64_t len);

/* Parses "256M", "2G", "65536K", "1048576" (bytes). Returns -1 on bad input. */
int size_parse(const char *s, uint64_t *out);

#endif
