/* Kernel loaders. Each works on an in-memory image so malformed inputs can be
 * unit-tested without files; loader_load() reads files and picks the format. */
#ifndef VMLITE_LOADER_H
#define VMLITE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "x86.h"

struct boot_image {
	const uint8_t *data;
	size_t len;
};

struct boot_args {
	struct boot_image kernel;
	struct boot_image initrd;       /* len 0: none */
	const char *cmdline;            /* may be NULL */
};

enum kernel_format { KFMT_UNKNOWN, KFMT_MULTIBOOT, KFMT_BZIMAGE, KFMT_ELF64 };

enum kernel_format loader_detect(const struct boot_image *k);
const char *loader_format_name(enum kernel_format f);

/* Each fills guest memory and the BSP's initial state; -1 + err_set() on error. */
int multiboot_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st);
int bzimage_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st);
int elf64_load(struct guest_memory *m, const struct boot_args *a, struct vcpu_state *st);

/* Reads the files named, detects the format and loads. */
int loader_load(struct guest_memory *m, const char *kernel, const char *initrd,
		const char *cmdline, struct vcpu_state *st);

/* Shared helper: identity-map the first 4 GiB with 2 MiB pages and a flat
 * 64-bit GDT at fixed low addresses, then enter long mode at entry. */
int loader_setup_longmode(struct guest_memory *m, struct vcpu_state *st, uint64_t entry);

#endif
