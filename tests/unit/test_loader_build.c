/* Image builders and guest-memory probes for the loader tests (no cases). */
#include <elf.h>
#include <stdlib.h>

#include "test_loader.h"

uint8_t tl_pat(size_t off)
{
	return (uint8_t)(off * 31 + 7 + (off >> 8));
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

uint8_t *tl_elf_build(const struct tl_elf *t, size_t *len)
{
	size_t ehsz = t->cls == ELFCLASS32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
	size_t phsz = t->cls == ELFCLASS32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
	size_t n = 0x200;
	if (ehsz + t->nseg * phsz > n)
		n = ehsz + t->nseg * phsz;
	if (t->mb_off >= 0 && (size_t)t->mb_off + 12 > n)
		n = (size_t)t->mb_off + 12;
	for (int i = 0; i < t->nseg; i++)
		if (t->seg[i].off + t->seg[i].filesz > n)
			n = t->seg[i].off + t->seg[i].filesz;
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = tl_pat(i);
	memset(b, 0, ehsz + t->nseg * phsz);
	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = (uint8_t)t->cls;
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	uint16_t type = t->type ? t->type : ET_EXEC;
	if (t->cls == ELFCLASS32) {
		Elf32_Ehdr *e = (Elf32_Ehdr *)b;
		e->e_type = type;
		e->e_machine = t->machine;
		e->e_version = EV_CURRENT;
		e->e_entry = (Elf32_Addr)t->entry;
		e->e_phoff = (Elf32_Off)ehsz;
		e->e_ehsize = (Elf32_Half)ehsz;
		e->e_phentsize = (Elf32_Half)phsz;
		e->e_phnum = (Elf32_Half)t->nseg;
		for (int i = 0; i < t->nseg; i++) {
			Elf32_Phdr *p = (Elf32_Phdr *)(b + ehsz + i * phsz);
			const struct tl_seg *s = &t->seg[i];
			p->p_type = s->type ? s->type : PT_LOAD;
			p->p_offset = (Elf32_Off)s->off;
			p->p_vaddr = (Elf32_Addr)s->vaddr;
			p->p_paddr = (Elf32_Addr)s->paddr;
			p->p_filesz = (Elf32_Word)s->filesz;
			p->p_memsz = (Elf32_Word)s->memsz;
			p->p_flags = PF_R | PF_W | PF_X;
			p->p_align = 0x1000;
		}
	} else {
		Elf64_Ehdr *e = (Elf64_Ehdr *)b;
		e->e_type = type;
		e->e_machine = t->machine;
		e->e_version = EV_CURRENT;
		e->e_entry = t->entry;
		e->e_phoff = ehsz;
		e->e_ehsize = (Elf64_Half)ehsz;
		e->e_phentsize = (Elf64_Half)phsz;
		e->e_phnum = (Elf64_Half)t->nseg;
		for (int i = 0; i < t->nseg; i++) {
			Elf64_Phdr *p = (Elf64_Phdr *)(b + ehsz + i * phsz);
			const struct tl_seg *s = &t->seg[i];
			p->p_type = s->type ? s->type : PT_LOAD;
			p->p_offset = s->off;
			p->p_vaddr = s->vaddr;
			p->p_paddr = s->paddr;
			p->p_filesz = s->filesz;
			p->p_memsz = s->memsz;
			p->p_flags = PF_R | PF_W | PF_X;
			p->p_align = 0x1000;
		}
	}
	if (t->mb_off >= 0) {
		uint8_t *h = b + t->mb_off;
		put32(h, 0x1badb002);
		put32(h + 4, t->mb_flags);
		put32(h + 8, (uint32_t)(0u - 0x1badb002u - t->mb_flags + t->mb_bad_checksum));
	}
	*len = n;
	return b;
}

struct tl_elf tl_elf32_mb(void)
{
	return (struct tl_elf){
		.cls = ELFCLASS32, .machine = EM_386, .entry = 0x100010, .nseg = 2,
		.seg = {
			{ 0, 0x100000, 0x100000, 0x1000, 0x1800, 0x1800 },
			{ 0, 0x102000, 0x102000, 0x3000, 0x800, 0x3000 },   /* with bss */
		},
		.mb_off = 0x100, .mb_flags = 0x3,
	};
}

struct tl_elf tl_elf64(void)
{
	/* Linked high like a Linux vmlinux, loaded by physical address. */
	return (struct tl_elf){
		.cls = ELFCLASS64, .machine = EM_X86_64, .entry = 0xffffffff80200040ull, .nseg = 2,
		.seg = {
			{ 0, 0x200000, 0xffffffff80200000ull, 0x1000, 0x2000, 0x2000 },
			{ 0, 0x400000, 0xffffffff80400000ull, 0x3000, 0x1000, 0x5000 },
		},
		.mb_off = -1,
	};
}

uint8_t *tl_bz_build(size_t kernel_len, size_t *len)
{
	size_t setup = 5 * 512, n = setup + kernel_len;
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = tl_pat(i);
	memset(b + 0x1f1, 0, 0x290 - 0x1f1);
	b[0x1f1] = 4;                           /* setup_sects */
	put32(b + 0x1f4, (uint32_t)(kernel_len / 16));
	put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;                        /* jmp over the header */
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	b[0x211] = 0x01;                        /* LOADED_HIGH */
	put32(b + 0x214, 0x100000);
	put32(b + 0x22c, 0x37ffffff);           /* initrd_addr_max */
	put32(b + 0x230, 0x200000);             /* kernel_alignment */
	b[0x234] = 1;                           /* relocatable */
	b[0x235] = 21;
	put16(b + 0x236, 0x1 | 0x2);            /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put32(b + 0x238, 255);                  /* cmdline_size */
	put64(b + 0x258, 0x1000000);            /* pref_address */
	put32(b + 0x260, 0x400000);             /* init_size */
	*len = n;
	return b;
}

void tl_mem(struct guest_memory *m)
{
	CU_ASSERT_EQUAL_FATAL(mem_init(m, TL_RAM), 0);
	memset(m->ram, 0xcc, m->ram_size);
}

uint8_t *tl_gpa(struct guest_memory *m, uint64_t gpa, uint64_t len)
{
	return mem_gpa_to_hva(m, gpa, len);
}

int tl_check_loaded(struct guest_memory *m, uint64_t gpa, size_t off, uint64_t filesz, uint64_t memsz)
{
	const uint8_t *p = tl_gpa(m, gpa, memsz);
	if (!p)
		return 0;
	for (uint64_t i = 0; i < filesz; i++)
		if (p[i] != tl_pat(off + i))
			return 0;
	for (uint64_t i = filesz; i < memsz; i++)
		if (p[i])
			return 0;
	return 1;
}

uint64_t tl_walk(struct guest_memory *m, uint64_t cr3, uint64_t va)
{
	uint64_t table = cr3 & ~0xfffull;
	for (int level = 3; level >= 0; level--) {
		uint8_t *t = tl_gpa(m, table, 4096);
		if (!t)
			return ~0ull;
		unsigned idx = (va >> (12 + 9 * level)) & 511;
		uint64_t e = get32(t + 8 * idx) | (uint64_t)get32(t + 8 * idx + 4) << 32;
		if (!(e & 1))
			return ~0ull;
		uint64_t addr = e & 0x000ffffffffff000ull;
		if (level == 1 && (e & 0x80))
			return (addr & ~0x1fffffull) | (va & 0x1fffff);
		if (level == 0)
			return addr | (va & 0xfff);
		table = addr;
	}
	return ~0ull;
}

uint64_t tl_gdt_entry(struct guest_memory *m, const struct vcpu_state *st, uint16_t sel)
{
	uint8_t *p = tl_gpa(m, st->gdt.base + (sel & ~7u), 8);
	if (!p)
		return 0;
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}
