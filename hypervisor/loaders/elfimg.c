/* ELF kernel images, parsed with libelf and checked strictly before a single
 * byte reaches guest memory. The rules are documented in loader_priv.h. */
#include <gelf.h>
#include <libelf.h>
#include <string.h>

#include "error.h"
#include "loader_priv.h"

bool elf_is_elf(const struct boot_image *k)
{
	return k->len >= SELFMAG && !memcmp(k->data, ELFMAG, SELFMAG);
}

static const char *class_name(int c)
{
	return c == ELFCLASS32 ? "ELF32 (32-bit)" : c == ELFCLASS64 ? "ELF64 (64-bit)" : "unknown-class";
}

/* The e_ident checks come first and by hand: they decide whether libelf may
 * look at the buffer at all (it never sees big-endian or short images). */
static int ident_check(const struct boot_image *k, unsigned classes)
{
	if (!elf_is_elf(k))
		return err_set("not an ELF file (bad magic); pass an ELF kernel image");
	if (k->len < EI_NIDENT)
		return err_set("ELF header is truncated (file is %zu bytes); the image is cut short, re-copy or rebuild it",
			       k->len);
	int cls = k->data[EI_CLASS];
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return err_set("ELF class %d is invalid; the image is corrupt", cls);
	if (!(classes & (1u << cls)))
		return err_set("wrong ELF class: image is %s but %s is required; build the kernel for the other word size",
			       class_name(cls),
			       (classes & (1u << ELFCLASS64)) ? class_name(ELFCLASS64) : class_name(ELFCLASS32));
	if (k->data[EI_DATA] != ELFDATA2LSB)
		return err_set("ELF image is not little-endian; x86 kernels must be ELFDATA2LSB, rebuild for x86");
	if (k->data[EI_VERSION] != EV_CURRENT)
		return err_set("ELF identification version %d is not EV_CURRENT; the image is corrupt",
			       k->data[EI_VERSION]);
	size_t need = cls == ELFCLASS32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
	if (k->len < need)
		return err_set("ELF header is truncated (file is %zu bytes, header needs %zu); the image is cut short, re-copy or rebuild it",
			       k->len, need);
	return 0;
}

static int seg_check(const struct guest_memory *m, const struct boot_image *k,
		     int idx, const struct elf_seg *s)
{
	if (s->offset > k->len || s->filesz > k->len - s->offset)
		return err_set("ELF segment %d (file offset 0x%llx, 0x%llx bytes) extends past the end of the file (%zu bytes); the image is truncated, re-copy or rebuild it",
			       idx, (unsigned long long)s->offset, (unsigned long long)s->filesz, k->len);
	if (s->filesz > s->memsz)
		return err_set("ELF segment %d has p_filesz 0x%llx larger than p_memsz 0x%llx; the image is corrupt, relink the kernel",
			       idx, (unsigned long long)s->filesz, (unsigned long long)s->memsz);
	uint64_t top = mem_low_top(m);
	if (s->paddr < LOADER_KERNEL_MIN)
		return err_set("ELF segment %d at physical 0x%llx lies below 1 MiB (loader data, ACPI and the VGA/BIOS hole live there); link every segment, ELF headers included, at or above 0x100000 (a linker script starting with \". = 1M;\")",
			       idx, (unsigned long long)s->paddr);
	if (s->paddr >= top || s->memsz > top - s->paddr)
		return err_set("ELF segment %d [0x%llx-0x%llx) lies outside guest RAM (RAM below 4 GiB ends at 0x%llx); raise --memory or link the kernel lower",
			       idx, (unsigned long long)s->paddr,
			       (unsigned long long)(s->paddr + s->memsz), (unsigned long long)top);
	return 0;
}

static int segs_collect(const struct guest_memory *m, const struct boot_image *k,
			Elf *e, size_t phnum, struct elf_kernel *out)
{
	out->nsegs = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph))
			return err_set("cannot read ELF program header %zu (libelf: %s); the image is corrupt",
				       i, elf_errmsg(-1));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (out->nsegs == ELF_MAX_SEGS)
			return err_set("ELF image has more than %d loadable segments; relink the kernel with fewer",
				       ELF_MAX_SEGS);
		struct elf_seg s = { ph.p_paddr, ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz };
		if (seg_check(m, k, (int)i, &s) < 0)
			return -1;
		for (int j = 0; j < out->nsegs; j++) {
			const struct elf_seg *o = &out->segs[j];
			if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
				return err_set("ELF segments overlap: [0x%llx-0x%llx) and [0x%llx-0x%llx); the image is corrupt, relink the kernel",
					       (unsigned long long)o->paddr,
					       (unsigned long long)(o->paddr + o->memsz),
					       (unsigned long long)s.paddr,
					       (unsigned long long)(s.paddr + s.memsz));
		}
		out->segs[out->nsegs++] = s;
	}
	if (out->nsegs == 0)
		return err_set("ELF image has no loadable (PT_LOAD) segments; pass a linked kernel, not an object file");
	out->lo = ~0ull;
	out->hi = 0;
	for (int j = 0; j < out->nsegs; j++) {
		if (out->segs[j].paddr < out->lo)
			out->lo = out->segs[j].paddr;
		if (out->segs[j].paddr + out->segs[j].memsz > out->hi)
			out->hi = out->segs[j].paddr + out->segs[j].memsz;
	}
	return 0;
}

