/* SPDX-License-Identifier: MIT */
/*
 * vmi_guest.h - freestanding reference helpers for VMI ABI v1 guests:
 * version negotiation, the page checksum and the page check that SPEC.md
 * sections 3-4 require before a guest uses the page. No libc, no globals.
 *
 * Copyright (c) 2026 The vmlite authors
 * (license text: see vmi.h; MIT)
 */
#ifndef VMI_ABI_VMI_GUEST_H
#define VMI_ABI_VMI_GUEST_H

#include "vmi.h"

#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define VMI_INLINE static inline
#elif defined(__GNUC__)
#define VMI_INLINE static __inline__
#else
#define VMI_INLINE static
#endif

enum vmi_check {
	VMI_CHECK_OK = 0,
	VMI_CHECK_ABSENT = 1,       /* no signature / no page / bad magic */
	VMI_CHECK_MAJOR = 2,        /* offered major differs from the guest's */
	VMI_CHECK_MINOR = 3,        /* offered minor below what the guest needs */
	VMI_CHECK_CORRUPT = 4       /* sizes or checksum wrong */
};

/* offered: CPUID base+1 EAX (0 if no signature); required: the guest's. */
VMI_INLINE enum vmi_check vmi_negotiate(uint32_t offered, uint32_t required)
{
	if (offered == 0)
		return VMI_CHECK_ABSENT;
	if (VMI_VERSION_MAJ(offered) != VMI_VERSION_MAJ(required))
		return VMI_CHECK_MAJOR;
	if (VMI_VERSION_MIN(offered) < VMI_VERSION_MIN(required))
		return VMI_CHECK_MINOR;
	return VMI_CHECK_OK;
}

VMI_INLINE int vmi_cpuid_sig_ok(uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	return ebx == VMI_CPUID_SIG_EBX && ecx == VMI_CPUID_SIG_ECX &&
	       edx == VMI_CPUID_SIG_EDX;
}

/* CRC-32/ISO-HDLC (zlib, Ethernet): reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. "123456789" -> 0xCBF43926.
 * In Linux: crc32_le(~0, p, n) ^ ~0. Bitwise: the page is checked once. */
VMI_INLINE uint32_t vmi_crc32_update(uint32_t crc, const uint8_t *p, uint32_t n)
{
	uint32_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return crc;
}

VMI_INLINE uint32_t vmi_crc32(const uint8_t *p, uint32_t n)
{
	return vmi_crc32_update(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

/* The page checksum: CRC-32 over hdr->size bytes from the page start with
 * the 4 checksum bytes replaced by zero. */
VMI_INLINE uint32_t vmi_page_checksum(const uint8_t *page, uint32_t size)
{
	static const uint8_t zero[4] = { 0, 0, 0, 0 };
	const uint32_t off = 60;        /* offsetof(struct vmi_page_header, checksum) */
	uint32_t crc = 0xFFFFFFFFu;

	crc = vmi_crc32_update(crc, page, off);
	crc = vmi_crc32_update(crc, zero, 4);
	crc = vmi_crc32_update(crc, page + off + 4, size - off - 4);
	return crc ^ 0xFFFFFFFFu;
}

/* Everything a guest must verify before trusting the page (SPEC.md 4.5).
 * avail: bytes the guest mapped at page. */
VMI_INLINE enum vmi_check vmi_page_check(const void *page, uint32_t avail,
					    uint32_t required)
{
	const struct vmi_page_header *h = (const struct vmi_page_header *)page;
	uint64_t end_desc, end_stub;

	if (avail < sizeof(*h) || h->magic != VMI_PAGE_MAGIC)
		return VMI_CHECK_ABSENT;
	if (h->major != VMI_VERSION_MAJ(required))
		return VMI_CHECK_MAJOR;
	if (h->minor < VMI_VERSION_MIN(required))
		return VMI_CHECK_MINOR;
	if (h->size < VMI_PAGE_SIZE || h->size % VMI_PAGE_SIZE || h->size > avail ||
	    h->hdr_size < sizeof(*h) || h->desc_size < sizeof(struct vmi_call_desc) ||
	    h->stub_stride != VMI_STUB_STRIDE || h->calls_off % 8 || h->stubs_off % 16)
		return VMI_CHECK_CORRUPT;
	end_desc = (uint64_t)h->calls_off + (uint64_t)h->ncalls * h->desc_size;
	end_stub = (uint64_t)h->stubs_off + (uint64_t)h->ncalls * h->stub_stride;
	if (h->calls_off < h->hdr_size || end_desc > h->size || end_stub > h->size)
		return VMI_CHECK_CORRUPT;
	if (vmi_page_checksum((const uint8_t *)page, h->size) != h->checksum)
		return VMI_CHECK_CORRUPT;
	return VMI_CHECK_OK;
}

/* Descriptor for call nr, or 0 if the page does not have it (treat as
 * NATIVE, or as unavailable for calls without a native form). */
VMI_INLINE const struct vmi_call_desc *vmi_page_desc(const void *page, uint32_t nr)
{
	const struct vmi_page_header *h = (const struct vmi_page_header *)page;

	if (nr >= h->ncalls)
		return 0;
	return (const struct vmi_call_desc *)((const uint8_t *)page + h->calls_off +
					      (uint64_t)nr * h->desc_size);
}

#endif /* VMI_ABI_VMI_GUEST_H */
