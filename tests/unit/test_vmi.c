/* VMI: the page (checksum, descriptors, stubs), discovery and version
 * negotiation, and the dispatcher's gatekeeping. */
#include <string.h>

#include "error.h"
#include "unit.h"
#include "vmi_guest.h"
#include "vmi/vmi_mem.h"
#include "test_vmi_fake.h"

static struct fake_vcpu f;
static struct vmi_host h;
static struct vmi_ctx c;

static uint64_t rax_of(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint64_t a[6] = { a0, a1, 0, 0, 0, 0 }, r[2] = { 0, 0 };
	CU_ASSERT_EQUAL(vmi_dispatch(&c, nr, a, r), VMI_DONE);
	return r[0];
}

static void test_vmi_crc32(void)
{
	CU_ASSERT_EQUAL(vmi_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	CU_ASSERT_EQUAL(vmi_crc32((const uint8_t *)"", 0), 0);
	uint8_t page[VMI_PAGE_SIZE];
	CU_ASSERT_EQUAL(vmi_page_build(page, sizeof(page), VMI_VERSION(1, 0), VMI_BACKEND_BT,
				       VMI_TRANSPORT_VMCALL, false), VMI_PAGE_SIZE);
	const struct vmi_page_header *hd = (const void *)page;
	/* The checksum is CRC-32 of the page with its own 4 bytes zeroed. */
	uint8_t copy[VMI_PAGE_SIZE];
	memcpy(copy, page, sizeof(copy));
	memset(copy + 60, 0, 4);
	CU_ASSERT_EQUAL(hd->checksum, vmi_crc32(copy, VMI_PAGE_SIZE));
	CU_ASSERT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(1, 0)), VMI_CHECK_OK);
	/* Any flipped bit anywhere in the page is caught, even in padding. */
	for (unsigned off = 0; off < VMI_PAGE_SIZE; off += 509) {
		if (off >= 60 && off < 64)
			continue;
		page[off] ^= 0x10;
		CU_ASSERT_NOT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(1, 0)),
				    VMI_CHECK_OK);
		page[off] ^= 0x10;
	}
	page[60] ^= 1;
	CU_ASSERT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(1, 0)), VMI_CHECK_CORRUPT);
	page[60] ^= 1;
	CU_ASSERT_EQUAL(vmi_page_check(page, 100, VMI_VERSION(1, 0)), VMI_CHECK_CORRUPT);
	CU_ASSERT_EQUAL(vmi_page_build(page, 100, VMI_VERSION(1, 0), VMI_BACKEND_BT,
				       VMI_TRANSPORT_VMCALL, false), -1);
	CU_ASSERT_EQUAL(vmi_page_build(page, sizeof(page), VMI_VERSION(2, 0), VMI_BACKEND_BT,
				       VMI_TRANSPORT_VMCALL, false), -1);
	CU_ASSERT_EQUAL(vmi_page_build(page, sizeof(page), VMI_VERSION(1, 0), VMI_BACKEND_BT,
				       (enum vmi_transport)9, false), -1);
}

static void check_stub(const uint8_t *page, const struct vmi_call_desc *d, uint32_t nr,
		       enum vmi_transport t)
{
	const uint8_t *s = page + d->stub_off;
	static const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	CU_ASSERT_EQUAL(memcmp(s, endbr, 4), 0);
	unsigned n;
	if (d->kind == VMI_KIND_NOP) {
		CU_ASSERT(s[4] == 0x31 && s[5] == 0xc0 && s[6] == 0xc3);
		n = 7;
	} else {
		uint32_t imm;
		memcpy(&imm, s + 5, 4);
		CU_ASSERT_EQUAL(s[4], 0xb8);
		CU_ASSERT_EQUAL(imm, nr);
		if (t == VMI_TRANSPORT_VMCALL) {
			CU_ASSERT(s[9] == 0x0f && s[10] == 0x01 && s[11] == 0xc1 && s[12] == 0xc3);
			n = 13;
		} else {
			CU_ASSERT(s[9] == 0xe7 && s[10] == VMI_PIO_PORT && s[11] == 0xc3);
			n = 12;
		}
	}
	for (; n < VMI_STUB_STRIDE; n++)
		CU_ASSERT_EQUAL(s[n], 0xcc);
}

