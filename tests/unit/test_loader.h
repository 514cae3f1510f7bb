/* Builders for in-memory kernel images shared by the loader unit tests. */
#ifndef VMLITE_TEST_LOADER_H
#define VMLITE_TEST_LOADER_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "loader.h"
#include "memory.h"
#include "unit.h"

#define TL_RAM (32ull << 20)

/* Every builder fills files with this pattern so loaded bytes are checkable. */
uint8_t tl_pat(size_t file_off);

struct tl_seg {
	uint32_t type;                  /* 0 means PT_LOAD */
	uint64_t paddr, vaddr, off, filesz, memsz;
};

struct tl_elf {
	int cls;                        /* ELFCLASS32 / ELFCLASS64 */
	uint16_t machine, type;         /* type 0 means ET_EXEC */
	uint64_t entry;
	int nseg;
	struct tl_seg seg[4];
	long mb_off;                    /* multiboot header offset, -1: none */
	uint32_t mb_flags;
	uint32_t mb_bad_checksum;       /* added to the checksum when non-zero */
};

uint8_t *tl_elf_build(const struct tl_elf *t, size_t *len);
/* Valid defaults: a two-segment ELF32 multiboot kernel and an ELF64. */
struct tl_elf tl_elf32_mb(void);
struct tl_elf tl_elf64(void);
/* Fake bzImage: 4 setup sectors and a kernel_len-byte protected-mode part. */
uint8_t *tl_bz_build(size_t kernel_len, size_t *len);

/* 32 MiB guest with RAM pre-filled with 0xcc, so zeroed bss is observable. */
void tl_mem(struct guest_memory *m);
uint8_t *tl_gpa(struct guest_memory *m, uint64_t gpa, uint64_t len);
int tl_check_loaded(struct guest_memory *m, uint64_t gpa, size_t off, uint64_t filesz, uint64_t memsz);
/* Walks 4-level page tables from cr3; ~0 if va is unmapped. */
uint64_t tl_walk(struct guest_memory *m, uint64_t cr3, uint64_t va);
uint64_t tl_gdt_entry(struct guest_memory *m, const struct vcpu_state *st, uint16_t sel);

/* The call must fail with -1 and a message containing substr. */
#define TL_FAILS(call, substr) do { \
	err_clear(); \
	int rc_ = (call); \
	CU_ASSERT_EQUAL(rc_, -1); \
	if (!strstr(err_msg(), (substr))) { \
		printf("\n    %s:%d expected \"%s\" in: %s\n", __FILE__, __LINE__, (substr), err_msg()); \
		CU_FAIL("error message lacks the expected text"); \
	} \
} while (0)

#endif
