/* Multiboot loader, format detection and the file front end. */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_loader.h"

#define MBI_FLAGS_EXPECTED ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9))

static uint32_t g32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }

static int mb_load(struct guest_memory *m, const uint8_t *img, size_t len,
		   const uint8_t *rd, size_t rdlen, const char *cmdline, struct vcpu_state *st)
{
	struct boot_args a = { { img, len }, { rd, rdlen }, cmdline };
	return multiboot_load(m, &a, st);
}

static int mb_load_elf(struct guest_memory *m, const struct tl_elf *t)
{
	size_t len;
	uint8_t *img = tl_elf_build(t, &len);
	struct vcpu_state st;
	int rc = mb_load(m, img, len, NULL, 0, NULL, &st);
	free(img);
	return rc;
}

static void test_detect(void)
{
	size_t len;
	struct tl_elf t = tl_elf32_mb();
	uint8_t *img = tl_elf_build(&t, &len);
	struct boot_image k = { img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_MULTIBOOT);
	img[0x108] ^= 1;        /* bad checksum: no longer multiboot, and ELF32 is nothing else */
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	free(img);

	/* Multiboot header wins over the ELF64 container. */
	t = tl_elf64();
	t.mb_off = 0x300;
	img = tl_elf_build(&t, &len);
	k = (struct boot_image){ img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_MULTIBOOT);
	free(img);
	t.mb_off = -1;
	img = tl_elf_build(&t, &len);
	k = (struct boot_image){ img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_ELF64);
	img[18] = EM_AARCH64;
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	free(img);

	/* A header past 8 KiB or misaligned is not searched for. */
	t = tl_elf32_mb();
	t.mb_off = 8192;
	t.seg[1].off = 0x3000;
	img = tl_elf_build(&t, &len);
	k = (struct boot_image){ img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	free(img);
	t.mb_off = 0x102;
	img = tl_elf_build(&t, &len);
	k = (struct boot_image){ img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	free(img);

	img = tl_bz_build(0x1000, &len);
	k = (struct boot_image){ img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_BZIMAGE);
	img[0x1fe] = 0;
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	free(img);

	k = (struct boot_image){ (const uint8_t *)"", 0 };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(loader_format_name(KFMT_MULTIBOOT), "multiboot");
	CU_ASSERT_STRING_EQUAL(loader_format_name(KFMT_BZIMAGE), "bzImage");
	CU_ASSERT_STRING_EQUAL(loader_format_name(KFMT_ELF64), "ELF64");
}

static void check_mbi(struct guest_memory *m, const struct vcpu_state *st, const char *cmdline)
{
	uint8_t *mbi = tl_gpa(m, st->gpr[GPR_RBX], 0x80);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mbi);
	CU_ASSERT_EQUAL(g32(mbi), MBI_FLAGS_EXPECTED);
	CU_ASSERT_EQUAL(g32(mbi + 4), 639);
	CU_ASSERT_EQUAL(g32(mbi + 8), (TL_RAM - 0x100000) / 1024);
	const char *cl = (const char *)tl_gpa(m, g32(mbi + 16), strlen(cmdline) + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
	CU_ASSERT_STRING_EQUAL(cl, cmdline);
	const char *name = (const char *)tl_gpa(m, g32(mbi + 64), 7);
	CU_ASSERT_PTR_NOT_NULL_FATAL(name);
	CU_ASSERT_STRING_EQUAL(name, "vmlite");

	struct e820_entry e[64];
	int n = mem_e820(m, e, 64);
	CU_ASSERT(n >= 4);
	CU_ASSERT_EQUAL(g32(mbi + 44), 24u * n);
	uint8_t *mm = tl_gpa(m, g32(mbi + 48), 24u * n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(g32(mm + 24 * i), 20);
		CU_ASSERT_EQUAL(g64(mm + 24 * i + 4), e[i].addr);
		CU_ASSERT_EQUAL(g64(mm + 24 * i + 12), e[i].size);
		CU_ASSERT_EQUAL(g32(mm + 24 * i + 20), e[i].type);
	}
}

static void check_prot32(struct guest_memory *m, const struct vcpu_state *st, uint64_t entry)
{
	CU_ASSERT_EQUAL(st->rip, entry);
	CU_ASSERT_EQUAL(st->gpr[GPR_RAX], 0x2badb002);
	CU_ASSERT_EQUAL(st->cr0, X86_CR0_PE | X86_CR0_ET);
	CU_ASSERT_EQUAL(st->efer, 0);
	CU_ASSERT_EQUAL(st->rflags, 0x2);
	CU_ASSERT_EQUAL(st->cs.sel, 0x10);
	CU_ASSERT_EQUAL(st->cs.db, 1);
	CU_ASSERT_EQUAL(st->cs.l, 0);
	CU_ASSERT_EQUAL(st->cs.limit, 0xffffffff);
	CU_ASSERT_EQUAL(st->ds.sel, 0x18);
	CU_ASSERT_EQUAL(st->ss.sel, 0x18);
	CU_ASSERT_EQUAL(st->ss.type, 3);
	CU_ASSERT_EQUAL(st->tr.type, 11);
	CU_ASSERT_EQUAL(st->tr.s, 0);
	CU_ASSERT(st->tr.present && !st->tr.unusable && st->tr.limit >= 0x67);
	CU_ASSERT(st->ldt.unusable);
	/* The GDT in memory must match the cached descriptors. */
	CU_ASSERT_EQUAL(tl_gdt_entry(m, st, 0x10), 0x00cf9b000000ffffull);
	CU_ASSERT_EQUAL(tl_gdt_entry(m, st, 0x18), 0x00cf93000000ffffull);
	uint64_t tss = tl_gdt_entry(m, st, 0x20);
	CU_ASSERT_EQUAL((tss >> 40) & 0x9f, 0x8b);
	CU_ASSERT_EQUAL(tss & 0xffff, st->tr.limit);
	CU_ASSERT_EQUAL(((tss >> 16) & 0xffffff) | ((tss >> 56) << 24), st->tr.base);
	CU_ASSERT(st->gdt.limit >= 0x27);
}

static void test_mb_elf32(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf32_mb();
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	uint8_t rd[5000];
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 13 + 1);
	struct vcpu_state st;
	err_clear();
	int rc = mb_load(&m, img, len, rd, sizeof(rd), "console=ttyS0 quiet", &st);
	if (rc)
		printf("\n    %s\n", err_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(tl_check_loaded(&m, 0x100000, 0x1000, 0x1800, 0x1800));
	CU_ASSERT(tl_check_loaded(&m, 0x102000, 0x3000, 0x800, 0x3000));
	check_prot32(&m, &st, 0x100010);
	check_mbi(&m, &st, "console=ttyS0 quiet");

	uint8_t *mbi = tl_gpa(&m, st.gpr[GPR_RBX], 0x80);
	CU_ASSERT_EQUAL(g32(mbi + 20), 1);
	uint8_t *mod = tl_gpa(&m, g32(mbi + 24), 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mod);
	uint32_t start = g32(mod), end = g32(mod + 4);
	CU_ASSERT_EQUAL(start, 0x105000);       /* page-aligned right after the bss */
	CU_ASSERT_EQUAL(end - start, sizeof(rd));
	CU_ASSERT(!memcmp(tl_gpa(&m, start, sizeof(rd)), rd, sizeof(rd)));
	CU_ASSERT_STRING_EQUAL((const char *)tl_gpa(&m, g32(mod + 8), 7), "initrd");
	free(img);
	mem_destroy(&m);
}

static void test_mb_elf32_virtual_entry(void)
{
	/* Higher-half kernel: vaddr != paddr, entry given virtually. */
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf32_mb();
	t.seg[0].vaddr = 0xc0100000;
	t.seg[1].vaddr = 0xc0102000;
	t.entry = 0xc0100020;
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	struct vcpu_state st;
	CU_ASSERT_EQUAL_FATAL(mb_load(&m, img, len, NULL, 0, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.rip, 0x100020);
	uint8_t *mbi = tl_gpa(&m, st.gpr[GPR_RBX], 0x80);
	CU_ASSERT_EQUAL(g32(mbi + 20), 0);      /* no modules */
	CU_ASSERT_STRING_EQUAL((const char *)tl_gpa(&m, g32(mbi + 16), 1), "");
	free(img);
	mem_destroy(&m);
}

/* An a.out-kludge image: the header sits at file offset 0x40 and says the
 * file is loaded at 1 MiB, with bss after it. */
static uint8_t *aout_build(size_t len, uint32_t *hdr_fields /* 5 fields */, uint32_t flags)
{
	uint8_t *b = malloc(len);
	for (size_t i = 0; i < len; i++)
		b[i] = tl_pat(i);
	uint8_t *h = b + 0x40;
	uint32_t f[8] = { 0x1badb002, flags, 0u - 0x1badb002u - flags };
	memcpy(f + 3, hdr_fields, 5 * sizeof(uint32_t));
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			h[4 * i + j] = (uint8_t)(f[i] >> (8 * j));
	return b;
}

static void aout_defaults(uint32_t f[5], size_t len)
{
	f[0] = 0x100040;                /* header_addr */
	f[1] = 0x100000;                /* load_addr */
	f[2] = 0x100000 + (uint32_t)len;/* load_end_addr */
	f[3] = f[2] + 0x2000;           /* bss_end_addr */
	f[4] = 0x100080;                /* entry_addr */
}

static void test_mb_aout(void)
{
	struct guest_memory m;
	tl_mem(&m);
	size_t len = 0x3000;
	uint32_t f[5];
	aout_defaults(f, len);
	uint8_t *img = aout_build(len, f, (1u << 16) | 3);
	struct boot_image k = { img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_MULTIBOOT);
	uint8_t rd[100];
	memset(rd, 0x5a, sizeof(rd));
	struct vcpu_state st;
	CU_ASSERT_EQUAL_FATAL(mb_load(&m, img, len, rd, sizeof(rd), "a=b", &st), 0);
	CU_ASSERT(!memcmp(tl_gpa(&m, 0x100000, len), img, len));
	CU_ASSERT(tl_check_loaded(&m, 0x100000 + len, 0, 0, 0x2000));
	check_prot32(&m, &st, 0x100080);
	check_mbi(&m, &st, "a=b");
	uint8_t *mod = tl_gpa(&m, g32(tl_gpa(&m, st.gpr[GPR_RBX], 0x80) + 24), 16);
	CU_ASSERT_EQUAL(g32(mod), 0x105000);
	CU_ASSERT_EQUAL(g32(mod + 4), 0x105000 + sizeof(rd));
	free(img);

	/* load_end_addr 0 = whole file, bss_end 0 = no bss; header not at the
	 * start of the loaded part. */
	f[0] = 0x200040;
	f[1] = 0x200020;
	f[2] = 0;
	f[3] = 0;
	f[4] = 0x200020 + len - 0x20 - 1;
	img = aout_build(len, f, 1u << 16);
	memset(tl_gpa(&m, 0x200000, 0x4000), 0xcc, 0x4000);
	CU_ASSERT_EQUAL_FATAL(mb_load(&m, img, len, NULL, 0, NULL, &st), 0);
	CU_ASSERT(!memcmp(tl_gpa(&m, 0x200020, len - 0x20), img + 0x20, len - 0x20));
	CU_ASSERT_EQUAL(*tl_gpa(&m, 0x200020 + len - 0x20, 1), 0xcc);   /* nothing past the file */
	free(img);
	mem_destroy(&m);
}

static void aout_fails(uint32_t f[5], size_t len, const char *substr)
{
	struct guest_memory m;
	tl_mem(&m);
	uint8_t *img = aout_build(len, f, 1u << 16);
	struct vcpu_state st;
	TL_FAILS(mb_load(&m, img, len, NULL, 0, NULL, &st), substr);
	free(img);
	mem_destroy(&m);
}

static void test_mb_aout_malformed(void)
{
	size_t len = 0x3000;
	uint32_t f[5];
	aout_defaults(f, len);
	f[2] += 1;
	aout_fails(f, len, "load_end_addr 0x103001 lies beyond the end of the file");
	aout_defaults(f, len);
	f[1] = 0x100041;
	aout_fails(f, len, "load_addr 0x100041 is above header_addr");
	aout_defaults(f, len);
	f[1] = 0xfff00;
	f[0] = 0x100000;
	aout_fails(f, len, "exceeds the header's file offset");
	aout_defaults(f, len);
	f[3] = f[2] - 1;
	aout_fails(f, len, "bss_end_addr 0x102fff is below the load end");
	aout_defaults(f, len);
	f[2] = f[1];
	aout_fails(f, len, "is not above load_addr");
	aout_defaults(f, len);
	f[2] = f[0] + 16;
	f[4] = f[0] - 4;
	aout_fails(f, len, "header_addr 0x100040 is outside the loaded image");
	aout_defaults(f, len);
	f[4] = f[2];
	aout_fails(f, len, "entry_addr 0x103000 is outside the loaded image");
	aout_defaults(f, len);
	f[3] = (uint32_t)TL_RAM;
	f[3] += 0x1000;
	aout_fails(f, len, "lies outside guest RAM");
	aout_defaults(f, len);
	f[0] = 0x80040;
	f[1] = 0x80000;
	f[2] = 0x83000;
	f[3] = 0x84000;
	f[4] = 0x80080;
	aout_fails(f, len, "below 1 MiB");
	/* Header cut off before its address fields. */
	struct guest_memory m;
	tl_mem(&m);
	aout_defaults(f, len);
	uint8_t *img = aout_build(len, f, 1u << 16);
	struct vcpu_state st;
	TL_FAILS(mb_load(&m, img, 0x50, NULL, 0, NULL, &st), "cut off before its address fields");
	free(img);
	mem_destroy(&m);
}

static void test_mb_header_problems(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf32_mb();
	t.mb_bad_checksum = 1;
	TL_FAILS(mb_load_elf(&m, &t), "bad checksum");
	t = tl_elf32_mb();
	t.mb_flags |= 1u << 2;
	TL_FAILS(mb_load_elf(&m, &t), "video mode");
	t.mb_flags = (1u << 5) | 1;
	TL_FAILS(mb_load_elf(&m, &t), "unsupported features (flags 0x20)");
	t = tl_elf32_mb();
	t.mb_off = -1;
	TL_FAILS(mb_load_elf(&m, &t), "no multiboot header");
	struct vcpu_state st;
	TL_FAILS(mb_load(&m, (const uint8_t *)"", 0, NULL, 0, NULL, &st), "empty");
	/* No bit 16 and not ELF. */
	uint8_t raw[64] = { 0 };
	uint32_t h[3] = { 0x1badb002, 0, 0u - 0x1badb002u };
	memcpy(raw + 8, h, sizeof(h));
	TL_FAILS(mb_load(&m, raw, sizeof(raw), NULL, 0, NULL, &st), "not ELF");
	mem_destroy(&m);
}

static void test_mb_elf_malformed(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t;
	size_t len;
	uint8_t *img;
	struct vcpu_state st;

	/* Truncations: the multiboot header stays findable at 0x100. */
	t = tl_elf32_mb();
	t.mb_off = 0x20;        /* inside e_ident..e_entry so a cut ELF header still has it */
	img = tl_elf_build(&t, &len);
	TL_FAILS(mb_load(&m, img, 0x2c, NULL, 0, NULL, &st), "ELF header is truncated");
	free(img);
	t = tl_elf32_mb();
	img = tl_elf_build(&t, &len);
	TL_FAILS(mb_load(&m, img, 52 + 32 + 16, NULL, 0, NULL, &st), "no multiboot header");
	/* Header inside the (cut) second program header: the table is truncated. */
	t.mb_off = 0x54;
	free(img);
	img = tl_elf_build(&t, &len);
	TL_FAILS(mb_load(&m, img, 0x60, NULL, 0, NULL, &st), "program header table");
	free(img);

	t = tl_elf32_mb();
	t.seg[1].off = 0x3000;
	img = tl_elf_build(&t, &len);
	TL_FAILS(mb_load(&m, img, len - 1, NULL, 0, NULL, &st), "extends past the end of the file");
	free(img);

	t = tl_elf32_mb();
	t.seg[0].filesz = 0x1900;
	TL_FAILS(mb_load_elf(&m, &t), "p_filesz 0x1900 larger than p_memsz 0x1800");

	t = tl_elf32_mb();
	t.seg[1].paddr = 0x101000;
	TL_FAILS(mb_load_elf(&m, &t), "ELF segments overlap");

	t = tl_elf32_mb();
	t.seg[1].paddr = TL_RAM - 0x1000;
	TL_FAILS(mb_load_elf(&m, &t), "lies outside guest RAM");
	t.seg[1].paddr = 0xfffff000;
	TL_FAILS(mb_load_elf(&m, &t), "lies outside guest RAM");

	t = tl_elf32_mb();
	t.seg[0].paddr = 0xa0000;
	TL_FAILS(mb_load_elf(&m, &t), "below 1 MiB");

	t = tl_elf32_mb();
	t.entry = 0x102800;     /* in bss, not file-backed */
	TL_FAILS(mb_load_elf(&m, &t), "entry point 0x102800 is not inside any loaded segment");

	t = tl_elf32_mb();
	t.machine = EM_X86_64;
	TL_FAILS(mb_load_elf(&m, &t), "wrong ELF machine");
	t = tl_elf32_mb();
	t.type = ET_REL;
	TL_FAILS(mb_load_elf(&m, &t), "not ET_EXEC");
	t = tl_elf32_mb();
	t.seg[0].type = PT_NOTE;
	t.seg[1].type = PT_NOTE;
	TL_FAILS(mb_load_elf(&m, &t), "no loadable (PT_LOAD) segments");

	/* Program header table past EOF. */
	t = tl_elf32_mb();
	img = tl_elf_build(&t, &len);
	((Elf32_Ehdr *)img)->e_phoff = (Elf32_Off)(len - 40);
	TL_FAILS(mb_load(&m, img, len, NULL, 0, NULL, &st), "program header table");
	/* Bad ELF class byte and big-endian data. */
	((Elf32_Ehdr *)img)->e_phoff = 52;
	img[EI_CLASS] = 7;
	TL_FAILS(mb_load(&m, img, len, NULL, 0, NULL, &st), "ELF class 7 is invalid");
	img[EI_CLASS] = ELFCLASS32;
	img[EI_DATA] = ELFDATA2MSB;
	TL_FAILS(mb_load(&m, img, len, NULL, 0, NULL, &st), "not little-endian");
	free(img);

	/* ELF validation runs before any byte is copied: RAM at 1 MiB still
	 * holds the fill pattern after all the rejected images above. */
	CU_ASSERT_EQUAL(*tl_gpa(&m, 0x100000, 1), 0xcc);
	mem_destroy(&m);
}

static void test_mb_initrd_too_big(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf32_mb();
	size_t len, rdlen = 40u << 20;
	uint8_t *img = tl_elf_build(&t, &len);
	uint8_t *rd = calloc(1, rdlen);
	struct vcpu_state st;
	TL_FAILS(mb_load(&m, img, len, rd, rdlen, NULL, &st),
		 "initrd (40 MiB) does not fit in guest RAM (32 MiB); raise --memory");
	/* Just too big: fits RAM but not above the kernel. */
	TL_FAILS(mb_load(&m, img, len, rd, TL_RAM - 0x105000 + 1, NULL, &st),
		 "next to the kernel: only 30 MiB free in [0x105000-0x2000000); raise --memory");
	CU_ASSERT_EQUAL(mb_load(&m, img, len, rd, TL_RAM - 0x105000, NULL, &st), 0);
	free(rd);
	free(img);
	mem_destroy(&m);
}

static void test_mb_cmdline_too_long(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf32_mb();
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	char *cl = malloc(0x10001);
	memset(cl, 'x', 0x10000);
	cl[0x10000] = 0;
	struct vcpu_state st;
	TL_FAILS(mb_load(&m, img, len, NULL, 0, cl, &st), "shorten --cmdline");
	cl[0xffff] = 0;
	CU_ASSERT_EQUAL(mb_load(&m, img, len, NULL, 0, cl, &st), 0);
	free(cl);
	free(img);
	mem_destroy(&m);
}

static void test_mb_elf64_container(void)
{
	/* A multiboot kernel in an ELF64 container is still entered in 32-bit mode. */
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf64();
	t.mb_off = 0x300;
	t.mb_flags = 2;
	t.entry = 0x200040;
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	struct vcpu_state st;
	CU_ASSERT_EQUAL_FATAL(mb_load(&m, img, len, NULL, 0, NULL, &st), 0);
	check_prot32(&m, &st, 0x200040);
	CU_ASSERT(tl_check_loaded(&m, 0x400000, 0x3000, 0x1000, 0x5000));
	free(img);
	mem_destroy(&m);
}

static char tmpdir[] = "/tmp/vmlite-test-loader-XXXXXX";

static const char *tmpfile_with(const char *name, const void *data, size_t len, off_t sparse)
{
	static char path[4][128];
	static int slot;
	char *p = path[slot++ & 3];
	snprintf(p, 128, "%s/%s", tmpdir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return p;
	if (len && write(fd, data, len) != (ssize_t)len)
		CU_FAIL("write tmp file");
	if (sparse && ftruncate(fd, sparse) < 0)
		CU_FAIL("ftruncate tmp file");
	close(fd);
	return p;
}

static void test_load_files(void)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
	struct guest_memory m;
	tl_mem(&m);
	struct vcpu_state st;
	TL_FAILS(loader_load(&m, "/nonexistent/vmlinuz", NULL, NULL, &st), "file not found; check the --kernel path");
	TL_FAILS(loader_load(&m, NULL, NULL, NULL, &st), "pass a kernel image with --kernel");
	TL_FAILS(loader_load(&m, tmpdir, NULL, NULL, &st), "is a directory");
	const char *empty = tmpfile_with("empty", NULL, 0, 0);
	TL_FAILS(loader_load(&m, empty, NULL, NULL, &st), "is empty");
	const char *text = tmpfile_with("text", "hello, I am not a kernel\n", 25, 0);
	TL_FAILS(loader_load(&m, text, NULL, NULL, &st),
		 "is not a multiboot, bzImage or ELF64 kernel; pass a kernel image with --kernel");

	struct tl_elf t = tl_elf32_mb();
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	const char *kern = tmpfile_with("kernel", img, len, 0);
	uint8_t rd[3000];
	memset(rd, 0xa5, sizeof(rd));
	const char *rdp = tmpfile_with("initrd", rd, sizeof(rd), 0);
	err_clear();
	int rc = loader_load(&m, kern, rdp, "root=/dev/ram0", &st);
	if (rc)
		printf("\n    %s\n", err_msg());
	CU_ASSERT_EQUAL(rc, 0);
	check_mbi(&m, &st, "root=/dev/ram0");
	uint8_t *mod = tl_gpa(&m, g32(tl_gpa(&m, st.gpr[GPR_RBX], 0x80) + 24), 16);
	CU_ASSERT(!memcmp(tl_gpa(&m, g32(mod), sizeof(rd)), rd, sizeof(rd)));

	TL_FAILS(loader_load(&m, kern, "/nonexistent/initrd", NULL, &st), "check the --initrd path");
	const char *huge = tmpfile_with("huge", NULL, 0, 64 << 20);
	TL_FAILS(loader_load(&m, kern, huge, NULL, &st),
		 "initrd (64 MiB) does not fit in guest RAM (32 MiB); raise --memory");
	/* Errors from the format loader name the file and format. */
	img[0x100 + 8] ^= 1;
	kern = tmpfile_with("badsum", img, len, 0);
	TL_FAILS(loader_load(&m, kern, NULL, NULL, &st), "bad checksum");
	img[0x100 + 8] ^= 1;
	((Elf32_Ehdr *)img)->e_machine = EM_ARM;
	kern = tmpfile_with("arm", img, len, 0);
	TL_FAILS(loader_load(&m, kern, NULL, NULL, &st), "(multiboot): wrong ELF machine 40");
	free(img);

	t.mb_off = -1;
	img = tl_elf_build(&t, &len);
	kern = tmpfile_with("elf32", img, len, 0);
	TL_FAILS(loader_load(&m, kern, NULL, NULL, &st), "32-bit ELF without a multiboot header");
	/* Cut before the multiboot header: the message blames the truncation. */
	((Elf32_Ehdr *)img)->e_shoff = (Elf32_Off)len;
	((Elf32_Ehdr *)img)->e_shnum = 3;
	kern = tmpfile_with("cut", img, 0x180, 0);
	TL_FAILS(loader_load(&m, kern, NULL, NULL, &st), "is a truncated 32-bit ELF (384 bytes");
	free(img);
	mem_destroy(&m);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		CU_FAIL("cleanup");
}

UNIT_SUITE(loader_multiboot,
	   UNIT_CASE(test_detect),
	   UNIT_CASE(test_mb_elf32),
	   UNIT_CASE(test_mb_elf32_virtual_entry),
	   UNIT_CASE(test_mb_aout),
	   UNIT_CASE(test_mb_aout_malformed),
	   UNIT_CASE(test_mb_header_problems),
	   UNIT_CASE(test_mb_elf_malformed),
	   UNIT_CASE(test_mb_initrd_too_big),
	   UNIT_CASE(test_mb_cmdline_too_long),
	   UNIT_CASE(test_mb_elf64_container),
	   UNIT_CASE(test_load_files))