static void test_vmi_descriptors(void)
{
	static const enum vmi_backend be[2] = { VMI_BACKEND_HW, VMI_BACKEND_BT };
	static const enum vmi_transport tr[2] = { VMI_TRANSPORT_PIO, VMI_TRANSPORT_VMCALL };
	for (int k = 0; k < 2; k++) {
		uint8_t page[VMI_PAGE_SIZE];
		CU_ASSERT_EQUAL(vmi_page_build(page, sizeof(page), VMI_VERSION(1, 0), be[k], tr[k], false),
				VMI_PAGE_SIZE);
		const struct vmi_page_header *hd = (const void *)page;
		CU_ASSERT_EQUAL(hd->magic, VMI_PAGE_MAGIC);
		CU_ASSERT_EQUAL(hd->ncalls, VMI_NCALLS_V1_0);
		CU_ASSERT_EQUAL(hd->backend, (uint32_t)be[k]);
		CU_ASSERT_EQUAL(hd->transport, (uint32_t)tr[k]);
		CU_ASSERT_EQUAL(hd->stubs_off % 64, 0);
		CU_ASSERT(hd->calls_off + hd->ncalls * hd->desc_size <= hd->stubs_off);
		CU_ASSERT_EQUAL(hd->vcpu_page_size, 4096);
		for (uint32_t i = 0; i < hd->ncalls; i++) {
			const struct vmi_call_desc *d = vmi_page_desc(page, i);
			CU_ASSERT_EQUAL(d->call, i);
			CU_ASSERT(d->kind <= VMI_KIND_SHARED);
			CU_ASSERT_EQUAL(d->stub_off, hd->stubs_off + i * VMI_STUB_STRIDE);
			CU_ASSERT(d->clobbers & VMI_CLOBBER_RAX);
			CU_ASSERT_EQUAL(!!(d->clobbers & VMI_CLOBBER_RDX),
					!!(d->flags & VMI_DF_RDX_RESULT));
			CU_ASSERT_EQUAL(d->aux != 0 || d->kind == VMI_KIND_SHARED,
					d->kind == VMI_KIND_SHARED);
			check_stub(page, d, i, tr[k]);
		}
		CU_ASSERT_PTR_NULL(vmi_page_desc(page, hd->ncalls));
		const struct vmi_call_desc *irq = vmi_page_desc(page, VMI_CALL_IRQ_DISABLE);
		const struct vmi_call_desc *pxe = vmi_page_desc(page, VMI_CALL_SET_PXE);
		const struct vmi_call_desc *cr2 = vmi_page_desc(page, VMI_CALL_READ_CR2);
		if (be[k] == VMI_BACKEND_BT) {
			/* NATIVE until the translator implements the SHARED
			 * flag (vmi_calls.c). */
			CU_ASSERT_EQUAL(irq->kind, VMI_KIND_NATIVE);
			CU_ASSERT_EQUAL(irq->aux, 0);
			CU_ASSERT_EQUAL(cr2->kind, VMI_KIND_SHARED);
			CU_ASSERT_EQUAL(cr2->aux, VMI_VCPU_OFF_CR2);
			/* The soft MMU walks the guest's tables: stores win. */
			CU_ASSERT_EQUAL(pxe->kind, VMI_KIND_NATIVE);
			CU_ASSERT_EQUAL(vmi_page_desc(page, VMI_CALL_WRITE_CR3)->kind, VMI_KIND_NATIVE);
			CU_ASSERT_EQUAL(vmi_page_desc(page, VMI_CALL_ALLOC_PT)->kind, VMI_KIND_NOP);
			CU_ASSERT_EQUAL(vmi_page_desc(page, VMI_CALL_WRMSR)->kind, VMI_KIND_CALL);
		} else {
			CU_ASSERT_EQUAL(irq->kind, VMI_KIND_NATIVE);
			CU_ASSERT_EQUAL(pxe->kind, VMI_KIND_NATIVE);
		}
		CU_ASSERT(pxe->flags & VMI_DF_BATCHABLE);
		CU_ASSERT_FALSE(vmi_page_desc(page, VMI_CALL_BATCH_FLUSH)->flags & VMI_DF_BATCHABLE);
		CU_ASSERT_EQUAL(vmi_page_desc(page, VMI_CALL_IO_DELAY)->kind, VMI_KIND_NOP);
		CU_ASSERT(vmi_page_desc(page, VMI_CALL_SHUTDOWN)->flags & VMI_DF_NORETURN);
	}
}

