/* A tiny AML (ACPI Machine Language) writer: just the terms vmlite's DSDT
 * needs — names, packages, devices, scopes and resource buffers. */
#ifndef VMLITE_ACPI_AML_H
#define VMLITE_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int overflow;           /* set when a write did not fit; the result is unusable */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_raw(struct aml *a, const void *p, size_t n);
/* Wraps everything written since `start` as OP [ext] PkgLength <body>. */
size_t aml_open(const struct aml *a);
void aml_close(struct aml *a, size_t start, const uint8_t *op, size_t oplen);
void aml_name_int(struct aml *a, const char seg[4], uint8_t value);
void aml_name_str(struct aml *a, const char seg[4], const char *str);
void aml_name_buf(struct aml *a, const char seg[4], const uint8_t *p, uint8_t n);
void aml_name_seg(struct aml *a, const char seg[4]);

#endif
