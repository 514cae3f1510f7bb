#include "acpi.h"

#include <stdio.h>
#include <string.h>

#include "acpi_aml.h"
#include "error.h"

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas {
	uint8_t space;          /* 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;    /* 1 byte, 2 word, 3 dword */
	uint64_t address;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

/* FADT revision 5 layout up to the fields Linux reads. */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t facs;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_len, gpe1_len, gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alarm, mon_alarm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_facs, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr,
		x_gpe0, x_gpe1, sleep_ctl, sleep_sts;
} __attribute__((packed));

struct acpi_facs {
	char sig[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[31];
} __attribute__((packed));

#define FADT_WBINVD         (1u << 0)
#define FADT_PROC_C1        (1u << 2)
#define FADT_SLP_BUTTON     (1u << 5)
#define FADT_RTC_S4         (1u << 7)
#define FADT_TMR_VAL_EXT    (1u << 8)
#define FADT_RESET_REG_SUP  (1u << 10)
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042           (1u << 1)

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)(0x100 - sum);
}

static void header_fill(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "VMLITE", 6);
	memcpy(h->oem_table_id, "VMLITE  ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VMLT", 4);
	h->creator_revision = 1;
	h->checksum = 0;
	h->checksum = acpi_checksum((const uint8_t *)h, len);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bits, uint8_t access)
{
	return (struct acpi_gas){ .space = 1, .bit_width = bits, .access_size = access,
				  .address = port };
}

/* Name (_S5, Package () { 5, 5, 0, 0 }): Linux reads SLP_TYPa from element 0
 * and writes it with SLP_EN to PM1a_CNT to power off. */
static const uint8_t s5_aml[] = {
	0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
	0x0a, ACPI_S5_TYPE, 0x0a, ACPI_S5_TYPE, 0x00, 0x00,
};

/* Device (VRnn) { _HID "LNRO0005", _UID n, _CRS { Memory32Fixed, Interrupt } }:
 * how Linux's virtio_mmio driver finds devices without a device tree. The
 * interrupt is level-triggered, active-high: the transport holds its line
 * while the interrupt status register is non-zero. */
static void aml_virtio_device(struct aml *a, int n, const struct acpi_mmio_dev *d)
{
	static const uint8_t device_op[2] = { 0x5b, 0x82 };
	char name[5];
	snprintf(name, sizeof(name), "VR%02X", n & 0xff);
	size_t dev = aml_open(a);
	aml_name_seg(a, name);
	aml_name_str(a, "_HID", "LNRO0005");
	aml_name_int(a, "_UID", (uint8_t)n);
	uint8_t crs[23] = { 0x86, 0x09, 0x00, 0x01 };   /* Memory32Fixed, read-write */
	uint32_t base = (uint32_t)d->base, len = (uint32_t)d->size;
	memcpy(crs + 4, &base, 4);
	memcpy(crs + 8, &len, 4);
	uint8_t irq[9] = { 0x89, 0x06, 0x00, 0x01, 0x01 };  /* consumer, level, high */
	memcpy(irq + 5, &d->irq, 4);
	memcpy(crs + 12, irq, 9);
	crs[21] = 0x79;                                  /* end tag, checksum 0 = ignore */
	crs[22] = 0x00;
	aml_name_buf(a, "_CRS", crs, sizeof(crs));
	aml_close(a, dev, device_op, 2);
}

static size_t build_dsdt(uint8_t *p, size_t cap, const struct acpi_mmio_dev *devs, int ndevs)
{
	struct aml a;
	size_t hdr = sizeof(struct acpi_header);
	aml_init(&a, p + hdr, cap - hdr);
	aml_raw(&a, s5_aml, sizeof(s5_aml));
	if (ndevs) {
		static const uint8_t scope_op = 0x10;
		size_t scope = aml_open(&a);
		aml_raw(&a, "_SB_", 4);
		for (int i = 0; i < ndevs; i++)
			aml_virtio_device(&a, i, &devs[i]);
		aml_close(&a, scope, &scope_op, 1);
	}
	if (a.overflow)
		return 0;
	header_fill((struct acpi_header *)p, "DSDT", (uint32_t)(hdr + a.len), 2);
	return hdr + a.len;
}