/* --vmi-kinds calls: the MMU and context-switch operations the BT column
 * leaves native become calls again, on both backends; nothing else moves. */
static void test_vmi_all_calls(void)
{
	static const enum vmi_backend be[2] = { VMI_BACKEND_HW, VMI_BACKEND_BT };
	static const enum vmi_transport tr[2] = { VMI_TRANSPORT_PIO, VMI_TRANSPORT_VMCALL };
	for (int k = 0; k < 2; k++) {
		uint8_t def[VMI_PAGE_SIZE], all[VMI_PAGE_SIZE];
		CU_ASSERT_EQUAL_FATAL(vmi_page_build(def, sizeof(def), VMI_VERSION(1, 0), be[k], tr[k],
						     false), VMI_PAGE_SIZE);
		CU_ASSERT_EQUAL_FATAL(vmi_page_build(all, sizeof(all), VMI_VERSION(1, 0), be[k], tr[k],
						     true), VMI_PAGE_SIZE);
		CU_ASSERT_EQUAL(vmi_page_check(all, sizeof(all), VMI_VERSION(1, 0)), VMI_CHECK_OK);
		unsigned moved = 0;
		for (uint32_t i = 0; i < VMI_NCALLS_V1_0; i++) {
			const struct vmi_call_desc *a = vmi_page_desc(all, i), *d = vmi_page_desc(def, i);
			if (a->kind != d->kind) {
				CU_ASSERT_EQUAL(a->kind, VMI_KIND_CALL);
				moved++;
			}
		}
		CU_ASSERT_EQUAL(vmi_page_desc(all, VMI_CALL_SET_PXE)->kind, VMI_KIND_CALL);
		CU_ASSERT_EQUAL(vmi_page_desc(all, VMI_CALL_WRITE_CR3)->kind, VMI_KIND_CALL);
		CU_ASSERT_EQUAL(vmi_page_desc(all, VMI_CALL_ALLOC_PT)->kind, VMI_KIND_CALL);
		CU_ASSERT_EQUAL(vmi_page_desc(all, VMI_CALL_IRQ_DISABLE)->kind,
				vmi_page_desc(def, VMI_CALL_IRQ_DISABLE)->kind);
		CU_ASSERT_EQUAL(moved, 7u);
	}
}

static void test_vmi_negotiate(void)
{
	CU_ASSERT_EQUAL(vmi_negotiate(VMI_VERSION(1, 0), VMI_VERSION(1, 0)), VMI_CHECK_OK);
	CU_ASSERT_EQUAL(vmi_negotiate(VMI_VERSION(1, 3), VMI_VERSION(1, 2)), VMI_CHECK_OK);
	CU_ASSERT_EQUAL(vmi_negotiate(VMI_VERSION(1, 0), VMI_VERSION(1, 1)), VMI_CHECK_MINOR);
	CU_ASSERT_EQUAL(vmi_negotiate(VMI_VERSION(2, 0), VMI_VERSION(1, 0)), VMI_CHECK_MAJOR);
	CU_ASSERT_EQUAL(vmi_negotiate(VMI_VERSION(1, 5), VMI_VERSION(2, 0)), VMI_CHECK_MAJOR);
	CU_ASSERT_EQUAL(vmi_negotiate(0, VMI_VERSION(1, 0)), VMI_CHECK_ABSENT);
	/* The page check refuses in the same terms. */
	uint8_t page[VMI_PAGE_SIZE];
	vmi_page_build(page, sizeof(page), VMI_VERSION(1, 0), VMI_BACKEND_HW, VMI_TRANSPORT_PIO, false);
	CU_ASSERT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(1, 1)), VMI_CHECK_MINOR);
	CU_ASSERT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(2, 0)), VMI_CHECK_MAJOR);
	memset(page, 0, 4);
	CU_ASSERT_EQUAL(vmi_page_check(page, sizeof(page), VMI_VERSION(1, 0)), VMI_CHECK_ABSENT);
}

