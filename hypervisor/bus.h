/* One I/O bus API for port I/O and MMIO: a vm owns two instances.
 * Devices register address ranges; exits are dispatched by lookup. */
#ifndef VMLITE_BUS_H
#define VMLITE_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* offset is relative to the registered base; data is little-endian, size bytes. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, unsigned size,
			  bool is_write, uint8_t *data);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name;       /* "pio" or "mmio", for messages */
	struct bus_range *ranges;   /* sorted by base, never overlapping */
	int n;
	int cap;
	uint64_t unhandled;     /* accesses that hit no device */
};

void bus_init(struct io_bus *b, const char *name);
void bus_destroy(struct io_bus *b);
/* Rejects zero length, wrap-around and any overlap with an existing range. */
int bus_register(struct io_bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque, const char *name);
const struct bus_range *bus_lookup(const struct io_bus *b, uint64_t addr);
/* Dispatches one access. Unclaimed reads return all-ones, writes are dropped,
 * as on an ISA/PCI bus with nothing decoding the address. Returns false then. */
bool bus_access(struct io_bus *b, uint64_t addr, unsigned size, bool is_write,
		uint8_t *data);

#endif
