/* bzImage and ELF64 loaders, the long-mode entry state, and (when installed)
 * the host's real Debian kernel. */
#include <elf.h>
#include <glob.h>
#include <stdlib.h>

#include "test_loader.h"

#define BZ_SETUP 2560           /* (4 setup sectors + 1) * 512 */

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t g32(const uint8_t *p) { return g16(p) | (uint32_t)g16(p + 2) << 16; }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }
static void p32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static int bz_load(struct guest_memory *m, const uint8_t *img, size_t len,
		   const uint8_t *rd, size_t rdlen, const char *cmdline, struct vcpu_state *st)
{
	struct boot_args a = { { img, len }, { rd, rdlen }, cmdline };
	return bzimage_load(m, &a, st);
}

static int e64_load(struct guest_memory *m, const uint8_t *img, size_t len,
		    const uint8_t *rd, size_t rdlen, const char *cmdline, struct vcpu_state *st)
{
	struct boot_args a = { { img, len }, { rd, rdlen }, cmdline };
	return elf64_load(m, &a, st);
}

static void check_longmode(struct guest_memory *m, const struct vcpu_state *st, uint64_t entry)
{
	CU_ASSERT_EQUAL(st->rip, entry);
	CU_ASSERT_EQUAL(st->rflags, 0x2);
	CU_ASSERT((st->cr0 & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG));
	CU_ASSERT(st->cr4 & X86_CR4_PAE);
	CU_ASSERT_EQUAL(st->efer & (X86_EFER_LME | X86_EFER_LMA), X86_EFER_LME | X86_EFER_LMA);
	CU_ASSERT_EQUAL(st->cs.sel, 0x10);
	CU_ASSERT_EQUAL(st->cs.l, 1);
	CU_ASSERT_EQUAL(st->cs.db, 0);
	CU_ASSERT_EQUAL(st->ds.sel, 0x18);
	CU_ASSERT_EQUAL(st->es.sel, 0x18);
	CU_ASSERT_EQUAL(st->ss.sel, 0x18);
	CU_ASSERT_EQUAL(st->tr.type, 11);
	CU_ASSERT(st->tr.present && !st->tr.unusable);
	CU_ASSERT(st->ldt.unusable);
	CU_ASSERT_EQUAL(tl_gdt_entry(m, st, 0x10), 0x00af9b000000ffffull);
	CU_ASSERT_EQUAL(tl_gdt_entry(m, st, 0x18), 0x00cf93000000ffffull);
	/* 64-bit TSS descriptor: upper half (base 63:32) must be zero. */
	CU_ASSERT_EQUAL(tl_gdt_entry(m, st, 0x28), 0);
	CU_ASSERT(st->gdt.limit >= 0x2f);
	static const uint64_t probe[] = {
		0, 0x7000, 0x100200, 0x1234567, 0x1fffff, 0x200000, 0xfee00000, 0xffffffff,
	};
	for (unsigned i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
		CU_ASSERT_EQUAL(tl_walk(m, st->cr3, probe[i]), probe[i]);
	CU_ASSERT_EQUAL(tl_walk(m, st->cr3, 0x100000000ull), ~0ull);
	CU_ASSERT_EQUAL(tl_walk(m, st->cr3, 0xffffffff80000000ull), ~0ull);
}

static void check_e820(struct guest_memory *m, const uint8_t *bp)
{
	struct e820_entry e[128];
	int n = mem_e820(m, e, 128);
	CU_ASSERT(n >= 4);
	CU_ASSERT_EQUAL(bp[0x1e8], n);
	for (int i = 0; i < n; i++) {
		const uint8_t *p = bp + 0x2d0 + 20 * i;
		CU_ASSERT_EQUAL(g64(p), e[i].addr);
		CU_ASSERT_EQUAL(g64(p + 8), e[i].size);
		CU_ASSERT_EQUAL(g32(p + 16), e[i].type);
	}
}

static void test_bz_valid(void)
{
	struct guest_memory m;
	tl_mem(&m);
	size_t len, klen = 0x3000;
	uint8_t *img = tl_bz_build(klen, &len);
	uint8_t rd[10000];
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i ^ 0x3c);
	struct vcpu_state st;
	err_clear();
	int rc = bz_load(&m, img, len, rd, sizeof(rd), "console=ttyS0 root=/dev/ram0", &st);
	if (rc)
		printf("\n    %s\n", err_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(!memcmp(tl_gpa(&m, 0x100000, klen), img + BZ_SETUP, klen));
	check_longmode(&m, &st, 0x100200);
	uint8_t *bp = tl_gpa(&m, st.gpr[GPR_RSI], 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bp);
	CU_ASSERT_EQUAL(bp[0x210], 0xff);                       /* type_of_loader */
	CU_ASSERT_EQUAL(bp[0x211], 0x81);                       /* LOADED_HIGH | CAN_USE_HEAP */
	CU_ASSERT(!memcmp(bp + 0x202, "HdrS", 4));
	CU_ASSERT_EQUAL(g16(bp + 0x206), 0x020f);
	CU_ASSERT_EQUAL(g32(bp + 0x260), 0x400000);             /* init_size copied */
	CU_ASSERT_EQUAL(bp[0x1f1], 4);
	CU_ASSERT_EQUAL(bp[0x10], 0);                           /* outside the header: zeroed */
	CU_ASSERT_NOT_EQUAL(img[0x10], 0);
	const char *cl = (const char *)tl_gpa(&m, g32(bp + 0x228), 64);
	CU_ASSERT_STRING_EQUAL(cl, "console=ttyS0 root=/dev/ram0");
	uint32_t rdaddr = g32(bp + 0x218);
	CU_ASSERT_EQUAL(rdaddr, (TL_RAM - sizeof(rd)) & ~0xfffull);
	CU_ASSERT_EQUAL(g32(bp + 0x21c), sizeof(rd));
	CU_ASSERT(!memcmp(tl_gpa(&m, rdaddr, sizeof(rd)), rd, sizeof(rd)));
	check_e820(&m, bp);

	/* setup_sects 0 means 4: same layout. */
	img[0x1f1] = 0;
	memset(tl_gpa(&m, 0x100000, klen), 0xcc, klen);
	CU_ASSERT_EQUAL(bz_load(&m, img, len, NULL, 0, NULL, &st), 0);
	CU_ASSERT(!memcmp(tl_gpa(&m, 0x100000, klen), img + BZ_SETUP, klen));
	CU_ASSERT_EQUAL(g32(tl_gpa(&m, st.gpr[GPR_RSI], 4096) + 0x218), 0);  /* no initrd */

	/* initrd_addr_max caps the initrd placement. */
	img[0x1f1] = 4;
	p32(img + 0x22c, 0x17fffff);
	CU_ASSERT_EQUAL(bz_load(&m, img, len, rd, sizeof(rd), NULL, &st), 0);
	CU_ASSERT_EQUAL(g32(tl_gpa(&m, st.gpr[GPR_RSI], 4096) + 0x218),
			(0x1800000 - sizeof(rd)) & ~0xfffull);
	free(img);
	mem_destroy(&m);
}

static void bz_fails_with(size_t off, uint32_t val, int width, const char *substr)
{
	struct guest_memory m;
	tl_mem(&m);
	size_t len;
	uint8_t *img = tl_bz_build(0x3000, &len);
	if (width == 1)
		img[off] = (uint8_t)val;
	else if (width == 2)
		img[off] = (uint8_t)val, img[off + 1] = (uint8_t)(val >> 8);
	else
		p32(img + off, val);
	struct vcpu_state st;
	TL_FAILS(bz_load(&m, img, len, NULL, 0, NULL, &st), substr);
	free(img);
	mem_destroy(&m);
}

static void test_bz_malformed(void)
{
	bz_fails_with(0x206, 0x0206, 2, "boot protocol 2.06 is too old");
	bz_fails_with(0x236, 0, 2, "XLF_KERNEL_64");
	bz_fails_with(0x211, 0, 1, "zImage");
	bz_fails_with(0x1fe, 0, 2, "not a bzImage");
	bz_fails_with(0x202, 0x53726449, 4, "not a bzImage");
	bz_fails_with(0x201, 0x10, 1, "implausible");
	bz_fails_with(0x260, 0x1000001, 4, "to decompress");
	bz_fails_with(0x258, 0x1e00000, 4, "to decompress");    /* pref_address pushes it out */
	bz_fails_with(0x230, 0x300000, 4, "not a power of two");
	bz_fails_with(0x1f4, 0x301, 4, "bzImage is truncated: setup plus protected-mode kernel need");
	bz_fails_with(0x1f1, 40, 1, "setup code alone");

	struct guest_memory m;
	tl_mem(&m);
	size_t len;
	uint8_t *img = tl_bz_build(0x3000, &len);
	struct vcpu_state st;
	TL_FAILS(bz_load(&m, img, len - 16, NULL, 0, NULL, &st), "bzImage is truncated: setup plus");
	TL_FAILS(bz_load(&m, img, BZ_SETUP, NULL, 0, NULL, &st), "setup code alone");
	TL_FAILS(bz_load(&m, img, 0x250, NULL, 0, NULL, &st), "truncated inside its setup header");
	TL_FAILS(bz_load(&m, img, 0, NULL, 0, NULL, &st), "empty");

	char cl[300];
	memset(cl, 'k', 256);
	cl[256] = 0;
	TL_FAILS(bz_load(&m, img, len, NULL, 0, cl, &st),
		 "command line is 256 bytes but this kernel accepts at most 255; shorten --cmdline");
	cl[255] = 0;
	CU_ASSERT_EQUAL(bz_load(&m, img, len, NULL, 0, cl, &st), 0);

	size_t big = 40u << 20;
	uint8_t *rd = calloc(1, big);
	TL_FAILS(bz_load(&m, img, len, rd, big, NULL, &st),
		 "initrd (40 MiB) does not fit in guest RAM (32 MiB); raise --memory");
	/* Fits in RAM but not above the kernel's decompression area (20 MiB). */
	TL_FAILS(bz_load(&m, img, len, rd, 12u << 20 | 1, NULL, &st),
		 "initrd (13 MiB) does not fit in guest RAM (32 MiB) next to the kernel: only 12 MiB free in [0x1400000-0x2000000)");
	CU_ASSERT_EQUAL(bz_load(&m, img, len, rd, 12u << 20, NULL, &st), 0);
	p32(img + 0x22c, 0x13fffff);    /* initrd_addr_max below the kernel's end */
	TL_FAILS(bz_load(&m, img, len, rd, 4096, NULL, &st), "does not fit");
	free(rd);
	free(img);
	mem_destroy(&m);
}

static void test_elf64_valid(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t = tl_elf64();
	size_t len;
	uint8_t *img = tl_elf_build(&t, &len);
	struct boot_image k = { img, len };
	CU_ASSERT_EQUAL(loader_detect(&k), KFMT_ELF64);
	uint8_t rd[777];
	memset(rd, 0x77, sizeof(rd));
	struct vcpu_state st;
	err_clear();
	int rc = e64_load(&m, img, len, rd, sizeof(rd), "init=/bin/sh", &st);
	if (rc)
		printf("\n    %s\n", err_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(tl_check_loaded(&m, 0x200000, 0x1000, 0x2000, 0x2000));
	CU_ASSERT(tl_check_loaded(&m, 0x400000, 0x3000, 0x1000, 0x5000));
	check_longmode(&m, &st, 0x200040);
	CU_ASSERT_EQUAL(st.gpr[GPR_RSI], st.gpr[GPR_RDI]);
	uint8_t *bp = tl_gpa(&m, st.gpr[GPR_RSI], 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bp);
	CU_ASSERT(!memcmp(bp + 0x202, "HdrS", 4));
	CU_ASSERT_EQUAL(g16(bp + 0x1fe), 0xaa55);
	CU_ASSERT_EQUAL(bp[0x210], 0xff);
	CU_ASSERT_STRING_EQUAL((const char *)tl_gpa(&m, g32(bp + 0x228), 16), "init=/bin/sh");
	CU_ASSERT_EQUAL(g32(bp + 0x218), (TL_RAM - sizeof(rd)) & ~0xfffull);
	CU_ASSERT_EQUAL(g32(bp + 0x21c), sizeof(rd));
	CU_ASSERT(!memcmp(tl_gpa(&m, g32(bp + 0x218), sizeof(rd)), rd, sizeof(rd)));
	check_e820(&m, bp);

	/* Physical entry (vmlinux style: e_entry is the physical startup_64). */
	t.entry = 0x200100;
	free(img);
	img = tl_elf_build(&t, &len);
	CU_ASSERT_EQUAL(e64_load(&m, img, len, NULL, 0, NULL, &st), 0);
	CU_ASSERT_EQUAL(st.rip, 0x200100);
	free(img);
	mem_destroy(&m);
}

static int e64_build_load(struct guest_memory *m, const struct tl_elf *t)
{
	size_t len;
	uint8_t *img = tl_elf_build(t, &len);
	struct vcpu_state st;
	int rc = e64_load(m, img, len, NULL, 0, NULL, &st);
	free(img);
	return rc;
}

static void test_elf64_malformed(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct tl_elf t;
	struct vcpu_state st;
	size_t len;
	uint8_t *img;

	t = tl_elf64();
	t.cls = ELFCLASS32;
	t.machine = EM_386;
	t.seg[0].vaddr = t.seg[0].paddr;
	t.seg[1].vaddr = t.seg[1].paddr;
	t.entry = 0x200000;
	TL_FAILS(e64_build_load(&m, &t), "wrong ELF class: image is ELF32");
	t = tl_elf64();
	t.machine = EM_386;
	TL_FAILS(e64_build_load(&m, &t), "wrong ELF machine 3");
	t = tl_elf64();
	t.seg[1].filesz = 0x6000;
	TL_FAILS(e64_build_load(&m, &t), "larger than p_memsz");
	t = tl_elf64();
	t.seg[1].paddr = 0x201000;
	TL_FAILS(e64_build_load(&m, &t), "overlap");
	t = tl_elf64();
	t.seg[1].paddr = TL_RAM - 0x4000;
	TL_FAILS(e64_build_load(&m, &t), "lies outside guest RAM");
	t.seg[1].paddr = 0xfffffffffffff000ull;         /* wraps around */
	TL_FAILS(e64_build_load(&m, &t), "lies outside guest RAM");
	t = tl_elf64();
	t.seg[0].paddr = 0x0;
	TL_FAILS(e64_build_load(&m, &t), "below 1 MiB");
	t = tl_elf64();
	t.entry = 0xffffffff80300000ull;
	TL_FAILS(e64_build_load(&m, &t), "entry point 0xffffffff80300000 is not inside any loaded segment");
	t = tl_elf64();

	t = tl_elf64();
	img = tl_elf_build(&t, &len);
	TL_FAILS(e64_load(&m, img, 40, NULL, 0, NULL, &st), "ELF header is truncated");
	TL_FAILS(e64_load(&m, img, 64 + 56 + 10, NULL, 0, NULL, &st), "program header table");
	TL_FAILS(e64_load(&m, img, len - 1, NULL, 0, NULL, &st), "extends past the end of the file");
	TL_FAILS(e64_load(&m, img, 3, NULL, 0, NULL, &st), "not an ELF file");
	TL_FAILS(e64_load(&m, img, 0, NULL, 0, NULL, &st), "empty");
	img[1] = 'X';
	TL_FAILS(e64_load(&m, img, len, NULL, 0, NULL, &st), "bad magic");
	img[1] = 'E';
	uint8_t *rd = calloc(1, 40u << 20);
	TL_FAILS(e64_load(&m, img, len, rd, 40u << 20, NULL, &st),
		 "initrd (40 MiB) does not fit in guest RAM (32 MiB); raise --memory");
	free(rd);
	free(img);
	mem_destroy(&m);
}

static void test_longmode_direct(void)
{
	struct guest_memory m;
	tl_mem(&m);
	struct vcpu_state st;
	memset(&st, 0x55, sizeof(st));
	CU_ASSERT_EQUAL_FATAL(loader_setup_longmode(&m, &st, 0x123456), 0);
	check_longmode(&m, &st, 0x123456);
	/* Everything else starts from a clean state. */
	CU_ASSERT_EQUAL(st.gpr[GPR_RAX], 0);
	CU_ASSERT_EQUAL(st.gpr[GPR_R15], 0);
	CU_ASSERT_EQUAL(st.cr2, 0);
	CU_ASSERT_EQUAL(st.apic_base & ~0xfffull, 0xfee00000);
	mem_destroy(&m);
}

/* The host's distribution kernel, if installed (linux-image-amd64). */
static void test_real_bzimage(void)
{
	glob_t g;
	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		unit_skip("no /boot/vmlinuz-* on this host (apt-get install linux-image-amd64); real bzImage not checked");
		return;
	}
	const char *path = g.gl_pathv[g.gl_pathc - 1];
	char initrd[512];
	snprintf(initrd, sizeof(initrd), "/boot/initrd.img-%s", path + strlen("/boot/vmlinuz-"));
	FILE *f = fopen(initrd, "rb");
	if (f)
		fclose(f);
	else
		initrd[0] = 0;
	struct guest_memory m;
	CU_ASSERT_EQUAL_FATAL(mem_init(&m, 256ull << 20), 0);
	struct vcpu_state st;
	err_clear();
	int rc = loader_load(&m, path, initrd[0] ? initrd : NULL, "console=ttyS0 earlyprintk=serial", &st);
	if (rc)
		printf("\n    %s: %s\n", path, err_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	printf("\n    loaded %s%s%s ", path, initrd[0] ? " + " : "", initrd);
	check_longmode(&m, &st, 0x100200);
	uint8_t *bp = tl_gpa(&m, st.gpr[GPR_RSI], 4096);
	CU_ASSERT(g16(bp + 0x206) >= 0x020c);
	CU_ASSERT_EQUAL(bp[0x210], 0xff);
	unsigned sects = bp[0x1f1] ? bp[0x1f1] : 4;
	/* The protected-mode kernel at 1 MiB equals the file past the setup. */
	f = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	uint8_t buf[4096];
	CU_ASSERT_EQUAL(fseek(f, (long)(sects + 1) * 512, SEEK_SET), 0);
	CU_ASSERT_EQUAL(fread(buf, 1, sizeof(buf), f), sizeof(buf));
	fclose(f);
	CU_ASSERT(!memcmp(tl_gpa(&m, 0x100000, sizeof(buf)), buf, sizeof(buf)));
	if (initrd[0]) {
		CU_ASSERT(g32(bp + 0x21c) > 0);
		CU_ASSERT(g32(bp + 0x218) + (uint64_t)g32(bp + 0x21c) <= (256ull << 20));
		CU_ASSERT_EQUAL(g32(bp + 0x218) & 0xfff, 0);
	}
	/* The same kernel in a guest too small to decompress it. */
	mem_destroy(&m);
	CU_ASSERT_EQUAL_FATAL(mem_init(&m, 32ull << 20), 0);
	TL_FAILS(loader_load(&m, path, NULL, NULL, &st), "to decompress");
	mem_destroy(&m);
	globfree(&g);
}

UNIT_SUITE(loader_linux,
	   UNIT_CASE(test_bz_valid),
	   UNIT_CASE(test_bz_malformed),
	   UNIT_CASE(test_elf64_valid),
	   UNIT_CASE(test_elf64_malformed),
	   UNIT_CASE(test_longmode_direct),
	   UNIT_CASE(test_real_bzimage))