static void test_vmi_config(void)
{
	struct vmi_config cfg;
	vmi_config_default(&cfg);
	CU_ASSERT_TRUE(cfg.enabled);
	CU_ASSERT_EQUAL(cfg.version, VMI_VERSION(VMI_VERSION_MAJOR, VMI_VERSION_MINOR));
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "1.0"), 0);
	CU_ASSERT_EQUAL(cfg.version, VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "1.1"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_msg(), "1.0"));
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "2.0"), -1);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "1"), -1);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "1."), -1);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, ".0"), -1);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "1.0x"), -1);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "99999999.0"), -1);
	CU_ASSERT_TRUE(cfg.enabled);
	CU_ASSERT_EQUAL(vmi_config_parse_version(&cfg, "off"), 0);
	CU_ASSERT_FALSE(cfg.enabled);
	cfg.cpuid_base = 0x40000080;
	struct vmi_host hh;
	CU_ASSERT_EQUAL(vmi_host_init(&hh, &cfg), -1);
}

static void test_vmi_cpuid(void)
{
	CU_ASSERT_EQUAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, false), 0);
	uint32_t r[4];
	CU_ASSERT_TRUE(vmi_cpuid(&h, 0x40000000, 0, r));
	CU_ASSERT_EQUAL(r[0], 0x40000002);
	char sig[13] = { 0 };
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	CU_ASSERT_STRING_EQUAL(sig, "vmliteVMIabi");
	CU_ASSERT_TRUE(vmi_cpuid_sig_ok(r[1], r[2], r[3]));
	CU_ASSERT_TRUE(vmi_cpuid(&h, 0x40000001, 0, r));
	CU_ASSERT_EQUAL(r[0], VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(r[1], (uint32_t)VMI_F_ALL_V1_0);
	CU_ASSERT_EQUAL(r[3], VMI_BACKEND_BT);
	CU_ASSERT_TRUE(vmi_cpuid(&h, 0x40000002, 0, r));
	CU_ASSERT(r[0] == 1 && r[1] == VMI_MSR_VERSION && r[2] == VMI_MSR_PAGE &&
		  r[3] == VMI_MSR_VCPU_PAGE);
	CU_ASSERT_FALSE(vmi_cpuid(&h, 0x40000003, 0, r));
	CU_ASSERT_FALSE(vmi_cpuid(&h, 0x3fffffff, 0, r));
	CU_ASSERT_FALSE(vmi_cpuid(&h, 0x40000100, 0, r));
	h.cfg.enabled = false;  /* --vmi off: no leaves, no MSRs */
	CU_ASSERT_FALSE(vmi_cpuid(&h, 0x40000000, 0, r));
	uint64_t v;
	CU_ASSERT_EQUAL(vmi_msr_read(&c, VMI_MSR_VERSION, &v), VMI_MSR_UNHANDLED);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, VMI_VERSION(1, 0)), VMI_MSR_UNHANDLED);
	fake_teardown(&f, &h);
}