static int entry_resolve(uint64_t entry, struct elf_kernel *out)
{
	for (int j = 0; j < out->nsegs; j++) {
		const struct elf_seg *s = &out->segs[j];
		if (entry >= s->vaddr && entry - s->vaddr < s->filesz) {
			out->entry = entry - s->vaddr + s->paddr;
			return 0;
		}
	}
	for (int j = 0; j < out->nsegs; j++) {
		const struct elf_seg *s = &out->segs[j];
		if (entry >= s->paddr && entry - s->paddr < s->filesz) {
			out->entry = entry;
			return 0;
		}
	}
	return err_set("ELF entry point 0x%llx is not inside any loaded segment; the image is corrupt or linked wrongly, fix the linker script",
		       (unsigned long long)entry);
}

static int ehdr_check(const struct boot_image *k, Elf *e, GElf_Ehdr *eh, int cls, size_t *phnum)
{
	if (!gelf_getehdr(e, eh))
		return err_set("cannot read the ELF header (libelf: %s); the image is corrupt", elf_errmsg(-1));
	int want = cls == ELFCLASS32 ? EM_386 : EM_X86_64;
	if (eh->e_machine != want)
		return err_set("wrong ELF machine %u: a %s kernel must be %s; build the kernel for x86",
			       eh->e_machine, class_name(cls), cls == ELFCLASS32 ? "EM_386" : "EM_X86_64");
	if (eh->e_type != ET_EXEC)
		return err_set("ELF type %u is not ET_EXEC; pass a statically linked kernel executable",
			       eh->e_type);
	size_t phsz = cls == ELFCLASS32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
	if (eh->e_phnum && eh->e_phentsize != phsz)
		return err_set("ELF program header size %u is not %zu; the image is corrupt",
			       eh->e_phentsize, phsz);
	if (elf_getphdrnum(e, phnum) != 0)
		return err_set("cannot count ELF program headers (libelf: %s); the image is corrupt",
			       elf_errmsg(-1));
	/* libelf clamps the count to what fits in the file; the header's own
	 * count is what the kernel was linked with. */
	if (eh->e_phnum != PN_XNUM)
		*phnum = eh->e_phnum;
	if (*phnum == 0)
		return err_set("ELF image has no program headers; pass a linked kernel, not an object file");
	if (eh->e_phoff > k->len || *phnum > (k->len - eh->e_phoff) / phsz)
		return err_set("ELF program header table (offset 0x%llx, %zu entries) extends past the end of the file (%zu bytes); the image is truncated, re-copy or rebuild it",
			       (unsigned long long)eh->e_phoff, *phnum, k->len);
	return 0;
}

int elf_kernel_parse(const struct guest_memory *m, const struct boot_image *k,
		     unsigned classes, struct elf_kernel *out)
{
	if (ident_check(k, classes) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->elf_class = k->data[EI_CLASS];
	if (elf_version(EV_CURRENT) == EV_NONE)
		return err_set("libelf is unusable: %s; reinstall libelf", elf_errmsg(-1));
	/* libelf wants a mutable pointer; for native-endian images it only reads. */
	Elf *e = elf_memory((char *)(uintptr_t)k->data, k->len);
	if (!e)
		return err_set("libelf cannot parse the image (%s); the image is truncated or corrupt",
			       elf_errmsg(-1));
	GElf_Ehdr eh;
	size_t phnum;
	int rc = -1;
	if (ehdr_check(k, e, &eh, out->elf_class, &phnum) == 0 &&
	    segs_collect(m, k, e, phnum, out) == 0 &&
	    entry_resolve(eh.e_entry, out) == 0)
		rc = 0;
	elf_end(e);
	return rc;
}

int elf_kernel_load(struct guest_memory *m, const struct boot_image *k,
		    const struct elf_kernel *ek)
{
	for (int i = 0; i < ek->nsegs; i++) {
		const struct elf_seg *s = &ek->segs[i];
		uint8_t *dst = mem_gpa_to_hva(m, s->paddr, s->memsz);
		if (!dst)
			return err_set("ELF segment at 0x%llx is not in RAM; raise --memory",
				       (unsigned long long)s->paddr);
		memcpy(dst, k->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}
