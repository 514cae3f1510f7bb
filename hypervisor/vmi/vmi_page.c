/* Builds the ABI page a guest installs with MSR_PAGE (SPEC.md 5): header,
 * descriptor table, one 32-byte IBT-clean stub per call, CRC-32 last. */
#include <string.h>

#include "error.h"
#include "vmi_guest.h"
#include "vmi_internal.h"

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* endbr64; mov $nr,%eax; vmcall | out %eax,$port; ret; int3 padding.
 * NOP-kind calls get endbr64; xor %eax,%eax; ret: no trap at all. */
static void emit_stub(uint8_t *s, uint32_t nr, unsigned kind, enum vmi_transport t)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	unsigned n = 0;
	memset(s, 0xcc, VMI_STUB_STRIDE);
	memcpy(s, endbr64, 4);
	n = 4;
	if (kind == VMI_KIND_NOP) {
		s[n++] = 0x31;
		s[n++] = 0xc0;
	} else {
		s[n++] = 0xb8;
		put32(s + n, nr);
		n += 4;
		if (t == VMI_TRANSPORT_VMCALL) {
			s[n++] = 0x0f;
			s[n++] = 0x01;
			s[n++] = 0xc1;
		} else {
			s[n++] = 0xe7;
			s[n++] = VMI_PIO_PORT;
		}
	}
	s[n] = 0xc3;
}

int vmi_page_build(uint8_t *buf, size_t len, uint32_t version,
		   enum vmi_backend backend, enum vmi_transport transport, bool all_calls)
{
	if (!vmi_version_supported(version))
		return err_set("VMI page: version %u.%u is not supported",
			       VMI_VERSION_MAJ(version), VMI_VERSION_MIN(version));
	if (transport != VMI_TRANSPORT_VMCALL && transport != VMI_TRANSPORT_PIO)
		return err_set("VMI page: unknown transport %d", (int)transport);
	if (len < VMI_PAGE_SIZE)
		return err_set("VMI page: buffer of %zu bytes is below one page", len);
	unsigned n = vmi_ncalls_for(version);
	uint32_t calls_off = sizeof(struct vmi_page_header);
	uint32_t stubs_off = (calls_off + n * sizeof(struct vmi_call_desc) + 63) & ~63u;
	if (stubs_off + n * VMI_STUB_STRIDE > VMI_PAGE_SIZE)
		return err_set("VMI page: %u calls do not fit one page", n);

	memset(buf, 0, VMI_PAGE_SIZE);
	struct vmi_page_header h = {
		.magic = VMI_PAGE_MAGIC,
		.major = (uint16_t)VMI_VERSION_MAJ(version),
		.minor = (uint16_t)VMI_VERSION_MIN(version),
		.size = VMI_PAGE_SIZE,
		.hdr_size = sizeof(h),
		.ncalls = n,
		.desc_size = sizeof(struct vmi_call_desc),
		.calls_off = calls_off,
		.stubs_off = stubs_off,
		.stub_stride = VMI_STUB_STRIDE,
		.transport = transport,
		.transport_aux = transport == VMI_TRANSPORT_PIO ? VMI_PIO_PORT : 0,
		.backend = backend,
		.features = VMI_F_ALL_V1_0,
		.vcpu_page_size = sizeof(struct vmi_vcpu_page),
	};
	for (unsigned i = 0; i < n; i++) {
		const struct vmi_call_spec *s = &vmi_calls[i];
		unsigned kind = vmi_call_kind(i, backend, all_calls);
		struct vmi_call_desc d = {
			.call = (uint16_t)i,
			.kind = (uint8_t)kind,
			.flags = s->flags & (VMI_DF_BATCHABLE | VMI_DF_RDX_RESULT | VMI_DF_NORETURN),
			.clobbers = VMI_CLOBBER_RAX | VMI_CLOBBER_FLAGS |
				    ((s->flags & VMI_DF_RDX_RESULT) ? VMI_CLOBBER_RDX : 0),
			.stub_off = stubs_off + i * VMI_STUB_STRIDE,
			.aux = kind == VMI_KIND_SHARED ? s->aux_bt : 0,
		};
		memcpy(buf + calls_off + i * sizeof(d), &d, sizeof(d));
		emit_stub(buf + d.stub_off, i, kind, transport);
	}
	memcpy(buf, &h, sizeof(h));
	h.checksum = vmi_page_checksum(buf, VMI_PAGE_SIZE);
	memcpy(buf, &h, sizeof(h));
	return VMI_PAGE_SIZE;
}