static void test_vmi_install(void)
{
	CU_ASSERT_EQUAL(fake_setup(&f, &h, &c, VMI_BACKEND_HW, false), 0);
	uint64_t v = 0;
	CU_ASSERT_EQUAL(vmi_msr_read(&c, VMI_MSR_VERSION, &v), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(v, VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(vmi_msr_read(&c, 0x10, &v), VMI_MSR_UNHANDLED);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, 0xc0000080, 0), VMI_MSR_UNHANDLED);
	/* Installing before the version handshake is refused. */
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_ABI_PAGE | 1), VMI_TRAP_GP);
	/* Refused: a higher minor, another major, garbage in the top half. */
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, VMI_VERSION(1, 1)), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, VMI_VERSION(2, 0)), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, VMI_VERSION(0, 0)), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, 1ull << 32 | VMI_VERSION(1, 0)),
			VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_ABI_PAGE | 1), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VERSION, VMI_VERSION(1, 0)), VMI_MSR_HANDLED);
	/* Bad page values: no enable bit, reserved bits, outside RAM, straddling. */
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_ABI_PAGE), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_ABI_PAGE | 3), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_RAM_SIZE | 1), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, ~0xfffull | 1), VMI_TRAP_GP);
	/* The per-vCPU page needs the ABI page first. */
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, FAKE_VCPU_PAGE | 1), VMI_TRAP_GP);
	CU_ASSERT_FALSE(h.page_installed);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, FAKE_ABI_PAGE | 1), VMI_MSR_HANDLED);
	CU_ASSERT_TRUE(h.page_installed);
	CU_ASSERT_EQUAL(vmi_msr_read(&c, VMI_MSR_PAGE, &v), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(v, FAKE_ABI_PAGE | 1);
	/* What the guest finds in its memory passes the guest-side check. */
	CU_ASSERT_EQUAL(vmi_page_check(f.ram + FAKE_ABI_PAGE, 4096, VMI_VERSION(1, 0)),
			VMI_CHECK_OK);
	const struct vmi_page_header *hd = (const void *)(f.ram + FAKE_ABI_PAGE);
	CU_ASSERT_EQUAL(hd->transport, VMI_TRANSPORT_PIO);
	CU_ASSERT_EQUAL(hd->transport_aux, VMI_PIO_PORT);
	/* Per-vCPU page: zeroed, IF copied from RFLAGS. */
	f.rflags_if = true;
	memset(f.ram + FAKE_VCPU_PAGE, 0xab, 4096);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, FAKE_VCPU_PAGE | 0x801), VMI_TRAP_GP);
	CU_ASSERT_EQUAL(f.vcpu_page_sets, 0);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, FAKE_VCPU_PAGE | 1), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(f.vcpu_page_sets, 1);
	CU_ASSERT_EQUAL(f.vcpu_page_gpa, FAKE_VCPU_PAGE);
	CU_ASSERT_EQUAL(f.ram[FAKE_VCPU_PAGE], 1);
	CU_ASSERT_EQUAL(f.ram[FAKE_VCPU_PAGE + 4095], 0);
	CU_ASSERT_EQUAL(vmi_msr_read(&c, VMI_MSR_VCPU_PAGE, &v), VMI_MSR_HANDLED);
	CU_ASSERT_EQUAL(v, FAKE_VCPU_PAGE | 1);
	/* Uninstall: calls trap again. */
	CU_ASSERT_EQUAL(rax_of(VMI_CALL_VERSION, 0, 0), VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_PAGE, 0), VMI_MSR_HANDLED);
	uint64_t a[6] = { 0 }, r[2];
	CU_ASSERT_EQUAL(vmi_dispatch(&c, VMI_CALL_VERSION, a, r), VMI_TRAP_UD);
	CU_ASSERT_EQUAL(vmi_msr_write(&c, VMI_MSR_VCPU_PAGE, 0), VMI_MSR_HANDLED);
	CU_ASSERT_FALSE(c.vcpu_page_on);
	CU_ASSERT_EQUAL(f.vcpu_page_sets, 2);
	CU_ASSERT_EQUAL(f.vcpu_page_gpa, 0);
	fake_teardown(&f, &h);
}

