#include "acpi_aml.h"

#include <string.h>

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->overflow = 0;
}

void aml_raw(struct aml *a, const void *p, size_t n)
{
	if (a->len + n > a->cap) {
		a->overflow = 1;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_raw(a, &b, 1);
}

void aml_name_seg(struct aml *a, const char seg[4])
{
	aml_raw(a, seg, 4);
}

size_t aml_open(const struct aml *a)
{
	return a->len;
}

/* PkgLength counts its own bytes: 1 byte up to 63, then 2 bytes (12 bits)
 * or 3 bytes (20 bits), low nibble in the lead byte (ACPI 6.x 20.2.4). */
void aml_close(struct aml *a, size_t start, const uint8_t *op, size_t oplen)
{
	size_t body = a->len - start;
	uint8_t hdr[8];
	size_t h = 0;
	memcpy(hdr, op, oplen);
	h = oplen;
	if (body + 1 <= 0x3f) {
		hdr[h++] = (uint8_t)(body + 1);
	} else if (body + 2 <= 0xfff) {
		size_t l = body + 2;
		hdr[h++] = (uint8_t)(0x40 | (l & 0xf));
		hdr[h++] = (uint8_t)(l >> 4);
	} else {
		size_t l = body + 3;
		hdr[h++] = (uint8_t)(0x80 | (l & 0xf));
		hdr[h++] = (uint8_t)(l >> 4);
		hdr[h++] = (uint8_t)(l >> 12);
	}
	if (a->len + h > a->cap) {
		a->overflow = 1;
		return;
	}
	memmove(a->buf + start + h, a->buf + start, body);
	memcpy(a->buf + start, hdr, h);
	a->len += h;
}

void aml_name_int(struct aml *a, const char seg[4], uint8_t value)
{
	aml_byte(a, 0x08);              /* NameOp */
	aml_name_seg(a, seg);
	aml_byte(a, 0x0a);              /* BytePrefix */
	aml_byte(a, value);
}

void aml_name_str(struct aml *a, const char seg[4], const char *str)
{
	aml_byte(a, 0x08);
	aml_name_seg(a, seg);
	aml_byte(a, 0x0d);              /* StringPrefix, NUL-terminated */
	aml_raw(a, str, strlen(str) + 1);
}

void aml_name_buf(struct aml *a, const char seg[4], const uint8_t *p, uint8_t n)
{
	aml_byte(a, 0x08);
	aml_name_seg(a, seg);
	size_t start = aml_open(a);
	aml_byte(a, 0x0a);              /* BufferSize as a ByteConst */
	aml_byte(a, n);
	aml_raw(a, p, n);
	static const uint8_t buffer_op = 0x11;
	aml_close(a, start, &buffer_op, 1);
}
