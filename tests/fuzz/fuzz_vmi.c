/* libFuzzer harness for the VMI dispatcher: arbitrary call numbers and
 * arguments, arbitrary guest memory (including the lazy queue), MSR and
 * CPUID traffic, every privilege level, both backends and the minimal op
 * table. ASan catches any access outside guest RAM (the fake's RAM is one
 * exact-size heap block); the asserts below catch contract violations.
 *
 *   make fuzz-vmi                      # 30 s
 *   make fuzz-vmi FUZZ_TIME=3600       # long run, same corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_vmi_fake.h"
#include "vmi_guest.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_vmi: %s failed at line %d\n", \
					  #c, __LINE__); abort(); } } while (0)

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(struct in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)u8(in) << (8 * i);
	return v;
}

/* Values that sit on the edges the dispatcher checks. */
static uint64_t arg(struct in *in)
{
	static const uint64_t edge[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 16, 32, 255, 256, 0xfff, 0x1000, 0xffff, 0x10000,
		FAKE_RAM_SIZE - 8, FAKE_RAM_SIZE - 4096, FAKE_RAM_SIZE, FAKE_RAM_SIZE + 8,
		FAKE_ABI_PAGE, FAKE_VCPU_PAGE, FAKE_VCPU_PAGE + VMI_VCPU_OFF_QUEUE,
		0x00007fffffffffffull, 0x0000800000000000ull, 0xffff800000000000ull,
		0xffff7fffffffffffull, 0x80000000ull, 0x80050033ull, 0x6b0ull, 0xc0000080ull,
		VMI_MSR_VERSION, VMI_MSR_PAGE, VMI_MSR_VCPU_PAGE, 1ull << 63, ~0ull, ~0ull - 7,
	};
	uint8_t sel = u8(in);
	switch (sel & 3) {
	case 0: return sel >> 2;
	case 1: return edge[(sel >> 2) % (sizeof(edge) / sizeof(edge[0]))];
	case 2: return ((uint64_t)u8(in) << 12 | (uint64_t)u8(in) << 4) + (sel >> 5);
	default: return u64(in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_vcpu f;
	static struct vmi_host h;
	static struct vmi_ctx c;
	struct in in = { data, size };

	uint8_t mode = u8(&in);
	/* One exact-size RAM block for the whole run (fake_setup zeroes it), so
	 * ASan flags any byte the dispatcher touches outside guest RAM. */
	static uint8_t *ram;
	if (!ram && !(ram = malloc(FAKE_RAM_SIZE)))
		abort();
	f.ram = ram;
	if (fake_setup(&f, &h, &c, (mode & 1) ? VMI_BACKEND_BT : VMI_BACKEND_HW, mode & 2))
		abort();
	if (mode & 4)
		c.ops = &fake_ops_min;
	if (mode & 8)
		h.cfg.enabled = false;

	for (int steps = 0; in.n && steps < 64; steps++) {
		uint8_t op = u8(&in);
		switch (op % 8) {
		case 0: case 1: case 2: case 3: {      /* a call */
			uint64_t nr = (op & 0x80) ? u64(&in) : u8(&in) % (VMI_NCALLS_V1_0 + 3);
			uint64_t a[6], r[2] = { 0xdead, 0xbeef };
			for (int i = 0; i < 6; i++)
				a[i] = arg(&in);
			f.cpl = (op & 0x40) ? u8(&in) & 3 : 0;
			/* Sampled before the call: WRMSR(MSR_PAGE, 0) may uninstall. */
			bool ud = f.cpl || !h.page_installed || !h.cfg.enabled;
			int d = vmi_dispatch(&c, nr, a, r);
			CHECK(d == VMI_DONE || d == VMI_TRAP_UD);
			if (ud)
				CHECK(d == VMI_TRAP_UD && r[0] == 0xdead && r[1] == 0xbeef);
			if (d == VMI_DONE && nr >= VMI_NCALLS_V1_0)
				CHECK(r[0] == (uint64_t)VMI_ENOSYS);
			if (d == VMI_DONE && c.vcpu_page_on && nr == VMI_CALL_BATCH_FLUSH) {
				/* A flush always leaves the queue empty. */
				uint32_t cnt;
				memcpy(&cnt, f.ram + c.vcpu_page + VMI_VCPU_OFF_QUEUE_COUNT, 4);
				CHECK(cnt == 0);
			}
			break;
		}
		case 4: {                               /* guest scribbles on RAM */
			uint64_t at = (op & 0x80) ? FAKE_VCPU_PAGE + 0x100 + (u8(&in) << 2)
						  : arg(&in);
			uint8_t len = u8(&in) % 64;
			for (uint8_t i = 0; i < len; i++, at++)
				if (at < FAKE_RAM_SIZE)
					f.ram[at] = u8(&in);
			break;
		}
		case 5: {                               /* queue fill, structured */
			uint32_t n = u8(&in);
			if (op & 0x80)
				n |= (uint32_t)u8(&in) << 8;
			memcpy(f.ram + FAKE_VCPU_PAGE + VMI_VCPU_OFF_QUEUE_COUNT, &n, 4);
			for (uint32_t i = 0; i < (n < VMI_QUEUE_MAX ? n : VMI_QUEUE_MAX) && in.n; i++) {
				struct vmi_queue_entry e = { .call = u8(&in) % (VMI_NCALLS_V1_0 + 2) };
				for (int k = 0; k < 4; k++)
					e.args[k] = arg(&in);
				memcpy(f.ram + FAKE_VCPU_PAGE + VMI_VCPU_OFF_QUEUE + i * sizeof(e),
				       &e, sizeof(e));
			}
			break;
		}
		case 6: {                               /* MSRs */
			static const uint32_t msr[] = { VMI_MSR_VERSION, VMI_MSR_PAGE,
							VMI_MSR_VCPU_PAGE, 0xc0000080, 0x10 };
			uint32_t m = msr[u8(&in) % 5];
			uint64_t v;
			int r = (op & 0x80) ? vmi_msr_read(&c, m, &v) : vmi_msr_write(&c, m, arg(&in));
			CHECK(r == VMI_MSR_HANDLED || r == VMI_MSR_UNHANDLED || r == VMI_TRAP_GP);
			/* A page the host just installed passes the guest-side check
			 * (later the guest may scribble on it; the host never reads it). */
			if (m == VMI_MSR_PAGE && !(op & 0x80) && r == VMI_MSR_HANDLED && h.page_installed)
				CHECK(vmi_page_check(f.ram + (h.page_msr & ~0xfffull), VMI_PAGE_SIZE,
						     VMI_VERSION(1, 0)) == VMI_CHECK_OK);
			break;
		}
		default: {                              /* CPUID and engine helpers */
			uint32_t out[4];
			vmi_cpuid(&h, 0x40000000 + u8(&in) % 5, 0, out);
			struct vmi_pvclock pv = { .system_time = u64(&in), .tsc_shift = -1 };
			vmi_pvclock_update(&c, &pv);
			if (c.vcpu_page_on) {
				uint32_t ver;
				memcpy(&ver, f.ram + c.vcpu_page + VMI_VCPU_OFF_CLOCK, 4);
				CHECK((ver & 1) == 0);
			}
			vmi_set_cr2(&c, arg(&in));
			vmi_set_irq_pending(&c, op & 0x80);
			(void)vmi_irq_enabled(&c);
			break;
		}
		}
	}
	vmi_host_destroy(&h);
	return 0;
}