static void test_vmi_gate(void)
{
	uint64_t a[6] = { 0 }, r[2];
	CU_ASSERT_EQUAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, false), 0);
	/* No page: #UD, and nothing was executed. */
	CU_ASSERT_EQUAL(vmi_dispatch(&c, VMI_CALL_SHUTDOWN, a, r), VMI_TRAP_UD);
	CU_ASSERT_EQUAL(f.power, -1);
	fake_teardown(&f, &h);

	CU_ASSERT_EQUAL(fake_setup(&f, &h, &c, VMI_BACKEND_BT, true), 0);
	/* User mode (and CPL 1/2): #UD, registers untouched, nothing run. */
	for (int cpl = 1; cpl <= 3; cpl++) {
		f.cpl = cpl;
		r[0] = 0x1234;
		CU_ASSERT_EQUAL(vmi_dispatch(&c, VMI_CALL_SHUTDOWN, a, r), VMI_TRAP_UD);
		CU_ASSERT_EQUAL(r[0], 0x1234);
	}
	CU_ASSERT_EQUAL(f.power, -1);
	CU_ASSERT_EQUAL(c.stats.traps, 3);
	f.cpl = 0;
	/* Unknown calls: the first number past the table, huge numbers. */
	CU_ASSERT_EQUAL(rax_of(VMI_NCALLS_V1_0, 0, 0), (uint64_t)VMI_ENOSYS);
	CU_ASSERT_EQUAL(rax_of(VMI_NCALLS_MAX, 0, 0), (uint64_t)VMI_ENOSYS);
	CU_ASSERT_EQUAL(rax_of(1ull << 63, 0, 0), (uint64_t)VMI_ENOSYS);
	CU_ASSERT_EQUAL(rax_of(~0ull, 0, 0), (uint64_t)VMI_ENOSYS);
	CU_ASSERT_EQUAL(c.stats.unknown, 4);
	CU_ASSERT_TRUE(VMI_IS_ERROR(VMI_ENOSYS));
	CU_ASSERT_FALSE(VMI_IS_ERROR(0));
	CU_ASSERT_FALSE(VMI_IS_ERROR(-4096));
	/* VERSION: version in RAX, features in RDX. */
	a[2] = 77;
	CU_ASSERT_EQUAL(vmi_dispatch(&c, VMI_CALL_VERSION, a, r), VMI_DONE);
	CU_ASSERT_EQUAL(r[0], VMI_VERSION(1, 0));
	CU_ASSERT_EQUAL(r[1], VMI_F_ALL_V1_0);
	/* Calls without a second result hand RDX back unchanged. */
	CU_ASSERT_EQUAL(vmi_dispatch(&c, VMI_CALL_IO_DELAY, a, r), VMI_DONE);
	CU_ASSERT_EQUAL(r[0], 0);
	CU_ASSERT_EQUAL(r[1], 77);
	CU_ASSERT_EQUAL(c.stats.calls[VMI_CALL_VERSION], 1);
	CU_ASSERT_EQUAL(c.stats.calls[VMI_CALL_IO_DELAY], 1);
	CU_ASSERT_STRING_EQUAL(vmi_call_name(VMI_CALL_SET_PXE), "set_pxe");
	CU_ASSERT_STRING_EQUAL(vmi_call_name(999), "unknown");
	struct vmi_stats tot;
	memset(&tot, 0, sizeof(tot));
	vmi_stats_add(&tot, &c.stats);
	vmi_stats_add(&tot, &c.stats);
	CU_ASSERT_EQUAL(tot.calls[VMI_CALL_VERSION], 2);
	CU_ASSERT_EQUAL(tot.unknown, 8);
	char buf[4096] = { 0 };
	FILE *m = fmemopen(buf, sizeof(buf) - 1, "w");
	vmi_stats_print(&tot, m);
	fclose(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "io_delay"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "8 unknown"));
	fake_teardown(&f, &h);
}

static void test_vmi_guest_memory(void)
{
	struct guest_memory m;
	static uint8_t rom[4096];
	CU_ASSERT_EQUAL_FATAL(mem_init(&m, 64ull << 20), 0);
	CU_ASSERT_TRUE(vmi_mem_in_ram(&m, 0x200000, 4096));
	CU_ASSERT_TRUE(vmi_mem_in_ram(&m, (64ull << 20) - 8, 8));
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, (64ull << 20) - 4, 8));
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, 0x200000, 0));
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, ~0ull - 1, 4));
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, 0x200000, ~0ull));
	CU_ASSERT_EQUAL(mem_add_region(&m, 0xfee00000, 0x1000, MEM_MMIO, NULL, "lapic"), 0);
	CU_ASSERT_EQUAL(mem_add_region(&m, 0xfffff000, 0x1000, MEM_ROM, rom, "rom"), 0);
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, 0xfee00000, 8));
	CU_ASSERT_FALSE(vmi_mem_in_ram(&m, 0xfffff000, 8));     /* ROM is not RAM */
	uint64_t v = 0x1122334455667788ull, w = 0;
	CU_ASSERT_EQUAL(vmi_mem_write(&m, 0x300000, &v, 8), 0);
	CU_ASSERT_EQUAL(vmi_mem_read(&m, 0x300000, &w, 8), 0);
	CU_ASSERT_EQUAL(w, v);
	CU_ASSERT_EQUAL(vmi_mem_write(&m, 0xfffff000, &v, 8), -1);
	CU_ASSERT_EQUAL(rom[0], 0);
	CU_ASSERT_EQUAL(vmi_mem_read(&m, 64ull << 20, &w, 8), -1);
	mem_destroy(&m);
}

UNIT_SUITE(vmi,
	UNIT_CASE(test_vmi_crc32),
	UNIT_CASE(test_vmi_descriptors),
	UNIT_CASE(test_vmi_all_calls),
	UNIT_CASE(test_vmi_negotiate),
	UNIT_CASE(test_vmi_config),
	UNIT_CASE(test_vmi_cpuid),
	UNIT_CASE(test_vmi_install),
	UNIT_CASE(test_vmi_gate),
	UNIT_CASE(test_vmi_guest_memory))
