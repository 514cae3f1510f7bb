/* A small printf: enough for test output, no floating point. Decimal
 * conversion avoids 64-bit division so 32-bit code needs no libgcc. */
#include "rt.h"

/* n / 10 by multiply and shift (Hacker's Delight 10-17), exact for 64 bits. */
static uint64_t udiv10(uint64_t n, unsigned *rem)
{
	uint64_t q = (n >> 1) + (n >> 2);
	q += q >> 4;
	q += q >> 8;
	q += q >> 16;
	q += q >> 32;
	q >>= 3;
	uint64_t r = n - q * 10;
	if (r > 9) {
		q++;
		r -= 10;
	}
	*rem = (unsigned)r;
	return q;
}

static void put_num(uint64_t v, unsigned base, int upper, int width, char pad, int neg)
{
	char buf[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		unsigned d;
		if (base == 10) {
			v = udiv10(v, &d);
		} else {
			d = (unsigned)(v & 15);
			v >>= 4;
		}
		buf[n++] = digits[d];
	} while (v);
	if (neg && pad == '0') {
		rt_putc('-');
		width--;
	} else if (neg) {
		buf[n++] = '-';
	}
	for (int i = n; i < width; i++)
		rt_putc(pad);
	while (n)
		rt_putc(buf[--n]);
}

void rt_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			rt_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			if (*fmt == 'l')
				lng++;
			else
				lng = sizeof(size_t) == 8 ? 2 : 0;
			fmt++;
		}
		uint64_t u;
		int64_t s;
		switch (*fmt) {
		case 'c':
			rt_putc((char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = 0;
			while (str[len])
				len++;
			for (int i = len; i < width; i++)
				rt_putc(' ');
			rt_puts(str);
			break;
		}
		case 'd':
		case 'i':
			if (lng >= 2)
				s = va_arg(ap, long long);
			else if (lng == 1)
				s = va_arg(ap, long);
			else
				s = va_arg(ap, int);
			put_num(s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s, 10, 0,
				width, pad, s < 0);
			break;
		case 'u':
		case 'x':
		case 'X':
			if (lng >= 2)
				u = va_arg(ap, unsigned long long);
			else if (lng == 1)
				u = va_arg(ap, unsigned long);
			else
				u = va_arg(ap, unsigned int);
			put_num(u, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, pad, 0);
			break;
		case 'p':
			rt_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, 0, width, pad, 0);
			break;
		case '%':
			rt_putc('%');
			break;
		case '\0':
			return;
		default:
			rt_putc('%');
			rt_putc(*fmt);
			break;
		}
	}
}

void rt_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}
