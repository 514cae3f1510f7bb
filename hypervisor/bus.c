#include "bus.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void bus_init(struct io_bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

void bus_destroy(struct io_bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->n = b->cap = 0;
}

int bus_register(struct io_bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque, const char *name)
{
	if (len == 0 || base + len < base || !fn)
		return err_set("%s bus: device %s has an empty or wrapping range", b->name, name);
	int pos = 0;
	while (pos < b->n && b->ranges[pos].base < base)
		pos++;
	const struct bus_range *prev = pos ? &b->ranges[pos - 1] : NULL;
	const struct bus_range *next = pos < b->n ? &b->ranges[pos] : NULL;
	if ((prev && prev->base + prev->len > base) || (next && base + len > next->base))
		return err_set("%s bus: %s at 0x%llx+0x%llx overlaps %s", b->name, name,
			       (unsigned long long)base, (unsigned long long)len,
			       (prev && prev->base + prev->len > base) ? prev->name : next->name);
	if (b->n == b->cap) {
		int cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->ranges, sizeof(*r) * cap);
		if (!r)
			return err_set("%s bus: out of memory", b->name);
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[pos + 1], &b->ranges[pos], sizeof(*b->ranges) * (b->n - pos));
	b->ranges[pos] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	return 0;
}

const struct bus_range *bus_lookup(const struct io_bus *b, uint64_t addr)
{
	int lo = 0, hi = b->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct bus_range *r = &b->ranges[mid];
		if (addr < r->base)
			hi = mid - 1;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(struct io_bus *b, uint64_t addr, unsigned size, bool is_write, uint8_t *data)
{
	const struct bus_range *r = bus_lookup(b, addr);
	if (!r) {
		if (!is_write)
			memset(data, 0xff, size);
		b->unhandled++;
		return false;
	}
	r->fn(r->opaque, addr - r->base, size, is_write, data);
	return true;
}
