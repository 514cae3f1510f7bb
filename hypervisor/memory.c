#include "memory.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

static int region_overlaps(const struct guest_memory *m, uint64_t gpa, uint64_t size)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &m->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return 1;
	}
	return 0;
}

int mem_add_region(struct guest_memory *m, uint64_t gpa, uint64_t size,
		   enum mem_kind kind, uint8_t *host, const char *name)
{
	if (size == 0 || gpa + size < gpa)
		return err_set("memory region %s: empty or wrapping range", name);
	if (m->nregions == MEM_MAX_REGIONS)
		return err_set("memory region %s: too many regions", name);
	if (region_overlaps(m, gpa, size))
		return err_set("memory region %s at 0x%llx overlaps an existing region",
			       name, (unsigned long long)gpa);
	int i = m->nregions++;
	/* Keep sorted by address so lookups and e820 come out ordered. */
	while (i > 0 && m->regions[i - 1].gpa > gpa) {
		m->regions[i] = m->regions[i - 1];
		i--;
	}
	m->regions[i] = (struct mem_region){ gpa, size, kind, host, name };
	return 0;
}

int mem_init(struct guest_memory *m, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (ram_size < MEM_MIN_SIZE || ram_size > MEM_MAX_SIZE)
		return err_set("memory size %llu MiB is out of range; use --memory between 2M and 64G",
			       (unsigned long long)(ram_size >> 20));
	if (ram_size & 0xfff)
		return err_set("memory size must be a multiple of 4 KiB; use e.g. --memory 256M");
	m->fd = memfd_create("vmlite-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return err_set("cannot create guest RAM: memfd_create: %s", strerror(errno));
	if (ftruncate(m->fd, (off_t)ram_size) < 0) {
		err_set("cannot size guest RAM to %llu MiB: %s; try a smaller --memory",
			(unsigned long long)(ram_size >> 20), strerror(errno));
		goto fail;
	}
	m->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->ram == MAP_FAILED) {
		m->ram = NULL;
		err_set("cannot map %llu MiB of guest RAM: %s; try a smaller --memory",
			(unsigned long long)(ram_size >> 20), strerror(errno));
		goto fail;
	}
	m->ram_size = ram_size;
	uint64_t low = ram_size < MEM_LOW_LIMIT ? ram_size : MEM_LOW_LIMIT;
	mem_add_region(m, 0, low, MEM_RAM, m->ram, "ram-low");
	if (ram_size > low)
		mem_add_region(m, MEM_HIGH_BASE, ram_size - low, MEM_RAM, m->ram + low, "ram-high");
	return 0;
fail:
	close(m->fd);
	m->fd = -1;
	return -1;
}

void mem_destroy(struct guest_memory *m)
{
	if (m->ram)
		munmap(m->ram, m->ram_size);
	if (m->fd >= 0)
		close(m->fd);
	m->ram = NULL;
	m->fd = -1;
}

const struct mem_region *mem_find(const struct guest_memory *m, uint64_t gpa)
{
	int lo = 0, hi = m->nregions - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct mem_region *r = &m->regions[mid];
		if (gpa < r->gpa)
			hi = mid - 1;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void *mem_gpa_to_hva(const struct guest_memory *m, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = mem_find(m, gpa);
	if (!r || !r->host || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

uint64_t mem_low_top(const struct guest_memory *m)
{
	return m->ram_size < MEM_LOW_LIMIT ? m->ram_size : MEM_LOW_LIMIT;
}

int mem_write(struct guest_memory *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = mem_gpa_to_hva(m, gpa, len);
	if (!dst)
		return err_set("guest range 0x%llx+0x%llx is not RAM; give the guest more --memory",
			       (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}

static int e820_add(struct e820_entry *out, int n, int max, uint64_t a, uint64_t s, uint32_t t)
{
	if (n < max && s)
		out[n++] = (struct e820_entry){ a, s, t };
	return n;
}

/* The low 1 MiB follows the PC convention (EBDA below 640K, VGA hole, ACPI tables and BIOS area at 0xE0000-0xFFFFF) so
 * that real-mode-aware kernels never place data over the legacy holes. */
int mem_e820(const struct guest_memory *m, struct e820_entry *out, int max)
{
	int n = 0;
	uint64_t low = mem_low_top(m);
	n = e820_add(out, n, max, 0, 0x9fc00, E820_RAM);
	n = e820_add(out, n, max, 0x9fc00, 0x400, E820_RESERVED);
	n = e820_add(out, n, max, 0xe0000, 0x20000, E820_RESERVED);
	if (low > 0x100000)
		n = e820_add(out, n, max, 0x100000, low - 0x100000, E820_RAM);
	for (int i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &m->regions[i];
		if (r->kind == MEM_RAM && r->gpa >= MEM_HIGH_BASE)
			n = e820_add(out, n, max, r->gpa, r->size, E820_RAM);
		else if (r->kind == MEM_ROM || r->kind == MEM_RESERVED)
			n = e820_add(out, n, max, r->gpa, r->size, E820_RESERVED);
	}
	return n;
}

int size_parse(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end || v == 0 || (shift && v > (~0ull >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}
