#include <string.h>

#include "acpi.h"
#include "null_engine.h"
#include "unit.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static const uint8_t *table_at(struct guest_memory *m, uint64_t gpa, const char *sig)
{
	const uint8_t *t = mem_gpa_to_hva(m, gpa, 36);
	if (!t || memcmp(t, sig, 4))
		return NULL;
	uint32_t len;
	memcpy(&len, t + 4, 4);
	return sum(t, len) == 0 ? t : NULL;     /* a table with a bad checksum counts as absent */
}

static void test_acpi_tables(void)
{
	struct guest_memory m;
	CU_ASSERT_FATAL(mem_init(&m, 16ull << 20) == 0);
	uint64_t rsdp;
	struct acpi_mmio_dev dev[2] = { { 0xd0000000, 0x1000, 5 }, { 0xd0001000, 0x1000, 10 } };
	CU_ASSERT_EQUAL(acpi_build(&m, 3, dev, 2, &rsdp), 0);
	/* Found the way Linux finds it without boot_params: a 16-byte-aligned scan. */
	uint64_t found = 0;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(m.ram + a, "RSD PTR ", 8)) {
			found = a;
			break;
		}
	CU_ASSERT_EQUAL(found, rsdp);
	const uint8_t *r = m.ram + rsdp;
	CU_ASSERT_EQUAL(sum(r, 20), 0);
	CU_ASSERT_EQUAL(sum(r, 36), 0);
	uint64_t xsdt_gpa;
	memcpy(&xsdt_gpa, r + 24, 8);
	const uint8_t *xsdt = table_at(&m, xsdt_gpa, "XSDT");
	CU_ASSERT_PTR_NOT_NULL_FATAL(xsdt);
	uint64_t e[2];
	memcpy(e, xsdt + 36, 16);
	const uint8_t *fadt = table_at(&m, e[0], "FACP");
	const uint8_t *madt = table_at(&m, e[1], "APIC");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fadt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(madt);
	uint32_t pm1a_cnt, dsdt32;
	memcpy(&pm1a_cnt, fadt + 64, 4);
	memcpy(&dsdt32, fadt + 40, 4);
	CU_ASSERT_EQUAL(pm1a_cnt, ACPI_PM1_CNT);
	const uint8_t *dsdt = table_at(&m, dsdt32, "DSDT");
	CU_ASSERT_PTR_NOT_NULL_FATAL(dsdt);
	uint32_t dlen;
	memcpy(&dlen, dsdt + 4, 4);
	CU_ASSERT_PTR_NOT_NULL(memmem(dsdt, dlen, "_S5_", 4));
	/* Both virtio-mmio devices, with their window and interrupt in _CRS. */
	const uint8_t *hid = memmem(dsdt, dlen, "LNRO0005", 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hid);
	CU_ASSERT_PTR_NOT_NULL(memmem(hid + 8, dlen - (hid + 8 - dsdt), "LNRO0005", 8));
	const uint8_t mem32[8] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0 };
	const uint8_t *crs = memmem(dsdt, dlen, mem32, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(crs);
	CU_ASSERT_EQUAL(crs[12], 0x89);
	CU_ASSERT_EQUAL(crs[17], 10);                   /* second device's IRQ */
	CU_ASSERT_PTR_NOT_NULL(memmem(dsdt, dlen, "VR01", 4));
	/* MADT: one enabled local APIC per CPU, then the IOAPIC. */
	uint32_t mlen;
	memcpy(&mlen, madt + 4, 4);
	int lapics = 0, ioapics = 0;
	for (uint32_t off = 44; off < mlen; off += madt[off + 1]) {
		if (madt[off] == 0 && (madt[off + 4] & 1))
			lapics++;
		if (madt[off] == 1)
			ioapics++;
		CU_ASSERT_FATAL(madt[off + 1] > 0);
	}
	CU_ASSERT_EQUAL(lapics, 3);
	CU_ASSERT_EQUAL(ioapics, 1);
	mem_destroy(&m);
}

static void test_acpi_poweroff(void)
{
	struct vm vm;
	struct vm_config cfg;
	CU_ASSERT_FATAL(null_vm_create_default(&vm, &cfg) == 0);
	uint8_t d[4] = { 0 };
	bus_access(&vm.pio, ACPI_PM1_CNT, 2, false, d);
	CU_ASSERT_EQUAL(d[0] & 1, 1);                  /* SCI_EN: already in ACPI mode */
	uint32_t t1, t2;
	bus_access(&vm.pio, ACPI_PM_TMR, 4, false, d);
	memcpy(&t1, d, 4);
	for (volatile int i = 0; i < 200000; i++)
		;
	bus_access(&vm.pio, ACPI_PM_TMR, 4, false, d);
	memcpy(&t2, d, 4);
	CU_ASSERT_NOT_EQUAL(t1, t2);                   /* the PM timer runs */
	/* S3 (a type we do not offer) must not power off. */
	uint16_t s3 = (3 << 10) | (1 << 13);
	bus_access(&vm.pio, ACPI_PM1_CNT, 2, true, (uint8_t *)&s3);
	CU_ASSERT_FALSE(vm_stopping(&vm));
	uint16_t s5 = (ACPI_S5_TYPE << 10) | (1 << 13);
	bus_access(&vm.pio, ACPI_PM1_CNT, 2, true, (uint8_t *)&s5);
	CU_ASSERT_TRUE(vm_stopping(&vm));
	CU_ASSERT_EQUAL(vm.stop_reason, STOP_POWEROFF);
	CU_ASSERT_EQUAL(vm.exit_status, VMLITE_EXIT_POWEROFF);
	vm_destroy(&vm);
}

UNIT_SUITE(acpi,
	UNIT_CASE(test_acpi_tables),
	UNIT_CASE(test_acpi_poweroff))