static size_t build_madt(uint8_t *p, int ncpus)
{
	size_t off = sizeof(struct acpi_header);
	uint32_t lapic = LAPIC_BASE, flags = 1;        /* PCAT_COMPAT: 8259s present */
	memcpy(p + off, &lapic, 4);
	memcpy(p + off + 4, &flags, 4);
	off += 8;
	for (int i = 0; i < ncpus; i++) {
		uint8_t e[8] = { 0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0 };  /* enabled */
		memcpy(p + off, e, 8);
		off += 8;
	}
	uint8_t ioapic[12] = { 1, 12, (uint8_t)ncpus, 0 };
	uint32_t ioapic_addr = IOAPIC_BASE, gsi_base = 0;
	memcpy(ioapic + 4, &ioapic_addr, 4);
	memcpy(ioapic + 8, &gsi_base, 4);
	memcpy(p + off, ioapic, 12);
	off += 12;
	/* ISA IRQ0 (PIT) arrives on IOAPIC pin 2; the SCI is level, active high. */
	uint8_t iso_pit[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00 };
	uint8_t iso_sci[10] = { 2, 10, 0, ACPI_SCI_IRQ, ACPI_SCI_IRQ, 0, 0, 0, 0x0d, 0x00 };
	memcpy(p + off, iso_pit, 10);
	off += 10;
	memcpy(p + off, iso_sci, 10);
	off += 10;
	uint8_t nmi[6] = { 4, 6, 0xff, 0x05, 0x00, 1 };  /* all CPUs: LINT1 is NMI */
	memcpy(p + off, nmi, 6);
	off += 6;
	header_fill((struct acpi_header *)p, "APIC", (uint32_t)off, 3);
	return off;
}

static void fill_fadt(struct acpi_fadt *f, uint64_t facs, uint64_t dsdt)
{
	memset(f, 0, sizeof(*f));
	f->facs = (uint32_t)facs;
	f->dsdt = (uint32_t)dsdt;
	f->x_facs = facs;
	f->x_dsdt = dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->pm1a_evt = ACPI_PM1_EVT;
	f->pm1a_cnt = ACPI_PM1_CNT;
	f->pm_tmr = ACPI_PM_TMR;
	f->pm1_evt_len = 4;
	f->pm1_cnt_len = 2;
	f->pm_tmr_len = 4;
	f->century = 0x32;
	f->iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RTC_S4 |
		   FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP;
	/* Reset through the keyboard controller, which already ends the VM. */
	f->reset_reg = gas_io(0x64, 8, 1);
	f->reset_value = 0xfe;
	f->minor_version = 1;
	f->x_pm1a_evt = gas_io(ACPI_PM1_EVT, 32, 2);
	f->x_pm1a_cnt = gas_io(ACPI_PM1_CNT, 16, 2);
	f->x_pm_tmr = gas_io(ACPI_PM_TMR, 32, 3);
	header_fill(&f->h, "FACP", sizeof(*f), 5);
}

int acpi_build(struct guest_memory *m, int ncpus, const struct acpi_mmio_dev *devs, int ndevs,
	       uint64_t *rsdp_out)
{
	uint8_t *base = mem_gpa_to_hva(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE);
	if (!base)
		return err_set("ACPI tables need RAM at 0x%llx; give the guest more --memory",
			       (unsigned long long)ACPI_TABLES_BASE);
	if (ncpus < 1 || ncpus > 200)
		return err_set("ACPI: %d CPUs cannot be described", ncpus);
	memset(base, 0, ACPI_TABLES_SIZE);
	uint64_t gpa = ACPI_TABLES_BASE;
	uint64_t facs = gpa;                            /* FACS must be 64-byte aligned */
	struct acpi_facs *fc = (struct acpi_facs *)base;
	memcpy(fc->sig, "FACS", 4);
	fc->length = sizeof(*fc);
	fc->version = 2;
	uint64_t off = 0x40;
	uint64_t dsdt = gpa + off;
	size_t dlen = build_dsdt(base + off, 0x8000, devs, ndevs);
	if (!dlen)
		return err_set("ACPI: the DSDT for %d devices does not fit", ndevs);
	off += (dlen + 15) & ~15ull;
	uint64_t fadt = gpa + off;
	fill_fadt((struct acpi_fadt *)(base + off), facs, dsdt);
	off += (sizeof(struct acpi_fadt) + 15) & ~15ull;
	uint64_t madt = gpa + off;
	off += (build_madt(base + off, ncpus) + 15) & ~15ull;
	uint64_t xsdt = gpa + off;
	struct acpi_header *xh = (struct acpi_header *)(base + off);
	uint64_t entries[2] = { fadt, madt };
	memcpy(base + off + sizeof(*xh), entries, sizeof(entries));
	header_fill(xh, "XSDT", sizeof(*xh) + sizeof(entries), 1);
	off += sizeof(*xh) + sizeof(entries);

	struct acpi_rsdp *r = (struct acpi_rsdp *)(base + (ACPI_RSDP_ADDR - ACPI_TABLES_BASE));
	if (off > ACPI_RSDP_ADDR - ACPI_TABLES_BASE)
		return err_set("ACPI tables overflow their area");
	memcpy(r->sig, "RSD PTR ", 8);
	memcpy(r->oem_id, "VMLITE", 6);
	r->revision = 2;
	r->length = sizeof(*r);
	r->xsdt = xsdt;
	r->checksum = acpi_checksum((const uint8_t *)r, 20);
	r->ext_checksum = acpi_checksum((const uint8_t *)r, sizeof(*r));
	*rsdp_out = ACPI_RSDP_ADDR;
	return 0;
}
